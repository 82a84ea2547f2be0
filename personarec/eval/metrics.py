"""Full-ranking metrics under the pinned protocol (``../shared/DESIGN.md``).

Every item is ranked (no sampled negatives); the user's earlier items are masked, never the target.
The rank of the target is 0-based: the number of items scored strictly higher, plus ties broken
towards the lower item index (deterministic, so equal scores never flatter a model).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

#: Metrics reported per user, in report order. MRR@10 is RecBole's cut-off; MRR is the full mean
#: reciprocal rank over the whole catalogue.
METRICS = ("HR@10", "HR@100", "NDCG@10", "MRR@10", "MRR")


def mask_history(scores: torch.Tensor, histories: Sequence[np.ndarray], targets: torch.Tensor) -> torch.Tensor:
    """Set the scores of each row's history items and of the padding column to -inf, keeping the target.

    Args:
        scores: (B, n_items + 1) scores, modified in place and returned.
        histories: per row, the item indices to mask (train for validation, train + valid for test).
        targets: (B,) target item indices, never masked even when the item also occurs in the history.
    """
    keep = scores.gather(1, targets[:, None]).clone()
    rows = np.concatenate([np.full(len(h), b, dtype=np.int64) for b, h in enumerate(histories)]) \
        if histories else np.zeros(0, dtype=np.int64)
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) if histories else rows
    scores[torch.from_numpy(rows).to(scores.device), torch.from_numpy(cols).to(scores.device)] = float("-inf")
    scores[:, 0] = float("-inf")
    scores.scatter_(1, targets[:, None], keep)
    return scores


def target_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each row's target among all columns (ties go to the lower index).

    Works on any device. Exact ties are rare for float scores, so they are counted from the sparse
    positions of ``scores == t`` rather than with another dense pass over the matrix.
    """
    targets = targets.to(scores.device)
    t = scores.gather(1, targets[:, None])
    higher = (scores > t).sum(1)
    rows, cols = torch.nonzero(scores == t, as_tuple=True)
    ties = torch.zeros_like(higher).index_add_(0, rows, (cols < targets[rows]).to(higher.dtype))
    return higher + ties


def metrics_from_ranks(ranks: np.ndarray) -> dict[str, np.ndarray]:
    """Per-user metric values from 0-based ranks: HR@k, NDCG@k (one relevant item), MRR@10, MRR."""
    r = np.asarray(ranks, dtype=np.float64)
    return {
        "HR@10": (r < 10).astype(np.float64),
        "HR@100": (r < 100).astype(np.float64),
        "NDCG@10": np.where(r < 10, 1.0 / np.log2(r + 2.0), 0.0),
        "MRR@10": np.where(r < 10, 1.0 / (r + 1.0), 0.0),
        "MRR": 1.0 / (r + 1.0),
    }


def summarize(ranks: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """Mean of each metric over users (optionally over the users where ``mask`` is true), plus ``users``."""
    per_user = metrics_from_ranks(ranks)
    sel = np.ones(len(ranks), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    out = {name: float(v[sel].mean()) if sel.any() else float("nan") for name, v in per_user.items()}
    out["users"] = int(sel.sum())
    return out
