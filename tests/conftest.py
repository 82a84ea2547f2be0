"""Test harness: a real Neo4j for the whole session, never a mock.

Order of preference:
1. ``NEO4J_URI`` (+ ``NEO4J_USER``/``NEO4J_PASSWORD``) from the environment: that server is used; the
   session refuses to start if its database is not empty, since tests wipe it.
2. A Docker daemon that answers: a testcontainers ``Neo4jContainer``.
3. The managed local server (jars from Maven Central), on free ports in a temporary home.

Each test that takes ``graph`` gets an empty database (schema applied) and leaves it empty.

Tiers: every test that needs a live Neo4j (directly or through another fixture) is marked ``neo4j``, every
test that needs a Virtuoso SPARQL endpoint ``sparql`` (see ``pytest_collection_modifyitems``), so
``pytest -m "not neo4j and not sparql"`` (``bash run.sh unit``) runs the unit tier without any server.
Tests that need ``../shared/data`` skip one by one when it is absent, each naming itself in the ``-ra``
summary; ``PERSONAREC_TEST_SHARED_DATA`` (read by this harness only) points them at another folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from personarec.config import Settings, load_settings
from personarec.db import init_schema, reset
from personarec.graph import Graph, connect
from personarec.server.process import free_port

log = logging.getLogger(__name__)

TEST_PASSWORD = "personarec-test-pw"
NEO4J_IMAGE = "neo4j:5.26.19-community"
SHARED_DATA = Path(os.environ.get("PERSONAREC_TEST_SHARED_DATA")
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")

# Fixtures whose users need a server; item.fixturenames is the transitive closure, so a test that takes a
# fixture built on these (``tiny``, ``cli_env``, ...) is marked too.
NEO4J_FIXTURES = frozenset({"neo4j_settings", "session_graph", "graph"})
SPARQL_FIXTURES = frozenset({"sparql_endpoint"})
# Tests that start a server themselves, without the fixtures: node-id prefixes relative to tests/. (A new
# such test may instead carry ``pytest.mark.neo4j`` itself; in the unit tier the guard below catches one
# that does neither.)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the server tiers ``neo4j`` and ``sparql`` from the fixtures a test uses; a test that starts a
    server of its own carries the marker itself."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & NEO4J_FIXTURES:
            item.add_marker(pytest.mark.neo4j)
        if names & SPARQL_FIXTURES:
            item.add_marker(pytest.mark.sparql)


@pytest.fixture(scope="session", autouse=True)
def _server_tier_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """In a run that deselects a server tier (``-m "not neo4j"``), a test that launches that server anyway
    fails at once, naming itself, instead of quietly making the unit tier slow: it belongs in the tier."""
    markexpr = request.config.getoption("markexpr") or ""
    guarded = {tier: module for tier, module in (("neo4j", "personarec.server.manager"),
                                                  ("sparql", "personarec.server.virtuoso"))
               if f"not {tier}" in markexpr}
    with pytest.MonkeyPatch.context() as mp:
        for tier, module in guarded.items():
            def refuse(cmd: list[str], *args: object, _tier: str = tier, **kwargs: object) -> int:
                program = Path(str(list(cmd)[0])).name if cmd else "?"
                pytest.fail(f"{os.environ.get('PYTEST_CURRENT_TEST', 'this test')} launches a server ({program}) in "
                            f"a run without the {_tier} tier: mark it with pytest.mark.{_tier} "
                            "in its file.", pytrace=False)
            mp.setattr(f"{module}.spawn", refuse)
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test that needs the shared datasets before its fixtures start, with its own name in the reason.

    (The session-scoped ``shared_data`` fixture would raise one cached skip, so ``-ra`` would fold every
    such test into a single line under the first one's reason.)
    """
    if "shared_data" in getattr(item, "fixturenames", ()) and not SHARED_DATA.is_dir():
        pytest.skip(f"{item.nodeid}: needs the shared datasets, not found at {SHARED_DATA}")


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
    """``../shared/data`` (or ``$PERSONAREC_TEST_SHARED_DATA``); tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    return SHARED_DATA


def _load_tiny_sequences(graph: Graph, settings: Settings, folder: Path, dataset: str = "tiny") -> None:
    """Load ``dataset``: 12 users with 7 of 9 items each, written as a sequences file into ``folder``."""
    from personarec.load import load_dataset

    path = folder / f"{dataset}.txt"
    path.write_text("".join(f"{u} " + " ".join(str((u + k) % 9 + 1) for k in range(7)) + "\n" for u in range(1, 13)))
    load_dataset(graph, settings, "sequences", [path], dataset=dataset, progress=False)


@pytest.fixture(scope="session")
def load_tiny_sequences() -> Callable[..., None]:
    """``load(graph, settings, folder, dataset="tiny")``: the smallest dataset the loader and the models
    accept, for tests that need some graph but no particular one (session-scoped, so module fixtures
    can use it too)."""
    return _load_tiny_sequences


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
