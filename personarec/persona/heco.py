"""``heco``: HeCo co-contrastive personas (Wang et al. 2021, arXiv 2105.09111), adapted to users.

Two views of every user (HeCo Sec. 4):

* **network-schema view** — the user's 1-hop neighbours are its train items ``I(u)``, aggregated by their
  mean (HeCo Eqs. 2-5 with mean instead of node-level attention: users have one neighbour type):
  ``z^sc = PReLU(mean_{i ∈ I(u)} (W x_i + e_i) + b) = PReLU(W x_u + mean_{i ∈ I(u)} e_i + b)`` with the item
  features ``x_i`` (``x_u`` is already their mean) and a learned per-item vector ``e_i`` (zero at start).
  ``e_i`` lets the view tell apart items whose text embeddings are alike; cold start has the session's
  items, so it stays available there (an item unseen in training contributes ``W x_i`` only);
* **metapath view** — one GCN per user-user metapath and semantic attention (HeCo Eqs. 6-8; the same
  encoder as HDGI).

Both pass through a shared projection head (Eq. 9) and are contrasted with InfoNCE at temperature ``τ``
in both directions (Eqs. 10-12, ``L = λ L^sc + (1-λ) L^mp``, ``λ = 0.5``), plus ``intra`` times an
intra-view InfoNCE on the schema view (our addition; measured in docs/personas.md). The positives of a
user (Sec. 4.4) are the user itself and the ``P - 1`` users sharing the most metapath instances with it,
all from the **train split**: ``positives_from = "items"`` counts the U-I-U instances (shared train items)
exactly, cosine-normalised; ``"metapaths"`` sums the sampled metapath path counts as HeCo does, each
metapath scaled by its mean count. Negatives are all other users of the batch. The persona is the view
named by ``view`` (``metapath`` as in HeCo, ``schema``, or ``both``: the sum of the two L2-normalised
views over √2).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from personarec.config import PersonaConfig
from personarec.persona.learners import Batch, Learner, item_rows
from personarec.persona.model import MetapathGCN, SemanticAttention

if TYPE_CHECKING:
    from personarec.persona.metapath import PreparedGraph


def positives(counts: list[sp.csr_matrix], p: int, seed: int, cosine: bool = True) -> sp.csr_matrix:
    """Binary ``N x N``: row ``i`` holds ``i`` and its top ``p - 1`` users by summed metapath path counts
    (HeCo Sec. 4.4), each metapath scaled by its mean count; ``cosine`` first divides a count by
    ``sqrt(n_i n_j)`` (``n``: the user's paths of that metapath), so heavy users are not everyone's
    positive. Ties are broken with a seeded jitter far below one count."""
    n = counts[0].shape[0]
    total = sp.csr_matrix((n, n), dtype=np.float64)
    for c in counts:
        c = sp.csr_matrix(c, dtype=np.float64)
        c.setdiag(0.0)
        c.eliminate_zeros()
        if cosine and c.nnz:
            size = np.sqrt(np.maximum(np.asarray(c.sum(axis=1)).ravel(), 1e-12))
            size_t = np.sqrt(np.maximum(np.asarray(c.sum(axis=0)).ravel(), 1e-12))
            c = (sp.diags(1.0 / size) @ c @ sp.diags(1.0 / size_t)).tocsr()
        if c.nnz:
            total = total + c / float(c.data.mean())
    total = total.tocsr()
    total.sum_duplicates()
    rows = np.repeat(np.arange(n), np.diff(total.indptr))
    cols, vals = total.indices.astype(np.int64), total.data
    score = vals + 1e-6 * np.random.default_rng(seed).random(len(vals))
    order = np.lexsort((-score, rows))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - total.indptr[rows[order]]
    keep = rank < max(p - 1, 0)
    r = np.concatenate([rows[keep], np.arange(n)])
    c2 = np.concatenate([cols[keep], np.arange(n)])
    out = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c2)), shape=(n, n))
    out.data[:] = 1.0
    return out


def item_positives(ui: sp.csr_matrix, p: int, seed: int, chunk_rows: int = 2048) -> sp.csr_matrix:
    """Binary ``N x N``: row ``i`` holds ``i`` and the ``p - 1`` users sharing the most train items with it,
    counted exactly (the U-I-U metapath instances, no neighbour sampling) and divided by
    ``sqrt(|I_i| |I_j|)`` so heavy users are not everyone's positive; rows in chunks, memory O(N p)."""
    ui = sp.csr_matrix(ui, dtype=np.float64)
    ui.data[:] = 1.0
    n = ui.shape[0]
    inv = 1.0 / np.sqrt(np.maximum(np.asarray(ui.sum(axis=1)).ravel(), 1.0))
    iu = ui.T.tocsr()
    rng = np.random.default_rng(seed)
    rows_out, cols_out = [np.arange(n)], [np.arange(n)]
    for start in range(0, n, chunk_rows):
        c = (ui[start:start + chunk_rows] @ iu).tocoo()
        r, col = c.row + start, c.col
        keep = r != col
        r, col = r[keep], col[keep]
        score = c.data[keep] * inv[r] * inv[col] + 1e-9 * rng.random(len(r))  # seeded tie-break
        order = np.lexsort((-score, r))
        r, col = r[order], col[order]
        first = np.searchsorted(r, r, side="left")
        top = (np.arange(len(r)) - first) < max(p - 1, 0)
        rows_out.append(r[top])
        cols_out.append(col[top])
    rr, cc = np.concatenate(rows_out), np.concatenate(cols_out)
    out = sp.csr_matrix((np.ones(len(rr), dtype=np.float32), (rr, cc)), shape=(n, n))
    out.data[:] = 1.0
    return out


class HeCo(nn.Module):
    """The two HeCo encoders and the shared projection head.

    Args:
        in_channels: user feature size.
        hidden_channels: persona size (both views).
        num_metapaths: one GCN per metapath.
        attention_channels: hidden size of the semantic attention.
        num_items: items with a learned vector ``e_i`` in the network-schema view (0: none).
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_metapaths: int,
                 attention_channels: int = 128, num_items: int = 0) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels = in_channels, hidden_channels
        self.gcns = nn.ModuleList(MetapathGCN(in_channels, hidden_channels) for _ in range(num_metapaths))
        self.attention = SemanticAttention(hidden_channels, attention_channels)
        self.schema_lin = nn.Linear(in_channels, hidden_channels)
        self.schema_act = nn.PReLU(hidden_channels)
        # zero at start: the view begins as a projection of the mean item features
        self.item_emb = nn.Parameter(torch.zeros(num_items, hidden_channels))
        self.proj = nn.Sequential(nn.Linear(hidden_channels, hidden_channels), nn.ELU(),
                                  nn.Linear(hidden_channels, hidden_channels))

    def schema(self, x_self: Tensor, items: Tensor | None) -> Tensor:
        """Network-schema view ``z^sc`` of users with features ``x_self`` and row-normalised items ``[B, I]``."""
        z = self.schema_lin(x_self)
        if items is not None and self.item_emb.shape[0]:
            z = z + torch.sparse.mm(items, self.item_emb)
        return cast(Tensor, self.schema_act(z))

    def metapath_embeddings(self, xs: list[Tensor], adjs: list[Tensor]) -> Tensor:
        """``H^Φ`` for every metapath, stacked ``[P, B, C]``."""
        return torch.stack([cast(MetapathGCN, g)(x, a) for g, x, a in zip(self.gcns, xs, adjs)], dim=0)

    def encode(self, xs: list[Tensor], adjs: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Metapath view ``z^mp`` ``[B, C]`` and the attention ``β``."""
        return cast(tuple[Tensor, Tensor], self.attention(self.metapath_embeddings(xs, adjs)))

    def contrast(self, z_mp: Tensor, z_sc: Tensor, pos: Tensor, tau: float, lam: float = 0.5) -> Tensor:
        """``λ L^sc + (1-λ) L^mp`` (HeCo Eqs. 10-12): cosine of the projected views over ``τ``; ``pos``
        ``[B, B]`` bool, ``pos[i, j]``: user ``j`` is a positive of user ``i``."""
        a = F.normalize(self.proj(z_mp), dim=1)
        b = F.normalize(self.proj(z_sc), dim=1)
        logits = a @ b.T / tau  # [i, j]: metapath view of i vs schema view of j
        neg_inf = torch.finfo(logits.dtype).min

        def infonce(m: Tensor) -> Tensor:
            return (torch.logsumexp(m, dim=1) - torch.logsumexp(m.masked_fill(~pos, neg_inf), dim=1)).mean()

        return lam * infonce(logits.T) + (1 - lam) * infonce(logits)

    def intra(self, z_sc: Tensor, pos: Tensor, tau: float) -> Tensor:
        """Intra-view InfoNCE on the network-schema view (our addition, not in HeCo): the projected
        ``z^sc`` of a user against those of its positives, the user itself left out of both sums."""
        b = F.normalize(self.proj(z_sc), dim=1)
        eye = torch.eye(len(b), dtype=torch.bool)
        logits = (b @ b.T / tau).masked_fill(eye, torch.finfo(b.dtype).min)
        others = pos & ~eye
        has = others.any(dim=1)  # rows whose positives all fell outside the mini-batch add nothing
        if not bool(has.any()):
            return logits.new_zeros(())
        num = torch.logsumexp(logits.masked_fill(~others, torch.finfo(b.dtype).min), dim=1)
        return (torch.logsumexp(logits, dim=1) - num)[has].mean()


class HeCoLearner(Learner):
    """``heco`` (see the module docstring). Options: ``tau`` (temperature), ``positives`` (``P``, the user
    included), ``view`` (which embedding is the persona)."""

    name = "heco"
    model_name = "HeCo"
    uses_items = True

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__({"tau": 0.2, "positives": 8, "view": "schema", "item_vectors": True, "num_items": 0,
                          "intra": 1.0, "positives_from": "items", **(options or {})})
        self.pos: sp.csr_matrix | None = None

    @classmethod
    def options_from(cls, cfg: PersonaConfig) -> dict[str, Any]:
        return {"tau": cfg.tau, "positives": cfg.positives, "view": cfg.heco_view, "intra": cfg.heco_intra,
                "positives_from": cfg.heco_positives_from}

    def build(self, in_channels: int, hidden_channels: int, num_metapaths: int, attention_channels: int
              ) -> nn.Module:
        items = int(self.options["num_items"]) if self.options["item_vectors"] else 0
        return HeCo(in_channels, hidden_channels, num_metapaths, attention_channels, items)

    def setup(self, prep: PreparedGraph, seed: int) -> None:
        # Built from the train-only metapath path counts (the export holds only split = 'train' edges).
        self.options["num_items"] = int(prep.ui.shape[1]) if prep.ui is not None else 0
        p = int(self.options["positives"])
        if self.options["positives_from"] == "items" and prep.ui is not None:
            self.pos = item_positives(prep.ui, p, seed)
        else:
            self.pos = positives(prep.counts or prep.adjs, p, seed, cosine=bool(self.options.get("cosine", True)))

    def loss(self, model: nn.Module, prep: PreparedGraph, batch: Batch, full_adjs: list[Tensor] | None
             ) -> Tensor:
        assert isinstance(model, HeCo) and self.pos is not None
        z_mp, _ = model.encode(batch.xs, batch.adjs)
        z_sc = model.schema(batch.x_self, item_rows(prep.ui, batch.rows) if prep.ui is not None else None)
        sub = self.pos[batch.rows][:, batch.rows]  # positives outside a mini-batch are left out
        pos = torch.from_numpy(sub.toarray() > 0)
        loss = model.contrast(z_mp, z_sc, pos, float(self.options["tau"]))
        if float(self.options["intra"]) > 0:
            loss = loss + float(self.options["intra"]) * model.intra(z_sc, pos, float(self.options["tau"]))
        return loss

    def persona(self, model: nn.Module, stacked: Tensor, beta: Tensor, x_self: Tensor,
                items: Tensor | None = None) -> Tensor:
        assert isinstance(model, HeCo)
        view = self.options["view"]
        z_mp = super().persona(model, stacked, beta, x_self)
        if view == "metapath":
            return z_mp
        z_sc = model.schema(x_self, items)
        if view == "schema":
            return z_sc
        # both: each view on the unit sphere first, so neither dominates the cosine by its scale
        return (F.normalize(z_mp, dim=1) + F.normalize(z_sc, dim=1)) / math.sqrt(2.0)
