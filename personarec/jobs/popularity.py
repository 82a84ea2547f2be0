"""Most-popular: the simplest real model, from interaction counts read out of Neo4j."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from personarec.errors import PersonarecError
from personarec.graph import Graph
from personarec.jobs.base import UserBatch

log = logging.getLogger(__name__)


class MostPopular:
    """Recommends the items with the most ``INTERACTED`` edges (train split by default), history excluded.

    Args:
        counts: ``(item id, count)`` pairs; ties are ranked by item id so output is deterministic.
    """

    name = "most-popular"

    def __init__(self, counts: Sequence[tuple[str, int]]) -> None:
        if not counts:
            raise PersonarecError("the most-popular model has no items to recommend; load a dataset first.")
        # most counted first, then by id: one fixed global ranking
        self.ranking_ = sorted(counts, key=lambda c: (-c[1], c[0]))

    @classmethod
    def from_graph(cls, graph: Graph, dataset: str, splits: Sequence[str] = ("train",)) -> MostPopular:
        """Count each item's interactions of ``splits`` in the graph."""
        rows = graph.read("queries/jobs_popularity.cypher", {"dataset": dataset, "splits": list(splits)})
        log.info("most-popular: %d items of %s counted on splits %s", len(rows), dataset, list(splits))
        return cls([(r["item"], int(r["n"])) for r in rows])

    def recommend(self, batch: UserBatch, k: int) -> tuple[list[list[str]], list[list[float]]]:
        items: list[list[str]] = []
        scores: list[list[float]] = []
        for history in batch.histories:
            seen = set(history)
            top = [(i, n) for i, n in self.ranking_[: k + len(seen)] if i not in seen][:k]
            items.append([i for i, _ in top])
            scores.append([float(n) for _, n in top])
        return items, scores
