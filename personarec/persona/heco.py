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
all from the **train split**: ``positives_from = "jaccard"`` (default) ranks users by the Jaccard of the
train item sets, counted exactly (U-I-U instances); ``"items"`` by the same counts cosine-normalised;
``"metapaths"`` sums the sampled metapath path counts as HeCo does, each metapath scaled by its mean
count. Negatives are all other users of the batch; above ``full_batch_max`` users, batches keep positives
together (:func:`positive_batches`). The item vectors ``e_i`` learn at ``item_lr_scale`` times the rate of the
rest (their gradient arrives through means). The persona is the view named by ``view`` (``metapath`` as
in HeCo, ``schema``, or ``both``: the sum of the two L2-normalised views over √2).
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)


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
    top_r, top_c = _top_per_row(rows, total.indices.astype(np.int64), total.data, p,
                                np.random.default_rng(seed), jitter=1e-6)
    return _with_self(n, [top_r], [top_c])


def _chunks(cost: np.ndarray, max_rows: int, max_cost: float) -> list[tuple[int, int]]:
    """Consecutive row ranges of at most ``max_rows`` rows and (unless one row alone exceeds it)
    ``max_cost`` summed cost."""
    out, start, total = [], 0, 0.0
    for i, c in enumerate(cost):
        if i > start and (i - start >= max_rows or total + c > max_cost):
            out.append((start, i))
            start, total = i, 0.0
        total += float(c)
    if start < len(cost):
        out.append((start, len(cost)))
    return out


#: Above this many user pairs through shared items (the sum over items of their users squared), exact
#: positives would take hours (65e9 on the million-user synthetic graph): they are then ranked among the
#: users the sampled U-I-U metapath reaches instead.
EXACT_PAIRS_MAX = 2e9


def candidate_positives(ui: sp.csr_matrix, candidates: sp.csr_matrix, p: int, seed: int,
                        measure: str = "cosine", chunk_pairs: int = 2_000_000) -> sp.csr_matrix:
    """:func:`item_positives` with the score computed exactly but only for the pairs in ``candidates``
    (e.g. the ``K`` users the sampled U-I-U metapath reaches from each user): memory and time O(N K)."""
    ui, size = _binary(ui)
    n = ui.shape[0]
    cand = sp.csr_matrix(candidates).tocoo()
    keep = cand.row != cand.col
    rows, cols = cand.row[keep].astype(np.int64), cand.col[keep].astype(np.int64)
    shared = np.empty(len(rows))
    for start in range(0, len(rows), chunk_pairs):
        r, c = rows[start:start + chunk_pairs], cols[start:start + chunk_pairs]
        shared[start:start + len(r)] = np.asarray(ui[r].multiply(ui[c]).sum(axis=1)).ravel()
    top_r, top_c = _top_pairs(rows, cols, shared, size, p, np.random.default_rng(seed), measure)
    return _with_self(n, [top_r], [top_c])


def _top_pairs(r: np.ndarray, col: np.ndarray, shared: np.ndarray, size: np.ndarray, p: int,
               rng: np.random.Generator, measure: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``r``, its top ``p - 1`` columns by shared count normalised by ``measure``."""
    ok = shared > 0
    r, col, shared = r[ok], col[ok], shared[ok]
    if measure == "jaccard":
        score = shared / np.maximum(size[r] + size[col] - shared, 1.0)
    else:
        score = shared / np.sqrt(np.maximum(size[r], 1.0) * np.maximum(size[col], 1.0))
    return _top_per_row(r, col, score, p, rng, jitter=1e-9)


def _top_per_row(r: np.ndarray, col: np.ndarray, score: np.ndarray, p: int, rng: np.random.Generator,
                 jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``r``, its ``p - 1`` columns of highest ``score``; ties broken by a seeded ``jitter`` far
    below the scores' resolution."""
    score = score + jitter * rng.random(len(r))
    order = np.lexsort((-score, r))
    r, col = r[order], col[order]
    first = np.searchsorted(r, r, side="left")
    top = (np.arange(len(r)) - first) < max(p - 1, 0)
    return r[top], col[top]


def _with_self(n: int, rows: list[np.ndarray], cols: list[np.ndarray]) -> sp.csr_matrix:
    """Binary ``N x N`` of the given pairs plus the diagonal (every user is its own positive)."""
    rr, cc = np.concatenate([*rows, np.arange(n)]), np.concatenate([*cols, np.arange(n)])
    out = sp.csr_matrix((np.ones(len(rr), dtype=np.float32), (rr, cc)), shape=(n, n))
    out.data[:] = 1.0
    return out


def _binary(ui: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """``ui`` as a 0/1 float CSR matrix and each row's item count."""
    ui = sp.csr_matrix(ui, dtype=np.float64)
    ui.data[:] = 1.0
    return ui, np.asarray(ui.sum(axis=1)).ravel()


def exact_pairs(ui: sp.csr_matrix) -> float:
    """User pairs an exact shared-item count visits: the sum over items of their users squared."""
    deg = np.asarray(sp.csr_matrix(ui).astype(bool).sum(axis=0), dtype=np.float64).ravel()
    return float((deg ** 2).sum())


def item_positives(ui: sp.csr_matrix, p: int, seed: int, chunk_rows: int = 2048,
                   measure: str = "cosine", max_pairs: float = 32e6) -> sp.csr_matrix:
    """Binary ``N x N``: row ``i`` holds ``i`` and the ``p - 1`` users sharing the most train items with it,
    counted exactly (the U-I-U metapath instances, no neighbour sampling) and normalised so heavy users are
    not everyone's positive: ``measure`` ``"cosine"`` divides the count ``c`` by ``sqrt(|I_i| |I_j|)``,
    ``"jaccard"`` by ``|I_i| + |I_j| - c``. Rows in chunks of at most ``chunk_rows`` users and about
    ``max_pairs`` user pairs (a user's pairs: the summed popularity of its items), so popular items on a
    million-user graph do not blow up one chunk; the output is O(N p)."""
    ui, size = _binary(ui)
    n = ui.shape[0]
    iu = ui.T.tocsr()
    pairs = ui @ np.asarray(ui.sum(axis=0)).ravel()  # an upper bound of each row's product entries
    rng = np.random.default_rng(seed)
    rows_out: list[np.ndarray] = []
    cols_out: list[np.ndarray] = []
    for start, stop in _chunks(pairs, chunk_rows, max_pairs):
        c = (ui[start:stop] @ iu).tocoo()
        r, col = c.row + start, c.col
        keep = r != col
        top_r, top_c = _top_pairs(r[keep], col[keep], c.data[keep], size, p, rng, measure)
        rows_out.append(top_r)
        cols_out.append(top_c)
    return _with_self(n, rows_out, cols_out)


def positive_batches(pos: sp.csr_matrix, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's mini-batches (a partition of the users) that keep positives together: users in a
    random order each open a group with their positives not yet placed, and groups fill batches of at most
    ``batch`` users in turn. InfoNCE only sees positives inside its batch (Eqs. 10-12), and random batches of
    ``B`` out of ``N`` users keep only ``B / N`` of them."""
    n = pos.shape[0]
    placed = np.zeros(n, dtype=bool)
    out: list[np.ndarray] = []
    current: list[np.ndarray] = []
    size = 0
    indptr, indices = pos.indptr, pos.indices
    for u in rng.permutation(n):
        if placed[u]:
            continue
        row = indices[indptr[u]:indptr[u + 1]]
        group = np.unique(np.concatenate([[u], row[~placed[row]]]))[: batch]
        placed[group] = True
        if size + len(group) > batch and size:
            out.append(np.sort(np.concatenate(current)))
            current, size = [], 0
        current.append(group)
        size += len(group)
    if current:
        out.append(np.sort(np.concatenate(current)))
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

    def metapath_embeddings(self, xs: list[Tensor], adjs: list[Tensor] | None) -> Tensor:
        """``H^Φ`` for every metapath, stacked ``[P, B, C]`` (``adjs`` ``None``: ``xs`` are rows of ``Â^Φ X``)."""
        if adjs is None:
            return torch.stack([cast(MetapathGCN, g).aggregated(x) for g, x in zip(self.gcns, xs)], dim=0)
        return torch.stack([cast(MetapathGCN, g)(x, a) for g, x, a in zip(self.gcns, xs, adjs)], dim=0)

    def encode(self, xs: list[Tensor], adjs: list[Tensor] | None) -> tuple[Tensor, Tensor]:
        """Metapath view ``z^mp`` ``[B, C]`` and the attention ``β`` (``adjs`` as in :meth:`metapath_embeddings`)."""
        return cast(tuple[Tensor, Tensor], self.attention(self.metapath_embeddings(xs, adjs)))

    def contrast(self, z_mp: Tensor, z_sc: Tensor, pos: PositiveIndex, tau: float, lam: float = 0.5) -> Tensor:
        """``λ L^sc + (1-λ) L^mp`` (HeCo Eqs. 10-12): cosine of the projected views over ``τ``; ``pos``: each
        user's positives among the batch rows."""
        a = F.normalize(self.proj(z_mp), dim=1)
        b = F.normalize(self.proj(z_sc), dim=1)
        # L^sc: the schema view of i against the metapath views of the batch; L^mp the other way round
        return lam * _infonce(b @ a.T / tau, pos) + (1 - lam) * _infonce(a @ b.T / tau, pos)

    def intra(self, z_sc: Tensor, pos: PositiveIndex, tau: float) -> Tensor:
        """Intra-view InfoNCE on the network-schema view (our addition, not in HeCo): the projected
        ``z^sc`` of a user against those of its positives, the user itself left out of both sums."""
        b = F.normalize(self.proj(z_sc), dim=1)
        eye = torch.eye(len(b), dtype=torch.bool)
        logits = (b @ b.T / tau).masked_fill(eye, torch.finfo(b.dtype).min)
        others = pos.without_self()
        has = others.mask.any(dim=1)  # rows whose positives all fell outside the mini-batch add nothing
        if not bool(has.any()):
            return logits.new_zeros(())
        return _infonce(logits, others, rows=has)


class PositiveIndex:
    """The positives of each batch row as column indices ``[B, P]`` padded with ``mask`` ``False``: InfoNCE's
    numerator gathers ``B x P`` logits instead of masking a ``B x B`` copy (the bulk of a large batch's work)."""

    def __init__(self, index: Tensor, mask: Tensor) -> None:
        self.index, self.mask = index, mask

    @classmethod
    def of(cls, sub: sp.csr_matrix) -> PositiveIndex:
        """From the batch's ``[B, B]`` positive matrix (row ``i``: the positives of row ``i``)."""
        sub = sp.csr_matrix(sub)
        counts = np.diff(sub.indptr)
        width = max(int(counts.max()) if len(counts) else 0, 1)
        rows = np.repeat(np.arange(sub.shape[0]), counts)
        slot = np.arange(len(sub.indices)) - np.repeat(sub.indptr[:-1], counts)
        index = np.zeros((sub.shape[0], width), dtype=np.int64)
        mask = np.zeros((sub.shape[0], width), dtype=bool)
        index[rows, slot] = sub.indices
        mask[rows, slot] = sub.data != 0
        return cls(torch.from_numpy(index), torch.from_numpy(mask))

    def without_self(self) -> PositiveIndex:
        """The same positives minus each row's own column."""
        own = self.index == torch.arange(len(self.index)).unsqueeze(1)
        return PositiveIndex(self.index, self.mask & ~own)


def _infonce(logits: Tensor, pos: PositiveIndex, rows: Tensor | None = None) -> Tensor:
    """Mean over rows of ``logsumexp(row) - logsumexp(row's positives)`` (multi-positive InfoNCE)."""
    neg_inf = torch.finfo(logits.dtype).min
    num = torch.logsumexp(logits.gather(1, pos.index).masked_fill(~pos.mask, neg_inf), dim=1)
    out = torch.logsumexp(logits, dim=1) - num
    return (out if rows is None else out[rows]).mean()


class HeCoLearner(Learner):
    """``heco`` (see the module docstring). Options: ``tau`` (temperature), ``positives`` (``P``, the user
    included), ``view`` (which embedding is the persona)."""

    name = "heco"
    model_name = "HeCo"
    uses_items = True
    static_inputs = True

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__({"tau": 0.2, "positives": 12, "view": "schema", "item_vectors": True, "num_items": 0,
                          "intra": 1.0, "positives_from": "jaccard", "item_lr_scale": 25.0, "batch_size": 1024,
                          "max_steps": 1000, **(options or {})})
        self.pos: sp.csr_matrix | None = None

    @classmethod
    def options_from(cls, cfg: PersonaConfig) -> dict[str, Any]:
        return {"tau": cfg.tau, "positives": cfg.positives, "view": cfg.heco_view, "intra": cfg.heco_intra,
                "positives_from": cfg.heco_positives_from, "full_batch_max": cfg.heco_full_batch_max,
                "item_lr_scale": cfg.heco_item_lr_scale, "batch_size": cfg.heco_batch_size,
                "max_steps": cfg.heco_max_steps}

    def param_groups(self, model: nn.Module, lr: float) -> list[dict[str, Any]]:
        # An item vector e_i gets gradient only through its users' means (1/|I(u)| each), so at the shared
        # rate the table learns far slower than the dense layers; its own rate is item_lr_scale x lr.
        assert isinstance(model, HeCo)
        rest = [p for name, p in model.named_parameters() if name != "item_emb"]
        return [{"params": rest, "lr": lr},
                {"params": [model.item_emb], "lr": lr * float(self.options.get("item_lr_scale", 1.0))}]

    def max_steps(self) -> int | None:
        # Full batch (one step per epoch) stays bounded by persona.epochs; mini-batches take hundreds of steps
        # an epoch, and the budget keeps a large graph's training near HDGI's cost (docs/personas.md).
        return int(self.options.get("max_steps") or 0) or None

    def full_batch_max(self) -> int | None:
        # InfoNCE holds several [B, B] matrices for backward: 8,192 users ~ 0.3 GB each, 22k users ~ 2 GB
        return int(self.options.get("full_batch_max") or 8192)

    def batches(self, n: int, batch: int, rng: np.random.Generator) -> list[np.ndarray] | None:
        assert self.pos is not None
        return positive_batches(self.pos, int(self.options.get("batch_size") or batch), rng)

    def build(self, in_channels: int, hidden_channels: int, num_metapaths: int, attention_channels: int
              ) -> nn.Module:
        items = int(self.options["num_items"]) if self.options["item_vectors"] else 0
        return HeCo(in_channels, hidden_channels, num_metapaths, attention_channels, items)

    def setup(self, prep: PreparedGraph, seed: int) -> None:
        # Built from the train-only metapath path counts (the export holds only split = 'train' edges).
        self.options["num_items"] = int(prep.ui.shape[1]) if prep.ui is not None else 0
        p = int(self.options["positives"])
        uiu = next((a for mp, a in zip(prep.metapaths, prep.counts or prep.adjs) if mp.kind == "uiu"), None)
        if self.options["positives_from"] in ("items", "jaccard") and prep.ui is not None:
            measure = "jaccard" if self.options["positives_from"] == "jaccard" else "cosine"
            pairs = exact_pairs(prep.ui)
            if uiu is not None and pairs > EXACT_PAIRS_MAX:
                log.info("heco positives: %.2g user pairs share items; ranking the sampled U-I-U neighbours "
                         "exactly instead", pairs)
                self.pos = candidate_positives(prep.ui, uiu, p, seed, measure=measure)
            else:
                self.pos = item_positives(prep.ui, p, seed, measure=measure)
        else:
            self.pos = positives(prep.counts or prep.adjs, p, seed, cosine=bool(self.options.get("cosine", True)))

    def loss(self, model: nn.Module, prep: PreparedGraph, batch: Batch, full_adjs: list[Tensor] | None
             ) -> Tensor:
        assert isinstance(model, HeCo) and self.pos is not None
        z_mp, _ = model.encode(batch.xs, None if batch.aggregated else batch.adjs)
        z_sc = model.schema(batch.x_self, item_rows(prep.ui, batch.rows) if prep.ui is not None else None)
        pos = PositiveIndex.of(self.pos[batch.rows][:, batch.rows])  # positives outside a mini-batch are left out
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
