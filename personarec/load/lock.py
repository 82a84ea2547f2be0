"""The load lock of a dataset: one loader at a time writes a dataset (issue 9, probe 1).

Two loads of one dataset that start together would each find no edges, each take the CREATE path and
double the graph. The lock lives on the ``Dataset`` node (``cypher/load/dataset_lock.cypher``): one
atomic write transaction decides the owner; the other loader refuses with one sentence. A lock cannot
outlive its loader for long: a holder on this host whose process is gone is taken over at once, and
any holder whose heartbeat stopped for :data:`STALE_AFTER_S` seconds (a crash on another host) expires.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from types import TracebackType
from typing import Any

from personarec.errors import GraphError, PersonarecError
from personarec.graph import Graph
from personarec.server.process import pid_alive

log = logging.getLogger(__name__)

#: Seconds between heartbeats of a held lock.
HEARTBEAT_S = 10.0
#: Seconds without a heartbeat after which a lock counts as abandoned.
STALE_AFTER_S = 120.0


class DatasetBusy(PersonarecError):
    """Another process is loading the dataset (or took over our lock)."""


class DatasetLock:
    """Hold the load lock of ``dataset`` for the duration of a ``with`` block.

    Args:
        graph: the graph to lock in.
        dataset: the dataset name.
        stale_after_s: a lock without heartbeat for this long is free.
        heartbeat_s: how often a held lock is refreshed (0 or less: never, for tests).
    """

    def __init__(self, graph: Graph, dataset: str, *, stale_after_s: float = STALE_AFTER_S,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        self.graph = graph
        self.dataset = dataset
        self.owner = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.stale_after_s = stale_after_s
        self.heartbeat_s = heartbeat_s
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _try(self, steal: str | None) -> dict[str, Any]:
        return self.graph.write("load/dataset_lock.cypher", {
            "dataset": self.dataset, "owner": self.owner, "host": self.host, "pid": self.pid, "steal": steal,
            "stale_s": int(self.stale_after_s)})[0]

    def acquire(self) -> None:
        """Take the lock or raise :class:`DatasetBusy` naming the holder."""
        row = self._try(None)
        if not row["acquired"] and row["host"] == self.host and row["pid"] is not None \
                and not pid_alive(int(row["pid"])):
            # the holder ran here and its process is gone: it crashed without releasing the lock
            log.info("%s: taking over the load lock of pid %s, which is no longer running", self.dataset,
                     row["pid"])
            row = self._try(row["holder"])
        if not row["acquired"]:
            raise DatasetBusy(
                f"dataset {self.dataset!r} is being loaded by another process (pid {row['pid']} on "
                f"{row['host']}, started {row['since']}, last heartbeat {row['idle']} s ago); wait for it to "
                f"finish, or if that process died, load again once its lock expires "
                f"({self.stale_after_s:.0f} s after its last heartbeat).")
        self.lost = False
        if self.heartbeat_s > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, name=f"lock-{self.dataset}", daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                held = self.graph.write("load/dataset_lock_heartbeat.cypher",
                                        {"dataset": self.dataset, "owner": self.owner})[0]["held"]
            except GraphError as exc:  # the load itself will hit the same fault and report it
                log.debug("%s: heartbeat failed: %s", self.dataset, exc)
                continue
            if not held:
                self.lost = True
                return

    def check(self) -> None:
        """Raise :class:`DatasetBusy` when the lock was lost (taken over after expiry, graph reset)."""
        if self.lost:
            raise DatasetBusy(f"the load of dataset {self.dataset!r} lost its lock (another process took it "
                              "over or the graph was reset); it stopped, load again.")

    def release(self) -> None:
        """Stop the heartbeat and release the lock if still held; a failure here is only logged."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self.graph.write("load/dataset_unlock.cypher", {"dataset": self.dataset, "owner": self.owner})
        except GraphError as exc:  # the process ends soon: its lock is taken over (same host) or expires
            log.debug("%s: releasing the load lock failed: %s", self.dataset, exc)

    def __enter__(self) -> DatasetLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
