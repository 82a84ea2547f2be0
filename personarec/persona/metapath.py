"""Metapaths from users to users and their bounded, normalised adjacency matrices.

HDGI (Ren et al. 2019, arXiv 1911.08538, Sec. 3.1) runs one GCN per metapath Φ on the metapath-based
adjacency ``A^Φ`` of the target type (here: users). ``A^Φ`` is the product of the hop matrices along Φ,
e.g. ``A_UI A_UI^T`` for U-I-U. A popular item or genre would make those products dense, so every hop
keeps at most ``K`` neighbours per node (a seeded sample, as ``torch_geometric.transforms.AddMetaPaths``
does with ``max_sample``) and every intermediate product keeps the ``K`` targets reached by the most
paths per row; rows are processed in chunks, so memory stays O(rows x K^2).

Metapath syntax (``settings.persona.metapaths``):

* ``U-I-U`` — users who share a train item;
* ``U-I-<Label>-I-U`` — via a feature node (``Genre``, ``Category``, ``Brand``, ``Person``, ``Attribute``)
  or a DBpedia ``Entity``; ``U-I-Entity:DIRECTED_BY|STARRING-I-U`` restricts the relationship types;
* ``U-I-I-U`` — via item-item links (``U-I-I:ALSO_BOUGHT-U`` restricts them);
* ``auto`` — U-I-U plus one metapath per feature label, entities and item links present in the export.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from personarec.errors import PersonarecError
from personarec.graph.export import ENTITY_RELS, FEATURE_LABELS, KGExport

log = logging.getLogger(__name__)


class MetapathError(PersonarecError):
    """A metapath is malformed or does not exist in the exported graph."""


@dataclass(frozen=True)
class Metapath:
    """One user-to-user metapath.

    Attributes:
        name: the spec as written, e.g. ``"U-I-Genre-I-U"``.
        kind: ``"uiu"`` (shared item), ``"via"`` (shared feature/entity node) or ``"items"`` (item links).
        label: the Neo4j label of the middle node for ``"via"``.
        rels: Neo4j relationship types of the middle hop (``None``: every type present).
    """

    name: str
    kind: str
    label: str | None = None
    rels: tuple[str, ...] | None = None


def _split_rels(part: str) -> tuple[str, tuple[str, ...] | None]:
    head, sep, tail = part.partition(":")
    return head, (tuple(r.strip().upper() for r in tail.split("|") if r.strip()) if sep else None)


def parse_metapath(spec: str) -> Metapath:
    """Parse one metapath spec (see the module docstring); raises :class:`MetapathError`."""
    parts = [p.strip() for p in spec.strip().split("-")]
    if len(parts) < 3 or parts[0].upper() != "U" or parts[-1].upper() != "U" or parts[1].upper() != "I":
        raise MetapathError(f"metapath {spec!r} must start with 'U-I-' and end with '-U' (e.g. 'U-I-Genre-I-U').")
    if len(parts) == 3:
        return Metapath(spec, "uiu")
    if len(parts) == 4:
        head, rels = _split_rels(parts[2])
        if head.upper() != "I":
            raise MetapathError(f"metapath {spec!r}: a 4-node path must be U-I-I-U (item links).")
        return Metapath(spec, "items", rels=rels)
    if len(parts) == 5 and parts[3].upper() == "I":
        label, rels = _split_rels(parts[2])
        known = {lab.lower(): lab for lab in (*FEATURE_LABELS, "Entity")}
        if label.lower() not in known:
            raise MetapathError(f"metapath {spec!r}: unknown middle label {label!r}; use one of "
                                f"{', '.join(sorted(known.values()))}.")
        return Metapath(spec, "via", label=known[label.lower()], rels=rels)
    raise MetapathError(f"metapath {spec!r} is not of the forms U-I-U, U-I-I-U or U-I-<Label>-I-U.")


def resolve_metapaths(specs: list[str], export: KGExport) -> list[Metapath]:
    """Expand ``auto`` and keep the metapaths whose hops exist in ``export``; error when none remains."""
    out: list[Metapath] = []
    for spec in specs:
        if spec.strip().lower() == "auto":
            out.append(Metapath("U-I-U", "uiu"))
            present = {et[2] for et in export.rels if et[0] == "item" and et[2] not in ("item", "user")}
            for label in (*FEATURE_LABELS, "Entity"):
                if label.lower() in present:
                    # SAME_AS alone links an item to its own resource: it says nothing beyond U-I-U.
                    rels = tuple(r for r in ENTITY_RELS if r != "SAME_AS") if label == "Entity" else None
                    out.append(Metapath(f"U-I-{label}-I-U", "via", label=label, rels=rels))
            if any(et[0] == "item" and et[2] == "item" for et in export.rels):
                out.append(Metapath("U-I-I-U", "items"))
        else:
            out.append(parse_metapath(spec))
    seen: set[str] = set()
    kept: list[Metapath] = []
    for mp in out:
        if mp.name in seen:
            continue
        seen.add(mp.name)
        if mp.kind == "uiu" or _middle(export, mp).nnz > 0:
            kept.append(mp)
        else:
            log.warning("metapath %s has no edges in this graph; skipped", mp.name)
    if not kept:
        raise MetapathError("none of the configured metapaths exists in the exported graph.")
    return kept


def _csr(edge_index: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(edge_index.shape[1], dtype=np.float32), (edge_index[0], edge_index[1])), shape=shape)
    m.data[:] = 1.0  # binary: duplicates count once
    return m


def _middle(export: KGExport, mp: Metapath) -> sp.csr_matrix:
    """The item-side middle hop matrix of ``mp`` (items x middle nodes, or items x items)."""
    data, n_items = export.data, export.num_nodes("item")
    if mp.kind == "items":
        mats = [_csr(data[et].edge_index.numpy(), (n_items, n_items)) for et, rel in export.rels.items()
                if et[0] == "item" and et[2] == "item" and (mp.rels is None or rel in mp.rels)]
        if not mats:
            return sp.csr_matrix((n_items, n_items), dtype=np.float32)
        m = sum(mats[1:], mats[0])
        m = (m + m.T).tocsr()  # links are symmetric for co-occurrence purposes
        m.data[:] = 1.0
        return m
    ntype = (mp.label or "").lower()
    n_mid = export.num_nodes(ntype)
    mats = [_csr(data[et].edge_index.numpy(), (n_items, n_mid)) for et, rel in export.rels.items()
            if et[0] == "item" and et[2] == ntype and (mp.rels is None or rel in mp.rels)]
    if not mats:
        return sp.csr_matrix((n_items, max(n_mid, 0)), dtype=np.float32)
    m = sum(mats[1:], mats[0]).tocsr()
    m.data[:] = 1.0
    return m


def hop_matrices(export: KGExport, mp: Metapath) -> list[sp.csr_matrix]:
    """The chain of hop matrices whose product is ``A^Φ`` (users x users)."""
    ui = _csr(export.data["user", "interacted", "item"].edge_index.numpy(),
              (export.num_nodes("user"), export.num_nodes("item")))
    iu = ui.T.tocsr()
    if mp.kind == "uiu":
        return [ui, iu]
    mid = _middle(export, mp)
    if mp.kind == "items":
        return [ui, mid, iu]
    return [ui, mid, mid.T.tocsr(), iu]


def top_k_rows(m: sp.csr_matrix, k: int | None, rng: np.random.Generator | None,
               exclude_diagonal_offset: int | None = None) -> sp.csr_matrix:
    """Keep at most ``k`` entries per row: the largest values, ties broken at random (seeded ``rng``).

    With all values equal this is a uniform sample of ``k`` neighbours per row. ``exclude_diagonal_offset``
    drops entry ``(r, r + offset)`` first (a user is not its own metapath neighbour).
    """
    m = m.tocsr()
    m.sum_duplicates()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    cols, vals = m.indices.astype(np.int64), m.data
    keep = np.ones(len(cols), dtype=bool)
    if exclude_diagonal_offset is not None:
        keep &= cols != rows + exclude_diagonal_offset
    if k is not None:
        counts = np.diff(m.indptr)
        if counts.max(initial=0) > k:
            jitter = rng.random(len(vals)) if rng is not None else np.zeros(len(vals))
            score = np.where(keep, vals + 0.5 * jitter, -np.inf)
            order = np.lexsort((-score, rows))  # by row, then best score first
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order)) - m.indptr[rows[order]]
            keep &= rank < k
    return sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=m.shape)


def metapath_adjacency(hops: list[sp.csr_matrix], k: int | None = 32, seed: int = 0,
                       chunk_rows: int = 4096) -> sp.csr_matrix:
    """``A^Φ = H_1 H_2 ... H_L`` with at most ``k`` neighbours per node per hop and per row; no self loops.

    Values are path counts (within the sample). ``k=None`` computes the exact product.
    """
    rng = np.random.default_rng(seed)
    right = [top_k_rows(h, k, rng) for h in hops[1:]]
    first = top_k_rows(hops[0], k, rng)
    n = first.shape[0]
    parts: list[sp.csr_matrix] = []
    for start in range(0, n, chunk_rows):
        cur = first[start:start + chunk_rows]
        for j, h in enumerate(right):
            cur = cur @ h
            last = j == len(right) - 1
            cur = top_k_rows(cur, k, rng, exclude_diagonal_offset=start if last else None)
        parts.append(cur.astype(np.float32))
    adj = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, hops[-1].shape[1]), dtype=np.float32)
    adj.eliminate_zeros()
    return adj


def normalize_adjacency(adj: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """GCN normalisation ``D^-1/2 (B + I) D^-1/2`` with ``B`` the binary symmetrised ``adj``.

    Returns the normalised matrix and the degrees ``D`` (kept for cold-start inference).
    """
    b = (adj + adj.T).tocsr()
    b.data[:] = 1.0
    b = (b + sp.identity(adj.shape[0], dtype=np.float32, format="csr")).tocsr()
    b.data[:] = 1.0
    deg = np.asarray(b.sum(axis=1)).ravel().astype(np.float32)
    inv = 1.0 / np.sqrt(deg)
    norm = sp.diags(inv) @ b @ sp.diags(inv)
    return norm.tocsr().astype(np.float32), deg


#: The most memory :meth:`PreparedGraph.aggregated` may take (the million-user synthetic graph would need
#: 4.6 GB for three metapaths of 384 features; it keeps the per-batch product).
AGGREGATE_MAX_BYTES = 2e9


@dataclass
class PreparedGraph:
    """What HDGI trains on: user features and one normalised adjacency per metapath.

    Attributes:
        x: user features ``[N, F]``.
        adjs: ``Â^Φ`` per metapath (scipy CSR, ``N x N``).
        degrees: the degrees used to normalise each ``Â^Φ`` (for cold-start inference).
        metapaths: the metapaths, aligned with ``adjs``.
        user_ids: Neo4j ids of the rows.
        counts: ``A^Φ`` per metapath before normalisation (path counts; HeCo's positives).
        ui: the binary users x items matrix of the train interactions (HeCo's network-schema view).
    """

    x: torch.Tensor
    adjs: list[sp.csr_matrix]
    degrees: list[np.ndarray]
    metapaths: list[Metapath]
    user_ids: list[str]
    counts: list[sp.csr_matrix] = field(default_factory=list)
    ui: sp.csr_matrix | None = None
    _aggregated: list[torch.Tensor] | None = field(default=None, repr=False, compare=False)

    def aggregated(self, max_bytes: float = AGGREGATE_MAX_BYTES) -> list[torch.Tensor] | None:
        """``Â^Φ X`` per metapath ``[N, F]``, computed once (``None`` when they would exceed ``max_bytes``).

        A learner whose metapath view reads ``Â^Φ`` and ``X`` unchanged at every step needs only the
        rows of these products (``(Â X) W = Â (X W)``), not a sparse product per mini-batch."""
        if self._aggregated is None:
            n, f = self.x.shape
            if float(n) * f * len(self.adjs) * 4 > max_bytes:
                return None
            x = self.x.numpy()
            self._aggregated = [torch.from_numpy(np.asarray(a @ x, dtype=np.float32)) for a in self.adjs]
        return self._aggregated
