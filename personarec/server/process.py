"""Background-process plumbing shared by the managed servers (Neo4j, the Virtuoso mirror).

A server runs as our child in its own session, its PID kept in a file; these helpers start it, find
it again, and stop it by that PID without leaving a zombie behind.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for private test and benchmark servers)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (we could bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def reap(pid: int, timeout_s: float = 5.0) -> None:
    """Collect the exit status of our own child so it does not linger as a zombie.

    A zombie main thread is reported before the whole thread group has exited, so one non-blocking
    ``waitpid`` can come too early: poll briefly. Not our child (started by another process): nothing to do.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done == pid or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def read_pid(pid_file: Path) -> int | None:
    """PID recorded in ``pid_file`` if that process still runs; a stale file is removed."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid_alive(pid):
        return pid
    reap(pid)
    pid_file.unlink(missing_ok=True)
    return None


def spawn(cmd: Sequence[str], pid_file: Path, console: Path, *, cwd: Path,
          env: Mapping[str, str] | None = None, umask: int = -1) -> int:
    """Start ``cmd`` in the background in its own session, output appended to ``console``; record its PID.

    ``umask`` (e.g. ``0o077``) is set in the child before it runs, so every file it creates gets at most
    those permissions; ``-1`` keeps ours.
    """
    mode = 0o666 & ~umask if umask >= 0 else 0o666  # the console log is one of the child's files too
    with os.fdopen(os.open(console, os.O_WRONLY | os.O_CREAT | os.O_APPEND, mode), "ab") as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
                                umask=umask)
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def terminate(pid_file: Path, name: str, timeout_s: float = 60.0) -> bool:
    """Stop the process of ``pid_file`` (SIGTERM, then SIGKILL after ``timeout_s``); False if none ran."""
    pid = read_pid(pid_file)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):
        log.warning("%s (pid %d) ignored SIGTERM for %.0f s; killing it", name, pid, timeout_s)
        os.kill(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(0.1)
    reap(pid)
    pid_file.unlink(missing_ok=True)
    return True
