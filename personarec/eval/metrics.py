"""Full-ranking metrics under the protocol of ``docs/protocol.md``.

Masking, the target's rank and the per-user metrics are defined once, in :mod:`personarec.protocol`,
and re-exported here for the evaluation's callers; this module adds the averages over users.
"""

from __future__ import annotations

import numpy as np

from personarec.protocol import METRICS, mask_history, metrics_from_ranks, target_ranks

__all__ = ["METRICS", "mask_history", "metrics_from_ranks", "summarize", "target_ranks"]


def summarize(ranks: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """Mean of each metric over users (optionally over the users where ``mask`` is true), plus ``users``."""
    per_user = metrics_from_ranks(ranks)
    sel = np.ones(len(ranks), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    out = {name: float(v[sel].mean()) if sel.any() else float("nan") for name, v in per_user.items()}
    out["users"] = int(sel.sum())
    return out
