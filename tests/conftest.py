"""Test harness: a real Neo4j for the whole session, never a mock.

Order of preference:
1. ``NEO4J_URI`` (+ ``NEO4J_USER``/``NEO4J_PASSWORD``) from the environment: that server is used; the
   session refuses to start if its database is not empty, since tests wipe it.
2. A Docker daemon that answers: a testcontainers ``Neo4jContainer``.
3. The managed local server (jars from Maven Central), on free ports in a temporary home.

Each test that takes ``graph`` gets an empty database (schema applied) and leaves it empty.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from personarec.config import Settings, load_settings
from personarec.db import init_schema, reset
from personarec.graph import Graph, connect
from personarec.server.process import free_port

log = logging.getLogger(__name__)

TEST_PASSWORD = "personarec-test-pw"
NEO4J_IMAGE = "neo4j:5.26.19-community"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _docker_neo4j() -> Iterator[Settings] | None:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:  # no daemon: fall back to the managed server
        return None
    from testcontainers.community.neo4j import Neo4jContainer

    def gen() -> Iterator[Settings]:
        with Neo4jContainer(NEO4J_IMAGE, password=TEST_PASSWORD) as container:
            yield load_settings(env={"NEO4J_URI": container.get_connection_url(),
                                     "NEO4J_PASSWORD": TEST_PASSWORD})

    return gen()


@pytest.fixture(scope="session")
def neo4j_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings that point at a live Neo4j for this test session."""
    if os.environ.get("NEO4J_URI"):
        settings = load_settings(env=os.environ)
        with connect(settings) as graph:
            if not graph.read("admin/is_empty.cypher")[0]["empty"]:
                pytest.exit(f"the database at {settings.neo4j.uri} is not empty; tests would wipe it. "
                            "Point NEO4J_URI at an empty test database.", returncode=2)
        yield settings
        return
    docker_gen = _docker_neo4j()
    if docker_gen is not None:
        yield from docker_gen
        return
    from personarec.server import private_server

    with private_server(tmp_path_factory.mktemp("neo4j-home"), TEST_PASSWORD) as settings:
        yield settings


@pytest.fixture(scope="session")
def session_graph(neo4j_settings: Settings) -> Iterator[Graph]:
    graph = connect(neo4j_settings)
    init_schema(graph, neo4j_settings)
    yield graph
    graph.close()


@pytest.fixture
def graph(session_graph: Graph) -> Iterator[Graph]:
    """The session's graph, empty at the start of the test and emptied after it."""
    reset(session_graph)
    yield session_graph
    reset(session_graph)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sparql_endpoint(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[str]:
    """SPARQL URL of a private Virtuoso (free ports, temp home) loaded with ``shared/data/dbpedia/*.nt.gz``.

    ``DBPEDIA_TEST_ENDPOINT`` points the tests at an already loaded endpoint instead.
    """
    if os.environ.get("DBPEDIA_TEST_ENDPOINT"):
        yield os.environ["DBPEDIA_TEST_ENDPOINT"]
        return
    from personarec.server.virtuoso import ManagedVirtuoso

    if not ManagedVirtuoso.available():
        pytest.skip("virtuoso-t / isql-vt not found: install Virtuoso (apt-get install virtuoso-opensource)")
    server = ManagedVirtuoso(tmp_path_factory.mktemp("virtuoso-home"), free_port(), free_port())
    server.start(load=shared_data / "dbpedia")
    try:
        yield server.endpoint
    finally:
        server.stop()
