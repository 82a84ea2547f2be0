"""Persona learners behind one interface: ``hdgi``, ``hdgi-struct`` and ``heco``.

A learner owns what differs between self-supervised objectives — the module, the corruption or the
positives, and the loss — while :mod:`personarec.persona.train` keeps the export, the metapath
adjacencies, the full-batch / mini-batch loop, early stopping, the write-back and the model store
generic. Every learner encodes a user from the same inputs (its own features ``x`` and the rows of
each normalised metapath adjacency ``Â^Φ``) with per-metapath GCNs and semantic attention (HDGI
Eqs. 2-6, Ren et al. 2019, arXiv 1911.08538), so cold start (:mod:`personarec.persona.infer`) only asks
the learner how to turn the stacked ``H^Φ``, the run's ``β`` and ``x`` into the persona.

* ``hdgi`` — :class:`personarec.persona.model.HDGI`, the paper's model (reference);
* ``hdgi-struct`` — :mod:`personarec.persona.struct`: structural corruption + a skip path;
* ``heco`` — :mod:`personarec.persona.heco`: HeCo co-contrastive learning (Wang et al. 2021).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from personarec.config import PersonaConfig
from personarec.persona.model import HDGI

if TYPE_CHECKING:
    from personarec.persona.metapath import PreparedGraph

LearnerName = Literal["hdgi", "hdgi-struct", "heco"]
#: Learner name -> ``module:Class`` (imported on demand: the learner modules import this one).
_REGISTRY: dict[str, str] = {"hdgi": "personarec.persona.learners:HDGILearner",
                             "hdgi-struct": "personarec.persona.struct:StructLearner",
                             "heco": "personarec.persona.heco:HeCoLearner"}
assert set(_REGISTRY) == set(get_args(LearnerName))  # the config Literal and the registry agree


# ------------------------------------------------------------------------------------- batching
def torch_sparse(m: sp.csr_matrix) -> Tensor:
    """A scipy matrix as a coalesced torch COO tensor (float32)."""
    m = m.tocoo()
    idx = torch.from_numpy(np.vstack([m.row, m.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(m.data.astype(np.float32)), m.shape,
                                   check_invariants=False).coalesce()


def restrict(sub: sp.csr_matrix, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``sub`` (target rows x all users) restricted to the columns it touches: the sparse ``[B, C]``
    tensor, the features of those columns and their user indices."""
    cols = np.unique(sub.indices)
    remap = np.full(sub.shape[1], -1, dtype=np.int64)
    remap[cols] = np.arange(len(cols))
    sub = sp.csr_matrix((sub.data, remap[sub.indices], sub.indptr), shape=(sub.shape[0], len(cols)))
    cols_t = torch.from_numpy(cols)
    return torch_sparse(sub), x[cols_t], cols_t


def gather(mats: list[sp.csr_matrix], x: Tensor, rows: np.ndarray, perm: Tensor | None = None
           ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """Per matrix: its ``rows`` restricted to the columns they touch, those columns' features, and (with
    ``perm``) the row-shuffled features ``x[perm]`` of the same columns (else the features again)."""
    xs, xs_c, adjs = [], [], []
    for adj in mats:
        a, xc, cols = restrict(adj[rows], x)
        adjs.append(a)
        xs.append(xc)
        xs_c.append(x[perm[cols]] if perm is not None else xc)
    return xs, xs_c, adjs


def item_rows(ui: sp.csr_matrix, rows: np.ndarray) -> Tensor:
    """Rows ``rows`` of the user x item matrix ``ui``, each row divided by its sum (mean aggregation)."""
    sub = ui[rows]
    size = np.maximum(np.asarray(sub.sum(axis=1)).ravel(), 1.0)
    return torch_sparse((sp.diags(1.0 / size) @ sub).tocsr())


class Batch:
    """The inputs of one training step: the target ``rows``, their own features ``x_self`` and, per
    metapath, the column features ``xs``, sparse rows ``adjs`` and column user indices ``cols``
    (full batch: all of ``Â^Φ`` and ``X``, ``cols`` ``None``)."""

    def __init__(self, rows: np.ndarray, x_self: Tensor, xs: list[Tensor], adjs: list[Tensor],
                 cols: list[Tensor] | None = None, aggregated: bool = False) -> None:
        self.rows, self.x_self, self.xs, self.adjs, self.cols = rows, x_self, xs, adjs, cols
        #: ``xs`` are the batch rows of ``Â^Φ X`` already (``adjs`` empty): see :meth:`of_aggregated`
        self.aggregated = aggregated

    @classmethod
    def of_aggregated(cls, aggregated: list[Tensor], x: Tensor, rows: np.ndarray) -> Batch:
        """The mini-batch of ``rows`` from the precomputed ``Â^Φ X`` (for :attr:`Learner.static_inputs`)."""
        idx = torch.from_numpy(rows)
        return cls(rows, x[idx], [a[idx] for a in aggregated], [], aggregated=True)

    @classmethod
    def of_rows(cls, mats: list[sp.csr_matrix], x: Tensor, rows: np.ndarray) -> Batch:
        """The mini-batch of ``rows`` over the metapath matrices ``mats`` and user features ``x``."""
        xs, adjs, cols = [], [], []
        for adj in mats:
            a, xc, c = restrict(adj[rows], x)
            xs.append(xc)
            adjs.append(a)
            cols.append(c)
        return cls(rows, x[torch.from_numpy(rows)], xs, adjs, cols)


# -------------------------------------------------------------------------------------- learners
class Learner:
    """One self-supervised persona objective (see the module docstring).

    Args:
        options: the learner's hyper-parameters (plain JSON; stored in the model store meta so cold start
            rebuilds the same model).
    """

    name: ClassVar[str]
    model_name: ClassVar[str]
    #: the persona also reads the user's own items (``items`` of :meth:`persona`): the store keeps item ids
    uses_items: ClassVar[bool] = False
    #: the loss reads ``Â^Φ`` and ``X`` only as the product ``Â^Φ X`` (no corruption of either), so the
    #: one-process mini-batch loop may hand it :meth:`Batch.of_aggregated` batches
    static_inputs: ClassVar[bool] = False

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})

    @classmethod
    def options_from(cls, cfg: PersonaConfig) -> dict[str, Any]:
        """The hyper-parameters of this learner in ``cfg``."""
        return {}

    def build(self, in_channels: int, hidden_channels: int, num_metapaths: int, attention_channels: int
              ) -> nn.Module:
        raise NotImplementedError

    def setup(self, prep: PreparedGraph, seed: int) -> None:
        """Precompute what the objective needs from the (train-only) prepared graph, once per fit."""

    def start_epoch(self, n: int, gen: torch.Generator) -> None:
        """Draw the epoch's randomness (e.g. the corruption permutation) from the seeded ``gen``."""

    def param_groups(self, model: nn.Module, lr: float) -> list[dict[str, Any]]:
        """Adam parameter groups (default: one group at the configured ``lr``)."""
        return [{"params": list(model.parameters()), "lr": lr}]

    def full_batch_max(self) -> int | None:
        """The most users this objective takes in one batch (``None``: no limit of its own; the loop's
        ``persona.full_batch_max`` still applies)."""
        return None

    def max_steps(self) -> int | None:
        """Optimiser steps after which training stops, mid-epoch if need be (``None``: epochs and patience
        alone decide)."""
        return None

    def batches(self, n: int, batch: int, rng: np.random.Generator) -> list[np.ndarray] | None:
        """The epoch's mini-batches of user rows, drawn from ``rng`` (``None``: a random permutation cut
        into ``batch``-sized pieces)."""
        return None

    def loss(self, model: nn.Module, prep: PreparedGraph, batch: Batch, full_adjs: list[Tensor] | None
             ) -> Tensor:
        """The objective on ``batch`` (``full_adjs``: the whole ``Â^Φ``, given on the full-batch path)."""
        raise NotImplementedError

    def persona(self, model: nn.Module, stacked: Tensor, beta: Tensor, x_self: Tensor,
                items: Tensor | None = None) -> Tensor:
        """The persona from the per-metapath embeddings ``[P, B, C]``, the attention ``β``, the users'
        own features ``[B, F]`` and (learners that read them) their train items as a sparse row-normalised
        ``[B, items]`` matrix (HDGI Eq. 6: ``H = Σ_Φ β_Φ H^Φ``, plus what the learner adds)."""
        return (beta.view(-1, 1, 1) * stacked).sum(dim=0)


class HDGILearner(Learner):
    """HDGI as published (Ren et al. 2019, arXiv 1911.08538): row-shuffle corruption of ``X`` (Eq. 8),
    sigmoid-of-mean summary (Eq. 7) and a bilinear discriminator trained with BCE (Eq. 9)."""

    name = "hdgi"
    model_name = "HDGI"

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.perm: Tensor | None = None

    def build(self, in_channels: int, hidden_channels: int, num_metapaths: int, attention_channels: int
              ) -> nn.Module:
        return HDGI(in_channels, hidden_channels, num_metapaths, attention_channels)

    def start_epoch(self, n: int, gen: torch.Generator) -> None:
        self.perm = torch.randperm(n, generator=gen)  # corruption: row-shuffle of X, adjacency kept

    def loss(self, model: nn.Module, prep: PreparedGraph, batch: Batch, full_adjs: list[Tensor] | None
             ) -> Tensor:
        assert isinstance(model, HDGI) and self.perm is not None
        if batch.cols is None:
            xs_c = [prep.x[self.perm]] * len(batch.xs)
        else:
            xs_c = [prep.x[self.perm[c]] for c in batch.cols]
        pos, neg, s = model(batch.xs, xs_c, batch.adjs)
        return model.loss(pos, neg, s)


def learner_names() -> tuple[str, ...]:
    """The registered learner names."""
    return tuple(_REGISTRY)


def make_learner(name: str, options: dict[str, Any] | None = None) -> Learner:
    """The learner ``name`` with ``options``; ``ValueError`` for an unknown name."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown persona learner {name!r}; use one of {', '.join(_REGISTRY)}")
    module, cls = _REGISTRY[name].split(":")
    learner_cls: type[Learner] = getattr(importlib.import_module(module), cls)
    return learner_cls(options)


def learner_from_config(cfg: PersonaConfig) -> Learner:
    """The learner ``cfg.learner`` with its hyper-parameters from ``cfg``."""
    probe = make_learner(cfg.learner)
    return make_learner(cfg.learner, type(probe).options_from(cfg))
