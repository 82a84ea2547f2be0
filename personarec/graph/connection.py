"""Connecting to Neo4j: one code path for an external URI, docker compose and the managed server."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import neo4j
from neo4j import GraphDatabase
from neo4j import exceptions as nex

from personarec.config import Settings
from personarec.errors import ConfigError, GraphError
from personarec.graph.cypher import statement, statements

log = logging.getLogger(__name__)


def resolve_auth(settings: Settings) -> tuple[str, str]:
    """(user, password): the configured password, else the managed server's password file."""
    if settings.neo4j.password is not None:
        return settings.neo4j.user, settings.neo4j.password.get_secret_value()
    if settings.managed:
        from personarec.server import ManagedNeo4j

        return settings.neo4j.user, ManagedNeo4j(settings.server).password
    raise ConfigError(f"NEO4J_PASSWORD is not set for {settings.neo4j.uri}; export it or put it in the config file.")


@contextmanager
def translate_errors(uri: str) -> Iterator[None]:
    """Turn driver exceptions into one-sentence :class:`GraphError` messages."""
    try:
        yield
    except nex.AuthError as exc:
        raise GraphError(f"Neo4j at {uri} refused the credentials: check NEO4J_USER / NEO4J_PASSWORD "
                         f"({exc.message or 'unauthorized'}).") from exc
    except (nex.ServiceUnavailable, OSError) as exc:
        raise GraphError(f"Neo4j is not reachable at {uri}: start it with `personarec neo4j start` "
                         "or point NEO4J_URI at a running server.") from exc
    except nex.ConfigurationError as exc:
        raise GraphError(f"invalid Neo4j connection settings for {uri}: {exc}") from exc
    except nex.CypherSyntaxError as exc:
        raise GraphError(f"Cypher syntax error: {exc.message}") from exc
    except nex.ClientError as exc:
        raise GraphError(f"Neo4j rejected the query ({exc.code}): {exc.message}") from exc


class Graph:
    """A driver bound to one database, with helpers that run the package's ``.cypher`` scripts.

    Args:
        driver: an open ``neo4j.Driver``.
        database: the database name.
        uri: for error messages.
        batch_size: default rows per ``UNWIND`` batch in :meth:`write_batches`.
    """

    def __init__(self, driver: neo4j.Driver, database: str = "neo4j", uri: str = "",
                 batch_size: int = 5000) -> None:
        self.driver = driver
        self.database = database
        self.uri = uri
        self.batch_size = batch_size

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ raw
    def execute(self, query: str, params: Mapping[str, Any] | None = None, *,
                read: bool = False) -> list[dict[str, Any]]:
        """Run one statement in a managed transaction and return its rows as dicts."""
        routing = neo4j.RoutingControl.READ if read else neo4j.RoutingControl.WRITE
        with translate_errors(self.uri):
            records, _, _ = self.driver.execute_query(query, parameters_=dict(params or {}),
                                                      database_=self.database, routing_=routing)
        return [r.data() for r in records]

    def execute_counters(self, query: str, params: Mapping[str, Any] | None = None) -> dict[str, int]:
        """Run one write statement in a managed transaction; return the server's update counters
        (``nodes_created``, ``relationships_created``, ``properties_set``, …) for load summaries."""
        with translate_errors(self.uri):
            _, summary, _ = self.driver.execute_query(query, parameters_=dict(params or {}),
                                                      database_=self.database,
                                                      routing_=neo4j.RoutingControl.WRITE)
        c = summary.counters
        return {name: getattr(c, name) for name in (
            "nodes_created", "nodes_deleted", "relationships_created", "relationships_deleted",
            "properties_set", "labels_added")}

    def execute_autocommit(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one statement in an auto-commit transaction (needed by ``CALL {…} IN TRANSACTIONS``)."""
        with translate_errors(self.uri), self.driver.session(database=self.database) as session:
            return [r.data() for r in session.run(query, dict(params or {}))]

    def stream(self, query: str, params: Mapping[str, Any] | None = None) -> Iterator[neo4j.Record]:
        """Stream the rows of a read query without materialising them all."""
        with translate_errors(self.uri), self.driver.session(database=self.database,
                                                             default_access_mode=neo4j.READ_ACCESS) as session:
            result = session.run(query, dict(params or {}))
            yield from result

    # -------------------------------------------------------------- scripts
    def run_script(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        """Run every statement of ``cypher/<name>`` (each in its own transaction, e.g. schema DDL)."""
        for stmt in statements(name):
            self.execute(stmt, params)

    def read(self, name: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run the single statement of ``cypher/<name>`` in a read transaction and return its rows."""
        return self.execute(statement(name), params, read=True)

    def write(self, name: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run the single statement of ``cypher/<name>`` in a write transaction and return its rows."""
        return self.execute(statement(name), params, read=False)

    def write_batches(self, name: str, rows: Iterable[Mapping[str, Any]], *,
                      batch_size: int | None = None, extra: Mapping[str, Any] | None = None) -> int:
        """Send ``rows`` to ``cypher/<name>`` as ``$rows`` in batches, one transaction per batch."""
        query = statement(name)
        size = batch_size or self.batch_size
        batch: list[Mapping[str, Any]] = []
        sent = 0
        for row in rows:
            batch.append(row)
            if len(batch) >= size:
                self.execute(query, {**(extra or {}), "rows": batch})
                sent += len(batch)
                batch = []
        if batch:
            self.execute(query, {**(extra or {}), "rows": batch})
            sent += len(batch)
        return sent

    def server_version(self) -> str:
        rows = self.read("admin/components.cypher")
        return f"{rows[0]['version']} {rows[0]['edition']}" if rows else "unknown"


def connect(settings: Settings, *, verify: bool = True) -> Graph:
    """Open a :class:`Graph` on the configured server; errors are one-sentence :class:`GraphError`."""
    uri = settings.bolt_uri
    auth = resolve_auth(settings)
    with translate_errors(uri):
        driver = GraphDatabase.driver(uri, auth=auth, connection_timeout=settings.neo4j.connect_timeout_s,
                                      user_agent="personarec")
        if verify:
            try:
                driver.verify_connectivity()
            except Exception:
                driver.close()
                raise
    return Graph(driver, settings.neo4j.database, uri, settings.neo4j.batch_size)

