"""The bounded scan (personarec.session.certify): it keeps every item that reaches the threshold, and the
index's top-k it certifies equals exact retrieval's bit for bit, however poor the index."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from personarec.session import certify
from personarec.session.certify import ScanTable, survivors
from personarec.session.retrieval import ItemIndex, RetrievalOptions, ann_top, exact_top

N_ITEMS = 9_001  # not a multiple of the scan's block: the last block is partial


def _table(n: int = N_ITEMS, dim: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # anisotropic with a common direction, like trained tables; large values test the relative bound
    table = torch.randn(n + 1, dim, generator=g) * torch.linspace(3.0, 0.1, dim) + 2.0
    table[11:41] = table[41:71]  # tied items
    return table


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_survivors_hold_every_item_at_or_above_the_threshold(dtype: torch.dtype) -> None:
    table = _table()
    g = torch.Generator().manual_seed(1)
    h = torch.randn(40, table.shape[1], generator=g) * 7.0
    exact = h @ table[1:].T
    # thresholds at the 50th best score: that item and its exact ties sit right on it
    t = torch.sort(exact, dim=1, descending=True).values[:, 49]
    scan = ScanTable.of(table, dtype)
    rows, items = survivors(h, t, scan)
    got = {(int(r), int(i)) for r, i in zip(rows, items, strict=True)}
    want = {(int(r), int(c) + 1) for r, c in torch.nonzero(exact >= t[:, None]).tolist()}
    assert want <= got
    assert len(got) < 0.05 * len(h) * N_ITEMS  # a filter, not the catalogue
    assert all(1 <= i <= N_ITEMS for _, i in got)


@pytest.mark.parametrize("dim", [3, 64, 700, certify.MAX_DIM])
def test_survivors_are_sound_across_dimensions_and_item_norms(dim: int) -> None:
    # δ is per item (its own norm): items 1000× apart in norm, thresholds on an exact score and its ties
    g = torch.Generator().manual_seed(dim)
    table = torch.randn(3_001, dim, generator=g) * torch.logspace(-1.5, 1.5, 3_001)[:, None]
    table[1:200] = table[1:200] * 1e-3 + table[200]  # near-duplicates of one item: scores packed around its own
    h = torch.randn(16, dim, generator=g)
    exact = h @ table[1:].T
    t = torch.sort(exact, dim=1, descending=True).values[:, 150]
    rows, items = survivors(h, t, ScanTable.of(table, torch.bfloat16))
    got = {(int(r), int(i)) for r, i in zip(rows, items, strict=True)}
    want = {(int(r), int(c) + 1) for r, c in torch.nonzero(exact >= t[:, None]).tolist()}
    assert want <= got
    assert len(got) < 0.5 * len(h) * 3_000


def test_the_scan_refuses_tables_wider_than_its_error_bound() -> None:
    with pytest.raises(ValueError, match="ann_verify"):
        ScanTable.of(torch.zeros(3, certify.MAX_DIM + 1))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_scan_threads_and_blocks_do_not_change_the_survivors(monkeypatch: pytest.MonkeyPatch,
                                                             dtype: torch.dtype) -> None:
    table = _table(seed=2)
    h = torch.randn(20, table.shape[1], generator=torch.Generator().manual_seed(2))
    t = torch.sort(h @ table[1:].T, dim=1, descending=True).values[:, 30]
    scan = ScanTable.of(table, dtype)
    threads = torch.get_num_threads()
    results = []
    try:
        # 1000-item blocks are no multiple of a group: every score is tested there, against group maxima
        # first; dense 0: always by groups; dense 10⁹: score by score after the first block
        for n_threads, block, group, dense in ((1, 4096, 128, 12), (2, 4096, 128, 12), (3, 1000, 128, 12),
                                               (1, 8192, 8, 12), (1, 2048, 128, 0), (2, 2048, 128, 10**9)):
            torch.set_num_threads(n_threads)
            monkeypatch.setattr(certify, "_BLOCKS", {dtype: block for dtype in certify._BLOCKS})
            monkeypatch.setattr(certify, "_GROUP", group)
            monkeypatch.setattr(certify, "_DENSE", dense)
            rows, items = survivors(h, t, scan)
            results.append(sorted(zip(rows.tolist(), items.tolist(), strict=True)))
    finally:
        torch.set_num_threads(threads)
    assert results[0] and all(r == results[0] for r in results[1:])


def test_top_of_pairs_orders_and_masks_as_exact_retrieval() -> None:
    from personarec.session.retrieval import _top_of_pairs

    table = _table(n=500, seed=4)  # items 11..40 tie with 41..70
    h = torch.randn(20, table.shape[1], generator=torch.Generator().manual_seed(4))
    rng = np.random.default_rng(4)
    exclude = [rng.choice(np.arange(1, 501), size=int(rng.integers(0, 30)), replace=False) for _ in range(20)]
    exclude[3] = np.arange(41, 71)  # the tied twins of items 11..40 masked
    rows = np.repeat(np.arange(20), 500)
    items = np.tile(np.arange(1, 501), 20)
    shuffle = rng.permutation(rows.size)  # pairs come in any order
    got = _top_of_pairs(h, table, rows[shuffle], items[shuffle], exclude, 60)
    want = exact_top(h, table, exclude, 60)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    # a floor that width unexcluded pairs reach (the certified threshold) changes nothing
    floored = _top_of_pairs(h, table, rows[shuffle], items[shuffle], exclude, 60, want[1][:, -1].numpy())
    assert torch.equal(floored[0], want[0]) and torch.equal(floored[1], want[1])
    # a row with fewer pairs than places is padded with item 0 at -inf
    short = _top_of_pairs(h[:2], table, np.array([0, 0, 1]), np.array([9, 4, 7]), [np.array([4]), np.array([])], 3)
    assert short[0].tolist() == [[9, 0, 0], [7, 0, 0]]
    assert torch.isinf(short[1][:, 1:]).all() and torch.isfinite(short[1][:, 0]).all()


def test_pairs_sort_by_row_then_score_descending_then_item() -> None:
    from personarec.session.retrieval import _by_row_best_first

    rng = np.random.default_rng(5)
    rows = rng.integers(0, 40, 5_000)
    items = rng.integers(1, 2_000_000, 5_000)
    values = rng.choice(np.array([-3.5, -0.0, 0.0, 1e-30, -1e-30, 2.25, 7.0, -np.inf], dtype=np.float32), 5_000)
    values[:2_000] = rng.normal(size=2_000).astype(np.float32)
    # -0.0 and 0.0 tie, as in exact_top: the lower item goes first
    want = np.lexsort((items, -(values + np.float32(0.0)), rows))
    assert np.array_equal(_by_row_best_first(rows, items, values), want)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_a_poor_index_certified_equals_exact_retrieval_bit_for_bit(dtype: torch.dtype) -> None:
    table = _table(n=3_000, seed=3)
    g = torch.Generator().manual_seed(3)
    h = torch.randn(33, table.shape[1], generator=g)
    rng = np.random.default_rng(3)
    exclude = [rng.choice(np.arange(1, 3_001), size=int(rng.integers(1, 40)), replace=False) for _ in range(33)]
    poor = RetrievalOptions(mode="ann", index="ivf-pq", nlist=64, nprobe=1, refine=1, margin=4, verify=True)
    index = ItemIndex.build(table, poor)
    index._scan = ScanTable.of(table, dtype)
    for k in (1, 10, 100, 3_000):
        want = exact_top(h, table, exclude, k)
        got = ann_top(h, table, index, exclude, k, poor)
        finite = torch.isfinite(want[1])
        assert torch.equal(got[1], want[1]) and torch.equal(got[0][finite], want[0][finite])
    # the index alone is wrong here: the certification is what makes it exact
    unverified = ann_top(h, table, index, exclude, 100, RetrievalOptions(
        mode="ann", index="ivf-pq", nlist=64, nprobe=1, refine=1, margin=4, verify=False))
    assert not torch.equal(unverified[0], exact_top(h, table, exclude, 100)[0])


def test_scan_table_follows_its_table_and_rejects_other_precisions() -> None:
    table = _table(n=2_000, seed=4)
    index = ItemIndex.build(table, RetrievalOptions(mode="ann", index="ivf", nlist=8))
    first = index.scan_table(table)
    assert index.scan_table(table) is first
    other = table.clone()
    assert index.scan_table(other) is not first
    with pytest.raises(ValueError, match="bfloat16 or float32"):
        ScanTable.of(table, torch.float16)


def test_default_search_depends_on_verification() -> None:
    assert RetrievalOptions(verify=True).search_params() == (64, 4)
    assert RetrievalOptions(verify=False).search_params() == (512, 32)
    assert RetrievalOptions(verify=False, nprobe=7, refine=3).search_params() == (7, 3)


def test_massive_ties_at_the_threshold_fall_back_to_exact_scoring(caplog: pytest.LogCaptureFixture) -> None:
    g = torch.Generator().manual_seed(5)
    table = torch.randn(20_001, 8, generator=g)
    table[21:] = 0.0  # 19,980 items tie at score 0, inside every row's top 30
    h = torch.randn(6, 8, generator=g)
    scan = ScanTable.of(table)
    t = torch.sort(h @ table[1:].T, dim=1, descending=True).values[:, 29]
    assert survivors(h, t, scan, limit=1_000) is None
    options = RetrievalOptions(mode="ann", index="ivf", nlist=8, nprobe=8, margin=4, verify=True)
    index = ItemIndex.build(table, options)
    exclude = [np.array([5, 30])] * 6
    want = exact_top(h, table, exclude, 30)
    with caplog.at_level("DEBUG", logger="personarec.session.retrieval"):
        got = ann_top(h, table, index, exclude, 30, options)
    assert "scoring them exactly" in caplog.text
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
