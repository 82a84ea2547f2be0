"""HeCo's positives (exact shared train items, cosine or Jaccard) and its positive-keeping mini-batches."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from personarec.persona.heco import HeCoLearner, candidate_positives, item_positives, positive_batches
from personarec.persona.learners import Batch
from personarec.persona.metapath import PreparedGraph, normalize_adjacency


def _ui() -> sp.csr_matrix:
    # user 0: items {0,1,2,3}; user 1: {0,1,2,3,4,5,6,7} (heavy); user 2: {0,1}; user 3: {8}
    rows = [0] * 4 + [1] * 8 + [2] * 2 + [3]
    cols = [0, 1, 2, 3] + list(range(8)) + [0, 1] + [8]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(4, 9))


def test_item_positives_rank_by_cosine_or_jaccard_as_computed_by_hand() -> None:
    ui = _ui()
    # user 0 vs 1: 4 shared, cosine 4/sqrt(4*8) = 0.707, Jaccard 4/8 = 0.5;
    # user 0 vs 2: 2 shared, cosine 2/sqrt(4*2) = 0.707, Jaccard 2/4 = 0.5 -> tie; user 2 vs 1: cosine 2/4 = 0.5,
    # Jaccard 2/8 = 0.25; user 2 vs 0: cosine 0.707, Jaccard 0.5: both pick user 0 for user 2
    for measure in ("cosine", "jaccard"):
        pos = item_positives(ui, 2, seed=0, measure=measure).toarray()
        assert (np.diag(pos) == 1).all()
        assert pos[2, 0] == 1 and pos[2, 1] == 0, measure
        assert pos[3].sum() == 1  # shares nothing: only itself
    # user 1 vs 0: cosine 0.707, Jaccard 0.5; user 1 vs 2: cosine 0.5, Jaccard 0.25 -> user 0 either way
    assert item_positives(ui, 2, seed=0, measure="jaccard").toarray()[1, 0] == 1


def test_positive_batches_partition_the_users_and_keep_positives_together() -> None:
    rng = np.random.default_rng(0)
    n, groups = 400, 50  # 50 groups of 8 users, each user's positives: its own group
    group = rng.permutation(np.repeat(np.arange(groups), n // groups))
    pos = sp.csr_matrix((group[:, None] == group[None, :]).astype(np.float32))
    batches = positive_batches(pos, 64, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert len(flat) == n and len(np.unique(flat)) == n  # every user once per epoch
    assert max(len(b) for b in batches) <= 64
    kept = sum(int(pos[b][:, b].sum()) for b in batches) / pos.sum()
    assert kept > 0.9  # random batches of 64 out of 400 keep about 64 / 400 = 16% of the positive pairs
    # seeded: the same generator state gives the same batches
    again = positive_batches(pos, 64, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))


def test_heco_trains_full_batch_only_up_to_its_own_limit() -> None:
    assert HeCoLearner({"full_batch_max": 100}).full_batch_max() == 100
    assert HeCoLearner().full_batch_max() == 8192


def test_item_positives_are_the_top_scores_whatever_the_chunking() -> None:
    rng = np.random.default_rng(3)
    ui = sp.csr_matrix((rng.random((120, 40)) < 0.1).astype(np.float64))
    dense = ui.toarray()
    shared = dense @ dense.T
    size = dense.sum(1)
    jac = shared / np.maximum(size[:, None] + size[None, :] - shared, 1.0)
    np.fill_diagonal(jac, -1.0)
    every = sp.csr_matrix(np.ones((120, 120)))
    for kwargs in ({}, {"chunk_rows": 7}, {"max_pairs": 50.0}, None):  # one chunk, capped chunks, candidates
        if kwargs is None:  # the path for huge graphs: exact scores over given candidate pairs (here all)
            pos = candidate_positives(ui, every, 4, seed=0, measure="jaccard", chunk_pairs=1000).toarray() > 0
        else:
            pos = item_positives(ui, 4, seed=0, measure="jaccard", **kwargs).toarray() > 0
        for i in range(len(pos)):
            chosen = np.flatnonzero(pos[i] & (np.arange(len(pos)) != i))
            others = np.setdiff1d(np.flatnonzero(shared[i] > 0), np.append(chosen, i))
            assert len(chosen) == min(3, int((shared[i] > 0).sum() - (shared[i, i] > 0)))
            if len(chosen) and len(others):
                assert jac[i, chosen].min() >= jac[i, others].max() - 1e-12


def test_candidate_positives_stay_within_the_candidates() -> None:
    ui = _ui()
    # user 2's only candidate is user 1 (user 0 shares more, but is not a candidate)
    cand = sp.csr_matrix(([1.0, 1.0], ([2, 0], [1, 2])), shape=(4, 4))
    pos = candidate_positives(ui, cand, 3, seed=0, measure="jaccard").toarray()
    assert pos[2, 1] == 1 and pos[2, 0] == 0 and pos[0, 2] == 1 and (np.diag(pos) == 1).all()
    assert pos[3].sum() == 1 and pos[1].sum() == 1  # no candidates: only themselves



def test_heco_loss_is_the_same_from_precomputed_aggregates_as_from_batch_products() -> None:
    ui = sp.csr_matrix((np.random.default_rng(4).random((60, 30)) < 0.2).astype(np.float32))
    adj, deg = normalize_adjacency(sp.csr_matrix(ui @ ui.T, dtype=np.float32))
    x = torch.from_numpy(np.asarray(ui @ np.random.default_rng(5).standard_normal((30, 16)), dtype=np.float32))
    prep = PreparedGraph(x, [adj, adj], [deg, deg], [], [f"u{k}" for k in range(60)], [], ui)
    learner = HeCoLearner({"positives": 4})
    learner.setup(prep, seed=0)
    torch.manual_seed(0)
    model = learner.build(16, 8, 2, 8)
    rows = np.arange(0, 60, 3)
    agg = prep.aggregated()
    assert agg is not None
    via_products = learner.loss(model, prep, Batch.of_rows(prep.adjs, prep.x, rows), None)
    via_aggregates = learner.loss(model, prep, Batch.of_aggregated(agg, prep.x, rows), None)
    torch.testing.assert_close(via_aggregates, via_products, rtol=1e-5, atol=1e-5)
