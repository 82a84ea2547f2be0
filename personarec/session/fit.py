"""Training the SASRec variants of a model set, one after another or in parallel processes.

The SASRec variants of arXiv 2604.06928's table (plain, history vector, persona) do not depend on each
other, and a model of this size (hidden 64, two layers) leaves most of a core idle between small matrix
products: on a 2-core CPU two processes of one torch thread each train two models in about the time of
one, where two torch threads in one process gain little (docs/operations.md, "Main job").

A :class:`VariantPool` also takes variants before the rest of the set is known: the main job hands in
plain SASRec as soon as the dataset is loaded and each other variant as soon as its inputs are in the
graph, so training runs beside the DBpedia, embedding and persona stages instead of after them, and
:func:`fit_variants` adopts what was handed in when its data, configuration and vectors are the same.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing as mp
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from types import TracebackType
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


class TrainingCancelled(RuntimeError):
    """A worker's training stopped because its :class:`VariantPool` was closed before it finished."""


#: In a worker process of a :class:`VariantPool` only: the parent's queue for epoch reports and the event
#: that tells a running training to stop. Multiprocessing queues and events reach a process when it
#: starts, not through task arguments, so the pool's initializer (:func:`_worker_init`) sets them; a
#: manager's proxy could travel with each task but costs the job a server process that re-imports the
#: main module (~2 s measured).
_EVENTS: Any = None
_STOP: Any = None


def _worker_init(events: Any, stop: Any) -> None:
    global _EVENTS, _STOP
    _EVENTS, _STOP = events, stop
    parent = mp.parent_process()
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent,), name="pool-owner", daemon=True).start()


def _end_with(parent: Any) -> None:
    """End this worker when the process that owns its pool has ended. A job killed outright closes
    nothing: its workers would train on for minutes and then wait for tasks forever, and nobody is left
    to take a result or an error."""
    parent.join()  # returns when the parent's end of the spawn pipe closes, i.e. when it dies
    os._exit(1)


def _fit_one(data: SequenceData, config: SASRecConfig, variant: Variant
             ) -> tuple[dict[str, torch.Tensor], dict[str, Any], float]:
    """Train one variant (in a worker process): its stored parts and seconds per epoch; every epoch goes
    to the parent as ``(variant name, epoch row)`` (:data:`_EVENTS`), and training stops after the epoch
    in which the pool was closed (:data:`_STOP`)."""
    log.info("training %s (seed %d)", variant.name, config.seed)
    events, stop = _EVENTS, _STOP

    def report(row: dict[str, float]) -> None:
        if events is not None:
            events.put((variant.name, {**row, "patience": config.patience}))
        if stop is not None and stop.is_set():
            raise TrainingCancelled(f"training of {variant.name} cancelled: its pool was closed")

    model = SASRec(config).train(data, variant.user_vectors, variant.item_vectors, on_epoch=report)
    tensors, meta = model.parts()
    return tensors, meta, model.epoch_seconds_


def _follow(events: Any, enabled: bool) -> None:
    """Show the workers' epochs until ``None`` arrives on ``events``: one bar counting the epochs of every
    variant, with each variant's epoch, best epoch and epochs since its best out of its patience (training
    stops there), so a long parallel training says what it is doing and how near each model is to its end."""
    bar = None
    status: dict[str, str] = {}
    while (item := events.get()) is not None:
        name, row = item
        if bar is None:  # drawn from the first epoch on: a pool waiting for its first variant shows nothing
            bar = tqdm(desc="SASRec variants", unit="epoch", disable=not enabled, leave=False)
        # epochs numbered from 0, as in the report's training table
        status[name] = (f"epoch {int(row['epoch'])} (best {int(row['best_epoch'])}, "
                        f"{int(row['stale'])}/{int(row['patience'])})")
        bar.set_postfix_str(" | ".join(f"{n} {text}" for n, text in status.items()), refresh=False)
        bar.update(1)
    if bar is not None:
        bar.close()


def variant_key(data: SequenceData, config: SASRecConfig, variant: Variant) -> str:
    """Digest of everything a variant's training depends on: the sequences and split, the configuration
    (its ``progress`` aside) and the variant's vectors. Equal digests train equal models (each training
    seeds itself from ``config.seed``), so a model handed in earlier may stand in for one asked for now."""
    h = hashlib.sha256()
    h.update(config.model_copy(update={"progress": False}).model_dump_json().encode())
    h.update(f"\0{variant.name}\0{data.dataset}\0{len(data.user_ids)}\0{len(data.item_ids)}\0".encode())
    h.update("\0".join(data.user_ids).encode())
    h.update("\0".join(data.item_ids).encode())
    for items, splits in zip(data.items, data.splits, strict=True):
        h.update(np.int64(items.size).tobytes())
        h.update(np.ascontiguousarray(items, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(splits, dtype=np.int8).tobytes())
    for vectors in (variant.user_vectors, variant.item_vectors):
        if vectors is None:
            h.update(b"none")
        else:
            arr = np.ascontiguousarray(vectors)
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(arr.tobytes())
    return h.hexdigest()


class VariantPool:
    """``jobs`` spawned worker processes that train SASRec variants in the order they are handed in.

    Spawn, not fork: CUDA cannot be used in a forked child. The workers draw no bars (interleaved bars
    from several processes help nobody): they send their epochs to this process, where one bar shows them
    all (:func:`_follow`). :meth:`submit` returns the training's future, the same one for a variant
    handed in again with the same inputs (:func:`variant_key`). :meth:`close` (also on leaving a ``with``
    block) gives up on whatever has not finished: queued variants are dropped and running ones stop after
    their current epoch with :class:`TrainingCancelled`.
    """

    def __init__(self, jobs: int, progress: bool = True) -> None:
        context = mp.get_context("spawn")
        self.jobs = max(1, jobs)
        self.started = time.perf_counter()
        self._events = context.Queue()
        self._stop = context.Event()
        self._futures: dict[str, Future[Any]] = {}
        self._names: list[str] = []
        # the watcher drains the queue until every worker has exited: a worker whose queue nobody reads
        # could block on exit with its last reports unsent
        self._watcher = threading.Thread(target=_follow, args=(self._events, progress), name="sasrec-progress",
                                         daemon=True)
        self._watcher.start()
        self._pool = ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_worker_init,
                                         initargs=(self._events, self._stop))
        self._closed = False

    @property
    def submitted(self) -> list[str]:
        """Names of the trainings handed in, in order (a variant handed in again with new inputs twice)."""
        return list(self._names)

    def submit(self, data: SequenceData, config: SASRecConfig, variant: Variant) -> Future[Any]:
        """Queue ``variant``'s training (a no-op returning the same future when these inputs are queued)."""
        if self._closed:
            raise RuntimeError("this VariantPool is closed.")
        key = variant_key(data, config, variant)
        future = self._futures.get(key)
        if future is None:
            quiet = config.model_copy(update={"progress": False})
            future = self._futures[key] = self._pool.submit(_fit_one, data, quiet, variant)
            self._names.append(variant.name)
            log.info("queued %s (seed %d) on %d worker(s)", variant.name, config.seed, self.jobs)
        return future

    def close(self) -> None:
        """Shut the workers down: queued trainings are dropped, running ones stop after their epoch."""
        if self._closed:
            return
        self._closed = True
        try:
            self._stop.set()
            self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            self._events.put(None)  # after the workers' shutdown: behind every worker's last report
            self._watcher.join()
            self._events.close()

    def __enter__(self) -> VariantPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


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


def fit_variants(data: SequenceData, config: SASRecConfig, variants: list[Variant], jobs: int = 1,
                 pool: VariantPool | None = None) -> dict[str, SASRec]:
    """Train every variant with ``config`` (same seed); ``jobs`` > 1 trains that many at once in a
    :class:`VariantPool` of its own, persona variants first (:func:`_expected_cost`). With ``pool``, the
    variants go to that pool instead, and those already handed in with the same inputs are not trained
    again. Results depend neither on ``jobs``, nor on the order, nor on when a variant was handed in:
    each model seeds torch and numpy from ``config.seed`` itself."""
    jobs = max(1, min(jobs, len(variants)))
    if pool is None and jobs == 1:
        return {v.name: SASRec(config).train(data, v.user_vectors, v.item_vectors) for v in variants}
    own = pool is None
    runner = VariantPool(jobs, config.progress) if pool is None else pool
    queue = sorted(variants, key=_expected_cost, reverse=True)  # longest first: no long job left alone at the end
    done: dict[str, SASRec] = {}
    futures: dict[Future[Any], str] = {}
    failed = True
    try:
        futures = {runner.submit(data, config, variant): variant.name for variant in queue}
        for future in as_completed(futures):
            tensors, meta, seconds = future.result()
            model = SASRec.from_parts(tensors, meta, device=config.device)
            model.config = model.config.model_copy(update={"progress": config.progress})
            model.epoch_seconds_ = seconds
            done[futures[future]] = model
            log.info("trained %s: %d epochs, best valid NDCG@10 %.4f at epoch %d, %.2f s/epoch [%.0f s]",
                     futures[future], len(model.history_), model.best_valid_ndcg10, model.best_epoch_, seconds,
                     time.perf_counter() - runner.started)
        failed = False
    finally:
        if own:  # a failed model fails the set: the queued ones are dropped, the running ones stopped
            runner.close()
        elif failed:
            for future in futures:
                future.cancel()
    return {variant.name: done[variant.name] for variant in variants}
