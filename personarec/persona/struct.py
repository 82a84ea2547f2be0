"""``hdgi-struct``: HDGI with a structural corruption and a skip path.

Why: with DGI's readout ``s = σ(mean h)`` the summary is nearly constant, so DGI/HDGI reduce to telling
real rows from row-shuffled ones (group discrimination; GGD, Zheng et al. 2022, arXiv 2206.01535).
With rich user features that is trivial (the HDGI loss reaches ~1e-4) and says nothing about the graph.
Here the corruption keeps every user's own features and rewires the metapath structure instead:
``A'^Φ = A^Φ P`` for a random permutation ``P`` of users (the self loop kept), so each user keeps its
degree but gets random neighbours. The discriminator asks "is this the user's neighbourhood?": it
scores the fused metapath embedding against a *per-user* summary ``s_i = σ(W_s x_i)`` (the user's own
projected features) instead of DGI's global readout, ``D = σ(H_iᵀ M s_i)`` (DGI, Veličković et al.
2019, arXiv 1809.10341, Eq. 4, with a local summary), trained with BCE as HDGI Eq. 9.

Persona: ``Σ_Φ β_Φ H^Φ + w · W_s X`` — the skip path keeps what is personal, which metapath smoothing
washes out (docs/personas.md, measured).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from personarec.config import PersonaConfig
from personarec.persona.learners import Batch, Learner, restrict
from personarec.persona.model import HDGI

if TYPE_CHECKING:
    from personarec.persona.metapath import PreparedGraph


def rewire(adj: sp.csr_matrix, rows: np.ndarray, perm: np.ndarray) -> sp.csr_matrix:
    """Rows ``rows`` of ``A P``: every off-diagonal entry ``(i, j)`` moves to column ``perm[j]``, the self
    loop ``(i, i)`` stays. Row degrees and weights are kept; only who the neighbours are changes.

    A neighbour that ``P`` sends onto the user itself (about one per row in ``N / degree``) goes to the next
    permuted user not yet in the row, so no row gains a second self loop or a duplicate neighbour."""
    sub = adj[rows]
    owner = np.repeat(np.asarray(rows, dtype=np.int64), np.diff(sub.indptr))
    cols = sub.indices.astype(np.int64)
    self_loop = cols == owner
    moved = np.where(self_loop, cols, perm[cols])
    n = len(perm)
    for e in np.flatnonzero(~self_loop & (moved == owner)):
        r = int(np.searchsorted(sub.indptr, e, side="right")) - 1
        taken = set(moved[sub.indptr[r]:sub.indptr[r + 1]].tolist())
        step = 1
        while int(perm[(cols[e] + step) % n]) in taken and step < n:
            step += 1
        moved[e] = perm[(cols[e] + step) % n]
    return sp.csr_matrix((sub.data, moved, sub.indptr), shape=sub.shape)


class StructHDGI(HDGI):
    r"""HDGI plus a skip projection ``W_s`` of the user's own features (persona size).

    Args:
        in_channels: user feature size.
        hidden_channels: persona size.
        num_metapaths: one GCN per metapath.
        attention_channels: hidden size of the semantic attention.
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_metapaths: int,
                 attention_channels: int = 128) -> None:
        super().__init__(in_channels, hidden_channels, num_metapaths, attention_channels)
        self.skip = nn.Linear(in_channels, hidden_channels)

    def local_summary(self, x_self: Tensor) -> Tensor:
        """``s_i = σ(W_s x_i)``: the user's own summary, against which its neighbourhood is scored."""
        return torch.sigmoid(self.skip(x_self))

    def local_logits(self, h: Tensor, s: Tensor) -> Tensor:
        """Bilinear ``h_iᵀ M s_i`` per user (DGI Eq. 4 with a per-user summary)."""
        return ((h @ self.weight) * s).sum(dim=1)


class StructLearner(Learner):
    """``hdgi-struct`` (see the module docstring). Option ``skip``: the weight ``w`` of ``W_s X`` in the
    persona."""

    name = "hdgi-struct"
    model_name = "HDGI-struct"

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__({"skip": 1.0, **(options or {})})
        self.perm: np.ndarray | None = None

    @classmethod
    def options_from(cls, cfg: PersonaConfig) -> dict[str, Any]:
        return {"skip": cfg.skip}

    def build(self, in_channels: int, hidden_channels: int, num_metapaths: int, attention_channels: int
              ) -> nn.Module:
        return StructHDGI(in_channels, hidden_channels, num_metapaths, attention_channels)

    def start_epoch(self, n: int, gen: torch.Generator) -> None:
        # A permutation of users, drawn from the train-only adjacency's user set: no valid/test edge enters.
        self.perm = torch.randperm(n, generator=gen).numpy()

    def corrupted(self, prep: PreparedGraph, rows: np.ndarray) -> tuple[list[Tensor], list[Tensor]]:
        """Column features and sparse rows of the rewired ``Â^Φ P`` for ``rows``, per metapath."""
        assert self.perm is not None
        xs, adjs = [], []
        for adj in prep.adjs:
            a, xc, _ = restrict(rewire(adj, rows, self.perm), prep.x)
            adjs.append(a)
            xs.append(xc)
        return xs, adjs

    def loss(self, model: nn.Module, prep: PreparedGraph, batch: Batch, full_adjs: list[Tensor] | None
             ) -> Tensor:
        assert isinstance(model, StructHDGI)
        pos, _ = model.encode(batch.xs, batch.adjs)
        xs_c, adjs_c = self.corrupted(prep, batch.rows)
        neg, _ = model.encode(xs_c, adjs_c)
        s = model.local_summary(batch.x_self)
        lp, ln = model.local_logits(pos, s), model.local_logits(neg, s)
        return (F.binary_cross_entropy_with_logits(lp, torch.ones_like(lp))
                + F.binary_cross_entropy_with_logits(ln, torch.zeros_like(ln)))

    def persona(self, model: nn.Module, stacked: Tensor, beta: Tensor, x_self: Tensor,
                items: Tensor | None = None) -> Tensor:
        assert isinstance(model, StructHDGI)
        return super().persona(model, stacked, beta, x_self) + float(self.options["skip"]) * model.skip(x_self)
