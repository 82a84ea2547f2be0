"""Database administration: schema, reset, counts (``personarec db ...``)."""

from __future__ import annotations

import logging
from typing import Any

from personarec.config import Settings
from personarec.errors import PersonarecError
from personarec.graph import Graph

log = logging.getLogger(__name__)


def init_schema(graph: Graph, settings: Settings) -> list[dict[str, Any]]:
    """Apply ``cypher/schema.cypher`` (idempotent) and return the constraints Neo4j lists back."""
    graph.run_script("schema.cypher", {"item_dim": settings.embed.dimensions,
                                       "persona_dim": settings.persona.dimensions})
    return graph.read("admin/constraints.cypher")


def reset(graph: Graph) -> None:
    """Delete every node and relationship; constraints and indexes stay.

    Relationships are deleted first, a fixed number per transaction, so a dense node never puts all its
    edges into one transaction (see ``cypher/admin/reset.cypher``).
    """
    graph.run_script_autocommit("admin/reset.cypher")


def counts(graph: Graph) -> dict[str, dict[str, int]]:
    """``{"node": {label: n}, "rel": {type: n}}``."""
    out: dict[str, dict[str, int]] = {"node": {}, "rel": {}}
    for row in graph.read("admin/counts.cypher"):
        out[row["kind"]][row["name"]] = row["count"]
    return out


def datasets(graph: Graph) -> list[str]:
    """Names of the datasets that have users in the graph."""
    return [r["dataset"] for r in graph.read("admin/datasets.cypher") if r["dataset"]]


def resolve_dataset(graph: Graph, dataset: str | None) -> str:
    """The given dataset (checked to exist), or the only one in the graph."""
    found = datasets(graph)
    if dataset is not None:
        if dataset not in found:
            raise PersonarecError(f"dataset {dataset!r} has no users in the graph "
                                  f"(found: {', '.join(found) or 'none'}).")
        return dataset
    if len(found) != 1:
        raise PersonarecError("the graph holds " + (f"several datasets ({', '.join(found)}); pick one with --dataset."
                                                   if found else "no users; load a dataset first."))
    return found[0]
