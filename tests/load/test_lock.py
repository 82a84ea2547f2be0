"""Issue 9, probe 1: two loads of one dataset at once must not double the graph (real Neo4j, real threads
and processes); the load lock on the Dataset node is atomic, released, taken over from dead loaders and
expires without a heartbeat."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from personarec import db
from personarec.config import Settings
from personarec.graph import Graph
from personarec.load import load_dataset
from personarec.load.lock import DatasetBusy, DatasetLock

FIX = Path(__file__).resolve().parents[1] / "fixtures"
TINY = [FIX / "sequences" / "Tiny.txt", FIX / "sequences" / "Tiny_item2attributes.json"]


def _edges(graph: Graph) -> dict[str, int]:
    return db.counts(graph)["rel"]


def _lock_props(graph: Graph, name: str) -> dict[str, Any]:
    rows = graph.execute("MATCH (d:Dataset {name: $n}) RETURN d.lock_owner AS owner, d.status AS status",
                         {"n": name}, read=True)
    return rows[0] if rows else {}


class _SlowGraph(Graph):
    """The real server, with a pause after each write batch so a second loader arrives mid-load."""

    def __init__(self, graph: Graph, started: threading.Event) -> None:
        super().__init__(graph.driver, graph.database, graph.uri, graph.batch_size)
        self.started = started

    def execute_counters(self, query: str, params: Any = None) -> dict[str, int]:
        out = super().execute_counters(query, params)
        self.started.set()
        time.sleep(0.05)
        return out


def test_second_concurrent_load_refuses_and_counts_equal_one_load(graph: Graph, neo4j_settings: Settings) -> None:
    load_dataset(graph, neo4j_settings, "sequences", TINY, progress=False)
    one_load = db.counts(graph)
    assert one_load["rel"]["INTERACTED"] == 14
    db.reset(graph)

    started = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            load_dataset(_SlowGraph(graph, started), neo4j_settings, "sequences", TINY, batch_size=1,
                         progress=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(30), "the first load never wrote"
    # the first load holds the lock and has not written its edges yet: before the fix this second load
    # also found no edges, took the CREATE path and doubled INTERACTED and CO_INTERACTED
    with pytest.raises(DatasetBusy, match=r"dataset 'tiny' is being loaded by another process \(pid \d+") as info:
        load_dataset(graph, neo4j_settings, "sequences", TINY, progress=False)
    assert "\n" not in str(info.value)
    thread.join(120)
    assert not errors
    assert db.counts(graph) == one_load
    assert _lock_props(graph, "tiny") == {"owner": None, "status": "loaded"}  # released when done


def _attempt(graph: Graph, name: str, barrier: threading.Barrier, won: list[DatasetLock],
             busy: list[DatasetBusy]) -> None:
    lock = DatasetLock(graph, name, heartbeat_s=0)
    barrier.wait()  # all threads reach the lock query together
    try:
        lock.acquire()
        won.append(lock)
    except DatasetBusy as exc:
        busy.append(exc)


def test_simultaneous_lock_attempts_have_exactly_one_winner(graph: Graph) -> None:
    for round_ in range(4):
        name = f"race{round_}"
        threads_n = 6
        barrier = threading.Barrier(threads_n)
        won: list[DatasetLock] = []
        busy: list[DatasetBusy] = []
        threads = [threading.Thread(target=_attempt, args=(graph, name, barrier, won, busy))
                   for _ in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(won) == 1 and len(busy) == threads_n - 1
        assert _lock_props(graph, name)["owner"] == won[0].owner
        won[0].release()
        assert _lock_props(graph, name)["owner"] is None
    assert graph.execute("MATCH (d:Dataset) RETURN count(d) AS n", read=True)[0]["n"] == 4  # MERGE made one each


def test_two_cli_processes_loading_at_once_leave_one_load(graph: Graph, neo4j_settings: Settings) -> None:
    load_dataset(graph, neo4j_settings, "movielens", [FIX / "ml-1m"], progress=False)
    one_load = db.counts(graph)
    db.reset(graph)
    env = {**os.environ, "NEO4J_URI": neo4j_settings.bolt_uri,
           "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value()}  # type: ignore[union-attr]
    cmd = [sys.executable, "-c", "from personarec.cli import main; main()", "load", "movielens", str(FIX / "ml-1m"),
           "--json"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    codes = [p.returncode for p in procs]
    for code, (_, err) in zip(codes, outs, strict=True):
        # either both ran (one after the other: the second merged onto the first) or one refused in one line
        assert code == 0 or (code == 1 and "is being loaded by another process" in err), err
    assert 0 in codes
    assert db.counts(graph) == one_load


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_of_a_dead_loader_on_this_host_is_taken_over(graph: Graph, neo4j_settings: Settings) -> None:
    graph.execute("CREATE (:Dataset {name: 'tiny', status: 'loading', lock_owner: 'crashed', lock_host: $host, "
                  "lock_pid: $pid, lock_since: datetime(), lock_at: datetime()})",
                  {"host": socket.gethostname(), "pid": _dead_pid()})
    s = load_dataset(graph, neo4j_settings, "sequences", TINY, progress=False)
    assert s.interactions == 14 and _edges(graph)["INTERACTED"] == 14
    assert _lock_props(graph, "tiny") == {"owner": None, "status": "loaded"}


def test_live_lock_refuses_and_a_lock_without_heartbeat_expires(graph: Graph, neo4j_settings: Settings) -> None:
    # a loader on another host that is alive: its fresh heartbeat keeps the dataset busy
    graph.execute("CREATE (:Dataset {name: 'tiny', status: 'loading', lock_owner: 'other', lock_host: 'elsewhere', "
                  "lock_pid: 4242, lock_since: datetime(), lock_at: datetime()})")
    with pytest.raises(DatasetBusy, match="pid 4242 on elsewhere.*wait for it to finish"):
        load_dataset(graph, neo4j_settings, "sequences", TINY, progress=False)
    assert db.counts(graph)["rel"] == {} and _lock_props(graph, "tiny")["owner"] == "other"
    # its heartbeat stopped long ago (it crashed): the lock expired
    graph.execute("MATCH (d:Dataset {name: 'tiny'}) SET d.lock_at = datetime() - duration('PT1H')")
    s = load_dataset(graph, neo4j_settings, "sequences", TINY, progress=False)
    assert s.interactions == 14 and _lock_props(graph, "tiny") == {"owner": None, "status": "loaded"}


def test_replace_keeps_its_own_lock_and_a_lost_lock_stops_the_writer(graph: Graph, neo4j_settings: Settings) -> None:
    load_dataset(graph, neo4j_settings, "sequences", TINY, progress=False)
    first = db.counts(graph)
    s = load_dataset(graph, neo4j_settings, "sequences", TINY, replace=True, progress=False)
    assert s.types["INTERACTED"].created == 14 and db.counts(graph) == first
    lock = DatasetLock(graph, "tiny", heartbeat_s=0.2)
    lock.acquire()
    try:
        lock.check()  # held: no error
        graph.execute("MATCH (d:Dataset {name: 'tiny'}) SET d.lock_owner = 'thief'")
        deadline = time.monotonic() + 10
        while not lock.lost and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(DatasetBusy, match="lost its lock"):
            lock.check()
    finally:
        lock.release()
    assert _lock_props(graph, "tiny")["owner"] == "thief"  # release never frees someone else's lock
