"""The main job: every stage in data-flow order on one dataset, ending with metrics and the Browser URL.

Stages run so far: start Neo4j (managed server unless NEO4J_URI is set) and apply the schema. Later
stages (load, enrich, embed, personas, recommend, evaluate) plug in here as they land.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from personarec import db as dbops
from personarec.config import Settings
from personarec.graph import connect

log = logging.getLogger(__name__)


def ensure_server(settings: Settings, echo: Callable[[str], None]) -> None:
    """Start the managed server when no external URI is configured (harmless if it runs)."""
    if not settings.managed:
        echo(f"using Neo4j at {settings.neo4j.uri}")
        return
    from personarec.server import ManagedNeo4j

    password = settings.neo4j.password.get_secret_value() if settings.neo4j.password else None
    server = ManagedNeo4j(settings.server, password=password, user=settings.neo4j.user)
    t0 = time.monotonic()
    started = server.start()
    echo(f"Neo4j {'started in %.1f s' % (time.monotonic() - t0) if started else 'already running'}: "
         f"{server.bolt_uri}")


def run_pipeline(settings: Settings, echo: Callable[[str], None] = print) -> None:
    """Run the pipeline stages that exist, in order."""
    ensure_server(settings, echo)
    with connect(settings) as graph:
        constraints = dbops.init_schema(graph, settings)
        echo(f"schema applied ({len(constraints)} constraints), Neo4j {graph.server_version()}")
    echo(f"Neo4j Browser: {settings.browser_url}")
