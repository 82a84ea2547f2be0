"""Connection behaviour against the real server: errors are one clear sentence."""

import logging
import os
import signal
import socket
import threading
import time

import pytest
from neo4j import exceptions as nex

from personarec.config import Settings, load_settings
from personarec.errors import ConfigError, GraphError
from personarec.graph import connect, translate_errors


def test_wrong_password_is_one_clear_error(neo4j_settings: Settings) -> None:
    # A user name of its own, so Neo4j's failed-login lockout never touches the test user.
    bad = load_settings(env={"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_USER": "intruder",
                             "NEO4J_PASSWORD": "wrong-password"})
    with pytest.raises(GraphError, match="refused the credentials"):
        connect(bad)


def test_unreachable_server_is_one_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(env={"NEO4J_URI": f"bolt://127.0.0.1:{port}", "NEO4J_PASSWORD": "whatever-pw",
                                  "PERSONAREC_NEO4J__CONNECT_TIMEOUT_S": "2"})
    with pytest.raises(GraphError, match="not reachable"):
        connect(settings)


def test_external_uri_without_password_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="NEO4J_PASSWORD"):
        connect(load_settings(env={"NEO4J_URI": "bolt://127.0.0.1:1"}))


def test_parameters_are_never_spliced(graph) -> None:
    nasty = "x'}) DETACH DELETE n RETURN 1 //\\\" MATCH"
    graph.execute("CREATE (:Probe {name: $name})", {"name": nasty})
    rows = graph.execute("MATCH (p:Probe) RETURN p.name AS name", read=True)
    assert rows == [{"name": nasty}]


def test_write_batches_sends_every_row(graph, monkeypatch, tmp_path) -> None:
    from personarec.graph import cypher

    (tmp_path / "probe.cypher").write_text("UNWIND $rows AS row MERGE (:Probe {id: row.id, tag: $tag});\n")
    monkeypatch.setattr(cypher, "cypher_dir", lambda: tmp_path)
    cypher.statements.cache_clear()
    try:
        sent = graph.write_batches("probe.cypher", ({"id": i} for i in range(25)), batch_size=10,
                                   extra={"tag": "t"})
    finally:
        cypher.statements.cache_clear()
    assert sent == 25
    assert graph.execute("MATCH (p:Probe {tag: 't'}) RETURN count(p) AS n")[0]["n"] == 25


# ---------------------------------------------------------------- issue 9: errors, retries, notifications
def _driver_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("neo4j") and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("exc, pattern", [
    (nex.Neo4jError._hydrate_neo4j(code="Neo.TransientError.General.MemoryPoolOutOfMemoryError",
                                   message="The allocation of an extra 2.0 MiB would use more than the limit.\n"
                                           "db.memory.transaction.max threshold reached"),
     r"^Neo4j ran out of transaction memory \(Neo\.TransientError\.General\.MemoryPoolOutOfMemoryError\): "
     r"The allocation .* limit\.; use smaller batches"),
    (nex.Neo4jError._hydrate_neo4j(code="Neo.TransientError.Transaction.DeadlockDetected", message="deadlock"),
     r"^Neo4j failed the query with a transient error that persisted after retries \(.*DeadlockDetected\)"),
    (nex.Neo4jError._hydrate_neo4j(code="Neo.DatabaseError.General.UnknownError", message="boom\n\tat x.y.Z"),
     r"^Neo4j failed the query \(Neo\.DatabaseError\.General\.UnknownError\): boom$"),
    (nex.SessionExpired("connection lost"), r"^Neo4j is not reachable at bolt://x"),
    (nex.IncompleteCommit("commit unknown"), r"^Neo4j is not reachable at bolt://x"),
    (nex.ConnectionAcquisitionTimeoutError("no connection in 60 s"),
     r"^the Neo4j driver failed talking to bolt://x \(ConnectionAcquisitionTimeoutError\): no connection"),
])
def test_every_driver_error_is_one_sentence(exc: Exception, pattern: str) -> None:
    with pytest.raises(GraphError, match=pattern) as info, translate_errors("bolt://x"):
        raise exc
    assert "\n" not in str(info.value) and info.value.__cause__ is exc


def test_server_notifications_are_debug_not_warnings(graph, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.DEBUG, logger="personarec.graph.driver")
    # evaluating a dataset without timestamps reads a property no node has: the server notifies
    rows = graph.execute("MATCH (n:Probe) RETURN n.never_set_property_ts AS ts", read=True)
    assert rows == []
    assert _driver_warnings(caplog) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    routed = [r.getMessage() for r in caplog.records if r.name == "personarec.graph.driver"]
    assert any("never_set_property_ts" in m for m in routed)
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "personarec.graph.driver")


@pytest.mark.neo4j  # starts (and kills) its own server
def test_server_killed_mid_query_fails_fast_in_one_line(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    from personarec.server import ManagedNeo4j, private_server
    from personarec.server.process import pid_alive

    caplog.set_level(logging.WARNING)
    with private_server(tmp_path / "home", "killed-server-pw") as settings:
        assert settings.neo4j.max_retry_s <= 5
        graph = connect(settings)
        try:
            graph.execute("CREATE (:Probe {name: 'before'})")
            errors: list[BaseException] = []
            started = threading.Event()

            def long_write() -> None:
                started.set()
                try:
                    graph.execute("UNWIND range(1, 2000000000) AS i WITH i WHERE i < 0 CREATE (:Probe)")
                except BaseException as exc:  # noqa: BLE001 - checked below
                    errors.append(exc)

            worker = threading.Thread(target=long_write)
            worker.start()
            started.wait(10)
            time.sleep(1.0)  # the query is running on the server
            pid = ManagedNeo4j(settings.server).pid()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            worker.join(60)
            assert time.monotonic() - killed < 15, "the client kept retrying a dead server"
            assert len(errors) == 1 and isinstance(errors[0], GraphError), errors
            assert "\n" not in str(errors[0]) and "not reachable" in str(errors[0])
            # the next call on the dead server: bounded retries, one sentence
            t0 = time.monotonic()
            with pytest.raises(GraphError, match="not reachable") as info:
                graph.execute("CREATE (:Probe {name: 'after'})")
            assert time.monotonic() - t0 < 15 and "\n" not in str(info.value)
            with pytest.raises(GraphError, match="not reachable"):
                graph.execute_autocommit("CREATE (:Probe {name: 'after'})")
            deadline = time.monotonic() + 30
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            graph.close()
    # no WARNING/ERROR flood from the driver's retries and dead connections
    assert _driver_warnings(caplog) == []
