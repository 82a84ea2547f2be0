"""Data-parallel persona training with ``torch.distributed`` (``personas train --nproc N`` or ``torchrun``).

Every process (rank) holds the whole prepared graph and the same model; what is split is the work of
each step. All ranks draw the epoch's randomness from the same seed (model init, batch order,
corruption permutation: :func:`personarec.persona.train.fit_loop`), so they agree on every global batch
of ``B`` users without talking. Rank ``r`` takes the ``r``-th contiguous slice of the batch
(``numpy.array_split``), computes its part of the loss, and the gradients are summed over ranks before
the identical Adam step on every rank.

Why the sum is the one-process update: the learners' losses are *not* sums of independent per-user
terms. HDGI's semantic attention ``β = softmax(mean_i qᵀ tanh(W h_i^Φ + b))`` (Eqs. 4-5) and its summary
``s = σ(mean_i h_i)`` (Eq. 7) are means over the batch; HeCo's InfoNCE (Eqs. 10-12) contrasts every user
with every other user of the batch. Here each rank writes the loss as
``(1/B) Σ_{i in its shard} ℓ_i(global statistics)``, where the batch statistics are computed by a
*differentiable* all-reduce (:class:`_GlobalSum`: forward sums over ranks, backward sums the gradients
over ranks). The sum over ranks of the shard losses is then exactly the full-batch loss, and the sum of
the ranks' gradients exactly its gradient (chain rule through the all-reduce), up to the order of float
additions. For HeCo the projected views of the whole batch are all-gathered (differentiably), so each
rank scores its users against all ``B`` users with the same positives. Nothing is approximated: the
tests check 2 ranks against 1 process to 1e-5 on the trained weights.

Full batch (every user in one batch) splits the dense work too: each rank projects only its own users'
features (``X W^Φ``, the bulk of a step) and all-gathers the projections (:class:`FullShard`);
mini-batches restrict each rank's rows of ``Â^Φ`` to the columns they touch, as one process does.
The all-gather is an all-reduce of a zero-padded ``[B, C]`` tensor (any shard sizes, one collective
type); at many ranks an all-gather would move half the bytes.

Launch: :func:`fit_spawn` starts ``N`` local processes (``torch.multiprocessing`` spawn, gloo, a
rendezvous store in the parent on a free port); under ``torchrun`` each rank exports and prepares the
graph itself (checked identical by fingerprint) and only rank 0 writes the personas and the model.
Persona training runs on CPU tensors, so the backend is gloo (NCCL would need the training on GPUs).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn import functional as F

from personarec import store as model_store
from personarec.config import Settings, TorchrunEnv
from personarec.graph.connection import Graph
from personarec.graph.export import KGExport
from personarec.persona.learners import Batch, Learner, item_rows, make_learner, torch_sparse
from personarec.persona.metapath import PreparedGraph
from personarec.persona.model import MetapathGCN, SemanticAttention
from personarec.persona.struct import rewire
from personarec.persona.train import (
    FitResult,
    PersonaError,
    PersonaRunSummary,
    _seed,
    export_and_prepare,
    finish_run,
    fit_loop,
)

log = logging.getLogger(__name__)

BACKEND = "gloo"  # the persona tensors live on the CPU


# ------------------------------------------------------------------------------------ collectives
def _world() -> tuple[int, int]:
    """``(rank, world size)``; ``(0, 1)`` without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _GlobalSum(torch.autograd.Function):
    """Sum of a tensor over all ranks, differentiable: the gradient of a rank's input is the sum over
    ranks of the gradients of the output (each rank's loss uses the same global value)."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor) -> Tensor:
        out = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        out = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out


class Shard:
    """One rank's part of a global batch.

    Attributes:
        all_rows: the global batch (user indices), the same on every rank.
        rows: this rank's contiguous slice of it.
        offset: where ``rows`` starts in ``all_rows``.
        total: ``B``, the global batch size (the denominator of every batch mean).
    """

    def __init__(self, all_rows: np.ndarray, rank: int, world: int) -> None:
        parts = np.array_split(np.asarray(all_rows), world)
        self.all_rows, self.rows = np.asarray(all_rows), parts[rank]
        self.offset = int(sum(len(p) for p in parts[:rank]))
        self.total = len(all_rows)
        self.world = world

    def sum(self, t: Tensor) -> Tensor:
        """``t`` summed over ranks (differentiable); ``t`` itself on one process."""
        return _GlobalSum.apply(t) if self.world > 1 else t

    def mean(self, per_user: Tensor) -> Tensor:
        """The batch mean over users (dim 0 of ``per_user``, this rank's users) of the global batch."""
        return self.sum(per_user.sum(dim=0)) / self.total

    def gather(self, t: Tensor) -> Tensor:
        """``[b, ...]`` of every rank stacked in batch order into ``[B, ...]``, differentiable (zeros
        around this rank's slice, summed over ranks: works for unequal shard sizes)."""
        if self.world == 1:
            return t
        before = t.new_zeros((self.offset, *t.shape[1:]))
        after = t.new_zeros((self.total - self.offset - len(t), *t.shape[1:]))
        return self.sum(torch.cat([before, t, after], dim=0))

    def count(self, n: int) -> int:
        """An integer summed over ranks (not differentiable)."""
        if self.world == 1:
            return n
        t = torch.tensor([n], dtype=torch.int64)
        dist.all_reduce(t)
        return int(t.item())


# ------------------------------------------------------------------------------------ shard losses
class FullShard(Batch):
    """This rank's slice of a full batch on several ranks: its rows of every ``Â^Φ`` over *all* ``N``
    columns and its own users' features. Its GCN inputs are projected here for its own users only and
    all-gathered (:func:`_embeddings`), so the dense ``X W^Φ`` (the bulk of a full-batch step) is split
    ``world`` ways instead of every rank projecting the ~all users its rows touch."""

    def __init__(self, prep: PreparedGraph, shard: Shard) -> None:
        rows = shard.rows
        x_self = prep.x[torch.from_numpy(rows)]
        super().__init__(rows, x_self, [x_self] * len(prep.adjs), [torch_sparse(a[rows]) for a in prep.adjs])


def _project(model: nn.Module, xs_own: list[Tensor], shard: Shard) -> list[Tensor]:
    """``X W^Φ`` of every user, each rank projecting its own users (full batch: batch order = user order)."""
    gcns = cast(nn.ModuleList, model.gcns)
    return [shard.gather(cast(MetapathGCN, g).lin(x)) for g, x in zip(gcns, xs_own, strict=True)]


def _propagate(model: nn.Module, ys: list[Tensor], adjs: list[Tensor]) -> Tensor:
    """``H^Φ = PReLU(Â^Φ[rows] (X W^Φ) + b^Φ)`` (HDGI Eq. 2) from all-gathered projections, stacked."""
    gcns = [cast(MetapathGCN, g) for g in cast(nn.ModuleList, model.gcns)]
    return torch.stack([g.act(torch.sparse.mm(a, y) + g.bias) for g, a, y in zip(gcns, adjs, ys, strict=True)])


def _embeddings(model: nn.Module, batch: Batch, shard: Shard, xs: list[Tensor], adjs: list[Tensor]) -> Tensor:
    """``H^Φ`` ``[P, b, C]`` of the shard's users: from the column features ``xs`` (restricted layout) or, for
    a :class:`FullShard`, from the shard's own users' features ``xs`` projected and all-gathered."""
    if isinstance(batch, FullShard):
        return _propagate(model, _project(model, xs, shard), adjs)
    return cast(Tensor, model.metapath_embeddings(xs, adjs))  # type: ignore[operator]


def _fuse(model: nn.Module, hs: Tensor, shard: Shard) -> tuple[Tensor, Tensor]:
    """Fused metapath embeddings of the shard's users with the batch's semantic attention: ``β`` is the
    softmax of ``w_Φ = mean over the global batch of qᵀ tanh(W h_i^Φ + b)`` (HDGI Eqs. 4-6)."""
    att = cast(SemanticAttention, model.attention)
    w = shard.sum((torch.tanh(att.lin(hs)) @ att.q).sum(dim=1)) / shard.total
    beta = torch.softmax(w, dim=0)
    return (beta.view(-1, 1, 1) * hs).sum(dim=0), beta


def _bce_sum(pos_logits: Tensor, neg_logits: Tensor) -> Tensor:
    """BCE summed (not averaged) over real (1) and corrupted (0) users: HDGI Eq. 9 times ``b``."""
    return (F.binary_cross_entropy_with_logits(pos_logits, torch.ones_like(pos_logits), reduction="sum")
            + F.binary_cross_entropy_with_logits(neg_logits, torch.zeros_like(neg_logits), reduction="sum"))


def hdgi_shard_loss(learner: Learner, model: nn.Module, prep: PreparedGraph, batch: Batch, shard: Shard) -> Tensor:
    """This rank's share of :meth:`HDGILearner.loss`: the summary ``s = σ(mean h)`` (Eq. 7) over the
    whole batch; the corruption ``X[perm]`` is the epoch's permutation, the same on every rank."""
    perm = learner.perm  # type: ignore[attr-defined]
    assert perm is not None
    if isinstance(batch, FullShard):  # the own users' corrupted features, projected and gathered
        xs_c = [prep.x[perm[torch.from_numpy(batch.rows)]]] * len(batch.xs)
    else:
        assert batch.cols is not None
        xs_c = [prep.x[perm[c]] for c in batch.cols]
    pos, _ = _fuse(model, _embeddings(model, batch, shard, batch.xs, batch.adjs), shard)
    neg, _ = _fuse(model, _embeddings(model, batch, shard, xs_c, batch.adjs), shard)
    s = torch.sigmoid(shard.mean(pos))
    return _bce_sum(model.discriminate(pos, s), model.discriminate(neg, s)) / shard.total  # type: ignore[operator]


def struct_shard_loss(learner: Learner, model: nn.Module, prep: PreparedGraph, batch: Batch, shard: Shard) -> Tensor:
    """This rank's share of ``hdgi-struct``'s loss: the rewiring ``A^Φ P`` of a row depends on that row
    and the epoch's ``P`` only, and the summary is per user, so only the attention is global."""
    if isinstance(batch, FullShard):  # features kept, so the rewired rows reuse the same projections
        perm = learner.perm  # type: ignore[attr-defined]
        ys = _project(model, batch.xs, shard)
        pos_hs = _propagate(model, ys, batch.adjs)
        neg_hs = _propagate(model, ys, [torch_sparse(rewire(a, batch.rows, perm)) for a in prep.adjs])
    else:
        xs_c, adjs_c = learner.corrupted(prep, batch.rows)  # type: ignore[attr-defined]
        pos_hs = _embeddings(model, batch, shard, batch.xs, batch.adjs)
        neg_hs = _embeddings(model, batch, shard, xs_c, adjs_c)
    pos, _ = _fuse(model, pos_hs, shard)
    neg, _ = _fuse(model, neg_hs, shard)
    s = model.local_summary(batch.x_self)  # type: ignore[operator]
    return _bce_sum(model.local_logits(pos, s), model.local_logits(neg, s)) / shard.total  # type: ignore[operator]


def heco_shard_loss(learner: Learner, model: nn.Module, prep: PreparedGraph, batch: Batch, shard: Shard) -> Tensor:
    """This rank's rows of HeCo's cross-view InfoNCE (Eqs. 10-12) and of the intra-view term, each user
    of the shard against all ``B`` users of the batch (all-gathered projections), the positives of
    ``learner.pos`` restricted to the batch as on one process."""
    tau, lam = float(learner.options["tau"]), 0.5
    z_mp, _ = _fuse(model, _embeddings(model, batch, shard, batch.xs, batch.adjs), shard)
    z_sc = model.schema(batch.x_self, item_rows(prep.ui, batch.rows) if prep.ui is not None else None)  # type: ignore[operator]
    a = F.normalize(model.proj(z_mp), dim=1)  # type: ignore[operator]
    b = F.normalize(model.proj(z_sc), dim=1)  # type: ignore[operator]
    a_all, b_all = shard.gather(a), shard.gather(b)
    pos = torch.from_numpy(learner.pos[shard.rows][:, shard.all_rows].toarray() > 0)  # type: ignore[attr-defined]
    neg_inf = torch.finfo(a.dtype).min

    def infonce(m: Tensor, mask: Tensor) -> Tensor:  # summed over this rank's rows
        return (torch.logsumexp(m, dim=1) - torch.logsumexp(m.masked_fill(~mask, neg_inf), dim=1)).sum()

    # row j of logits.T (schema view of j vs metapath views of the batch) is masked by j's own positives
    loss = (lam * infonce(b @ a_all.T / tau, pos) + (1 - lam) * infonce(a @ b_all.T / tau, pos)) / shard.total
    weight = float(learner.options["intra"])
    if weight > 0:
        local = torch.arange(len(b))
        eye = torch.zeros_like(pos)
        eye[local, shard.offset + local] = True
        logits = (b @ b_all.T / tau).masked_fill(eye, neg_inf)
        others = pos & ~eye
        has = others.any(dim=1)
        rows_with_positives = shard.count(int(has.sum()))
        if rows_with_positives:  # the same on every rank: the branch keeps the collectives in step
            num = torch.logsumexp(logits.masked_fill(~others, neg_inf), dim=1)
            loss = loss + weight * (torch.logsumexp(logits, dim=1) - num)[has].sum() / rows_with_positives
    return loss


#: learner name -> this rank's share of its loss
SHARD_LOSSES: dict[str, Callable[[Learner, nn.Module, PreparedGraph, Batch, Shard], Tensor]] = {
    "hdgi": hdgi_shard_loss, "hdgi-struct": struct_shard_loss, "heco": heco_shard_loss}


def shard_loss(learner: Learner, model: nn.Module, prep: PreparedGraph, batch: Batch, shard: Shard) -> Tensor:
    """This rank's share of ``learner``'s batch loss; the shares sum over ranks to the full-batch loss."""
    if learner.name not in SHARD_LOSSES:
        raise PersonaError(f"learner {learner.name!r} has no data-parallel loss; use --nproc 1.")
    return SHARD_LOSSES[learner.name](learner, model, prep, batch, shard)


def _sum_gradients(model: nn.Module, loss: Tensor, world: int) -> float:
    """Sum every gradient and the loss over ranks in one all-reduce; a parameter without a gradient on
    any rank keeps none (so Adam skips it as on one process). Returns the global loss."""
    if world == 1:
        return float(loss.detach())
    params = [p for p in model.parameters() if p.requires_grad]
    has = torch.tensor([float(p.grad is not None) for p in params])
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
                     + [has, loss.detach().reshape(1).to(has.dtype)])
    dist.all_reduce(flat)
    at = 0
    for p in params:
        p.grad = flat[at:at + p.numel()].view_as(p).clone()
        at += p.numel()
    for p, h in zip(params, flat[at:at + len(params)].tolist(), strict=True):
        if h == 0:
            p.grad = None
    return float(flat[-1])


class ShardedStep:
    """The data-parallel step for :func:`personarec.persona.train.fit_loop`: this rank's shard of the
    global batch, its share of the loss, gradients summed over ranks, the same Adam step everywhere."""

    def __init__(self, prep: PreparedGraph, rank: int, world: int) -> None:
        self.prep, self.rank, self.world = prep, rank, world
        self._full: Batch | None = None

    def __call__(self, learner: Learner, model: nn.Module, opt: torch.optim.Optimizer, rows: np.ndarray,
                 full: bool) -> float:
        shard = Shard(rows, self.rank, self.world)
        # Full batch is one global batch of every user, in order: each rank's slice is the same every
        # epoch, so it is built once; on one rank the restricted layout is the one-process computation.
        if full and self.world > 1:
            if self._full is None:
                self._full = FullShard(self.prep, shard)
            batch: Batch = self._full
        else:
            batch = Batch.of_rows(self.prep.adjs, self.prep.x, shard.rows)
        opt.zero_grad()
        loss = shard_loss(learner, model, self.prep, batch, shard)
        loss.backward()
        total = _sum_gradients(model, loss, self.world)
        opt.step()
        return total * len(rows)


# ------------------------------------------------------------------------------------ training
def graph_fingerprint(prep: PreparedGraph) -> str:
    """sha256 of what training reads (user ids, features, adjacencies): ranks that prepared the graph
    themselves must agree on it."""
    h = hashlib.sha256()
    h.update("\n".join(prep.user_ids).encode())
    h.update(prep.x.numpy().tobytes())
    for a in prep.adjs:
        for part in (a.indptr, a.indices, a.data):
            h.update(np.ascontiguousarray(part).tobytes())
    return h.hexdigest()


def check_same_graph(prep: PreparedGraph) -> None:
    """Raise :class:`PersonaError` unless every rank holds the same prepared graph."""
    rank, world = _world()
    if world == 1:
        return
    prints: list[Any] = [None] * world
    dist.all_gather_object(prints, graph_fingerprint(prep))
    if len(set(prints)) != 1:
        raise PersonaError(f"the ranks prepared different graphs (fingerprints {sorted(set(prints))}); every "
                           "rank must export the same dataset from the same database with the same settings.")


def fit_distributed(prep: PreparedGraph, settings: Settings, *, seed: int, progress: bool = True,
                    on_epoch: Callable[[int, float], None] | None = None) -> FitResult:
    """:func:`personarec.persona.train.fit` data-parallel over the initialised process group: the same
    seed, batches, early stopping and result as one process (up to float summation order)."""
    rank, world = _world()
    res = fit_loop(prep, settings, seed=seed, progress=progress and rank == 0, on_epoch=on_epoch,
                   step=ShardedStep(prep, rank, world))
    if world > 1:
        # The ranks applied identical updates; confirm, and take rank 0's weights exactly.
        for name, t in res.model.state_dict().items():
            ref = t.detach().clone()
            dist.broadcast(ref, src=0)
            diff = float((ref - t).abs().max()) if t.numel() else 0.0
            if diff > 0:
                log.warning("rank %d: %s differs from rank 0 by %.3g; using rank 0's", rank, name, diff)
                t.copy_(ref)
    return res


def _spawned(rank: int, world: int, port: int, prep: PreparedGraph, runs: list[Settings], seed: int,
             progress: bool, out: str) -> None:
    """One spawned rank: join the parent's store, train each of ``runs``, rank 0 saves the results."""
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    store = dist.TCPStore("127.0.0.1", port, world_size=None, is_master=False, timeout=timedelta(minutes=10))
    dist.init_process_group(BACKEND, store=store, rank=rank, world_size=world)
    try:
        for k, settings in enumerate(runs):
            res = fit_distributed(prep, settings, seed=seed, progress=progress)
            if rank == 0:
                # the model store's format (safetensors + JSON): nothing unpickled on the way back
                model_store.write(Path(out) / f"result-{k}", dict(res.model.state_dict()),
                                  {"curve": res.loss_curve, "best_epoch": res.best_epoch, "best_loss": res.best_loss,
                                   "epoch_seconds": res.epoch_seconds, "options": res.learner.options})
    finally:
        dist.destroy_process_group()


def fit_spawn(prep: PreparedGraph, settings: Settings, *, seed: int, nproc: int, progress: bool = True) -> FitResult:
    """Train in ``nproc`` local processes (spawned, gloo; ``cpu_count // nproc`` torch threads each) and
    return rank 0's result here. ``nproc = 1`` trains in this process."""
    return fit_spawn_each(prep, [settings], seed=seed, nproc=nproc, progress=progress)[0]


def fit_spawn_each(prep: PreparedGraph, runs: list[Settings], *, seed: int, nproc: int, progress: bool = True
                   ) -> list[FitResult]:
    """:func:`fit_spawn` for several settings on one graph (a sweep over learners or learning rates),
    one after another in the same ``nproc`` processes: process start-up and rendezvous are paid once."""
    if nproc <= 1:
        from personarec.persona.train import fit

        return [fit(prep, settings, seed=seed, progress=progress) for settings in runs]
    import torch.multiprocessing as mp

    # The rendezvous store lives here, on a port the OS picks: no race for a "free" port.
    store = dist.TCPStore("127.0.0.1", 0, world_size=None, is_master=True, wait_for_workers=False,
                          timeout=timedelta(minutes=10))
    fits: list[FitResult] = []
    with tempfile.TemporaryDirectory(prefix="personarec-ddp-") as out:
        try:
            mp.start_processes(_spawned, args=(nproc, store.port, prep, list(runs), seed, progress, out),
                               nprocs=nproc, join=True, start_method="spawn")
        except mp.ProcessRaisedException as exc:
            raise PersonaError(f"distributed persona training failed: {exc}") from exc
        for k, settings in enumerate(runs):
            state, result = model_store.read(Path(out) / f"result-{k}")
            cfg = settings.persona
            learner = make_learner(cfg.learner, result["options"])
            model = learner.build(prep.x.shape[1], cfg.dimensions, len(prep.adjs), cfg.attention_dim)
            model.load_state_dict(state)
            fits.append(FitResult(model, list(result["curve"]), int(result["best_epoch"]),
                                  float(result["best_loss"]), float(result["epoch_seconds"]), learner))
    del store
    return fits


def init_from_torchrun(launched: TorchrunEnv) -> None:
    """Join the ``torchrun`` process group (gloo; torch's ``env://`` reads MASTER_ADDR/MASTER_PORT)."""
    if not dist.is_initialized():
        dist.init_process_group(BACKEND, init_method="env://", rank=launched.rank, world_size=launched.world_size)


def train_personas_distributed(graph: Graph, settings: Settings, dataset: str | None = None, *,
                               launched: TorchrunEnv | None = None, progress: bool = True, write: bool = True,
                               export: KGExport | None = None, echo: Callable[[str], None] | None = None
                               ) -> PersonaRunSummary | None:
    """:func:`personarec.persona.train_personas` with data-parallel training.

    ``launched`` (from :func:`personarec.config.torchrun_env`): this process is one ``torchrun`` rank;
    every rank exports and prepares the graph (checked identical), trains its shards, and rank 0 alone
    embeds, saves the model and writes the personas (the other ranks return ``None``). Without it:
    export and prepare here, train in ``persona.nproc`` spawned local processes, finish here.
    """
    seed, say = _seed(settings), echo or log.info
    if launched is None:
        export, prep, times = export_and_prepare(graph, settings, dataset, progress=progress, export=export, say=say)
        t = time.perf_counter()
        fitres = fit_spawn(prep, settings, seed=seed, nproc=settings.persona.nproc, progress=progress)
        times["train"] = time.perf_counter() - t
        say(f"trained data-parallel in {settings.persona.nproc} processes (gloo)")
        return finish_run(graph, settings, dataset, export, prep, fitres, times, write=write, say=say)
    init_from_torchrun(launched)
    try:
        lead = launched.rank == 0
        quiet: Callable[[str], None] = say if lead else log.debug
        export, prep, times = export_and_prepare(graph, settings, dataset, progress=progress and lead,
                                                 export=export, say=quiet)
        check_same_graph(prep)
        t = time.perf_counter()
        fitres = fit_distributed(prep, settings, seed=seed, progress=progress)
        times["train"] = time.perf_counter() - t
        if not lead:
            return None
        say(f"trained data-parallel on {launched.world_size} ranks (torchrun, gloo)")
        return finish_run(graph, settings, dataset, export, prep, fitres, times, write=write, say=say)
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> None:
    """``python -m personarec.persona.distributed [options]`` = ``personarec personas train [options]``, for
    ``torchrun --nproc_per_node N -m personarec.persona.distributed --dataset D``."""
    from personarec.cli import main as cli

    cli.main(args=["personas", "train", *(sys.argv[1:] if argv is None else argv)], prog_name="personarec")


if __name__ == "__main__":  # pragma: no cover
    main()
