"""Database administration: schema, reset, counts (``personarec db ...``)."""

from __future__ import annotations

import logging
from typing import Any

from personarec.config import Settings
from personarec.graph import Graph

log = logging.getLogger(__name__)


def init_schema(graph: Graph, settings: Settings) -> list[dict[str, Any]]:
    """Apply ``cypher/schema.cypher`` (idempotent) and return the constraints Neo4j lists back."""
    graph.run_script("schema.cypher", {"item_dim": settings.embed.dimensions,
                                       "persona_dim": settings.persona.dimensions})
    return graph.query("admin/constraints.cypher")


def reset(graph: Graph) -> None:
    """Delete every node and relationship; constraints and indexes stay."""
    from personarec.graph.cypher import statement

    graph.execute_autocommit(statement("admin/reset.cypher"))


def counts(graph: Graph) -> dict[str, dict[str, int]]:
    """``{"node": {label: n}, "rel": {type: n}}``."""
    out: dict[str, dict[str, int]] = {"node": {}, "rel": {}}
    for row in graph.query("admin/counts.cypher"):
        out[row["kind"]][row["name"]] = row["count"]
    return out
