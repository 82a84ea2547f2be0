"""``personarec evaluate``: the five-row table of arXiv 2604.06928 under the protocol of ``docs/protocol.md``.

Rows: most-popular (true train counts), SASRec (Kang & McAuley 2018), SASRec + history vector (the
paper's baseline), persona-SASRec (candidates, CoT-Rec pattern arXiv 2502.13845), persona-SASRec +
SASRec rerank. Each model is trained once per seed; every metric is full ranking over all items,
history masked (train for validation, train + valid for test), the target never masked; mean ± std
over seeds. Breakdowns: long-tail vs head targets (by train popularity) and sparse vs other users.
Significance: every row against SASRec and the history baseline, paired over users with the seeds
pooled (:mod:`personarec.eval.significance`).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from personarec.config import Settings
from personarec.errors import PersonarecError
from personarec.eval.inputs import EvalInputs
from personarec.eval.metrics import METRICS, mask_history, metrics_from_ranks, summarize, target_ranks
from personarec.eval.report import ROW_ORDER, SIGNIFICANCE_REFERENCES, EvalReport, write_report
from personarec.eval.significance import TEST_METRICS, compare_rows
from personarec.protocol import REFERENCE_FINGERPRINTS, popularity_order
from personarec.session.data import (
    SequenceData,
    Stage,
    align_vectors,
    history_vectors,
    load_item_embeddings,
    load_personas,
    load_sequences,
)
from personarec.session.fit import VariantPool
from personarec.session.models import TrainedModels, table_variants, train_models
from personarec.session.rerank import top_candidates, two_stage_ranks
from personarec.session.sasrec import SASRec, SASRecConfig, resolve_device

if TYPE_CHECKING:  # annotations only: the export module pulls in torch_geometric
    from personarec.graph.export import KGExport

log = logging.getLogger(__name__)


def segment_masks(data: SequenceData, users: np.ndarray, stage: Stage, tail_fraction: float,
                  sparse_quantile: float) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Boolean user masks: all, long-tail/head targets (train popularity), sparse/other users.

    docs/protocol.md, "Segments": the head is the ``1 - tail_fraction`` share of items first in the
    most-popular order (:func:`personarec.protocol.popularity_order`: train counts, ties by id), the tail
    the rest; sparse users have at most the ``sparse_quantile`` quantile of train lengths.
    """
    order = popularity_order(data.train_counts())  # item indices, most popular first
    n_head = int(round((1.0 - tail_fraction) * data.n_items))
    head = np.zeros(data.n_items + 1, dtype=bool)
    head[order[:n_head]] = True
    targets = np.array([data.target(int(u), stage) for u in users])
    lengths = np.array([len(data.train_sequence(int(u))) for u in users])
    cut = float(np.quantile(lengths, sparse_quantile)) if lengths.size else 0.0
    masks = {"all": np.ones(len(users), dtype=bool), "tail": ~head[targets], "head": head[targets],
             "sparse": lengths <= cut, "dense": lengths > cut}
    labels = {"all": "all users",
              "tail": f"target among the {tail_fraction:.0%} least popular items (train counts)",
              "head": f"target among the {1 - tail_fraction:.0%} most popular items",
              "sparse": f"users with ≤ {cut:g} train interactions ({sparse_quantile:.0%} quantile)",
              "dense": f"users with > {cut:g} train interactions"}
    return masks, labels


def two_stage(models: TrainedModels, data: SequenceData, stage: Stage, users: np.ndarray,
              personas: np.ndarray | None, gap_s: float | None = None, batch: int = 1024,
              generator: SASRec | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of the targets for the candidate stage and for the reranked list (history masked).

    ``generator`` replaces ``models.persona`` as the candidate generator (the reference rows).
    Returns (generator ranks over all items, two-stage ranks).
    """
    gen = generator or (models.persona if models.persona is not None else models.sasrec)
    gen_out, final_out = [], []
    for i in range(0, len(users), batch):
        b = users[i:i + batch]
        sessions = [data.session(int(u), stage, models.max_len, gap_s) for u in b]
        targets = torch.tensor([data.target(int(u), stage) for u in b])
        hist = [data.history(int(u), stage) for u in b]
        pv = personas[b] if (personas is not None and gen is not models.sasrec) else None
        scores = mask_history(gen.score_sessions(sessions, pv), hist, targets)
        g = target_ranks(scores, targets).numpy()
        cand, cs = top_candidates(scores, models.n_candidates)
        # the rerank scores only the candidates (the same float32 values as SASRec's full score matrix)
        final_items, _ = models.rerank(sessions, cand, cs, k=cand.shape[1])
        gen_out.append(g)
        final_out.append(two_stage_ranks(g, cand, final_items, targets))
    return np.concatenate(gen_out), np.concatenate(final_out)


def evaluate_models(models: TrainedModels, data: SequenceData, stage: Stage, personas: np.ndarray | None,
                    gap_s: float | None = None, reference_personas: np.ndarray | None = None
                    ) -> dict[str, np.ndarray]:
    """Per-row 0-based ranks of each evaluated user's ``stage`` target."""
    users = data.eval_users(stage)
    ranks: dict[str, np.ndarray] = {
        "popular": models.popular.ranks(data, stage, users),
        "sasrec": models.sasrec.ranks(data, stage, users, gap_s=gap_s),
    }
    if models.history is not None and models.item_vectors is not None:
        ranks["history"] = models.history.ranks(data, stage, users, history_vectors(data, models.item_vectors),
                                                gap_s=gap_s)
    if models.persona is not None:
        gen, final = two_stage(models, data, stage, users, personas, gap_s)
        ranks["persona"] = gen
        ranks["rerank"] = final
    if models.persona_ref is not None and reference_personas is not None:
        gen, final = two_stage(models, data, stage, users, reference_personas, gap_s, generator=models.persona_ref)
        ranks["persona_ref"] = gen
        ranks["rerank_ref"] = final
    return ranks


def significance(ranks: dict[str, dict[int, np.ndarray]]) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """Every row against SASRec and the history baseline on per-user NDCG@10 and HR@10, seeds pooled.

    ``ranks``: row -> seed -> test ranks of the evaluated users (the same users in every row and seed),
    as the runner kept them; the per-user metrics come from those ranks, no model is run again.
    Returns ``row -> reference -> metric -> PairedTest.to_json()`` for ``results.json``.
    """
    started = time.perf_counter()
    per_user = {row: {seed: {m: v for m, v in metrics_from_ranks(r).items() if m in TEST_METRICS}
                      for seed, r in by_seed.items()} for row, by_seed in ranks.items()}
    tests = compare_rows(per_user, SIGNIFICANCE_REFERENCES, TEST_METRICS)
    log.info("significance: %d comparisons in %.1f s", sum(len(v) for v in tests.values()) * len(TEST_METRICS),
             time.perf_counter() - started)
    return {row: {ref: {m: t.to_json() for m, t in by_metric.items()} for ref, by_metric in by_ref.items()}
            for row, by_ref in tests.items()}


def evaluate(graph: Any, settings: Settings, dataset: str, out_dir: Path, seeds: list[int] | None = None,
             config: SASRecConfig | None = None, save_models: Path | None = None,
             export: KGExport | None = None, pool: VariantPool | None = None) -> EvalReport:
    """Train every row's model per seed, evaluate on the test split, write the report folder.

    Args:
        graph: a :class:`personarec.graph.Graph` holding the dataset (interactions with split, and
            optionally ``User.persona`` and ``Item.embedding``).
        settings: ``session`` (model and training knobs) and ``eval`` (seeds, segments) sections.
        dataset: dataset name.
        out_dir: report folder (created): ``report.md``, ``results.json``, PNG plots.
        seeds: seeds (default ``settings.eval.seeds``).
        config: SASRec hyper-parameters (default: RecBole-like, with ``settings.session`` knobs).
        save_models: folder to keep the first seed's trained models in (``TrainedModels.save``), so a
            batch job can serve them without training again.
        export: the train-split export the reference personas learn from
            (:func:`personarec.persona.train.export_train_graph`; default: read it from ``graph``).
        pool: train the first seed's SASRec variants in this pool, adopting those handed in early
            (:class:`EarlyVariants`); ignored when several seeds train in parallel processes.
    """
    return evaluate_inputs(read_inputs(graph, dataset, settings, export=export), settings, out_dir, seeds, config,
                           save_models, pool=pool)


def evaluate_inputs(inputs: EvalInputs, settings: Settings, out_dir: Path, seeds: list[int] | None = None,
                    config: SASRecConfig | None = None, save_models: Path | None = None,
                    notes: list[str] | None = None, pool: VariantPool | None = None) -> EvalReport:
    """:func:`evaluate_data` on :class:`EvalInputs` (from Neo4j or an ``--inputs`` file), with its notes
    (and ``notes``)."""
    learners = {"persona": inputs.meta.get("persona_learner"), "persona_ref": inputs.meta.get("reference_learner")}
    return evaluate_data(inputs.data, settings, out_dir, seeds, config, inputs.personas, inputs.item_vectors,
                         save_models, notes=input_notes(inputs) + list(notes or []),
                         reference_personas=inputs.reference_personas,
                         learners={k: v for k, v in learners.items() if v}, pool=pool)


def read_inputs(graph: Any, dataset: str, settings: Settings | None = None, *, progress: bool = True,
                export: KGExport | None = None) -> EvalInputs:
    """Everything the evaluation reads from Neo4j: sequences and splits, personas, item vectors.

    ``meta["item_vector_models"]`` counts the items per ``Item.embedding_model``, so the report can say
    when item vectors come from the graph's structure (``kg-svd``) rather than an LLM. ``meta["persona_learner"]``
    names the learner of the stored personas (their latest ``PersonaRun``). With ``settings`` whose
    ``eval.reference_learner`` is another learner, that learner is trained in memory on the same train-split
    graph (:func:`personarec.persona.train.learn_personas`; from ``export`` when given) for the reference rows.
    """
    data = load_sequences(graph, dataset)
    models: dict[str, int] = {}
    for row in graph.read("queries/embed_models.cypher", {"dataset": dataset}):
        if row["model"] is not None:
            models[row["model"]] = models.get(row["model"], 0) + 1
    inputs = EvalInputs(data, load_personas(graph, data), load_item_embeddings(graph, data),
                        {"item_vector_models": models})
    if inputs.personas is None:
        return inputs
    runs = graph.read("queries/persona_run.cypher", {"dataset": dataset, "run": None})
    learner = (runs[0].get("learner") if runs else None) or "hdgi"  # runs from before learners were HDGI
    inputs.meta["persona_learner"] = learner
    reference = settings.eval.reference_learner if settings is not None else "none"
    if reference not in ("none", learner):
        from personarec.persona.train import learn_personas

        assert settings is not None
        log.info("reference personas: training %s in memory on %s (eval.reference_learner)", reference, dataset)
        ref_settings = settings.model_copy(
            update={"persona": settings.persona.model_copy(update={"learner": reference})})
        try:
            ids, vectors = learn_personas(graph, ref_settings, dataset, progress=progress, export=export)
        except PersonarecError as exc:  # e.g. no item embeddings: the stored personas' rows still stand
            log.warning("reference personas (%s) skipped: %s", reference, exc)
            inputs.meta["reference_skipped"] = f"{reference}: {exc}"
            return inputs
        inputs.reference_personas = align_vectors(ids, vectors, data.user_ids, f"{reference} personas")
        inputs.meta["reference_learner"] = reference
    return inputs


def input_notes(inputs: EvalInputs) -> list[str]:
    """Report notes about where the inputs came from (e.g. structural rather than LLM item vectors)."""
    from personarec.embed.structural import MODEL_NAME

    skipped = inputs.meta.get("reference_skipped")
    notes = [f"no reference rows: training the reference personas failed ({skipped})."] if skipped else []
    models = inputs.meta.get("item_vector_models") or {}
    if inputs.item_vectors is None or not models:
        return notes
    parts = ", ".join(f"{n} items by {m}" for m, n in sorted(models.items()))
    note = f"Item.embedding: {parts}."
    if MODEL_NAME in models:
        note += (f" '{MODEL_NAME}' vectors come from the KG structure (LSA of train users and item features; "
                 "`personarec embed graph`), used because those items have no text for an LLM to embed.")
    return notes + [note]


def seed_config(base: SASRecConfig, seed: int) -> SASRecConfig:
    """The configuration every SASRec variant of ``seed`` trains with: ``base`` with that seed."""
    return base.model_copy(update={"seed": seed})


class EarlyVariants:
    """The evaluation's SASRec variants, handed to a :class:`VariantPool` while the main job's other stages
    still run (:mod:`personarec.session.fit`).

    Plain SASRec needs only the loaded sequences, the history baseline the item embeddings, persona-SASRec
    the personas: :meth:`queue` hands in the named variants once the stage that writes their inputs is done,
    reading them from the graph as :func:`read_inputs` will. :func:`evaluate` with the same ``pool`` then
    adopts them, and trains only what is missing or whose inputs differ (:func:`personarec.session.fit.variant_key`),
    so the table is the same as without them.

    Args:
        graph: the graph the evaluation will read.
        settings: the ``session`` section gives the configuration (as in :func:`evaluate_data`).
        dataset: dataset name.
        seed: the evaluation's first seed (the one trained in the pool).
        pool: where the variants train.
        config: the SASRec configuration the evaluation will be given (default: from ``settings``).
    """

    def __init__(self, graph: Any, settings: Settings, dataset: str, seed: int, pool: VariantPool,
                 config: SASRecConfig | None = None) -> None:
        self.graph, self.pool = graph, pool
        self.data = load_sequences(graph, dataset)
        self.config = seed_config(config or SASRecConfig.from_session(settings.session), seed)

    def queue(self, *names: str) -> list[str]:
        """Hand in the variants ``names`` (of ``sasrec``, ``history``, ``persona``) whose inputs are in the
        graph now; returns those handed in. Name only variants whose inputs are final: personas left in
        the graph by an earlier run would train a model that the evaluation then trains again."""
        wanted = set(names)
        item_vectors = load_item_embeddings(self.graph, self.data) if wanted & {"history", "persona"} else None
        personas = load_personas(self.graph, self.data) if "persona" in wanted else None
        ready = [v for v in table_variants(self.data, personas, item_vectors) if v.name in wanted]
        for variant in ready:
            self.pool.submit(self.data, self.config, variant)
        return [v.name for v in ready]


@dataclass
class SeedResult:
    """One seed's test ranks per row, training records and validation curves."""

    ranks: dict[str, np.ndarray]
    training: list[dict[str, Any]]
    curves: dict[str, list[float]]


def _train_and_rank(seed: int, data: SequenceData, base: SASRecConfig, personas: np.ndarray | None,
                    item_vectors: np.ndarray | None, n_candidates: int, fusion: float, gap_s: float | None,
                    save_models: Path | None, model_jobs: int = 1, reference_personas: np.ndarray | None = None,
                    pool: VariantPool | None = None) -> SeedResult:
    """Train every row's model with ``seed`` and rank the test targets (runs in a worker with ``eval.jobs``;
    ``model_jobs`` > 1 trains the seed's SASRec variants that many at once, in ``pool`` when given)."""
    models = train_models(data, seed_config(base, seed), personas, item_vectors, n_candidates, fusion,
                          jobs=model_jobs, reference_personas=reference_personas, pool=pool)
    ranks = evaluate_models(models, data, "test", personas, gap_s, reference_personas)
    if save_models is not None:
        models.save(save_models)
    training, curves = [], {}
    for name in ("sasrec", "history", "persona", "persona_ref"):
        model = getattr(models, name)
        if model is None:
            continue
        training.append({"seed": seed, "model": name, "loss": model.loss_label(), "best_epoch": model.best_epoch_,
                         "epochs": len(model.history_), "seconds_per_epoch": model.epoch_seconds_,
                         "best_valid_ndcg10": model.best_valid_ndcg10})
        curves[name] = [h["valid_ndcg10"] for h in model.history_]
    return SeedResult(ranks, training, curves)


def evaluate_data(data: SequenceData, settings: Settings, out_dir: Path, seeds: list[int] | None = None,
                  config: SASRecConfig | None = None, personas: np.ndarray | None = None,
                  item_vectors: np.ndarray | None = None, save_models: Path | None = None,
                  notes: list[str] | None = None, reference_personas: np.ndarray | None = None,
                  learners: dict[str, str] | None = None, pool: VariantPool | None = None) -> EvalReport:
    """:func:`evaluate` on already-loaded data (no Neo4j needed: ``--inputs`` files, tests, benchmarks).

    ``reference_personas`` (another learner's, per user index) add the reference rows; ``learners`` names
    the learner behind ``"persona"`` and ``"persona_ref"`` for the row labels; ``pool``: see :func:`evaluate`."""
    started = time.perf_counter()
    seeds = list(seeds or settings.eval.seeds)
    s = settings.session
    base = config or SASRecConfig.from_session(s)
    fp = data.fingerprint()
    device = resolve_device(base.device)
    hardware = (torch.cuda.get_device_name(device) if device.type == "cuda"
                else f"CPU ({base.threads} torch thread(s))")
    users = data.eval_users("test")
    masks, labels = segment_masks(data, users, "test", settings.eval.tail_fraction, settings.eval.sparse_quantile)
    report = EvalReport(dataset=data.dataset, seeds=seeds, fingerprint=fp, pinned=REFERENCE_FINGERPRINTS.get(fp),
                        users=int(users.size), items=data.n_items, segments=labels, notes=list(notes or []),
                        hardware=hardware, learners=dict(learners or {}))
    if personas is None:
        report.notes.append("no User.persona in the graph: the persona-SASRec rows are absent.")
    elif (np.abs(personas).sum(1) == 0).any():
        missing = int((np.abs(personas).sum(1) == 0).sum())
        report.notes.append(f"{missing} users have no persona (zero vector used).")
    if reference_personas is not None and personas is None:
        reference_personas = None  # the reference rows compare two learners; alone they are the persona rows
    if reference_personas is not None:
        other = report.learners.get("persona_ref", "another learner's")
        report.notes.append(f"reference rows: persona-SASRec trained the same way on {other} personas, learned in "
                            "memory on the same train-split graph (eval.reference_learner).")
    if item_vectors is None:
        report.notes.append("no Item.embedding in the graph: the history-embedding row is absent and "
                            "persona-SASRec uses ID item embeddings.")
    if s.gap_s:
        report.notes.append(f"sessions cut at inactivity gaps longer than {s.gap_s:g} s.")
    if base.time_limit_s:
        report.notes.append(f"training capped at {base.time_limit_s:g} s per model (early stopping otherwise, patience "
                            f"{base.patience}): a model whose best epoch is its last was still improving.")
    all_ranks: dict[str, dict[int, np.ndarray]] = {}  # row -> seed -> test ranks of the evaluated users
    jobs = min(settings.eval.jobs, len(seeds))
    # Processes left over when there are fewer seeds than jobs (one seed in the main job) train a seed's
    # SASRec variants side by side instead.
    model_jobs = max(1, settings.eval.jobs // len(seeds)) if jobs == 1 else 1
    if jobs > 1:
        base = base.model_copy(update={"progress": False})  # interleaved bars from several processes help nobody
    args = [(seed, data, base, personas, item_vectors, s.n_candidates, s.fusion, s.gap_s,
             save_models if seed == seeds[0] else None, model_jobs, reference_personas,
             pool if seed == seeds[0] and jobs == 1 else None) for seed in seeds]
    if jobs > 1:
        # spawn, not fork: CUDA cannot be used in a forked child, and torch threads do not survive fork
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as seed_pool:
            results = list(seed_pool.map(_train_and_rank, *zip(*args)))
    else:
        results = [_train_and_rank(*a) for a in args]
    for seed, result in zip(seeds, results):
        row_summaries = {row: {seg: summarize(r, m) for seg, m in masks.items()} for row, r in result.ranks.items()}
        report.runs.append({"seed": seed, "rows": row_summaries})
        for row, r in result.ranks.items():
            all_ranks.setdefault(row, {})[seed] = r
        report.training.extend(result.training)
        if seed == seeds[0]:
            report.curves = result.curves
        log.info("seed %d: %s", seed, {r: round(v["all"]["NDCG@10"], 4) for r, v in row_summaries.items()})
    for row in ROW_ORDER:
        if row not in all_ranks:
            continue
        report.summary[row] = {}
        for seg in masks:
            vals = {m: [run["rows"][row][seg][m] for run in report.runs] for m in METRICS}
            report.summary[row][seg] = {m: {"mean": float(np.mean(v)), "std": float(np.std(v))}
                                        for m, v in vals.items()}
            report.summary[row][seg]["users"] = {"mean": float(masks[seg].sum()), "std": 0.0}
        stacked = np.stack(list(all_ranks[row].values()))
        report.hit_curves[row] = [float((stacked < k).mean()) for k in range(1, 101)]
    report.significance = significance(all_ranks)
    report.seconds = time.perf_counter() - started
    write_report(report, out_dir)
    return report
