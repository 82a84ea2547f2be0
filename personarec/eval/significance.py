"""Paired significance tests between two rows of the evaluation, over users (docs/protocol.md, "Significance").

For model A against a reference B, each evaluated user ``u`` has a per-user metric value per seed
(:func:`personarec.protocol.metrics_from_ranks`); the values are averaged over the seeds both rows were
run with (:func:`pool_seeds`) and the test runs on ``d_u = A_u - B_u``:

- the mean difference and its size in % of B's mean;
- a 95% paired bootstrap percentile CI of the mean difference (Efron & Tibshirani 1993, ch. 13):
  users resampled with replacement, the same users for A and B, a fixed seed;
- the two-sided Wilcoxon signed-rank p-value (Wilcoxon 1945), zeros ranked by Pratt's method (1959).

The tests are conditional on the trained models: the user sample is the source of randomness, while the
seed-to-seed spread is what the report's ± std shows. Pure numpy/scipy; nothing here knows the rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Per-user metrics the evaluation tests (the table's headline metrics).
TEST_METRICS = ("NDCG@10", "HR@10")

#: Bootstrap defaults: resamples, RNG seed, and the most index cells drawn at once (resamples × users),
#: which bounds memory to ~2 × 8 bytes × this (indices plus gathered values, ≈ 64 MiB).
N_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
MAX_CELLS = 1 << 22

#: Largest number of non-zero differences for which the exact Wilcoxon null distribution is used.
EXACT_MAX_N = 50


@dataclass(frozen=True)
class PairedTest:
    """The paired comparison of A against reference B on one metric.

    Attributes:
        diff: mean over users of ``A_u - B_u``.
        rel_pct: ``100 * diff / mean(B)``; NaN when B's mean is 0.
        ci_low, ci_high: the bootstrap percentile CI of ``diff`` (``level``, default 95%).
        p_wilcoxon: two-sided Wilcoxon signed-rank p-value (1.0 when every difference is 0).
        n_users: number of paired users.
        mean_ref: B's mean, so a report can express the CI in % of it.
    """

    diff: float
    rel_pct: float
    ci_low: float
    ci_high: float
    p_wilcoxon: float
    n_users: int
    mean_ref: float

    def to_json(self) -> dict[str, Any]:
        """Plain floats for ``results.json``; NaN (not valid JSON) becomes ``None``."""
        out: dict[str, Any] = {}
        for key in ("diff", "rel_pct", "ci_low", "ci_high", "p_wilcoxon", "mean_ref"):
            value = float(getattr(self, key))
            out[key] = None if math.isnan(value) else value
        out["n_users"] = self.n_users
        return out


def pool_seeds(per_seed: Sequence[np.ndarray]) -> np.ndarray:
    """Per-user mean over seeds of one row's per-user metric (arrays aligned on the same users)."""
    if not per_seed:
        raise ValueError("no seeds to pool")
    stacked = np.stack([np.asarray(v, dtype=np.float64) for v in per_seed])
    if stacked.ndim != 2:
        raise ValueError(f"expected one 1-D array of users per seed, got shape {stacked.shape[1:]}")
    return stacked.mean(axis=0)


def bootstrap_ci(d: np.ndarray, n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED, level: float = 0.95,
                 max_cells: int = MAX_CELLS) -> tuple[float, float]:
    """Percentile bootstrap CI of ``mean(d)`` (Efron & Tibshirani 1993, eq. 13.5), users resampled with replacement.

    Resample ``b`` is row ``b`` of ``default_rng(seed).integers(0, n, size=(n_resamples, n))``; it is
    drawn in chunks of at most ``max_cells`` cells, which numpy's generator gives the same numbers as one
    draw, so the CI does not depend on the chunk size (22k users × 10,000 resamples would be 1.8 GB at once).
    """
    d = np.asarray(d, dtype=np.float64)
    n = d.size
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    chunk = max(1, max_cells // n)
    means = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = d[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of ``d`` (Wilcoxon 1945), 1.0 when every ``d`` is 0.

    Exact null distribution for at most :data:`EXACT_MAX_N` differences, all non-zero with distinct
    ``|d|``; otherwise the normal approximation with tie correction (scipy's ``approx``). The method is
    chosen here rather than by scipy's ``auto``, whose choice with zeros and ties changed across versions.
    """
    from scipy.stats import wilcoxon

    d = np.asarray(d, dtype=np.float64)
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return 1.0  # scipy raises or returns NaN here; no difference at all is no evidence of one
    # Pratt, not zsplit: per-user HR@10 and NDCG@10 are 0 for every user whose target both rows miss in the
    # top 10, so most differences are exact zeros. zsplit gives half of their ranks to each sign, a fixed
    # contribution that its normal approximation still counts as random variance, so p drifts towards 1 with
    # the number of shared misses, which say nothing about the sign. Pratt ranks the zeros with the rest and
    # then leaves them out of the statistic (scipy adjusts the null mean and variance for them); dropping
    # them before ranking ("wilcox") can make the outcome non-monotone in the differences (Pratt 1959).
    exact = (nonzero.size <= EXACT_MAX_N and nonzero.size == d.size
             and np.unique(np.abs(nonzero)).size == nonzero.size)
    result = wilcoxon(d, zero_method="pratt", alternative="two-sided", method="exact" if exact else "approx")
    return float(min(1.0, max(0.0, float(result.pvalue))))


def paired_test(a: np.ndarray, b: np.ndarray, n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                level: float = 0.95) -> PairedTest:
    """Paired test of per-user values ``a`` (model) against ``b`` (reference), aligned on the same users."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be 1-D arrays over the same users, got {a.shape} and {b.shape}")
    d = a - b
    diff = float(d.mean()) if d.size else float("nan")
    mean_ref = float(b.mean()) if b.size else float("nan")
    rel = 100.0 * diff / mean_ref if mean_ref else float("nan")
    if d.size and not d.any():  # identical rows: skip 10,000 resamples of zeros
        low = high = 0.0
    else:
        low, high = bootstrap_ci(d, n_resamples, seed, level)
    return PairedTest(diff=diff, rel_pct=rel, ci_low=low, ci_high=high, p_wilcoxon=wilcoxon_p(d),
                      n_users=int(d.size), mean_ref=mean_ref)


def compare_rows(per_user: Mapping[str, Mapping[int, Mapping[str, np.ndarray]]], references: Sequence[str],
                 metrics: Sequence[str] = TEST_METRICS, n_resamples: int = N_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> dict[str, dict[str, dict[str, PairedTest]]]:
    """Every row against every present reference: ``row -> reference -> metric -> PairedTest``.

    Args:
        per_user: ``row -> seed -> metric -> per-user values`` (the same users, in the same order, for
            every row and seed: the protocol's evaluated users).
        references: rows to test against (e.g. ``("sasrec", "history")``); absent ones are skipped, as is
            a row against itself.

    Each pair is pooled over the seeds both rows were run with (:func:`pool_seeds`).
    """
    out: dict[str, dict[str, dict[str, PairedTest]]] = {}
    for row, row_seeds in per_user.items():
        for ref in references:
            if ref == row or ref not in per_user:
                continue
            seeds = [s for s in row_seeds if s in per_user[ref]]
            if not seeds:
                continue
            out.setdefault(row, {})[ref] = {
                m: paired_test(pool_seeds([row_seeds[s][m] for s in seeds]),
                               pool_seeds([per_user[ref][s][m] for s in seeds]), n_resamples, seed)
                for m in metrics}
    return out
