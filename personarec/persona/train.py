"""Train personas on the exported knowledge graph and write them back to Neo4j atomically.

The learner (``persona.learner``: HDGI, HDGI-struct or HeCo, :mod:`personarec.persona.learners`) brings
the module, the corruption/positives and the loss; everything here is shared by all of them.

Entry point: :func:`train_personas` (``personarec personas train``). The steps are also usable on their
own: :func:`prepare` (metapath adjacencies), :func:`fit` (training with early stopping),
:func:`embed_all` (final personas and attention), :func:`write_back` (one transaction per run).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from personarec import store
from personarec.config import Settings
from personarec.cpu import torch_threads
from personarec.errors import PersonarecError
from personarec.graph.connection import Graph, translate_errors
from personarec.graph.cypher import statement
from personarec.graph.export import KGExport, export_graph
from personarec.persona.learners import (
    Batch,
    Learner,
    gather,
    item_rows,
    learner_from_config,
    make_learner,
    torch_sparse,
)
from personarec.persona.metapath import (
    PreparedGraph,
    hop_matrices,
    metapath_adjacency,
    normalize_adjacency,
    resolve_metapaths,
)
from personarec.store import ModelRef

log = logging.getLogger(__name__)

MODEL_NAME = "HDGI"  # the reference learner's model name (PersonaRun.model of `hdgi` runs)


class PersonaError(PersonarecError):
    """Personas cannot be trained, written or inferred."""


@dataclass
class FitResult:
    """Training outcome: the best model state, the loss per epoch and the epoch of the best loss."""

    model: torch.nn.Module
    loss_curve: list[float]
    best_epoch: int
    best_loss: float
    epoch_seconds: float
    learner: Learner = field(default_factory=lambda: make_learner("hdgi"))


@dataclass
class PersonaRunSummary:
    """What one ``personas train`` run did."""

    run_id: str
    version: int
    dataset: str | None
    learner: str
    users: int
    items: int
    metapaths: list[str]
    attention: list[float]
    edges: dict[str, int]
    epochs: int
    best_epoch: int
    best_loss: float
    loss_curve: list[float]
    model_key: str
    model_sha256: str
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prepare(export: KGExport, metapaths: list[str], k: int | None, seed: int) -> PreparedGraph:
    """Resolve ``metapaths`` on ``export`` and compute each bounded, normalised adjacency."""
    mps = resolve_metapaths(metapaths, export)
    adjs, degs, counts = [], [], []
    for j, mp in enumerate(mps):
        adj = metapath_adjacency(hop_matrices(export, mp), k=k, seed=seed + j)
        norm, deg = normalize_adjacency(adj)
        adjs.append(norm)
        degs.append(deg)
        counts.append(adj)
        log.info("metapath %s: %d edges (%.1f per user)", mp.name, adj.nnz, adj.nnz / max(adj.shape[0], 1))
    ei = export.data["user", "interacted", "item"].edge_index.numpy()
    ui = sp.csr_matrix((np.ones(ei.shape[1], dtype=np.float32), (ei[0], ei[1])),
                       shape=(export.num_nodes("user"), export.num_nodes("item")))
    ui.data[:] = 1.0  # a repeated interaction counts once
    return PreparedGraph(export.data["user"].x, adjs, degs, mps, export.ids["user"], counts, ui)


_torch_csr = torch_sparse  # the former private names, kept for callers of this module


def _batch(prep: PreparedGraph, rows: np.ndarray, perm: torch.Tensor | None
           ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """Per metapath: the rows of ``Â^Φ`` for ``rows`` restricted to the columns they touch, those
    columns' features, and (with ``perm``) the corrupted features ``X[perm]`` of the same columns."""
    return gather(prep.adjs, prep.x, rows, perm)


def _small_op_threads(work: int, threshold: int = 5_000_000) -> AbstractContextManager[None]:
    """One intra-op thread for small graphs: their tiny matmuls gain nothing from threads, and on a
    shared, busy machine the thread hand-off costs 10-30x (measured: 60 users, 60 epochs, 20 s -> 0.7 s)."""
    return torch_threads(1 if work < threshold else None)


def fit(prep: PreparedGraph, settings: Settings, *, seed: int, progress: bool = True,
        on_epoch: Callable[[int, float], None] | None = None) -> FitResult:
    """Train the learner ``persona.learner`` with Adam and early stopping on the loss (patience); full
    batch up to ``persona.full_batch_max`` users, else shuffled mini-batches of ``persona.batch_size`` users."""
    with _small_op_threads(prep.x.numel()):
        return _fit(prep, settings, seed=seed, progress=progress, on_epoch=on_epoch)


def _fit(prep: PreparedGraph, settings: Settings, *, seed: int, progress: bool,
         on_epoch: Callable[[int, float], None] | None) -> FitResult:
    return fit_loop(prep, settings, seed=seed, progress=progress, on_epoch=on_epoch)


#: One optimiser step on the global batch ``rows``: ``(learner, model, optimiser, rows, full) -> loss x len(rows)``
#: (``full``: the batch is every user, in order). :class:`LocalStep` is one process;
#: :class:`personarec.persona.distributed.ShardedStep` splits the batch across ``torch.distributed`` ranks.
StepFn = Callable[[Learner, torch.nn.Module, torch.optim.Optimizer, np.ndarray, bool], float]


class LocalStep:
    """The one-process step: the learner's loss on the whole batch, backward, Adam step. Full batch uses
    the whole adjacencies against ``X`` itself (no per-metapath copies of ``X``), built once."""

    def __init__(self, prep: PreparedGraph, full: bool) -> None:
        self.prep = prep
        self.full_adjs = [_torch_csr(a) for a in prep.adjs] if full else None

    def __call__(self, learner: Learner, model: torch.nn.Module, opt: torch.optim.Optimizer, rows: np.ndarray,
                 full: bool) -> float:
        prep = self.prep
        if full and self.full_adjs is not None:
            step = Batch(rows, prep.x, [prep.x] * len(self.full_adjs), self.full_adjs)
        elif learner.static_inputs and (aggregated := prep.aggregated()) is not None:
            step = Batch.of_aggregated(aggregated, prep.x, rows)
        else:
            step = Batch.of_rows(prep.adjs, prep.x, rows)
        opt.zero_grad()
        loss = learner.loss(model, prep, step, self.full_adjs if full else None)
        loss.backward()
        opt.step()
        return float(loss.detach()) * len(rows)


def fit_loop(prep: PreparedGraph, settings: Settings, *, seed: int, progress: bool,
             on_epoch: Callable[[int, float], None] | None, step: StepFn | None = None) -> FitResult:
    """The training loop shared by one process and ``torch.distributed``: seeded model, Adam, the epoch's
    batch order (every user in order when full batch, else a seeded permutation cut into
    ``persona.batch_size`` users, or the learner's own batches), ``step`` per batch (default
    :class:`LocalStep`), early stopping on the epoch loss (mean over users of the batch losses weighted by
    batch size) and the learner's step budget, if any. Every random draw here comes
    from ``seed`` alone, so processes with the same seed see the same batches in the same order."""
    cfg = settings.persona
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    n = prep.x.shape[0]
    learner = learner_from_config(cfg)
    learner.setup(prep, seed)
    model = learner.build(prep.x.shape[1], cfg.dimensions, len(prep.adjs), cfg.attention_dim)
    opt = torch.optim.Adam(learner.param_groups(model, cfg.lr), lr=cfg.lr, weight_decay=cfg.weight_decay)
    own_limit = learner.full_batch_max()
    limit = min(cfg.full_batch_max, own_limit or cfg.full_batch_max)
    batch = n if n <= limit else cfg.batch_size
    # a batch as large as the graph is the full batch, unless the learner caps its batches below that
    full = n <= limit or (batch >= n and own_limit is None)
    step = step or LocalStep(prep, full)
    best, best_state, best_epoch, wait = float("inf"), copy.deepcopy(model.state_dict()), 0, 0
    curve: list[float] = []
    steps, max_steps = 0, learner.max_steps()
    t0 = time.perf_counter()
    bar = tqdm(range(cfg.epochs), desc=cfg.learner, unit=" epoch", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        learner.start_epoch(n, gen)
        batches = [np.arange(n)] if full else learner.batches(n, batch, rng)
        if batches is None:
            order = rng.permutation(n)
            batches = [order[start:start + batch] for start in range(0, n, batch)]
        if max_steps is not None and epoch == 0:
            # the step budget, not persona.epochs, ends a mini-batch run: say so in the bar's total and ETA
            bar.total = min(cfg.epochs, math.ceil(max_steps / max(len(batches), 1)))
            bar.refresh()
        total, count = 0.0, 0
        for rows in batches:
            total += step(learner, model, opt, rows, full)
            count += len(rows)
            steps += 1
            if max_steps is not None and steps >= max_steps:
                break  # the budget can end an epoch early: its loss is over the batches it saw
        epoch_loss = total / count
        curve.append(epoch_loss)
        bar.set_postfix(loss=f"{epoch_loss:.4f}")
        if on_epoch is not None:
            on_epoch(epoch, epoch_loss)
        if epoch_loss < best - 1e-6:
            best, best_epoch, wait = epoch_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            wait += 1
            if wait >= cfg.patience:
                log.info("early stop at epoch %d (best %.4f at %d)", epoch, best, best_epoch)
                break
        if max_steps is not None and steps >= max_steps:
            log.info("step budget: %d steps in epoch %d (best %.4f at %d)", steps, epoch, best, best_epoch)
            break
    bar.close()
    model.load_state_dict(best_state)
    secs = (time.perf_counter() - t0) / max(len(curve), 1)
    return FitResult(model, curve, best_epoch, best, secs, learner)


@torch.no_grad()
def embed_all(model: torch.nn.Module, prep: PreparedGraph, batch_size: int = 8192,
              learner: Learner | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Personas of every user and the metapath attention ``β`` computed over all users (HDGI Eqs. 4-6);
    ``learner`` (default: HDGI) turns them into the persona (e.g. adds a skip path)."""
    learner = learner or make_learner("hdgi")
    model.eval()
    n = prep.x.shape[0]
    hs = []
    with _small_op_threads(prep.x.numel()):
        for start in range(0, n, batch_size):
            xs, _, adjs = _batch(prep, np.arange(start, min(n, start + batch_size)), None)
            hs.append(model.metapath_embeddings(xs, adjs))  # type: ignore[operator]
        stacked = torch.cat(hs, dim=1)  # [P, N, C]
        _, beta = model.attention(stacked)  # type: ignore[operator]
        items = item_rows(prep.ui, np.arange(n)) if learner.uses_items and prep.ui is not None else None
        h = learner.persona(model, stacked, beta, prep.x, items)
    return h.numpy().astype(np.float32), beta.numpy().astype(np.float64)


def write_back(graph: Graph, user_ids: list[str], personas: np.ndarray, run: dict[str, Any],
               batch_size: int = 2000) -> int:
    """Write every persona and the ``PersonaRun`` node in **one** write transaction; returns the version.

    All or nothing: a failure leaves the previous personas untouched. The transaction first takes the
    exclusive lock of the ``PersonaState`` gate node and holds it until its commit is fully applied, so a
    reader that takes the gate's read lock (:func:`read_personas`, ``queries/persona_snapshot.cypher``)
    sees the complete old personas or the complete new ones, never a mix. (Neo4j reads are
    read-committed: a plain scan *without* the lock can straddle the moment a commit is applied.)
    Memory: the transaction state holds every persona on the server heap (~8 bytes per float), so
    ~1M users x 64 floats need a heap of a few GB; raise ``server.heap`` for such graphs.
    """
    query, run_query = statement("load/persona_users.cypher"), statement("load/persona_run.cypher")
    graph.write("load/persona_gate.cypher")  # committed first: readers must find it to lock it
    with translate_errors(graph.uri), graph.driver.session(database=graph.database) as session:
        with session.begin_transaction() as tx:
            begun = tx.run(statement("load/persona_begin.cypher"), run=run["id"]).single(strict=True)
            version = begun["version"]
            for start in tqdm(range(0, len(user_ids), batch_size), desc="write personas", unit=" batch",
                              leave=False, disable=len(user_ids) <= batch_size):
                rows = [{"id": uid, "persona": vec.tolist()} for uid, vec in
                        zip(user_ids[start:start + batch_size], personas[start:start + batch_size], strict=True)]
                tx.run(query, rows=rows, version=version, run=run["id"]).consume()
            tx.run(run_query, **{"learner": "hdgi", **run, "version": version}).consume()
            tx.commit()
    return version


def read_personas(graph: Graph, dataset: str | None = None) -> tuple[list[str], np.ndarray, set[int]]:
    """All personas of ``dataset`` as one consistent snapshot: ``(user ids, [N, D] matrix, versions)``.

    Takes the read lock of the ``PersonaState`` gate (APOC core), so a concurrent write-back is seen
    entirely or not at all.
    """
    ids: list[str] = []
    vecs: list[list[float]] = []
    versions: set[int] = set()
    for row in graph.stream(statement("queries/persona_snapshot.cypher"), {"dataset": dataset}):
        ids.append(row["id"])
        vecs.append(row["persona"])
        versions.add(row["version"])
    return ids, np.asarray(vecs, dtype=np.float32), versions


def _seed(settings: Settings) -> int:
    return settings.persona.seed if settings.persona.seed is not None else settings.seed


def model_parts(fitres: FitResult, prep: PreparedGraph, beta: np.ndarray, settings: Settings,
                export: KGExport) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """What cold-start inference needs, as tensors (weights, degrees, features) and plain-JSON metadata
    (sizes, metapaths, β, user and item ids)."""
    random_items = settings.persona.item_features == "random"
    keep_items = random_items or fitres.learner.uses_items
    tensors = {f"model.{k}": v for k, v in fitres.model.state_dict().items()}
    tensors.update({f"degrees.{j}": torch.from_numpy(np.asarray(d)) for j, d in enumerate(prep.degrees)})
    # float16 halves the file; features only feed one linear layer at inference
    tensors["user_x"] = prep.x.to(torch.float16)
    if random_items:
        tensors["item_x"] = export.data["item"].x.to(torch.float16)
    meta = {
        "model": type(fitres.learner).model_name,
        "learner": fitres.learner.name,
        "learner_options": fitres.learner.options,
        "in_channels": int(prep.x.shape[1]),
        "hidden_channels": settings.persona.dimensions,
        "attention_channels": settings.persona.attention_dim,
        "metapaths": [{**asdict(mp), "rels": list(mp.rels) if mp.rels else None} for mp in prep.metapaths],
        "beta": [float(b) for b in beta],
        "user_ids": list(prep.user_ids),
        "item_features": settings.persona.item_features,
        "item_ids": list(export.ids["item"]) if keep_items else None,
        "max_neighbors": settings.persona.max_neighbors,
        "dataset": export.dataset,
    }
    return tensors, meta


def save_model(store_root: Path, key: str, fitres: FitResult, prep: PreparedGraph, beta: np.ndarray,
               settings: Settings, export: KGExport) -> ModelRef:
    """Save the run's encoder to the model store under ``key`` (for cold-start inference)."""
    return store.save(store_root, key, *model_parts(fitres, prep, beta, settings, export))


def train_personas(graph: Graph, settings: Settings, dataset: str | None = None, *, progress: bool = True,
                   write: bool = True, export: KGExport | None = None,
                   echo: Callable[[str], None] | None = None) -> PersonaRunSummary:
    """Export the train-split KG, learn personas with ``persona.learner`` and write them back with a
    ``PersonaRun`` (which records the learner).

    Args:
        graph: an open graph.
        settings: ``settings.persona`` holds every hyper-parameter; ``settings.embed.dimensions`` sizes
            the random-feature fallback.
        dataset: train on this dataset's users only (``None``: all users).
        progress: tqdm progress bars.
        write: write personas and the run node to Neo4j (``False``: only train and save the model).
        export: reuse an existing export instead of reading Neo4j again.
        echo: where to report stage timings (e.g. ``click.echo``).
    """
    seed = _seed(settings)
    say = echo or log.info
    export, prep, times = export_and_prepare(graph, settings, dataset, progress=progress, export=export, say=say)
    t = time.perf_counter()
    fitres = fit(prep, settings, seed=seed, progress=progress)
    times["train"] = time.perf_counter() - t
    return finish_run(graph, settings, dataset, export, prep, fitres, times, write=write, say=say)


def learn_personas(graph: Graph, settings: Settings, dataset: str | None, *, progress: bool = True,
                   export: KGExport | None = None) -> tuple[list[str], np.ndarray]:
    """Train ``persona.learner`` on the train-split export exactly as :func:`train_personas` does and return
    ``(user ids, personas)`` without writing to Neo4j or the model store (the evaluation's reference rows:
    HDGI personas beside another learner's stored ones). ``export``: reuse one (:func:`export_train_graph`)."""
    seed = _seed(settings)
    _, prep, _ = export_and_prepare(graph, settings, dataset, progress=progress, export=export, say=log.info)
    t = time.perf_counter()
    fitres = fit(prep, settings, seed=seed, progress=progress)
    personas, _ = embed_all(fitres.model, prep, learner=fitres.learner)
    log.info("%s personas in memory: %d epochs in %.1f s", settings.persona.learner, len(fitres.loss_curve),
             time.perf_counter() - t)
    return list(prep.user_ids), personas


def export_train_graph(graph: Graph, settings: Settings, dataset: str | None, *, progress: bool = True
                       ) -> KGExport:
    """The train-split export every persona learner reads (``persona.item_features``; the learner plays no
    part), so one export can serve :func:`train_personas` and :func:`learn_personas` alike."""
    return export_graph(graph, dataset, item_features=settings.persona.item_features,
                        random_dim=settings.embed.dimensions, seed=_seed(settings), progress=progress)


def export_and_prepare(graph: Graph, settings: Settings, dataset: str | None, *, progress: bool,
                       export: KGExport | None, say: Callable[[str], None]
                       ) -> tuple[KGExport, PreparedGraph, dict[str, float]]:
    """The first stages of :func:`train_personas`: the train-split export (unless given) and the metapath
    adjacencies; returns them with their timings."""
    cfg, seed = settings.persona, _seed(settings)
    times: dict[str, float] = {}
    t = time.perf_counter()
    if export is None:
        export = export_train_graph(graph, settings, dataset, progress=progress)
        times["export"] = time.perf_counter() - t
        say(f"exported {len(export.ids['user'])} users, {len(export.ids['item'])} items, "
            f"{export.data['user', 'interacted', 'item'].edge_index.shape[1]} train edges in {times['export']:.1f} s")
    else:
        times["export"] = 0.0
    t = time.perf_counter()
    prep = prepare(export, cfg.metapaths, cfg.max_neighbors, seed)
    times["metapaths"] = time.perf_counter() - t
    say(f"metapaths ({times['metapaths']:.1f} s): " + ", ".join(
        f"{mp.name} {int(a.nnz)}" for mp, a in zip(prep.metapaths, prep.adjs, strict=True)))
    return export, prep, times


def finish_run(graph: Graph, settings: Settings, dataset: str | None, export: KGExport, prep: PreparedGraph,
               fitres: FitResult, times: dict[str, float], *, write: bool, say: Callable[[str], None]
               ) -> PersonaRunSummary:
    """The last stages of :func:`train_personas` on a trained model: final personas, the model store and
    (with ``write``) the atomic write-back and ``PersonaRun`` node."""
    cfg, seed = settings.persona, _seed(settings)
    edges = {mp.name: int(a.nnz) for mp, a in zip(prep.metapaths, prep.adjs, strict=True)}
    personas, beta = embed_all(fitres.model, prep, learner=fitres.learner)
    say(f"trained {len(fitres.loss_curve)} epochs in {times['train']:.1f} s; best loss "
        f"{fitres.best_loss:.4f} at epoch {fitres.best_epoch}")
    run_id = f"{cfg.learner}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    ref = save_model(settings.model_store, f"personas/{run_id}", fitres, prep, beta, settings, export)
    version = 0
    if write:
        t = time.perf_counter()
        run = {"id": run_id, "model": type(fitres.learner).model_name, "learner": cfg.learner, "dataset": dataset,
               "config": json.dumps({**cfg.model_dump(mode="json"), "seed": seed}, sort_keys=True),
               "loss_curve": [float(v) for v in fitres.loss_curve],
               "metapaths": [mp.name for mp in prep.metapaths], "attention": [float(b) for b in beta],
               "users": len(prep.user_ids), "epochs": len(fitres.loss_curve), "best_loss": fitres.best_loss,
               "model_key": ref.key, "model_sha256": ref.sha256}
        version = write_back(graph, prep.user_ids, personas, run)
        times["write"] = time.perf_counter() - t
        say(f"wrote {len(prep.user_ids)} personas (version {version}, run {run_id}) in {times['write']:.1f} s")
    return PersonaRunSummary(run_id=run_id, version=version, dataset=dataset, learner=cfg.learner,
                             users=len(prep.user_ids),
                             items=len(export.ids["item"]), metapaths=[mp.name for mp in prep.metapaths],
                             attention=[float(b) for b in beta], edges=edges, epochs=len(fitres.loss_curve),
                             best_epoch=fitres.best_epoch, best_loss=fitres.best_loss,
                             loss_curve=fitres.loss_curve, model_key=ref.key, model_sha256=ref.sha256,
                             seconds=times)
