"""Paired significance over users (personarec.eval.significance) against hand-computed values, and in the runner."""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from personarec.eval.significance import bootstrap_ci, compare_rows, paired_test, pool_seeds, wilcoxon_p

# d = a - b = [0.5, -0.1, 0.3, 0.2, -0.4, 0.6]: six distinct |d|, ranks 5, 1, 3, 2, 4, 6
B = np.array([0.1, 0.3, 0.2, 0.4, 0.5, 0.1])
A = B + np.array([0.5, -0.1, 0.3, 0.2, -0.4, 0.6])


def exact_wilcoxon_two_sided(d: np.ndarray) -> float:
    """Exact two-sided signed-rank p by enumerating all 2^n sign assignments (distinct, non-zero |d|)."""
    ranks = np.argsort(np.argsort(np.abs(d))) + 1
    observed = ranks[d > 0].sum()
    centre = ranks.sum() / 2
    extreme = sum(1 for signs in itertools.product((0, 1), repeat=len(d))
                  if abs(ranks[np.array(signs, dtype=bool)].sum() - centre) >= abs(observed - centre))
    return extreme / 2 ** len(d)


def test_mean_difference_relative_difference_and_exact_wilcoxon_by_hand() -> None:
    t = paired_test(A, B, n_resamples=2000)
    assert t.diff == pytest.approx(1.1 / 6)  # (0.5 - 0.1 + 0.3 + 0.2 - 0.4 + 0.6) / 6
    assert t.mean_ref == pytest.approx(1.6 / 6)
    assert t.rel_pct == pytest.approx(100 * 1.1 / 1.6)  # 68.75 %
    # T- = ranks of the negatives = 1 + 4 = 5; sign subsets of {1..6} with sum <= 5: 10 of 64, doubled
    assert exact_wilcoxon_two_sided(A - B) == pytest.approx(20 / 64)
    assert t.p_wilcoxon == pytest.approx(20 / 64)
    assert t.n_users == 6 and t.ci_low <= t.diff <= t.ci_high
    # all six positive: only the all-positive and all-negative assignments are as extreme
    up = np.array([0.5, 0.1, 0.3, 0.2, 0.4, 0.6])
    assert wilcoxon_p(up) == pytest.approx(exact_wilcoxon_two_sided(up)) == pytest.approx(2 / 64)


def test_zeros_by_pratt_do_not_dilute_p() -> None:
    """HR@10-like differences (+1, -1, many shared misses = 0): under Pratt's zero handling the normal
    approximation reduces to the sign test, z = (k - m) / sqrt(k + m), whatever the number of zeros."""
    k, m = 30, 14
    expected = math.erfc(abs(k - m) / math.sqrt(k + m) / math.sqrt(2))  # two-sided normal tail
    for zeros in (0, 10, 1000):
        d = np.array([0.0] * zeros + [1.0] * k + [-1.0] * m)
        assert wilcoxon_p(d) == pytest.approx(expected, rel=1e-9)


def test_bootstrap_ci_matches_a_direct_loop_and_does_not_depend_on_chunking() -> None:
    d = np.random.default_rng(3).normal(0.2, 1.0, size=37)  # odd n on purpose
    rng = np.random.default_rng(11)
    loop = np.array([d[rng.integers(0, d.size, size=d.size)].mean() for _ in range(500)])
    expected = np.quantile(loop, [0.025, 0.975])
    for max_cells in (d.size * 3 + 1, 1 << 22):  # chunks of 3 resamples, then all 500 at once
        assert bootstrap_ci(d, n_resamples=500, seed=11, max_cells=max_cells) == pytest.approx(tuple(expected),
                                                                                               abs=1e-12)


def test_bootstrap_ci_is_a_95_percent_interval() -> None:
    """Large n: the percentile CI approaches mean ± 1.96 standard errors (checks the level, not the code path)."""
    d = np.random.default_rng(5).normal(0.1, 1.0, size=4000)
    low, high = bootstrap_ci(d)
    half = 1.959964 * d.std(ddof=1) / math.sqrt(d.size)
    assert low == pytest.approx(d.mean() - half, abs=0.1 * half)
    assert high == pytest.approx(d.mean() + half, abs=0.1 * half)


def test_identical_inputs_give_zero_difference_p_one_and_a_point_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import scipy.stats

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("scipy must not be called when every difference is 0")

    monkeypatch.setattr(scipy.stats, "wilcoxon", refuse)
    x = np.array([1.0, 0.0, 0.63, 0.0, 0.5])
    t = paired_test(x, x.copy())
    assert (t.diff, t.rel_pct, t.ci_low, t.ci_high, t.p_wilcoxon, t.n_users) == (0.0, 0.0, 0.0, 0.0, 1.0, 5)
    # a reference whose mean is 0: no relative difference, and JSON gets null rather than NaN
    zero = paired_test(np.zeros(3), np.zeros(3))
    assert math.isnan(zero.rel_pct) and zero.to_json()["rel_pct"] is None and zero.to_json()["p_wilcoxon"] == 1.0


def test_seeds_are_averaged_per_user_before_the_test() -> None:
    a = {1: np.array([1.0, 0.0, 1.0, 0.0]), 2: np.array([0.0, 0.0, 1.0, 1.0])}  # pooled [.5, 0, 1, .5]
    b = {1: np.array([0.0, 0.0, 1.0, 0.0]), 2: np.array([0.0, 0.0, 1.0, 0.0])}  # pooled [0, 0, 1, 0]
    np.testing.assert_allclose(pool_seeds(list(a.values())), [0.5, 0.0, 1.0, 0.5])
    per_user = {"model": {s: {"HR@10": v} for s, v in a.items()} | {3: {"HR@10": np.ones(4)}},  # seed 3: A only
                "ref": {s: {"HR@10": v} for s, v in b.items()}}
    tests = compare_rows(per_user, ["ref", "absent"], metrics=["HR@10"], n_resamples=300)
    assert set(tests) == {"model"} and set(tests["model"]) == {"ref"}  # no row vs itself, absent ref skipped
    t = tests["model"]["ref"]["HR@10"]
    assert t.diff == pytest.approx(0.25) and t.mean_ref == pytest.approx(0.25) and t.rel_pct == pytest.approx(100.0)
    # d = [.5, 0, 0, .5]: seed 3 (only in A) left out, the same as testing the pooled arrays directly
    assert t == paired_test(np.array([0.5, 0.0, 1.0, 0.5]), np.array([0.0, 0.0, 1.0, 0.0]), n_resamples=300)


def test_runner_turns_kept_ranks_into_per_user_ndcg_and_hr() -> None:
    from personarec.eval.runner import significance

    ranks = {"sasrec": {1: np.array([0, 5, 20, 1, 3])}, "persona": {1: np.array([0, 0, 20, 30, 3])}}
    out = significance(ranks)
    assert set(out) == {"persona"} and set(out["persona"]) == {"sasrec"}  # history absent, no row vs itself
    ndcg_sasrec = [1.0, 1 / math.log2(7), 0.0, 1 / math.log2(3), 1 / math.log2(5)]
    ndcg_persona = [1.0, 1.0, 0.0, 0.0, 1 / math.log2(5)]
    ndcg = out["persona"]["sasrec"]["NDCG@10"]
    assert ndcg["diff"] == pytest.approx(np.mean(np.subtract(ndcg_persona, ndcg_sasrec)))
    assert ndcg["n_users"] == 5
    hr = out["persona"]["sasrec"]["HR@10"]
    assert hr["diff"] == pytest.approx(-0.2) and hr["rel_pct"] == pytest.approx(-25.0)  # 3/5 vs 4/5


def test_evaluation_reports_every_row_against_both_references(tmp_path: Path) -> None:
    from personarec.config import load_settings
    from personarec.eval.runner import evaluate_data
    from personarec.session.sasrec import SASRecConfig

    sys.path.insert(0, str(Path(__file__).parents[1] / "session"))
    from test_sasrec import cyclic

    data = cyclic(16, 8)
    rng = np.random.default_rng(0)
    personas = rng.normal(size=(data.n_users, 4)).astype(np.float32)
    items = rng.normal(size=(data.n_items + 1, 6)).astype(np.float32)
    fast = SASRecConfig(hidden=16, inner=32, max_len=8, epochs=2, progress=False, batch_size=256)
    report = evaluate_data(data, load_settings(env={}), tmp_path, [1, 2], fast, personas, items)
    rows = ["popular", "sasrec", "history", "persona", "rerank"]
    assert list(report.summary) == rows
    saved = json.loads((tmp_path / "results.json").read_text())["significance"]
    assert saved == report.significance
    for row in rows:
        refs = {"sasrec", "history"} - {row}
        assert set(saved[row]) == refs, row
        for ref in refs:
            for metric in ("NDCG@10", "HR@10"):
                t = saved[row][ref][metric]
                assert 0.0 <= t["p_wilcoxon"] <= 1.0
                assert t["ci_low"] <= t["diff"] <= t["ci_high"]
                assert t["n_users"] == report.users
                mean = report.summary[row]["all"][metric]["mean"] - report.summary[ref]["all"][metric]["mean"]
                assert t["diff"] == pytest.approx(mean)  # pooled per-user diff = difference of seed means
    md = (tmp_path / "report.md").read_text()
    assert "## Significance, all users" in md
    assert "### vs SASRec" in md and "### vs SASRec + history embedding" in md
    assert "| Persona-SASRec + SASRec rerank | " in md.split("### vs SASRec\n")[1]
