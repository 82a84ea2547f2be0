"""Metrics against hand-computed values; masking keeps the target."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from personarec.eval.metrics import mask_history, metrics_from_ranks, summarize, target_ranks


def test_metrics_from_ranks_match_hand_values() -> None:
    m = metrics_from_ranks(np.array([0, 1, 9, 10, 99, 100]))
    assert m["HR@10"].tolist() == [1, 1, 1, 0, 0, 0]
    assert m["HR@100"].tolist() == [1, 1, 1, 1, 1, 0]
    assert m["NDCG@10"][0] == 1.0
    assert m["NDCG@10"][1] == pytest.approx(1 / math.log2(3))  # 0.6309
    assert m["NDCG@10"][2] == pytest.approx(1 / math.log2(11))
    assert m["NDCG@10"][3] == 0.0
    assert m["MRR@10"].tolist() == pytest.approx([1, 0.5, 0.1, 0, 0, 0])
    assert m["MRR"].tolist() == pytest.approx([1, 0.5, 0.1, 1 / 11, 0.01, 1 / 101])


def test_summarize_means_and_masks() -> None:
    ranks = np.array([0, 3, 50])
    s = summarize(ranks)
    assert s["HR@10"] == pytest.approx(2 / 3)
    assert s["NDCG@10"] == pytest.approx((1 + 1 / math.log2(5)) / 3)
    assert s["users"] == 3
    sub = summarize(ranks, np.array([False, True, True]))
    assert sub["HR@100"] == 1.0 and sub["MRR@10"] == pytest.approx(0.25 / 2) and sub["users"] == 2


def test_target_ranks_break_ties_towards_lower_index() -> None:
    scores = torch.tensor([[0.0, 5.0, 3.0, 5.0, 1.0],
                           [0.0, 5.0, 3.0, 5.0, 1.0]])
    # row 0: target 3 ties with item 1 (lower index first) -> rank 1; row 1: target 2 -> two above it
    assert target_ranks(scores, torch.tensor([3, 2])).tolist() == [1, 2]
    assert target_ranks(scores, torch.tensor([1, 4])).tolist() == [0, 3]


def test_mask_history_never_masks_the_target() -> None:
    scores = torch.tensor([[0.0, 9.0, 8.0, 7.0, 1.0],
                           [0.0, 9.0, 8.0, 7.0, 1.0]])
    targets = torch.tensor([2, 4])
    # user 0 re-consumes its target (2 is in the history); user 1 has 1 and 2 in the history
    mask_history(scores, [np.array([1, 2]), np.array([1, 2])], targets)
    assert scores[0, 2] == 8.0 and scores[1, 4] == 1.0
    assert torch.isinf(scores[0, 1]) and torch.isinf(scores[1, 1]) and torch.isinf(scores[1, 2])
    assert torch.isinf(scores[:, 0]).all()  # padding column never ranks
    assert target_ranks(scores, targets).tolist() == [0, 1]  # item 3 (7.0) still beats user 1's target
