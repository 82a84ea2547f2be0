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


#: The driver's loggers. Their WARNING/ERROR records (a retry notice per attempt, a dead connection, the
#: server's query notifications such as "property `ts` does not exist") are routine for us: the error
#: that matters reaches the user once, as a GraphError. They are re-logged at DEBUG (``-vv``).
DRIVER_LOGGERS = ("neo4j", "neo4j.io", "neo4j.pool", "neo4j.session", "neo4j.notifications",
                  "neo4j.auth_management")
_driver_log = logging.getLogger("personarec.graph.driver")


class _ToDebug(logging.Filter):
    """Logger filter: re-log a driver record of level INFO or above at DEBUG and drop the original."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return True
        if _driver_log.isEnabledFor(logging.DEBUG):
            _driver_log.debug("%s %s: %s", record.name, record.levelname, record.getMessage())
        return False


def quiet_driver_logs() -> None:
    """Route the driver's INFO/WARNING/ERROR records to DEBUG (idempotent)."""
    for name in DRIVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ToDebug) for f in logger.filters):
            logger.addFilter(_ToDebug())


def _first_line(text: str | None, limit: int = 300) -> str:
    """The first line of a server message, shortened: an error is one sentence, not a stack."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


@contextmanager
def translate_errors(uri: str) -> Iterator[None]:
    """Turn every driver exception into one-sentence :class:`GraphError` messages."""
    try:
        yield
    except nex.AuthError as exc:
        raise GraphError(f"Neo4j at {uri} refused the credentials: check NEO4J_USER / NEO4J_PASSWORD "
                         f"({_first_line(exc.message) or 'unauthorized'}).") from exc
    except (nex.ServiceUnavailable, nex.SessionExpired, OSError) as exc:
        raise GraphError(f"Neo4j is not reachable at {uri} (or went away during the query): start it with "
                         "`personarec neo4j start` or point NEO4J_URI at a running server.") from exc
    except nex.ConfigurationError as exc:
        raise GraphError(f"invalid Neo4j connection settings for {uri}: {_first_line(str(exc))}") from exc
    except nex.CypherSyntaxError as exc:
        raise GraphError(f"Cypher syntax error: {_first_line(exc.message)}") from exc
    except nex.ClientError as exc:
        raise GraphError(f"Neo4j rejected the query ({exc.code}): {_first_line(exc.message)}") from exc
    except nex.TransientError as exc:
        if exc.code and "MemoryPoolOutOfMemoryError" in exc.code:
            raise GraphError(f"Neo4j ran out of transaction memory ({exc.code}): {_first_line(exc.message)}; "
                             "use smaller batches or raise the server's db.memory.transaction.max / "
                             "heap.") from exc
        raise GraphError(f"Neo4j failed the query with a transient error that persisted after retries "
                         f"({exc.code}): {_first_line(exc.message)}") from exc
    except nex.Neo4jError as exc:  # DatabaseError and any other server-side failure
        raise GraphError(f"Neo4j failed the query ({exc.code}): {_first_line(exc.message)}") from exc
    except nex.DriverError as exc:  # client-side driver failures (pool timeout, result misuse, …)
        raise GraphError(f"the Neo4j driver failed talking to {uri} ({type(exc).__name__}): "
                         f"{_first_line(str(exc))}") from exc


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

    def run_script_autocommit(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        """Run every statement of ``cypher/<name>`` in order, each in its own auto-commit transaction
        (scripts of ``CALL {…} IN TRANSACTIONS`` steps, e.g. relationship-batched deletes)."""
        for stmt in statements(name):
            self.execute_autocommit(stmt, params)

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
    quiet_driver_logs()
    with translate_errors(uri):
        # A short retry budget: a server that died mid-load yields one error within seconds, not after
        # the driver's default 30 s of retries (and a WARNING line per attempt).
        driver = GraphDatabase.driver(uri, auth=auth, connection_timeout=settings.neo4j.connect_timeout_s,
                                      max_transaction_retry_time=settings.neo4j.max_retry_s,
                                      warn_notification_severity="OFF", user_agent="personarec")
        if verify:
            try:
                driver.verify_connectivity()
            except Exception:
                driver.close()
                raise
    return Graph(driver, settings.neo4j.database, uri, settings.neo4j.batch_size)

