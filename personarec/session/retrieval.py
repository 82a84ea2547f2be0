"""Top-k retrieval over a SASRec item table: exact scoring, or a FAISS index plus exact re-scoring.

A SASRec-style model scores item ``j`` after a session as the inner product ``h · e_j`` of the
session's final hidden state ``h`` and row ``j`` of its output item table (Kang & McAuley 2018; the
candidate stage of arXiv 2604.06928 keeps the top 100). Scoring every item costs ``n_items`` dot
products per user, which dominates at catalogue scale. :class:`ItemIndex` answers the same maximum
inner-product search (MIPS) approximately with FAISS (Johnson, Douze & Jégou, arXiv 1702.08734):
an IVF-flat index (k-means cells, ``nprobe`` of them scanned), an IVF index of 4-bit product-quantised
codes scanned with SIMD ("fast-scan", André et al., arXiv 1812.09162) whose best ``refine`` × fetched
items are then ranked on the full vectors (``ivf-pq``), or an HNSW graph (Malkov & Yashunin,
arXiv 1603.09320). The IVF index works on the MIPS-to-nearest-neighbour reduction
of Bachrach et al. (RecSys 2014): each item ``x`` gets one more coordinate ``sqrt(M² - |x|²)`` (``M``
the largest norm) and each query a 0 there, so all items have norm ``M`` and the nearest item in L2
is the one with the largest inner product. Cells are then L2 k-means cells of comparable size; on
a trained-like catalogue of 1M items this doubled recall at a given ``nprobe`` compared with IVF over
inner-product cells (bench/README.md). The fast-scan codes are ~16× smaller than the vectors they
approximate, so the same cells are scanned several times faster; their ranking is coarse, which the
flat refinement of the best ``refine`` × fetched items repairs (on that catalogue, at the same recall:
2.4× IVF-flat's queries/s in this stage, 1.7× its users/s in the whole two-stage call; bench/README.md).
The retrieved items are then **re-scored exactly** against the table rows, the session's own items are
masked, and the top ``k`` kept with the tie rule of
:func:`personarec.session.rerank.top_candidates` (stable descending order, lower index first). With
``verify`` (the default) that top ``k`` is then **certified** by a bounded scan of every item
(:mod:`personarec.session.certify`; bfloat16, float32 on a CPU without it), which makes it exact
retrieval's top ``k``, bit for bit.

Exactness: :func:`score_items` computes the scores of a few items per row with one matrix product
against the rows in play, both sides padded to at least :data:`personarec.cpu.MIN_PRODUCT_ROWS` rows,
which gives the very float32 values of the full ``h @ table.T`` product (BLAS accumulates each dot
product in the same order whatever the other dimensions, except that products with fewer than 12 query
rows or 12 item rows take other kernels on the 2-core box's AVX-512 BLAS, hence the padding). So with exhaustive
index parameters (``nprobe = nlist``), ANN and exact retrieval agree bit for bit, and the
candidate-only rerank equals the old full-score rerank.

The index is built once per item table and stored next to the model (:meth:`ItemIndex.save`,
``faiss.write_index``: no pickle), tagged with the sha256 of the table it was built from;
:meth:`ItemIndex.load` refuses an index whose tag does not match the current table, so a stale index
is rebuilt and never served.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from personarec.cpu import MIN_PRODUCT_ROWS
from personarec.session.certify import ScanTable, survivors

log = logging.getLogger(__name__)

Mode = Literal["auto", "exact", "ann"]
IndexKind = Literal["ivf", "ivf-pq", "hnsw"]


#: default (nprobe, refine) when the bounded scan certifies the result: the index then only sets the scan's
#: threshold, and a cheap search sets it nearly as tight (1M trained-like items, bench/README.md)
VERIFIED_SEARCH = (64, 4)
#: default (nprobe, refine) when the index's answer is served as it is (recall@100 0.987 at 1M items)
UNVERIFIED_SEARCH = (512, 32)


@dataclass(frozen=True)
class RetrievalOptions:
    """How candidates are retrieved (the ``session.retrieval``/``session.ann_*`` settings).

    Attributes:
        mode: ``exact`` scores every item; ``ann`` queries the index; ``auto``: ``ann`` from
            ``min_items`` items on.
        min_items: catalogue size from which ``auto`` uses the index (measured crossover, bench/README.md).
        index: ``ivf`` (IVF-flat), ``ivf-pq`` (IVF-PQ fast-scan + flat refinement; IVF-flat below
            :data:`_PQ_MIN_ITEMS` items) or ``hnsw`` (HNSW-flat).
        nlist: IVF cells; ``None``: ``4 * round(sqrt(n_items))`` (FAISS's guideline is 4-16 √n), at least 1.
        nprobe: IVF cells scanned per query; ``None``: :data:`VERIFIED_SEARCH` or :data:`UNVERIFIED_SEARCH`'s.
        refine: ``ivf-pq``: the codes' best ``refine`` × fetched items are ranked on the full vectors;
            ``None`` as for ``nprobe``.
        hnsw_m: HNSW neighbours per node.
        ef_construction: HNSW build-time beam width.
        ef_search: HNSW query-time beam width (raised to the number of items asked for).
        margin: items fetched beyond ``k``, room for the session's own (masked) items and the exact
            re-scoring; rows that need more are fetched again (:func:`ann_top`).
        verify: certify the index's top ``k`` with one bounded pass over every item (bfloat16, or
            float32 on a CPU without it; :mod:`personarec.session.certify`): the result is exact
            retrieval's, bit for bit, and the index only decides how tight the pass's threshold is.
    """

    mode: Mode = "auto"
    min_items: int = 50_000
    index: IndexKind = "ivf-pq"
    nlist: int | None = None
    nprobe: int | None = None
    refine: int | None = None
    hnsw_m: int = 32
    ef_construction: int = 64
    ef_search: int = 256
    margin: int = 32
    verify: bool = True

    @classmethod
    def from_session(cls, session: Any) -> RetrievalOptions:
        """The options of a ``SessionConfig`` (``personarec.config``)."""
        return cls(mode=session.retrieval, min_items=session.ann_min_items, index=session.ann_index,
                   nlist=session.ann_nlist, nprobe=session.ann_nprobe, refine=session.ann_refine,
                   hnsw_m=session.ann_hnsw_m,
                   ef_construction=session.ann_ef_construction, ef_search=session.ann_ef_search,
                   margin=session.ann_margin, verify=session.ann_verify)

    def search_params(self) -> tuple[int, int]:
        """(nprobe, refine) as set, else the defaults for ``verify`` (:data:`VERIFIED_SEARCH`)."""
        nprobe, refine = VERIFIED_SEARCH if self.verify else UNVERIFIED_SEARCH
        return self.nprobe or nprobe, self.refine or refine

    def use_index(self, n_items: int, device: torch.device | str = "cpu") -> bool:
        """True when candidates over ``n_items`` items, for queries on ``device``, come from the index.

        ``auto`` uses it from ``min_items`` items on, on a CPU only: the index is a CPU (FAISS) structure,
        and a GPU scores every item of a 1M catalogue faster than the CPU searches it (bench/README.md
        "Retrieval on a GPU").
        """
        if self.mode != "auto":
            return self.mode == "ann"
        return n_items >= self.min_items and torch.device(device).type == "cpu"

    def build_params(self, n_items: int) -> dict[str, Any]:
        """The parameters that shape a built index (part of its tag: a change rebuilds it)."""
        if self.index in ("ivf", "ivf-pq"):
            nlist = self.nlist or max(1, 4 * round(math.sqrt(n_items)))
            # PQ codebooks need training points (16 centroids per code): a tiny catalogue gets IVF-flat
            kind = "ivf-pq" if self.index == "ivf-pq" and n_items >= _PQ_MIN_ITEMS else "ivf"
            params = {"index": kind, "nlist": int(min(nlist, n_items)), "space": "l2-augmented"}
            if kind == "ivf-pq":
                params["codes"] = _PQ_CODES
            return params
        return {"index": "hnsw", "m": self.hnsw_m, "ef_construction": self.ef_construction}


def _pad_rows(h: torch.Tensor) -> torch.Tensor:
    if h.shape[0] >= MIN_PRODUCT_ROWS:
        return h
    return torch.cat([h, h.new_zeros(MIN_PRODUCT_ROWS - h.shape[0], h.shape[1])])


def score_all(h: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """(B, n_items + 1) scores ``h @ table.T``, both sides padded so every batch and table size rounds alike."""
    return (_pad_rows(h) @ _pad_rows(table).T)[:h.shape[0], :table.shape[0]]


def score_items(h: torch.Tensor, table: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """(B, K) scores of the given items per row, equal bit for bit to ``score_all(h, table).gather(1, items)``.

    One product against the union of the rows' items (at most B·K rows, not the catalogue), then a gather.
    """
    if items.numel() == 0:
        return h.new_zeros(items.shape)
    scores, cols = _union_product(h, table, items)
    return scores.gather(1, cols)


def _union_product(h: torch.Tensor, table: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, U) scores of every row against the U distinct ``items`` (:func:`score_all`'s values), and each
    item's column among them (``items``' shape)."""
    uniq, inverse = torch.unique(items, return_inverse=True)
    return score_all(h, table[uniq]), inverse.view(items.shape)


def _exclusion(exclude: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """(B, L) right-padded item indices to mask per row (0 = padding, also masked)."""
    width = max(1, max((len(e) for e in exclude), default=0))
    out = np.zeros((len(exclude), width), dtype=np.int64)
    for r, e in enumerate(exclude):
        out[r, :len(e)] = np.asarray(e, dtype=np.int64)
    return torch.from_numpy(out).to(device)


def select_top(items: torch.Tensor, scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` of each row of (items, scores) in the order of a stable descending sort over item index.

    Entries with score -inf stay at the end (they are padding or masked).
    """
    by_index = torch.sort(items, dim=1, stable=True).indices  # ties: lower item index first
    items, scores = items.gather(1, by_index), scores.gather(1, by_index)
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
    return items.gather(1, order), scores.gather(1, order)


def table_digest(table: torch.Tensor) -> str:
    """sha256 of an item table (float32 bytes and shape): the tag an index carries."""
    arr = np.ascontiguousarray(table.detach().to("cpu", torch.float32).numpy())
    h = hashlib.sha256(f"{arr.shape}".encode())
    h.update(arr.data)
    return h.hexdigest()


class ItemIndex:
    """A FAISS MIPS index over rows ``1..n`` of an item table; FAISS ids are the item indices.

    Args:
        index: the FAISS index.
        tag: sha256 of the table it was built from (:func:`table_digest`).
        params: the build parameters (:meth:`RetrievalOptions.build_params`).
    """

    def __init__(self, index: Any, tag: str, params: dict[str, Any]) -> None:
        self.index = index
        self.tag = tag
        self.params = params
        self._scan: ScanTable | None = None

    @property
    def n_items(self) -> int:
        return int(self.index.ntotal)

    def scan_table(self, table: torch.Tensor) -> ScanTable:
        """The bounded scan's copy of ``table`` (the table this index was built from), made once."""
        if self._scan is None or self._scan.source is not table:
            self._scan = ScanTable.of(table)
        return self._scan

    @classmethod
    def build(cls, table: torch.Tensor, options: RetrievalOptions, tag: str | None = None) -> ItemIndex:
        """Index rows ``1..n`` of ``table`` ((n_items + 1) × hidden; row 0 is padding)."""
        import faiss

        index: Any
        t0 = time.perf_counter()
        x = np.ascontiguousarray(table[1:].detach().to("cpu", torch.float32).numpy())
        n, dim = x.shape
        params = options.build_params(n)
        ids = np.arange(1, n + 1, dtype=np.int64)
        if params["index"] == "ivf-pq":
            index = _ivf_pq(_even(_augment(x)), params["nlist"])
        elif params["index"] == "ivf":
            x = _augment(x)
            quantizer = faiss.IndexFlatL2(dim + 1)
            index = faiss.IndexIVFFlat(quantizer, dim + 1, params["nlist"], faiss.METRIC_L2)
            # k-means on at most 64 points per cell: cells good enough for IVF, a fraction of the build time
            index.cp.max_points_per_centroid = 64
            index.cp.seed = 2026
            index.train(x)
            index.add_with_ids(x, ids)
        else:
            inner = faiss.IndexHNSWFlat(dim, params["m"], faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = params["ef_construction"]
            index = faiss.IndexIDMap(inner)
            index.add_with_ids(x, ids)
        log.info("built a %s item index over %d items in %.1f s", params["index"], n, time.perf_counter() - t0)
        return cls(index, tag or table_digest(table), params)

    def search(self, queries: torch.Tensor, k: int, options: RetrievalOptions) -> torch.Tensor:
        """(B, k) item indices by approximate inner product, best first; 0 where none was found."""
        import faiss

        fx: Any = faiss  # the stubs lack the search-parameter classes of FAISS >= 1.7.3
        k = min(k, self.n_items)
        q = np.ascontiguousarray(queries.detach().to("cpu", torch.float32).numpy())
        nprobe, refine = options.search_params()
        if self.params["index"] in ("ivf", "ivf-pq"):
            # the reduction's 0 coordinate (and ivf-pq's even padding): zeros up to the indexed width
            q = _pad_columns(q, self.index.d)
            params = fx.SearchParametersIVF(nprobe=min(nprobe, self.params["nlist"]))
        else:
            params = fx.SearchParametersHNSW(efSearch=max(options.ef_search, k))
        if self.params["index"] == "ivf-pq":
            params = fx.IndexRefineSearchParameters(k_factor=float(refine), base_index_params=params)
            _, ids = self.index.search(q, k, params=params)
            # the refinement looks items up by position, so this index holds rows 0..n-1: item = row + 1
            return torch.from_numpy(np.where(ids >= 0, ids + 1, 0))
        _, ids = self.index.search(q, k, params=params)
        return torch.from_numpy(np.maximum(ids, 0))

    # ------------------------------------------------------------------ persistence
    def save(self, folder: Path, name: str) -> None:
        """Write ``<name>.faiss`` and ``<name>.json`` (tag, parameters) into ``folder``, atomically."""
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}-{uuid.uuid4().hex[:8]}"
        faiss.write_index(self.index, str(tmp) + ".faiss")
        Path(str(tmp) + ".json").write_text(json.dumps({"tag": self.tag, "params": self.params,
                                                          "n_items": self.n_items}, sort_keys=True))
        # index first, tag last: a reader that sees the new tag also sees the new index
        os.replace(str(tmp) + ".faiss", folder / f"{name}.faiss")
        os.replace(str(tmp) + ".json", folder / f"{name}.json")

    @classmethod
    def load(cls, folder: Path, name: str, tag: str, params: dict[str, Any]) -> ItemIndex | None:
        """The index saved as ``name`` in ``folder`` if it was built from the table tagged ``tag`` with
        ``params``; ``None`` (logged) when it is missing, stale or unreadable: the caller rebuilds."""
        import faiss

        meta_path, index_path = folder / f"{name}.json", folder / f"{name}.faiss"
        if not (meta_path.is_file() and index_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            log.warning("the item index %s has an unreadable tag: rebuilding it", index_path)
            return None
        if meta.get("tag") != tag or meta.get("params") != params:
            log.warning("the item index %s was built from another model or with other parameters: rebuilding it",
                        index_path)
            return None
        try:
            index = faiss.read_index(str(index_path))
        except RuntimeError as exc:
            log.warning("the item index %s cannot be read (%s): rebuilding it", index_path, exc)
            return None
        if index.ntotal != meta.get("n_items"):
            log.warning("the item index %s does not hold the items its tag names: rebuilding it", index_path)
            return None
        return cls(index, tag, params)


#: the ``ivf-pq`` codes: one 4-bit code per 2 dimensions of the (augmented, even-padded) vectors, on the
#: residuals to the cell centroids; 1M items measured 2 dims per code better than 1 (bench/README.md)
_PQ_CODES = "pq-2d-4bit-residual"
#: survivors of the bounded scan per row beyond which a batch is scored exactly instead: this many per
#: item asked for, plus a spare (at 1M trained-like items ~3 per item turn up, history items included)
_SURVIVORS_PER_ITEM = 8
_SURVIVORS_SPARE = 2_048
#: fewest items an ``ivf-pq`` index is built for (its codebooks train on the items themselves)
_PQ_MIN_ITEMS = 1_000


def _pad_columns(x: np.ndarray, width: int) -> np.ndarray:
    """``x`` with zero columns appended up to ``width``."""
    if x.shape[1] >= width:
        return x
    return np.ascontiguousarray(np.hstack([x, np.zeros((x.shape[0], width - x.shape[1]), dtype=np.float32)]))


def _even(x: np.ndarray) -> np.ndarray:
    """``x`` with a zero column appended when its width is odd (PQ with 2 dimensions per code)."""
    return _pad_columns(x, x.shape[1] + x.shape[1] % 2)


def _ivf_pq(x: np.ndarray, nlist: int) -> Any:
    """IVF cells over ``x`` (L2), 4-bit fast-scan PQ codes of the residuals, and a flat copy for the
    refinement; rows keep their positions as ids (the refinement reads the flat copy by id)."""
    import faiss

    n, dim = x.shape
    quantizer = faiss.IndexFlatL2(dim)
    base: Any = faiss.IndexIVFPQFastScan(quantizer, dim, nlist, dim // 2, 4, faiss.METRIC_L2)
    base.cp.max_points_per_centroid = 64
    base.cp.seed = 2026
    base.train(x)
    base.add(x)
    refine: Any = faiss.IndexFlatL2(dim)
    refine.add(x)
    # the Python wrappers keep base, refine and quantizer alive with the index (faiss's referenced_objects);
    # faiss.read_index gives an index that owns its parts
    return faiss.IndexRefine(base, refine)


def _augment(x: np.ndarray) -> np.ndarray:
    """Items with one more coordinate ``sqrt(M² - |x|²)``: all of norm ``M``, so L2 order = inner-product order."""
    sq = np.einsum("ij,ij->i", x, x, dtype=np.float64)
    extra = np.sqrt(np.maximum(sq.max() - sq, 0.0)).astype(np.float32)
    return np.ascontiguousarray(np.hstack([x, extra[:, None]]))


#: most float32 scores :func:`exact_top` holds at once (512 MiB): larger batches are scored in row chunks
EXACT_SCORE_ELEMENTS = 1 << 27


def exact_top(h: torch.Tensor, table: torch.Tensor, exclude: Sequence[np.ndarray], k: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` items by exact inner product over the whole table, ``exclude`` and padding masked.

    The (rows, n_items + 1) score matrix is built for at most :data:`EXACT_SCORE_ELEMENTS` scores at a time
    (256 users × 1M items would otherwise take 1 GiB, on a GPU as on a CPU); chunks of rows give the same
    results, since :func:`score_all` pads every product alike.
    """
    from personarec.session.rerank import top_candidates

    step = max(MIN_PRODUCT_ROWS, EXACT_SCORE_ELEMENTS // table.shape[0])
    if h.shape[0] > step:
        parts = [exact_top(h[i:i + step], table, exclude[i:i + step], k) for i in range(0, h.shape[0], step)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    scores = score_all(h, table)
    excl = _exclusion(exclude, scores.device)
    scores.scatter_(1, excl, float("-inf"))
    scores[:, 0] = float("-inf")  # the padding column
    return top_candidates(scores, k)


def ann_top(h: torch.Tensor, table: torch.Tensor, index: ItemIndex, exclude: Sequence[np.ndarray], k: int,
            options: RetrievalOptions) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` items by inner product via ``index``: over-fetch, re-score exactly, mask, keep ``k``.

    Fetches ``k + margin`` items per row; a row left with fewer than ``k`` items once its own items are
    masked, or (uncertified) whose ``k``-th score ties the last fetched one (the tie could continue
    beyond), is fetched again with twice as many, up to the whole catalogue. Only such rows pay for a second
    search: fetching ``k`` plus the batch's longest history up front made every row pay for one user's
    long history. The result has ``min(k, n_items)`` columns; rows short of items are padded with item
    0 at -inf, as :func:`exact_top` does.

    With ``options.verify`` the result is certified (:mod:`personarec.session.certify`): the items
    whose scan score may reach the ``k``-th exact score found are re-scored and the top ``k`` taken
    again, so it equals :func:`exact_top`'s. Rows the index left short of ``k`` items, and a batch whose
    scan lets through more than :data:`_SURVIVORS_PER_ITEM` items per item asked for (plus a spare) per
    row (mass ties at the threshold), are answered by :func:`exact_top` itself.
    """
    n = index.n_items
    width = min(k, n + 1)
    excl = torch.sort(_exclusion(exclude, h.device), dim=1).values  # sorted: membership by binary search
    out_items = torch.zeros(h.shape[0], width, dtype=torch.long, device=h.device)
    out_scores = torch.full((h.shape[0], width), float("-inf"), device=h.device)
    rows = torch.arange(h.shape[0], device=h.device)
    fetch = k + options.margin
    while rows.numel():
        fetch = min(fetch, n)
        ids = index.search(h[rows], fetch, options).to(h.device)
        if ids.shape[1] < width:  # a catalogue smaller than k: pad with item 0 (masked), as exact_top has
            ids = torch.cat([ids, ids.new_zeros(ids.shape[0], width - ids.shape[1])], dim=1)
        scores = _masked_scores(h[rows], table, ids, excl[rows])
        if options.verify:  # only the k-th exact score matters: the certification picks the items
            top = torch.topk(scores, width, dim=1).values
        else:
            items, top = select_top(ids, scores, width)
            out_items[rows] = items
        out_scores[rows] = top
        if fetch >= n:
            break
        # rows to fetch again: too few unmasked items; uncertified, also a k-th score that ties the weakest
        # fetched one (the tie could continue beyond; the certifying scan finds every tied item itself)
        finite = torch.isfinite(scores)
        n_finite = finite.sum(1)
        again = n_finite < width
        if not options.verify:
            weakest = torch.where(finite, scores, torch.full_like(scores, float("inf"))).min(1).values
            again |= torch.isfinite(top[:, -1]) & (top[:, -1] <= weakest) & (n_finite > 0)
        rows, fetch = rows[again], fetch * 2
    if options.verify:
        _certify(h, table, index, exclude, width, out_items, out_scores)
    return out_items, out_scores


def _certify(h: torch.Tensor, table: torch.Tensor, index: ItemIndex, exclude: Sequence[np.ndarray],
             width: int, out_items: torch.Tensor, out_scores: torch.Tensor) -> None:
    """Fill (out_items, out_scores) with the exact top ``width`` per row (:func:`ann_top`'s ``verify``), in
    place. On entry ``out_scores`` holds the best exact scores the index found, -inf padded (its last column,
    the ``width``-th, is the threshold)."""

    def exactly(rows: torch.Tensor) -> None:
        on = rows.to(h.device)
        out_items[on], out_scores[on] = exact_top(h[on], table, [exclude[int(r)] for r in rows], width)

    found = torch.isfinite(out_scores[:, -1])
    short = torch.nonzero(~found).view(-1).cpu()
    if short.numel():  # the index found fewer than k items: no threshold, so these rows score every item
        exactly(short)
    # every item of the true top k scores at least the k-th exact score found: certify against all items
    rows = torch.nonzero(found).view(-1).cpu()
    if not rows.numel():
        return
    limit = rows.numel() * (_SURVIVORS_PER_ITEM * width + _SURVIVORS_SPARE)
    hits = survivors(h[rows], out_scores[rows, -1], index.scan_table(table), limit)
    if hits is None:  # ties by the thousand at the threshold: score every item of these rows instead
        log.debug("the bounded scan found over %d items for %d rows: scoring them exactly", limit, len(rows))
        exactly(rows)
        return
    on = rows.to(h.device)
    floor = out_scores[on, -1].float().cpu().numpy()
    items, scores = _top_of_pairs(h[on], table, *hits, [exclude[int(r)] for r in rows], width, floor)
    out_items[on], out_scores[on] = items.to(h.device), scores.to(h.device)


def _top_of_pairs(h: torch.Tensor, table: torch.Tensor, pair_rows: np.ndarray, pair_items: np.ndarray,
                  exclude: Sequence[np.ndarray], width: int, floor: np.ndarray | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The top ``width`` of each row of ``h`` among its (row, item) pairs, exactly scored, the row's
    ``exclude`` dropped, in :func:`exact_top`'s order (score descending, lower item first); rows short of
    items are padded with item 0 at -inf. Returns (items, scores) on the CPU.

    One product of the rows with the union of the pairs' items (:func:`score_all`'s values), then one sort
    of the pairs (:func:`_by_row_best_first`). ``floor``: per row, a score that ``width`` of its unexcluded
    pairs reach (the certified threshold): pairs below it cannot place and are dropped first (~60% of the
    scan's survivors at 1M trained-like items). Exclusion is checked only for the pairs that can still place
    (a row's best ``width`` plus as many as it excludes). Padding the pairs to a (rows × longest row) matrix
    instead cost a sort of the padded matrix for the union and two more for the order: rows' survivors at
    1M items range from ~100 to over 3,000, so the matrix held ~10 slots per pair.
    """
    n_rows, base = h.shape[0], table.shape[0]
    scores, cols = _union_product(h, table, torch.from_numpy(pair_items).to(table.device))
    values = scores[torch.from_numpy(pair_rows).to(scores.device), cols].float().cpu().numpy()
    if floor is not None:
        keep = values >= floor[pair_rows]
        pair_rows, pair_items, values = pair_rows[keep], pair_items[keep], values[keep]
    order = _by_row_best_first(pair_rows, pair_items, values)
    rows_s, items_s, values_s = pair_rows[order], pair_items[order], values[order]
    n_excluded = np.array([len(e) for e in exclude], dtype=np.int64)
    if n_excluded.any():
        near = _rank_in_row(rows_s, n_rows) < width + n_excluded[rows_s]
        rows_s, items_s, values_s = rows_s[near], items_s[near], values_s[near]
        banned = np.sort(np.concatenate([r * base + np.asarray(e, dtype=np.int64)
                                         for r, e in enumerate(exclude) if len(e)]))
        keys = rows_s.astype(np.int64) * base + items_s
        at = np.minimum(np.searchsorted(banned, keys), banned.size - 1)
        keep = banned[at] != keys  # membership by binary search: np.isin sorted both sides again
        rows_s, items_s, values_s = rows_s[keep], items_s[keep], values_s[keep]
    rank = _rank_in_row(rows_s, n_rows)
    take = rank < width
    out_items = np.zeros((n_rows, width), dtype=np.int64)
    out_scores = np.full((n_rows, width), -np.inf, dtype=np.float32)
    out_items[rows_s[take], rank[take]] = items_s[take]
    out_scores[rows_s[take], rank[take]] = values_s[take]
    return torch.from_numpy(out_items), torch.from_numpy(out_scores)


def _by_row_best_first(rows: np.ndarray, items: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The order of (row, item, value) triples by row, then value descending, then item ascending
    (``np.lexsort((items, -values, rows))``, in a fifth of its time on 400k pairs): one sort of a 64-bit
    key (the value's bits mapped to an order-preserving integer, complemented, above the item), then a
    stable radix sort of the rows."""
    if items.size and items.max() >= 1 << 31:  # the key holds 31 bits of item
        return np.lexsort((items, -(values + np.float32(0.0)), rows))
    bits = (values + np.float32(0.0)).view(np.uint32).astype(np.int64)  # + 0.0: -0.0 ties with 0.0
    ascending = np.where(bits >= 1 << 31, 0xFFFF_FFFF - bits, bits + (1 << 31))
    order = np.argsort(((0xFFFF_FFFF - ascending) << 31) | items.astype(np.int64))
    by_row = rows[order].astype(np.int16 if rows.size and rows.max() < 1 << 15 else np.int64)
    return order[np.argsort(by_row, kind="stable")]


def _rank_in_row(rows: np.ndarray, n_rows: int) -> np.ndarray:
    """Each entry's position within its row, for ``rows`` grouped (ascending)."""
    starts = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))[:-1]])
    return np.arange(rows.size) - starts[rows]


def _masked_scores(h: torch.Tensor, table: torch.Tensor, ids: torch.Tensor, excluded: torch.Tensor) -> torch.Tensor:
    """Exact scores of ``ids`` per row, -inf where the item is the padding 0 or in the row's sorted ``excluded``."""
    scores = score_items(h, table, ids)
    at = torch.searchsorted(excluded, ids).clamp(max=excluded.shape[1] - 1)
    masked = (excluded.gather(1, at) == ids) | (ids == 0)  # (B, fetch) memory, whatever the history length
    return scores.masked_fill(masked, float("-inf"))
