"""The report of ``personarec evaluate``: :class:`EvalReport` and its folder (``report.md``,
``results.json``, PNG plots).

The runner (:mod:`personarec.eval.runner`) fills an :class:`EvalReport` and calls :func:`write_report`;
this module never imports the runner, so the two form a one-way edge.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personarec.eval.metrics import METRICS
from personarec.eval.significance import N_RESAMPLES

log = logging.getLogger(__name__)

#: Table rows in order: key -> label.
ROWS = {
    "popular": "Most-popular",
    "sasrec": "SASRec",
    "history": "SASRec + history embedding",
    "persona": "Persona-SASRec (candidates)",
    "rerank": "Persona-SASRec + SASRec rerank",
    "persona_ref": "Persona-SASRec, reference personas (candidates)",
    "rerank_ref": "Persona-SASRec, reference personas + SASRec rerank",
}
#: Row keys in report order.
ROW_ORDER = tuple(ROWS)
#: The persona rows and the row whose learner names them (``EvalReport.learners``).
_LEARNER_OF = {"persona": "persona", "rerank": "persona", "persona_ref": "persona_ref", "rerank_ref": "persona_ref"}
#: Learner name -> how the labels call its personas.
_LEARNER_LABELS = {"hdgi": "HDGI", "hdgi-struct": "HDGI-struct", "heco": "HeCo"}

#: Rows every other row is tested against (docs/protocol.md, "Significance"), in report order.
SIGNIFICANCE_REFERENCES = ("sasrec", "history")

#: p-values below this are marked in ``report.md`` (one test; see the note on multiple comparisons).
ALPHA = 0.05


@dataclass
class EvalReport:
    """Results of one evaluation; :meth:`to_json` is what ``results.json`` holds.

    Attributes:
        dataset: dataset name.
        seeds: seeds the models were trained with.
        fingerprint: split fingerprint (docs/protocol.md) and ``pinned``: which reference split it matches.
        runs: per seed, per row, per segment, the metric means (``{"seed": s, "rows": {...}}``).
        summary: per row, per segment, per metric: ``{"mean": m, "std": s}`` over seeds.
        notes: what was missing or changed (e.g. no personas: rows 4–5 absent).
        training: per seed and model, best epoch, epochs run and seconds per epoch.
        significance: row -> reference row -> metric -> ``{diff, rel_pct, ci_low, ci_high, p_wilcoxon,
            n_users, mean_ref}`` (:mod:`personarec.eval.significance`, all users, seeds pooled).
        learners: ``"persona"`` / ``"persona_ref"`` -> the persona learner behind those rows (labels).
    """

    dataset: str
    seeds: list[int]
    fingerprint: str
    pinned: str | None
    users: int
    items: int
    segments: dict[str, str]
    runs: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, dict[str, dict[str, dict[str, float]]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    training: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, list[float]] = field(default_factory=dict)
    hit_curves: dict[str, list[float]] = field(default_factory=dict)
    significance: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    seconds: float = 0.0
    hardware: str = ""
    learners: dict[str, str] = field(default_factory=dict)

    def label(self, row: str) -> str:
        """The row's label; persona rows name their learner when it is known ("Persona-SASRec, HeCo …")."""
        learner = self.learners.get(_LEARNER_OF.get(row, ""))
        if learner is None:
            return ROWS[row]
        stage = "(candidates)" if row.startswith("persona") else "+ SASRec rerank"
        return f"Persona-SASRec, {_LEARNER_LABELS.get(learner, learner)} personas {stage}"

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("dataset", "seeds", "fingerprint", "pinned", "users", "items",
                                              "segments", "summary", "significance", "runs", "training",
                                              "notes", "curves", "hit_curves", "seconds", "hardware",
                                              "learners")} | {
            "protocol": "leave-one-out in time order; full ranking over all items (no sampled negatives); "
                        "history masked (train for validation, train+validation for test), never the target; "
                        "metrics per user averaged over users; ties broken towards the lower item index; "
                        "MRR@10 as RecBole reports it, MRR over the full ranking"}


def _cell(stat: dict[str, float]) -> str:
    return f"{stat['mean']:.4f} ± {stat['std']:.4f}"


def markdown_table(report: EvalReport, segment: str = "all") -> str:
    """The table for one user segment: one row per model, mean ± std over seeds."""
    lines = ["| model | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for row in ROW_ORDER:
        if row in report.summary:
            stats = report.summary[row][segment]
            lines.append(f"| {report.label(row)} | " + " | ".join(_cell(stats[m]) for m in METRICS) + " |")
    return "\n".join(lines)


def _pct(value: float) -> str:
    return f"{value:+.1f}%".replace("-", "−")


def _p(p: float) -> str:
    text = "< 0.001" if p < 0.001 else f"{p:.3f}"
    return text + (" *" if p < ALPHA else "")


def _significance_cell(test: dict[str, Any]) -> str:
    """``Δ% [CI low %, CI high %]`` of the reference's mean; absolute Δ where that mean is 0."""
    ref = test.get("mean_ref")
    if not ref:
        return f"{test['diff']:+.4f} [{test['ci_low']:+.4f}, {test['ci_high']:+.4f}] (absolute)"
    return f"{_pct(test['rel_pct'])} [{_pct(100 * test['ci_low'] / ref)}, {_pct(100 * test['ci_high'] / ref)}]"


def significance_tables(report: EvalReport) -> list[str]:
    """One table per reference row: each other row's Δ in % of the reference, 95% CI, Wilcoxon p."""
    metrics = sorted({m for by_ref in report.significance.values() for tests in by_ref.values() for m in tests},
                     key=lambda m: (m != "NDCG@10", m))
    if not metrics:
        return []
    users = next(t for by_ref in report.significance.values() for tests in by_ref.values()
                 for t in tests.values())["n_users"]
    n_tests = sum(len(tests) for by_ref in report.significance.values() for tests in by_ref.values())
    parts = ["", "## Significance, all users", "",
             f"Paired over the {users} test users, each user's metric averaged over the seeds (docs/protocol.md, "
             "\"Significance\"): Δ is the row's mean minus the reference's, in % of the reference's mean, with "
             f"its 95% paired bootstrap CI ({N_RESAMPLES:,} user resamples) in the same unit; p is the two-sided "
             f"Wilcoxon signed-rank test; * marks p < {ALPHA:g}. The CI and p say whether the difference holds across "
             "users for these trained models; the seed-to-seed spread is the ± std above. "
             f"{n_tests} tests, not corrected for multiple comparisons."]
    for ref in SIGNIFICANCE_REFERENCES:
        rows = [r for r in ROW_ORDER if ref in report.significance.get(r, {})]
        if not rows:
            continue
        header = " | ".join(f"Δ{m} [95% CI] | p" for m in metrics)
        parts += ["", f"### vs {report.label(ref)}", "", f"| model | {header} |", "|---|" + "---|---|" * len(metrics)]
        for row in rows:
            tests = report.significance[row][ref]
            cells = " | ".join(f"{_significance_cell(tests[m])} | {_p(tests[m]['p_wilcoxon'])}" for m in metrics)
            parts.append(f"| {report.label(row)} | {cells} |")
    return parts


def markdown(report: EvalReport) -> str:
    pinned = f"matches the pinned {report.pinned} split" if report.pinned else "not a pinned reference split"
    parts = [
        f"# Evaluation: {report.dataset}",
        "",
        f"{report.users} test users, {report.items} items; seeds {report.seeds}; split fingerprint "
        f"`{report.fingerprint}` ({pinned}).",
        "",
        "Protocol (docs/protocol.md): leave-one-out in time order; **full ranking over all items**, no sampled "
        "negatives; the user's earlier items are masked (train + validation for test), never the target. "
        "HR@k and NDCG@k with one relevant item; MRR@10 is RecBole's cut-off MRR, MRR is over the full "
        "ranking. Values are mean ± std over seeds (most-popular is deterministic). Candidate-stage HR@100 is "
        "the persona-SASRec row; the reranked list keeps the same candidates, so its HR@100 is equal and its "
        "NDCG@10/MRR show what reranking adds.",
        "",
        "## Test, all users",
        "",
        markdown_table(report, "all"),
    ]
    parts += significance_tables(report)
    for seg in ("tail", "head", "sparse", "dense"):
        users = int(next(iter(report.summary.values()))[seg]["users"]["mean"]) if report.summary else 0
        parts += ["", f"## {report.segments[seg]} ({users} users)", "", markdown_table(report, seg)]
    if report.training:
        # the loss column: full CE or sampled softmax (session.loss); reports written before it have none
        parts += ["", "## Training", "", "| seed | model | loss | best epoch | epochs | s/epoch | best valid NDCG@10 |",
                  "|---|---|---|---|---|---|---|"]
        for t in report.training:
            parts.append(f"| {t['seed']} | {t['model']} | {t.get('loss', '?')} | {t['best_epoch']} | {t['epochs']} | "
                         f"{t['seconds_per_epoch']:.1f} | {t['best_valid_ndcg10']:.4f} |")
    if report.notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    parts += ["", "Plots: `metrics.png` (table as bars), `segments.png` (NDCG@10 and HR@10 by segment), "
              "`hit_curve.png` (HR@k for k = 1..100), `valid_curves.png` (validation NDCG@10 per epoch, first seed).",
              "", f"Total time: {report.seconds:.0f} s"
              + (f", trained on {report.hardware}." if report.hardware else ".")]
    return "\n".join(parts) + "\n"


def plots(report: EvalReport, out_dir: Path) -> list[Path]:
    """Bar chart of the table, segment comparison, HR@k curve, validation curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r for r in ROW_ORDER if r in report.summary]
    written = []
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(1, len(rows))
    x = np.arange(len(METRICS))
    for k, row in enumerate(rows):
        stats = report.summary[row]["all"]
        ax.bar(x + k * width, [stats[m]["mean"] for m in METRICS], width, yerr=[stats[m]["std"] for m in METRICS],
               label=report.label(row), capsize=2)
    ax.set_xticks(x + width * (len(rows) - 1) / 2, METRICS)
    ax.set_title(f"{report.dataset}: test, full ranking, history masked (mean ± std, {len(report.seeds)} seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(out_dir / "metrics.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    segs = ["all", "head", "tail", "dense", "sparse"]
    for ax, metric in zip(axes, ("NDCG@10", "HR@10")):
        xs = np.arange(len(segs))
        for k, row in enumerate(rows):
            ax.bar(xs + k * width, [report.summary[row][s][metric]["mean"] for s in segs], width,
                   yerr=[report.summary[row][s][metric]["std"] for s in segs], label=report.label(row), capsize=2)
        ax.set_xticks(xs + width * (len(rows) - 1) / 2, segs)
        ax.set_title(f"{metric} by segment")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    written.append(out_dir / "segments.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        ax.plot(range(1, 101), report.hit_curves[row], label=report.label(row))
    ax.set_xlabel("k")
    ax.set_ylabel("HR@k (test)")
    ax.set_title(f"{report.dataset}: hit rate by cut-off")
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(out_dir / "hit_curve.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    if report.curves:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name, curve in report.curves.items():
            ax.plot(range(len(curve)), curve, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation NDCG@10")
        ax.legend(fontsize=8)
        fig.tight_layout()
        written.append(out_dir / "valid_curves.png")
        fig.savefig(written[-1], dpi=120)
        plt.close(fig)
    return written


def write_report(report: EvalReport, out_dir: Path) -> None:
    """Write ``report.md``, ``results.json`` and the plots into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(report.to_json(), indent=2))
    (out_dir / "report.md").write_text(markdown(report))
    plots(report, out_dir)
    log.info("report written to %s", out_dir)
