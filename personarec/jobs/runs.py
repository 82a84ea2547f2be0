"""Managing recommendation runs in Neo4j: list, compare, remove."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from tqdm import tqdm

from personarec.errors import PersonarecError
from personarec.graph import Graph

log = logging.getLogger(__name__)


def list_runs(graph: Graph) -> list[dict[str, Any]]:
    """Every RecommendationRun with its model, k, status, progress, edge count and throughput."""
    return graph.read("queries/jobs_run_list.cypher")


def get_run(graph: Graph, run_id: str) -> dict[str, Any]:
    """The run node's properties; error if there is no such run."""
    rows = graph.read("queries/jobs_run_get.cypher", {"run": run_id})
    if not rows:
        raise PersonarecError(f"there is no recommendation run {run_id!r} (see `personarec recommend --list`).")
    return rows[0]["run"]


def run_recommendations(graph: Graph, run_id: str) -> dict[str, list[str]]:
    """``{user id: [item ids in rank order]}`` of a run."""
    return {r["user"]: r["items"] for r in graph.read("queries/jobs_run_recs.cypher", {"run": run_id})}


@dataclass
class Comparison:
    """How much two runs agree, over the users both cover."""

    run_a: str
    run_b: str
    users_both: int
    users_only_a: int
    users_only_b: int
    jaccard: float  # mean over users of |A∩B| / |A∪B|
    overlap_at_k: float  # mean over users of |A∩B| / k, k = the larger list length
    same_top1: float  # share of users whose first item agrees

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_runs(graph: Graph, run_a: str, run_b: str) -> Comparison:
    """Per-user overlap of two runs' top-k lists, averaged over the users both cover."""
    get_run(graph, run_a)
    get_run(graph, run_b)
    recs_a = run_recommendations(graph, run_a)
    recs_b = run_recommendations(graph, run_b)
    both = sorted(recs_a.keys() & recs_b.keys())
    jac = ovl = top1 = 0.0
    for user in both:
        a, b = recs_a[user], recs_b[user]
        inter = len(set(a) & set(b))
        union = len(set(a) | set(b))
        jac += inter / union if union else 1.0
        ovl += inter / max(len(a), len(b)) if a or b else 1.0
        top1 += float(bool(a) and bool(b) and a[0] == b[0])
    n = len(both)
    return Comparison(run_a, run_b, n, len(recs_a.keys() - recs_b.keys()), len(recs_b.keys() - recs_a.keys()),
                      jac / n if n else 0.0, ovl / n if n else 0.0, top1 / n if n else 0.0)


def remove_run(graph: Graph, run_id: str, *, batch_size: int = 10_000, progress: bool = True) -> int:
    """Delete a run's RECOMMENDED edges in batches (one transaction each), then its node.

    Returns the number of edges deleted. Calling it again after an interruption finishes the job.
    """
    get_run(graph, run_id)  # edges are written after the node and removed before it: no node, no edges
    total = 0
    bar = tqdm(desc=f"remove {run_id}", unit="edge", disable=not progress)
    while True:
        deleted = graph.write("queries/jobs_run_delete_edges.cypher",
                              {"run": run_id, "limit": batch_size})[0]["deleted"]
        total += deleted
        bar.update(deleted)
        if deleted < batch_size:
            break
    bar.close()
    graph.write("queries/jobs_run_delete_node.cypher", {"run": run_id})
    log.info("removed run %s: %d edges", run_id, total)
    return total
