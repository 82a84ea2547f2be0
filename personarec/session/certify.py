"""Certify an approximate top-k as the exact one with a bounded low-precision scan of the whole table.

An index returns ``k`` real items per session, re-scored exactly
(:func:`personarec.session.retrieval.ann_top`); the ``k``-th best of those exact scores, ``t``, is a
lower bound on the true ``k``-th best score, so every item of the true top ``k`` scores at least ``t``.
One pass of low-precision inner products over every item (a blocked matrix product never holding more
than a few MB of scores; bfloat16 where it measured faster than float32, float32 elsewhere,
:func:`personarec.cpu.auto_bf16`) keeps the items ``x`` whose approximate score reaches ``t - δ(x)``,
where ``δ(x)`` bounds the rounding error of that pass for that item; those few items are re-scored
exactly and the top ``k`` taken again. The result is the exact top ``k`` bit for bit, whatever the index
missed, and the pass costs no sorting or selection over the catalogue: ``δ(x) - t`` is folded into the
product as two more columns (each item's norm, times ``a |h|``; ones, times ``b |t| - t``), so an item
survives when the sign bit of its result is clear: read as a signed integer, the result is then ≥ 0, so a
group of 128 results holds a survivor exactly when its integer maximum is ≥ 0, and only such groups are
looked into.

Error bound, ``δ(x) = a |h| |x| + b |t|`` with ``a = 2^-7 + 2^-10`` and ``b = 2^-8 + 2^-10``, for
``d ≤ 2000`` (:data:`MAX_DIM`). Notation: ``u = 2^-8`` is bfloat16's unit roundoff (8 significant bits),
``γ = 2^-13 ≥ (d + 2) 2^-24 / (1 - (d + 2) 2^-24)`` bounds the relative error of float32 sums of up to
``d + 2`` terms, and the exact score ``e`` is the float32 product, so ``|e - h·x| ≤ γ |h| |x|``. The scan
rounds its inputs to bfloat16 (to nearest) and multiplies them exactly, accumulating in float32
(AVX512-BF16, oneDNN). Against the real value ``V = h·x + a |h| |x| + b |t| - t`` of what it computes,
the rounded inputs cost at most ``(2u + u²)(1 + a) |h| |x|`` on the item and norm columns (``Σ|h_i x_i| ≤
|h| |x|``) and ``u (1 + b) |t|`` on the threshold column, and the float32 sum ``γ`` of the absolute sum
of its terms (at most ``1.008 ((1 + a) |h| |x| + (1 + b) |t|)``); rounding the result to bfloat16 keeps
its sign. If ``e ≥ t`` then ``V ≥ (a - γ) |h| |x| + b |t|``, which exceeds all those errors when
``a - γ ≥ (1 + a)(2u + u² + 1.008 γ)`` (``a ≥ 0.00814`` needed, ``a = 0.00879``) and ``b ≥ (1 + b)(u +
1.008 γ)`` (``b ≥ 0.00405`` needed, ``b = 0.00488``); the float32 rounding of ``|h|``, ``|x|`` and the
coefficients, well under ``2^-13`` relative, stays inside those margins. So every item with ``e ≥ t``
survives. An item's own norm in ``δ(x)``, instead of the catalogue's largest, halves ``δ`` for a typical
item of a trained table and cuts the survivors to re-score (bench/README.md, "Certified retrieval").
The float32 scan keeps the same ``δ``: its inputs are not rounded at all and its sums are float32's, so
every bfloat16 term of the bound only widens the margin.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from personarec.cpu import auto_bf16

log = logging.getLogger(__name__)

#: items per block of the scan, by its precision: the (rows × block) score block must stay in cache. 8,192
#: for bfloat16 (measured on AVX512-BF16/AMX CPUs; 4,096 and 2,048 were no faster end to end on the AMD
#: EPYC with AVX512-BF16); 2,048 for float32, where a 256 × 8,192 block is 8 MB:
#: on an AVX2-only AMD EPYC (2 cores, 1M items, 256 rows, alternating runs in one process) 2,048 scanned
#: in 0.46 s median against 0.82 s at 8,192 (4,096: 0.59; 1,024: 0.44; 512: 0.55), bench/README.md; on the
#: Intel Xeon with AVX-512 and no AMX the same: 0.179 s against 0.262 (4,096: 0.198; 1,024: 0.187)
_BLOCKS = {torch.bfloat16: 8192, torch.float32: 2048}
#: δ(x) = a |h| |x| + b |t| (module docstring)
_A = 2.0 ** -7 + 2.0 ** -10
_B = 2.0 ** -8 + 2.0 ** -10
#: the largest item dimension the error bound is derived for (module docstring)
MAX_DIM = 2000
#: the signed integers a score's bits are read as: ≥ 0 exactly where its sign bit is clear
_WORDS = {torch.bfloat16: torch.int16, torch.float32: torch.int32}
#: int64 words with the sign bit of each packed 16- or 32-bit score
_SIGNS = {np.dtype(np.int16): np.int64(np.uint64(0x8000_8000_8000_8000).view(np.int64)),
          np.dtype(np.int32): np.int64(np.uint64(0x8000_0000_8000_0000).view(np.int64))}
#: scores per group whose integer maximum is tested first: where survivors are a few in 10,000 (1M
#: trained-like items), most groups are passed over after one vectorised reduction, and a block's test
#: took ~30% less time than testing every score's sign bit (256 rows, one core)
_GROUP = 128
#: a block with more survivors than 1/_DENSE of its groups has the next one tested score by score, four
#: at a time on the raw bits: past that, looking into the groups costs more than it saves (the isotropic
#: catalogue, ~5× the survivors, scanned 20% slower with groups alone)
_DENSE = 12


@dataclass(frozen=True)
class ScanTable:
    """Rows ``1..n`` of an item table in the scan's precision with two columns appended: each row's norm
    (its share of ``δ``) and ones (the threshold column).

    Attributes:
        rows: (n, d + 2) bfloat16 or float32, as :func:`personarec.cpu.auto_bf16` picks.
        source: the table it was made from (identity: a new table makes a new scan table).
    """

    rows: torch.Tensor
    source: torch.Tensor

    @classmethod
    def of(cls, table: torch.Tensor, dtype: torch.dtype | None = None) -> ScanTable:
        """The scan table of ``table`` ((n_items + 1) × d, row 0 padding); ``dtype`` bfloat16 or float32,
        ``None``: as :func:`personarec.cpu.auto_bf16` picks."""
        if table.shape[1] > MAX_DIM:
            raise ValueError(f"the bounded scan's error bound holds up to {MAX_DIM} dimensions, not "
                             f"{table.shape[1]}; set session.ann_verify = false for wider item tables")
        if dtype is None:
            dtype = torch.bfloat16 if auto_bf16("cpu") else torch.float32
        if dtype not in _WORDS:
            raise ValueError(f"the bounded scan runs in bfloat16 or float32, not {dtype}")
        x = table[1:].detach().to("cpu", torch.float32)
        rows = torch.cat([x, x.norm(dim=1, keepdim=True), x.new_ones(x.shape[0], 1)], dim=1).to(dtype).contiguous()
        return cls(rows, table)


def survivors(h: torch.Tensor, thresholds: torch.Tensor, scan: ScanTable, limit: int | None = None
              ) -> tuple[np.ndarray, np.ndarray] | None:
    """Every (row, item) whose scan score reaches ``threshold - δ(item)``: a superset of the items scoring at
    least ``threshold`` exactly (module docstring). Returns (rows, items), items 1-based as in the table;
    ``None`` once more than ``limit`` pairs turn up (massive ties at the threshold: the caller scores
    those rows exactly instead of holding a pair per item).

    The blocks are split among ``torch.get_num_threads()`` threads, each multiplying on one core and
    testing its own blocks' bits (numpy releases the GIL): one threaded product per block followed by a
    serial test left a core idle for a third of the pass.
    """
    h = h.detach().to("cpu", torch.float32)
    t = thresholds.detach().to("cpu", torch.float32)
    # score + a |h| |x| + b |t| - t: the norm column carries each item's own share of δ
    query = torch.cat([h, _A * h.norm(dim=1, keepdim=True), (_B * t.abs() - t)[:, None]], dim=1).to(scan.rows.dtype)
    n = scan.rows.shape[0]
    step = _BLOCKS[scan.rows.dtype]
    workers = max(1, min(torch.get_num_threads(), math.ceil(n / step)))
    per_worker = math.ceil(math.ceil(n / step) / workers) * step
    cap = None if limit is None else math.ceil(limit / workers)
    if workers == 1:
        parts = [_scan(query, scan.rows, 0, n, step, False, cap)]
    else:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda lo: _scan(query, scan.rows, lo, min(n, lo + per_worker), step, True, cap),
                                  range(0, n, per_worker)))
    done = [part for part in parts if part is not None]
    if len(done) < len(parts):
        return None
    rows = [r for part in done for r in part[0]]
    items = [i for part in done for i in part[1]]
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(items)


def _scan(query: torch.Tensor, table: torch.Tensor, lo: int, hi: int, step: int, single: bool,
          cap: int | None) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """(rows, items) of the clear sign bits of ``query @ table[lo:hi].T``, ``step`` items a block; ``None``
    past ``cap`` of them."""
    if single:
        torch.set_num_threads(1)  # this worker thread's own setting (OpenMP's is per thread)
    word = _WORDS[query.dtype]
    rows_out: list[np.ndarray] = []
    items_out: list[np.ndarray] = []
    found = 0
    grouped = True
    for start in range(lo, hi, step):
        block = torch.mm(query, table[start:min(hi, start + step)].T).view(word)
        width = block.shape[1]
        pos = _clear_signs(block, grouped)
        grouped = pos.size * _DENSE < block.numel() // _GROUP
        if not pos.size:
            continue
        rows_out.append(pos // width)
        items_out.append(pos % width + start + 1)
        found += pos.size
        if cap is not None and found > cap:
            return None
    return rows_out, items_out


def _clear_signs(block: torch.Tensor, grouped: bool) -> np.ndarray:
    """Flat positions of the entries ≥ 0 of a (rows, width) block of scores read as signed integers: by
    group maxima first (``grouped``, where ``width`` is a multiple of :data:`_GROUP`), else four 16-bit
    (two 32-bit) scores at a time on the raw bits."""
    if grouped and block.shape[1] % _GROUP == 0:
        groups = block.view(-1, _GROUP)  # row-major: a group never spans two rows
        hot = np.flatnonzero(groups.amax(dim=1).numpy() >= 0)
        at, col = np.nonzero(groups.numpy()[hot] >= 0)
        return hot[at] * _GROUP + col
    flat = block.numpy().reshape(-1)
    per = 8 // flat.itemsize  # scores per int64 word
    if flat.size % per:
        return np.flatnonzero(flat >= 0)
    sign = _SIGNS[flat.dtype]
    words = np.flatnonzero((flat.view(np.int64) & sign) != sign)
    pos = (words[:, None] * per + np.arange(per)).reshape(-1)
    return pos[flat[pos] >= 0]
