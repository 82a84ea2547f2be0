"""Training the SASRec variants of a model set, one after another or in parallel processes.

The three SASRec variants of arXiv 2604.06928's table (plain, history vector, persona) do not depend on
each other, and a model of this size (hidden 64, two layers) leaves most of a core idle between small
matrix products: on a 2-core CPU two processes of one torch thread each train two models in about the
time of one, where two torch threads in one process gain little (docs/operations.md, "Main job").
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from personarec.session.data import SequenceData
from personarec.session.sasrec import SASRec, SASRecConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    """One SASRec variant to train: its name, user vectors (the prepended token) and LLM item vectors."""

    name: str
    user_vectors: np.ndarray | None = None
    item_vectors: np.ndarray | None = None


#: In a worker process of :func:`fit_variants` only: the parent's queue for epoch reports. A multiprocessing
#: queue reaches a process when it starts, not through task arguments, so the pool's initializer
#: (:func:`_worker_init`) sets it; a manager's proxy could travel with each task but costs the job a
#: server process that re-imports the main module (~2 s measured).
_EVENTS: Any = None


def _worker_init(events: Any) -> None:
    global _EVENTS
    _EVENTS = events


def _fit_one(data: SequenceData, config: SASRecConfig, variant: Variant
             ) -> tuple[dict[str, torch.Tensor], dict[str, Any], float]:
    """Train one variant (in a worker process): its stored parts and seconds per epoch; every epoch goes
    to the parent as ``(variant name, epoch row)`` (:data:`_EVENTS`)."""
    log.info("training %s (seed %d)", variant.name, config.seed)
    events = _EVENTS
    report = None if events is None else lambda row: events.put((variant.name, row))
    model = SASRec(config).train(data, variant.user_vectors, variant.item_vectors, on_epoch=report)
    tensors, meta = model.parts()
    return tensors, meta, model.epoch_seconds_


def _follow(events: Any, patience: int, enabled: bool) -> None:
    """Show the workers' epochs until ``None`` arrives on ``events``: one bar counting the epochs of every
    variant, with each variant's epoch, best epoch and epochs since its best out of ``patience`` (training
    stops there), so a long parallel training says what it is doing and how near each model is to its end."""
    bar = tqdm(desc="SASRec variants", unit="epoch", disable=not enabled, leave=False)
    status: dict[str, str] = {}
    while (item := events.get()) is not None:
        name, row = item
        # epochs numbered from 0, as in the report's training table
        status[name] = f"epoch {int(row['epoch'])} (best {int(row['best_epoch'])}, {int(row['stale'])}/{patience})"
        bar.set_postfix_str(" | ".join(f"{n} {text}" for n, text in status.items()), refresh=False)
        bar.update(1)
    bar.close()


def _expected_cost(variant: Variant) -> int:
    """Rough training cost for the order of the queue (longest first): persona variants, then the
    others that project LLM item vectors, then plain SASRec.

    With more variants than workers, the last one to start decides when training ends. Persona-SASRec
    pays for its user token and LLM item projection each epoch and, on Beauty, ran the most epochs in
    all three GPU seeds (bench/results/eval-beauty: 40-52 against 26-42); started last, it trained alone
    on one core for half of a CPU run (bench/results/eval-beauty-fullbf16-cpu-hdgi). The LLM item
    projection alone costs 5-26% per epoch (history against plain SASRec: 3.40 against 3.24 s on
    MovieLens-100K, 17.7-24.0 against 15.2-20.2 s on Beauty), and on MovieLens-100K the history model
    also ran more epochs in three of four runs (31-44 against 21-35). Queued after it, plain SASRec is the
    one left alone at the end: with the main job's model times at 77bb8aa (persona 225 s, HDGI persona
    112, history 160, SASRec 122) training ends at 347 s instead of 385 (docs/operations.md).
    """
    return 2 * variant.name.startswith("persona") + (variant.item_vectors is not None)


def fit_variants(data: SequenceData, config: SASRecConfig, variants: list[Variant], jobs: int = 1
                 ) -> dict[str, SASRec]:
    """Train every variant with ``config`` (same seed); ``jobs`` > 1 trains that many at once in spawned
    processes (spawn, not fork: CUDA cannot be used in a forked child), persona variants first
    (:func:`_expected_cost`). Results depend neither on ``jobs`` nor on the order: each model seeds torch
    and numpy from ``config.seed`` itself."""
    jobs = max(1, min(jobs, len(variants)))
    if jobs == 1:
        return {v.name: SASRec(config).train(data, v.user_vectors, v.item_vectors) for v in variants}
    # the workers draw no bars (interleaved bars from several processes help nobody): they send their
    # epochs here, where one bar shows them all (_follow)
    quiet = config.model_copy(update={"progress": False})
    queue = sorted(variants, key=_expected_cost, reverse=True)  # longest first: no long job left alone at the end
    context = mp.get_context("spawn")
    started = time.perf_counter()
    done: dict[str, SASRec] = {}
    events = context.Queue()
    # the watcher drains the queue until every worker has exited: a worker whose queue nobody reads could
    # block on exit with its last reports unsent
    watcher = threading.Thread(target=_follow, args=(events, config.patience, config.progress),
                               name="sasrec-progress", daemon=True)
    watcher.start()
    try:
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init, initargs=(events,)) as pool:
            futures = {pool.submit(_fit_one, data, quiet, variant): variant.name for variant in queue}
            try:
                for future in as_completed(futures):
                    tensors, meta, seconds = future.result()
                    model = SASRec.from_parts(tensors, meta, device=config.device)
                    model.config = model.config.model_copy(update={"progress": config.progress})
                    model.epoch_seconds_ = seconds
                    done[futures[future]] = model
                    log.info("trained %s: %d epochs, best valid NDCG@10 %.4f at epoch %d, %.2f s/epoch [%.0f s]",
                             futures[future], len(model.history_), model.best_valid_ndcg10, model.best_epoch_, seconds,
                             time.perf_counter() - started)
            except BaseException:
                for future in futures:  # a failed model fails the set: do not train the queued ones first
                    future.cancel()
                raise
    finally:
        events.put(None)  # after the pool's shutdown: behind every worker's last report
        watcher.join()
        events.close()
    return {variant.name: done[variant.name] for variant in variants}
