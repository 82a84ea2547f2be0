"""Issue 9, probe 2: deleting a graph with dense nodes on a server with a small transaction memory limit.

Node-batched deletes carry every relationship of a hub in one transaction and die with
MemoryPoolOutOfMemoryError (as ``load --replace`` and ``db reset`` did on a doubled MovieLens graph);
the relationship-batched scripts finish. A private server with ``db.memory.transaction.max=40m``
reproduces that in seconds instead of on a 300k-edge graph with the default limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from personarec import db
from personarec.config import Settings, load_settings
from personarec.errors import GraphError
from personarec.graph import Graph, connect
from personarec.server import ManagedNeo4j
from personarec.server.process import free_port

pytestmark = pytest.mark.neo4j  # starts its own server with a small transaction memory cap

PASSWORD = "dense-test-password"
FAN_OUT = 30_000  # edges per hub: a node-batched delete of one hub needs well over 40 MiB


class _TightNeo4j(ManagedNeo4j):
    """The managed server with a per-transaction memory limit (Community cannot change it at run time)."""

    def write_conf(self) -> Path:
        path = super().write_conf()
        with path.open("a") as fh:
            fh.write("db.memory.transaction.max=40m\n")
        return path


@pytest.fixture(scope="module")
def tight_graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    settings: Settings = load_settings(env={
        "PERSONAREC_SERVER__HOME": str(tmp_path_factory.mktemp("tight-neo4j")), "NEO4J_PASSWORD": PASSWORD,
        "PERSONAREC_SERVER__BOLT_PORT": str(free_port()), "PERSONAREC_SERVER__HTTP_PORT": str(free_port())})
    server = _TightNeo4j(settings.server, password=PASSWORD)
    server.start()
    try:
        with connect(settings) as graph:
            db.init_schema(graph, settings)
            yield graph
    finally:
        server.stop()


def _fan(graph: Graph, hub: str, edge: str, leaf: str) -> None:
    """``FAN_OUT`` edges from the hub matched by ``hub`` to new leaves, in small transactions (test data)."""
    graph.execute_autocommit(f"MATCH (h) WHERE {hub} UNWIND range(1, $n) AS i "
                             f"CALL (h, i) {{ CREATE (h)-[:{edge}]->({leaf}) }} IN TRANSACTIONS OF 5000 ROWS",
                             {"n": FAN_OUT})


def test_dense_dataset_and_graph_are_deleted_in_relationship_batches(tight_graph: Graph) -> None:
    g = tight_graph
    g.execute("CREATE (:User {id: 'big:hub', dataset: 'big'}), (:Probe {name: 'outside'}), "
              "(:Dataset {name: 'big', fingerprint: 'f', status: 'loaded'}), "
              "(:User {id: 'keep:1', dataset: 'keep'})-[:INTERACTED]->(:Item {id: 'keep:1', dataset: 'keep'})")
    # a dataset user with FAN_OUT items, each item linked from an outside hub (edges into the dataset)
    _fan(g, "h:User AND h.id = 'big:hub'", "INTERACTED", ":Item {id: 'big:' + toString(i), dataset: 'big'}")
    g.execute_autocommit("MATCH (i:Item {dataset: 'big'}), (p:Probe) "
                         "CALL (i, p) { CREATE (p)-[:MENTIONS]->(i) } IN TRANSACTIONS OF 5000 ROWS")
    _fan(g, "h:Probe", "POINTS_AT", ":Leaf")
    assert db.counts(g)["rel"] == {"INTERACTED": FAN_OUT + 1, "MENTIONS": FAN_OUT, "POINTS_AT": FAN_OUT}

    # the old node-batched delete reproduces the failure, now as one sentence
    with pytest.raises(GraphError, match=r"^Neo4j ran out of transaction memory \(Neo\.TransientError") as info:
        g.execute_autocommit("MATCH (n:User {dataset: 'big'}) "
                             "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS")
    assert "\n" not in str(info.value)

    g.run_script_autocommit("load/dataset_delete.cypher", {"dataset": "big", "owner": None})
    counts = db.counts(g)
    assert counts["rel"] == {"INTERACTED": 1, "POINTS_AT": FAN_OUT}  # only the other dataset and outside edges
    assert counts["node"] == {"User": 1, "Item": 1, "Probe": 1, "Leaf": FAN_OUT, "Dataset": 1}
    # the Dataset node stays for the lock holder, without what the old load recorded
    assert g.execute("MATCH (d:Dataset) RETURN properties(d) AS p", read=True) == [{"p": {"name": "big"}}]

    # the outside hub still has FAN_OUT edges: node-batched reset would fail, the script does not
    db.reset(g)
    assert db.counts(g) == {"node": {}, "rel": {}}
