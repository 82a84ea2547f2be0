"""Two-stage recommendation: persona-SASRec candidates, SASRec reranking (arXiv 2604.06928, §3.4).

The candidate generator keeps its top-``k`` items (100 by default, as in the paper and in CoT-Rec,
arXiv 2502.13845); the base SASRec re-scores only those to emphasise short-term intent, and the
final list is the candidates sorted by that score, or by a fusion of both scores.
"""

from __future__ import annotations

import numpy as np
import torch


def top_candidates(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` columns per row of already-masked ``scores``, ties to the lower index: (items, scores).

    The order is that of a stable descending sort, as in :func:`personarec.eval.metrics.target_ranks`,
    without sorting the whole row: ``topk`` finds the k-th largest value; in a row where no other
    column ties it, ``topk``'s columns are exactly the kept ones. Only rows with more columns equal to
    the k-th value than places left (ties at the cut, e.g. masked -inf columns) take the slower path:
    every column above it is kept, and columns equal to it fill the remaining places in index order.
    Only the k kept columns are sorted.
    """
    k = min(k, scores.shape[1])
    if k == 0:
        empty = scores[:, :0]
        return empty.long(), empty
    top = torch.topk(scores, k, dim=1)
    kth = top.values[:, -1:]
    cols = top.indices
    crowded = torch.nonzero((scores >= kth).sum(1) > k).flatten()  # ties at the cut
    if crowded.numel():
        sub, sub_kth = scores[crowded], kth[crowded]
        above = sub > sub_kth
        tied = sub == sub_kth
        room = k - above.sum(1, keepdim=True)
        keep = above | (tied & (tied.cumsum(1) <= room))
        cols = cols.clone()
        cols[crowded] = keep.nonzero()[:, 1].view(crowded.numel(), k)  # ascending column order per row
    cols = torch.sort(cols, dim=1).values  # index order first, so the stable sort below breaks ties by it
    vals = scores.gather(1, cols)
    order = torch.sort(vals, dim=1, descending=True, stable=True).indices  # stable: ties keep index order
    return cols.gather(1, order), vals.gather(1, order)


def _zscore(x: torch.Tensor) -> torch.Tensor:
    finite = torch.isfinite(x)
    x = torch.where(finite, x, torch.zeros_like(x))
    n = finite.sum(1, keepdim=True).clamp(min=1)
    mean = x.sum(1, keepdim=True) / n
    var = ((x - mean) ** 2 * finite).sum(1, keepdim=True) / n
    z = (x - mean) / (var.sqrt() + 1e-8)
    return torch.where(finite, z, torch.full_like(z, float("-inf")))


def rerank(cand_items: torch.Tensor, cand_scores: torch.Tensor, ranker_scores: torch.Tensor,
           fusion: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Reorder candidates by the ranker's score over all items (see :func:`rerank_scored`).

    Args:
        cand_items: (B, k) candidate item indices, generator order.
        cand_scores: (B, k) generator scores of the candidates (-inf for padding candidates).
        ranker_scores: (B, n_items + 1) scores of the reranker (base SASRec) over all items.
        fusion: generator weight (see :func:`rerank_scored`).
    """
    return rerank_scored(cand_items, cand_scores, ranker_scores.gather(1, cand_items), fusion)


def rerank_scored(cand_items: torch.Tensor, cand_scores: torch.Tensor, ranker: torch.Tensor,
                  fusion: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Reorder candidates by the ranker's score of each candidate, optionally fused with the generator's.

    Args:
        cand_items: (B, k) candidate item indices, generator order.
        cand_scores: (B, k) generator scores of the candidates (-inf for padding candidates).
        ranker: (B, k) the reranker's (base SASRec's) score of each candidate: only the candidates are
            scored, not the catalogue.
        fusion: weight of the generator in ``(1 - w) * z(ranker) + w * z(generator)`` where ``z``
            standardises each score within the user's candidate list; 0 = pure SASRec rerank.

    Returns:
        (items, scores): (B, k) candidates in the final order and their final scores.
    """
    r = torch.where(torch.isfinite(cand_scores), ranker, torch.full_like(ranker, float("-inf")))
    final = r if fusion == 0.0 else (1.0 - fusion) * _zscore(r) + fusion * _zscore(cand_scores)
    # stable sort on the final score keeps generator order among exact ties
    order = torch.sort(final, dim=1, descending=True, stable=True).indices
    return cand_items.gather(1, order), final.gather(1, order)


def two_stage_ranks(gen_ranks: np.ndarray, cand_items: torch.Tensor, final_items: torch.Tensor,
                    targets: torch.Tensor) -> np.ndarray:
    """0-based rank of each target in the two-stage list.

    A target inside the candidates takes its position in the reranked list; outside, its rank stays
    the generator's (everything after the candidates keeps the generator order), so HR@k for k ≥ the
    candidate count equals the generator's.
    """
    k = cand_items.shape[1]
    pos = (final_items == targets[:, None]).int().argmax(1).numpy()
    inside = (cand_items == targets[:, None]).any(1).numpy()
    return np.where(inside & (gen_ranks < k), pos, gen_ranks)
