"""Most-popular by true train counts: the one model behind both the evaluation's row and the batch job.

The protocol check of ``docs/protocol.md``: RecBole 1.2.1's ``Pop`` counts an item at most once per
training batch (RecBole issue #2198); we use the true number of train interactions, which is what the
reference numbers of docs/protocol.md were measured with. Items are indexed in the protocol's id
order (:func:`personarec.protocol.node_sort_key`, numbers as numbers) and equal counts rank by that
index (:func:`personarec.protocol.target_ranks`), so the list the batch job writes is the ranking the
evaluation scores.

torch is imported only where tensors are made: the batch job uses this model without it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from personarec.errors import PersonarecError
from personarec.protocol import mask_history, metrics_from_ranks, node_sort_key, popularity_order, target_ranks
from personarec.session.data import SequenceData

if TYPE_CHECKING:
    import torch

    from personarec.graph import Graph

log = logging.getLogger(__name__)


class MostPopular:
    """Scores every item by its train interaction count.

    Learned state: ``counts_`` ((n_items + 1,) float32, index 0 = padding) and ``item_ids_`` (node ids;
    ``item_ids_[k - 1]`` is item index ``k``). ``item_ids_`` is needed only to speak node ids
    (:meth:`recommend`, :attr:`ranking_`).
    """

    name = "most-popular"

    def __init__(self) -> None:
        self.counts_: np.ndarray | None = None
        self.item_ids_: list[str] | None = None
        self._order: np.ndarray | None = None
        self._order_of: np.ndarray | None = None  # the counts_ that _order was computed from

    # ------------------------------------------------------------------ fitting
    def train(self, data: SequenceData) -> MostPopular:
        """Count each item's train interactions in ``data`` (the evaluation's path)."""
        self.counts_ = data.train_counts().astype(np.float32)
        self.item_ids_ = list(data.item_ids)
        return self

    @classmethod
    def from_counts(cls, counts: Sequence[tuple[str, int]]) -> MostPopular:
        """A model from ``(item node id, count)`` pairs, indexed in the protocol's id order."""
        if not counts:
            raise PersonarecError("the most-popular model has no items to recommend; load a dataset first.")
        ordered = sorted(counts, key=lambda c: node_sort_key(c[0]))
        model = cls()
        model.item_ids_ = [i for i, _ in ordered]
        model.counts_ = np.array([0] + [n for _, n in ordered], dtype=np.float32)
        return model

    @classmethod
    def from_graph(cls, graph: Graph, dataset: str, splits: Sequence[str] = ("train",)) -> MostPopular:
        """Count each item's ``INTERACTED`` edges of ``splits`` in the graph (the batch job's path).

        The query also returns items nobody interacted with (count 0); they rank last, by id, as
        items whose only interactions are held out do in the evaluation.
        """
        rows = graph.read("queries/jobs_popularity.cypher", {"dataset": dataset, "splits": list(splits)})
        log.info("most-popular: %d items of %s counted on splits %s", len(rows), dataset, list(splits))
        return cls.from_counts([(r["item"], int(r["n"])) for r in rows])

    # ------------------------------------------------------------------ the global ranking
    def order(self) -> np.ndarray:
        """Item indices from most to least counted, ties by index (:func:`personarec.protocol.popularity_order`)."""
        if self.counts_ is None:
            raise RuntimeError("train the model first.")
        if self._order is None or self._order_of is not self.counts_:  # counts_ may be assigned (a loaded model)
            self._order, self._order_of = popularity_order(self.counts_), self.counts_
        return self._order

    @property
    def ranking_(self) -> list[tuple[str, int]]:
        """``(item node id, count)`` best first: the list every user's recommendations are cut from."""
        if self.item_ids_ is None:
            raise RuntimeError("this model has no item ids; train it on data or build it from counts.")
        assert self.counts_ is not None
        return [(self.item_ids_[k - 1], int(self.counts_[k])) for k in self.order()]

    # ------------------------------------------------------------------ evaluation
    def score_sessions(self, sessions: Sequence[np.ndarray], user_vectors: np.ndarray | None = None) -> torch.Tensor:
        """The same count vector for every session, (B, n_items + 1)."""
        import torch

        if self.counts_ is None:
            raise RuntimeError("train the model first.")
        return torch.from_numpy(self.counts_).expand(len(sessions), -1).clone()

    def ranks(self, data: SequenceData, stage: str, users: np.ndarray,
              user_vectors: np.ndarray | None = None, gap_s: float | None = None) -> np.ndarray:
        """0-based full-ranking ranks of the ``stage`` targets, history masked."""
        import torch

        out = []
        for i in range(0, len(users), 2048):
            batch = users[i:i + 2048]
            scores = self.score_sessions([np.zeros(0)] * len(batch))
            targets = torch.tensor([data.target(int(u), stage) for u in batch])  # type: ignore[arg-type]
            mask_history(scores, [data.history(int(u), stage) for u in batch], targets)  # type: ignore[arg-type]
            out.append(target_ranks(scores, targets).numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def evaluate(self, data: SequenceData, stage: str) -> dict[str, float]:
        per_user = metrics_from_ranks(self.ranks(data, stage, data.eval_users(stage)))  # type: ignore[arg-type]
        return {k: float(v.mean()) for k, v in per_user.items()}

    # ------------------------------------------------------------------ batch job
    def recommend(self, batch: Any, k: int) -> tuple[list[list[str]], list[list[float]]]:
        """Top-``k`` item node ids per user of ``batch`` (a ``personarec.jobs.base.UserBatch``), history excluded.

        The batch is typed loosely because ``personarec.jobs`` sits above this package in the import graph.
        """
        if self.item_ids_ is None or self.counts_ is None:
            raise RuntimeError("this model has no item ids; train it on data or build it from counts.")
        ids, counts, order = self.item_ids_, self.counts_, self.order()
        items: list[list[str]] = []
        scores: list[list[float]] = []
        for history in batch.histories:
            seen = set(history)
            # the first k + |history| places always hold k unseen items when the catalogue has them
            top = [int(j) for j in order[: k + len(seen)] if ids[j - 1] not in seen][:k]
            items.append([ids[j - 1] for j in top])
            scores.append([float(counts[j]) for j in top])
        return items, scores
