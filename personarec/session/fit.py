"""Training the SASRec variants of a model set, one after another or in parallel processes.

The three SASRec variants of arXiv 2604.06928's table (plain, history vector, persona) do not depend on
each other, and a model of this size (hidden 64, two layers) leaves most of a core idle between small
matrix products: on a 2-core CPU two processes of one torch thread each train two models in about the
time of one, where two torch threads in one process gain little (docs/operations.md, "Main job").
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from personarec.session.data import SequenceData
from personarec.session.sasrec import SASRec, SASRecConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    """One SASRec variant to train: its name, user vectors (the prepended token) and LLM item vectors."""

    name: str
    user_vectors: np.ndarray | None = None
    item_vectors: np.ndarray | None = None


def _fit_one(data: SequenceData, config: SASRecConfig, variant: Variant
             ) -> tuple[dict[str, torch.Tensor], dict[str, Any], float]:
    """Train one variant (in a worker process): its stored parts and seconds per epoch."""
    log.info("training %s (seed %d)", variant.name, config.seed)
    model = SASRec(config).train(data, variant.user_vectors, variant.item_vectors)
    tensors, meta = model.parts()
    return tensors, meta, model.epoch_seconds_


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
    quiet = config.model_copy(update={"progress": False})  # interleaved bars from several processes help nobody
    queue = sorted(variants, key=_expected_cost, reverse=True)  # longest first: no long job left alone at the end
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
        done = dict(zip([v.name for v in queue],
                        pool.map(_fit_one, [data] * len(queue), [quiet] * len(queue), queue), strict=True))
    models = {}
    for variant in variants:
        tensors, meta, seconds = done[variant.name]
        model = SASRec.from_parts(tensors, meta, device=config.device)
        model.config = model.config.model_copy(update={"progress": config.progress})
        model.epoch_seconds_ = seconds
        models[variant.name] = model
    return models
