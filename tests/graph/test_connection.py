"""Connection behaviour against the real server: errors are one clear sentence."""

import socket

import pytest

from personarec.config import Settings, load_settings
from personarec.errors import ConfigError, GraphError
from personarec.graph import connect


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
