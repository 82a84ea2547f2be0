"""Candidate retrieval: the item index returns the exact top-k where it must, the candidate-only rerank
equals the full-score rerank, and a stored index is reused only for the model it was built from."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from personarec.jobs.base import UserBatch
from personarec.session.models import TrainedModels
from personarec.session.popular import MostPopular
from personarec.session.rerank import rerank, top_candidates
from personarec.session.retrieval import (
    ItemIndex,
    RetrievalOptions,
    ann_top,
    exact_top,
    score_all,
    score_items,
    table_digest,
)
from personarec.session.sasrec import SASRec, SASRecConfig, SASRecNet

N_ITEMS = 300
#: An IVF index that scans every cell: exhaustive, so it must return the exact top-k.
EXHAUSTIVE = RetrievalOptions(mode="ann", index="ivf", nlist=8, nprobe=8, margin=4)
#: The same with PQ fast-scan codes: every cell scanned and every item refined on its full vector (on a
#: catalogue of PQ_ITEMS: below 1,000 items an ivf-pq index is built as IVF-flat).
EXHAUSTIVE_PQ = RetrievalOptions(mode="ann", index="ivf-pq", nlist=8, nprobe=8, refine=10_000, margin=4)
PQ_ITEMS = 1_200
#: (options, catalogue size) per index kind
EXHAUSTIVE_KINDS = [pytest.param(EXHAUSTIVE, N_ITEMS, id="ivf"), pytest.param(EXHAUSTIVE_PQ, PQ_ITEMS, id="ivf-pq")]


def random_models(n_items: int = N_ITEMS, seed: int = 0, retrieval: RetrievalOptions | None = None,
                  duplicate: bool = True) -> TrainedModels:
    """A two-stage set of freshly initialised networks; with ``duplicate``, items 11..40 copy items
    41..70 of every item table, so exact scores tie."""
    torch.manual_seed(seed)
    cfg = SASRecConfig(hidden=16, inner=32, max_len=10, progress=False, device="cpu")
    sasrec, persona = SASRec(cfg), SASRec(cfg)
    sasrec.net_ = SASRecNet(n_items, cfg).eval()
    persona.net_ = SASRecNet(n_items, cfg, user_dim=4).eval()
    persona.user_mean_, persona.user_std_ = np.zeros(4, np.float32), np.ones(4, np.float32)
    if duplicate:
        with torch.no_grad():
            for m in (sasrec, persona):
                w = m.net_.item_emb.weight  # type: ignore[union-attr]
                w[11:41] = w[41:71]
    pop = MostPopular()
    pop.counts_ = np.zeros(n_items + 1, dtype=np.float32)
    return TrainedModels(item_ids=[f"t:{i}" for i in range(1, n_items + 1)], popular=pop, sasrec=sasrec,
                         persona=persona, n_candidates=20, retrieval=retrieval or RetrievalOptions(mode="exact"))


def random_sessions(n: int, rng: np.random.Generator, n_items: int = N_ITEMS) -> list[np.ndarray]:
    # sessions drawn from the duplicated block too, so masked items have tied twins left in the catalogue
    return [rng.choice(np.arange(1, n_items + 1), size=int(rng.integers(1, 15)), replace=False) for _ in range(n)]


@pytest.mark.parametrize(("exhaustive", "n_items"), EXHAUSTIVE_KINDS)
def test_exact_and_exhaustive_index_equal_a_full_stable_sort_with_masks_and_ties(
        exhaustive: RetrievalOptions, n_items: int) -> None:
    rng = np.random.default_rng(3)
    g = torch.Generator().manual_seed(3)
    table = torch.randn(n_items + 1, 8, generator=g)
    table[11:41] = table[41:71]  # tied items
    h = torch.randn(37, 8, generator=g)
    exclude = random_sessions(37, rng, n_items)
    index = ItemIndex.build(table, exhaustive)
    assert index.params["index"] == exhaustive.index
    for k in (1, 10, 100, n_items):
        full = h @ table.T
        for r, e in enumerate(exclude):
            full[r, e] = float("-inf")
        full[:, 0] = float("-inf")
        want_scores, want_items = torch.sort(full, dim=1, descending=True, stable=True)
        width = min(k, n_items + 1)
        got = exact_top(h, table, exclude, k)
        assert torch.equal(got[0], want_items[:, :width]) and torch.equal(got[1], want_scores[:, :width])
        ann = ann_top(h, table, index, exclude, k, exhaustive)
        # same scores everywhere; same items wherever there is one (-inf places are padding in both)
        finite = torch.isfinite(got[1])
        assert torch.equal(ann[1], got[1]) and torch.equal(ann[0][finite], got[0][finite])
    # the duplicated items really tie, and masked items never come back
    assert (want_scores[:, :-1] == want_scores[:, 1:]).any()


def test_index_over_fetches_when_the_session_masks_the_top_items() -> None:
    g = torch.Generator().manual_seed(5)
    table = torch.randn(N_ITEMS + 1, 8, generator=g)
    h = torch.randn(4, 8, generator=g)
    top = torch.sort(h @ table[1:].T, dim=1, descending=True).indices + 1
    exclude = [top[r, :60].numpy() for r in range(4)]  # the 60 best items of each row are the session's own
    options = RetrievalOptions(mode="ann", nlist=8, nprobe=8, margin=1)
    index = ItemIndex.build(table, options)
    got = ann_top(h, table, index, exclude, 10, options)
    assert torch.equal(got[0], exact_top(h, table, exclude, 10)[0])
    assert torch.equal(got[0], top[:, 60:70])


def test_candidate_only_rerank_equals_the_full_score_rerank() -> None:
    rng = np.random.default_rng(0)
    for seed in range(3):
        models = random_models(seed=seed)
        sessions = random_sessions(64, rng)
        personas = rng.normal(size=(64, 4)).astype(np.float32)
        cand, cs = models.candidates(sessions, personas)
        for fusion in (0.0, 0.3):
            old = rerank(cand, cs, models.sasrec.score_sessions(sessions), fusion)
            new = models.rerank(sessions, cand, cs, k=cand.shape[1], fusion=fusion)
            assert torch.equal(new[0], old[0]) and torch.equal(new[1], old[1])
        # a user's list and scores do not depend on the batch it comes in (one- and two-row batches too)
        whole = models.rerank(sessions, cand, cs, k=cand.shape[1])
        for size in (1, 2, 3):
            part = models.rerank(sessions[:size], cand[:size], cs[:size], k=cand.shape[1])
            assert torch.equal(part[0], whole[0][:size]) and torch.equal(part[1], whole[1][:size])


def test_exact_candidates_equal_the_old_full_score_path() -> None:
    rng = np.random.default_rng(1)
    models = random_models()
    sessions = random_sessions(50, rng)
    personas = rng.normal(size=(50, 4)).astype(np.float32)
    scores = models.persona.score_sessions(sessions, personas)  # type: ignore[union-attr]
    for r, s in enumerate(sessions):
        scores[r, s] = float("-inf")
    scores[:, 0] = float("-inf")
    want = top_candidates(scores, models.n_candidates)
    got = models.candidates(sessions, personas)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_recommender_gives_the_same_top10_with_an_exhaustive_index_as_exact() -> None:
    rng = np.random.default_rng(2)
    exact = random_models(retrieval=RetrievalOptions(mode="exact"))
    ann = random_models(retrieval=EXHAUSTIVE)
    sessions = random_sessions(40, rng)
    ids = exact.item_ids
    personas = rng.normal(size=(40, 4)).astype(np.float32)
    # users with personas, users without (SASRec candidates, as for anonymous sessions)
    batch = UserBatch(ids=[str(i) for i in range(40)], histories=[[ids[i - 1] for i in s] for s in sessions],
                      personas=[p.tolist() if i % 3 else None for i, p in enumerate(personas)])
    a, sa = exact.recommender().recommend(batch, 10)
    b, sb = ann.recommender().recommend(batch, 10)
    assert a == b and sa == sb
    assert all(len(x) == 10 and not set(x) & set(h) for x, h in zip(a, batch.histories, strict=True))


@pytest.mark.parametrize(("exhaustive", "n_items"), EXHAUSTIVE_KINDS)
def test_stored_index_is_reused_for_the_same_model_and_rebuilt_when_weights_change(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
        exhaustive: RetrievalOptions, n_items: int) -> None:
    rng = np.random.default_rng(4)
    sessions = random_sessions(8, rng, n_items)
    personas = rng.normal(size=(8, 4)).astype(np.float32)
    models = random_models(n_items, retrieval=exhaustive)
    models.save(tmp_path / "m")
    first = models.candidates(sessions, personas)
    assert models.item_index("persona").params["index"] == exhaustive.index
    stored = tmp_path / "m" / "index" / "persona.faiss"
    assert stored.is_file()

    builds: list[int] = []
    real_build = ItemIndex.build.__func__  # type: ignore[attr-defined]

    def counting_build(cls, table, options, tag=None):  # type: ignore[no-untyped-def]
        builds.append(1)
        return real_build(cls, table, options, tag)

    monkeypatch.setattr(ItemIndex, "build", classmethod(counting_build))
    again = TrainedModels.load(tmp_path / "m", retrieval=exhaustive)
    second = again.candidates(sessions, personas)
    assert builds == [] and torch.equal(first[0], second[0])  # the stored index served: same model

    # new weights saved into the same folder: the stored index is stale and must not be served
    with torch.no_grad():
        again.persona.net_.item_emb.weight.mul_(-1.0)  # type: ignore[union-attr]
    again.save(tmp_path / "m")
    caplog.set_level(logging.WARNING, logger="personarec.session.retrieval")
    changed = TrainedModels.load(tmp_path / "m", retrieval=exhaustive)
    third = changed.candidates(sessions, personas)
    assert builds == [1] and "rebuilding" in caplog.text
    assert changed.item_index("persona").tag == table_digest(changed.item_table("persona"))
    exact = TrainedModels.load(tmp_path / "m", retrieval=RetrievalOptions(mode="exact"))
    assert torch.equal(third[0], exact.candidates(sessions, personas)[0])
    assert not torch.equal(third[0], first[0])

    # a change in memory (no save) is caught by the tag too
    with torch.no_grad():
        changed.persona.net_.item_emb.weight.mul_(-1.0)  # type: ignore[union-attr]
    assert changed.item_index("persona").tag == table_digest(changed.item_table("persona"))
    assert builds == [1, 1] and torch.equal(changed.candidates(sessions, personas)[0], first[0])


def test_auto_uses_the_index_from_the_measured_size_on() -> None:
    options = RetrievalOptions(mode="auto", min_items=1000)
    assert not options.use_index(999) and options.use_index(1000)
    assert RetrievalOptions(mode="ann").use_index(10) and not RetrievalOptions(mode="exact", min_items=1).use_index(10)


def test_auto_scores_every_item_on_a_gpu_and_ann_still_means_the_index() -> None:
    options = RetrievalOptions(mode="auto", min_items=1000)
    assert options.use_index(10**6, torch.device("cpu")) and not options.use_index(10**6, torch.device("cuda"))
    assert not options.use_index(10**6, "cuda:1")
    assert RetrievalOptions(mode="ann").use_index(10, "cuda") and not RetrievalOptions(mode="exact").use_index(10**6)


@pytest.mark.parametrize(("rows", "k", "dim"), [(1, 5, 8), (15, 3, 64), (50, 37, 64), (256, 132, 64), (40, 341, 66)])
def test_score_items_equals_the_full_products_columns_bit_for_bit(rows: int, k: int, dim: int) -> None:
    g = torch.Generator().manual_seed(rows + k)
    table = torch.randn(20_001, dim, generator=g) * torch.rand(20_001, 1, generator=g) * 4
    h = torch.randn(rows, dim, generator=g)
    items = torch.randint(0, 20_001, (rows, k), generator=g)
    items[0, : min(k, 3)] = items[-1, 0]  # duplicates, within a row and across rows
    assert torch.equal(score_items(h, table, items), score_all(h, table).gather(1, items))


def test_exact_top_in_row_chunks_equals_one_product(monkeypatch: pytest.MonkeyPatch) -> None:
    from personarec.session import retrieval

    g = torch.Generator().manual_seed(5)
    table = torch.randn(N_ITEMS + 1, 8, generator=g)
    table[11:41] = table[41:71]  # tied items: the tie rule must hold in every chunk
    h = torch.randn(50, 8, generator=g)
    exclude = [np.arange(1 + r % 7, 30 + r, 3) for r in range(50)]
    whole = exact_top(h, table, exclude, 20)
    monkeypatch.setattr(retrieval, "EXACT_SCORE_ELEMENTS", 16 * (N_ITEMS + 1))  # 16 rows per product
    chunked = exact_top(h, table, exclude, 20)
    assert torch.equal(whole[0], chunked[0]) and torch.equal(whole[1], chunked[1])


def test_hnsw_index_finds_the_top_items_of_a_small_catalogue() -> None:
    g = torch.Generator().manual_seed(9)
    table = torch.randn(N_ITEMS + 1, 8, generator=g)
    h = torch.randn(16, 8, generator=g)
    options = RetrievalOptions(mode="ann", index="hnsw", hnsw_m=16, ef_construction=200, ef_search=N_ITEMS)
    exclude = [np.zeros(0, dtype=np.int64)] * 16
    got = ann_top(h, table, ItemIndex.build(table, options), exclude, 10, options)
    want = exact_top(h, table, exclude, 10)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got[0].tolist(), want[0].tolist(), strict=True)])
    assert overlap >= 0.95


def test_ivf_pq_index_finds_the_top_items_of_a_clustered_catalogue() -> None:
    """Not exhaustive (half the cells, the codes' best 4 × fetched refined): most of the exact top-10."""
    g = torch.Generator().manual_seed(10)
    centres = torch.randn(20, 8, generator=g) * 3
    table = centres[torch.randint(0, 20, (2000,), generator=g)] + torch.randn(2000, 8, generator=g)
    table = torch.cat([torch.zeros(1, 8), table])
    h = torch.randn(32, 8, generator=g) * 2
    options = RetrievalOptions(mode="ann", index="ivf-pq", nlist=16, nprobe=8, refine=4)
    exclude = [np.zeros(0, dtype=np.int64)] * 32
    index = ItemIndex.build(table, options)
    assert index.params["index"] == "ivf-pq"
    got = ann_top(h, table, index, exclude, 10, options)
    want = exact_top(h, table, exclude, 10)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got[0].tolist(), want[0].tolist(), strict=True)])
    assert overlap >= 0.9
    # scores are the exact ones of the items returned
    assert torch.equal(got[1], (h @ table.T).gather(1, got[0]))


def test_index_on_a_catalogue_smaller_than_k_pads_like_the_exact_path() -> None:
    g = torch.Generator().manual_seed(11)
    table = torch.randn(6, 4, generator=g)  # 5 items
    h = torch.randn(3, 4, generator=g)
    exclude = [np.array([2]), np.zeros(0, dtype=np.int64), np.array([1, 3, 5])]
    options = RetrievalOptions(mode="ann", nlist=1, nprobe=1, margin=1)  # the default ivf-pq asked for
    index = ItemIndex.build(table, options)
    assert index.params["index"] == "ivf"  # too few items to train PQ codebooks on: IVF-flat instead
    got = ann_top(h, table, index, exclude, 10, options)
    want = exact_top(h, table, exclude, 10)
    finite = torch.isfinite(want[1])
    assert got[0].shape == want[0].shape == (3, 6)
    assert torch.equal(got[1], want[1]) and torch.equal(got[0][finite], want[0][finite])
