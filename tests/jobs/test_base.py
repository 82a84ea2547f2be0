"""Pure helpers of the job package."""

from __future__ import annotations

import numpy as np

from personarec.jobs import UserBatch, top_k_masked


def test_top_k_masked_excludes_history_and_breaks_ties_by_index() -> None:
    scores = np.array([[0.1, 0.9, 0.9, 0.5, 0.9], [1.0, 2.0, 3.0, 4.0, 5.0]])
    idx, val = top_k_masked(scores, [[1], [4, 3, 2, 1]], 3)
    assert idx.tolist() == [[2, 4, 3], [0, -1, -1]]
    assert val[0].tolist() == [0.9, 0.9, 0.5] and val[1, 0] == 1.0 and np.isneginf(val[1, 1:]).all()


def test_user_batch_defaults_personas_and_checks_lengths() -> None:
    b = UserBatch(ids=["a", "b"], histories=[[], ["x"]])
    assert b.personas == [None, None] and len(b) == 2
    try:
        UserBatch(ids=["a"], histories=[])
    except ValueError:
        pass
    else:
        raise AssertionError("mismatched lengths must fail")
