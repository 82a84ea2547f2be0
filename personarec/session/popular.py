"""Most-popular baseline with true train counts (the protocol check of ``../shared/DESIGN.md``).

RecBole 1.2.1's ``Pop`` counts an item at most once per training batch (RecBole issue #2198); we use
the true number of train interactions, which is what DESIGN.md's reference numbers were measured with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from personarec.eval.metrics import mask_history, metrics_from_ranks, target_ranks
from personarec.session.data import SequenceData


class MostPopular:
    """Scores every item by its train interaction count. Learned state: ``counts_``."""

    def __init__(self) -> None:
        self.counts_: np.ndarray | None = None

    def train(self, data: SequenceData) -> MostPopular:
        self.counts_ = data.train_counts().astype(np.float32)
        return self

    def score_sessions(self, sessions: Sequence[np.ndarray], user_vectors: np.ndarray | None = None) -> torch.Tensor:
        """The same count vector for every session, (B, n_items + 1)."""
        if self.counts_ is None:
            raise RuntimeError("train the model first.")
        return torch.from_numpy(self.counts_).expand(len(sessions), -1).clone()

    def ranks(self, data: SequenceData, stage: str, users: np.ndarray,
              user_vectors: np.ndarray | None = None, gap_s: float | None = None) -> np.ndarray:
        """0-based full-ranking ranks of the ``stage`` targets, history masked."""
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
