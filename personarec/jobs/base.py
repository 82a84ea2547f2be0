"""What a batch job hands a model, and what it expects back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class UserBatch:
    """A batch of users (or anonymous sessions) to recommend for.

    Attributes:
        ids: user node ids (``"<dataset>:<raw>"``) or session ids.
        histories: per user, item node ids in time (``seq``) order; recommenders exclude them.
        personas: per user, the persona vector or ``None`` when the user has none.
    """

    ids: list[str]
    histories: list[list[str]]
    personas: list[list[float] | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.personas:
            self.personas = [None] * len(self.ids)
        if not (len(self.ids) == len(self.histories) == len(self.personas)):
            raise ValueError("ids, histories and personas must have the same length")

    def __len__(self) -> int:
        return len(self.ids)


@runtime_checkable
class Recommender(Protocol):
    """A trained model the batch job can call.

    ``recommend`` returns, per user of the batch, up to ``k`` item node ids (best first, none from the
    user's history) and their scores: two lists of equal length per user. It must be deterministic
    for a given batch, so that a resumed run writes what an uninterrupted one would have.
    """

    name: str

    def recommend(self, batch: UserBatch, k: int) -> tuple[list[list[str]], list[list[float]]]:
        ...


def top_k_masked(scores: np.ndarray, history_idx: list[list[int]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` columns per row of ``scores`` (users x items) after masking each row's history.

    Ties are broken by the lower column index, so results are reproducible. Returns (indices, values);
    masked items never appear (rows with fewer than ``k`` unmasked items get ``-1`` / ``-inf`` padding).
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    for row, cols in enumerate(history_idx):
        if cols:
            scores[row, cols] = -np.inf
    k = min(k, scores.shape[1])
    # a stable sort on -scores keeps the lower index first among equal scores
    out_idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    out_val = np.take_along_axis(scores, out_idx, axis=1)
    out_idx[~np.isfinite(out_val)] = -1
    return out_idx, out_val
