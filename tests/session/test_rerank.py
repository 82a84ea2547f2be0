"""Candidates and reranking against hand-worked lists."""

from __future__ import annotations

import numpy as np
import torch

from personarec.session.rerank import rerank, top_candidates, two_stage_ranks


def test_top_candidates_and_rerank_order() -> None:
    gen = torch.tensor([[float("-inf"), 0.9, 0.8, 0.7, 0.1]])
    items, scores = top_candidates(gen, 3)
    assert items.tolist() == [[1, 2, 3]]
    ranker = torch.tensor([[0.0, 0.1, 0.5, 0.9, 5.0]])  # item 4 would win but is not a candidate
    final, _ = rerank(items, scores, ranker)
    assert final.tolist() == [[3, 2, 1]]
    # full fusion weight keeps the generator's order
    fused, _ = rerank(items, scores, ranker, fusion=1.0)
    assert fused.tolist() == [[1, 2, 3]]


def test_two_stage_ranks_inside_and_outside_the_candidates() -> None:
    cand = torch.tensor([[1, 2, 3], [1, 2, 3]])
    final = torch.tensor([[3, 2, 1], [3, 2, 1]])
    targets = torch.tensor([1, 4])
    gen_ranks = np.array([0, 7])
    # target 1 moved from first to third; target 4 stays at the generator's rank beyond the candidates
    assert two_stage_ranks(gen_ranks, cand, final, targets).tolist() == [2, 7]


def test_top_candidates_equal_a_stable_full_sort_with_ties_and_masked_items() -> None:
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        rows, cols = int(torch.randint(1, 6, (1,), generator=g)), int(torch.randint(1, 200, (1,), generator=g))
        scores = torch.randint(-3, 4, (rows, cols), generator=g).float()  # few values: many ties
        scores[torch.rand(rows, cols, generator=g) < 0.3] = float("-inf")  # masked history
        for k in (1, 7, cols, cols + 3):
            values, items = torch.sort(scores, dim=1, descending=True, stable=True)
            got_items, got_values = top_candidates(scores, k)
            assert torch.equal(got_items, items[:, :k]) and torch.equal(got_values, values[:, :k])
