"""The model set the batch job uses: candidates, rerank, save/load, the Recommender adapter."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from personarec import store
from personarec.jobs.base import Recommender, UserBatch
from personarec.session.models import TrainedModels, train_models
from personarec.session.sasrec import SASRec, SASRecConfig
from personarec.store import ModelIntegrityError

sys.path.insert(0, str(Path(__file__).parent))
from test_sasrec import cyclic  # noqa: E402


def tiny_models() -> tuple[TrainedModels, object, np.ndarray]:
    data = cyclic(12, 8)
    rng = np.random.default_rng(1)
    personas = rng.normal(size=(data.n_users, 4)).astype(np.float32)
    items = rng.normal(size=(data.n_items + 1, 6)).astype(np.float32)
    cfg = SASRecConfig(hidden=16, inner=32, max_len=8, epochs=2, progress=False, batch_size=256)
    return train_models(data, cfg, personas, items, n_candidates=5), data, personas


def test_candidates_rerank_exclude_the_session_and_round_trip(tmp_path: Path) -> None:
    models, data, personas = tiny_models()
    assert models.history is not None and models.persona is not None
    sessions = [data.session(u, "test", 8) for u in range(3)]
    cand, cs = models.candidates(sessions, personas[:3])
    assert cand.shape == (3, 5)
    for row, s in zip(cand.tolist(), sessions, strict=True):
        assert not set(row) & set(s.tolist()) and 0 not in row
    top, _ = models.rerank(sessions, cand, cs, k=3)
    assert all(set(t) <= set(c) for t, c in zip(top.tolist(), cand.tolist(), strict=True))
    models.save(tmp_path / "m")
    again = TrainedModels.load(tmp_path / "m")
    top2, _ = again.rerank(sessions, *again.candidates(sessions, personas[:3]), k=3)
    assert torch.equal(top, top2)


def test_recommender_adapter_speaks_node_ids() -> None:
    models, data, personas = tiny_models()
    rec = models.recommender()
    assert isinstance(rec, Recommender)
    hist = [data.item_ids[i - 1] for i in data.history(0, "test")]
    batch = UserBatch(ids=[data.user_ids[0], "anon"], histories=[hist, hist[:2]],
                      personas=[personas[0].tolist(), None])
    items, scores = rec.recommend(batch, 3)
    assert [len(x) for x in items] == [3, 3] and [len(s) for s in scores] == [3, 3]
    assert not set(items[0]) & set(hist) and not set(items[1]) & set(hist[:2])
    assert scores[0] == sorted(scores[0], reverse=True)


def test_saved_set_is_safetensors_and_json_loaded_without_torch_load(tmp_path: Path, monkeypatch) -> None:
    models, data, personas = tiny_models()
    digest = models.save(tmp_path / "m")
    folder = tmp_path / "m"
    assert TrainedModels.saved(folder) and not list(folder.glob("*.pt"))
    meta = json.loads((folder / store.META).read_text())  # config and ids are plain, readable JSON
    assert meta["item_ids"] == list(data.item_ids) and set(meta["models"]) == {"sasrec", "history", "persona"}
    assert meta["models"]["persona"]["config"]["hidden"] == 16
    tensors, _ = store.read(folder)
    assert {"popular.counts", "item_vectors", "persona.user_mean", "persona.user_std"} <= set(tensors)

    def no_unpickling(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model file was unpickled")

    monkeypatch.setattr(torch, "load", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    again = TrainedModels.load(folder, digest)
    np.testing.assert_array_equal(again.popular.counts_, models.popular.counts_)
    np.testing.assert_array_equal(again.item_vectors, models.item_vectors)
    assert again.persona is not None and again.persona.user_mean_ is not None
    np.testing.assert_array_equal(again.persona.user_mean_, models.persona.user_mean_)
    assert again.persona.history_ == models.persona.history_
    assert (again.n_candidates, again.fusion, again.item_ids) == (5, 0.0, models.item_ids)
    sessions = [data.session(u, "test", 8) for u in range(3)]
    torch.testing.assert_close(again.persona.score_sessions(sessions, personas[:3]),
                               models.persona.score_sessions(sessions, personas[:3]))
    # a flipped byte in the weights is refused with one sentence
    path = folder / store.TENSORS
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelIntegrityError, match="does not match its content hash"):
        TrainedModels.load(folder)


def test_sasrec_save_load_round_trip_without_pickles(tmp_path: Path) -> None:
    models, data, personas = tiny_models()
    assert models.persona is not None
    digest = models.persona.save(tmp_path / "persona")
    again = SASRec.load(tmp_path / "persona", digest)
    sessions = [data.session(u, "test", 8) for u in range(4)]
    torch.testing.assert_close(again.score_sessions(sessions, personas[:4]),
                               models.persona.score_sessions(sessions, personas[:4]))
    assert again.best_epoch_ == models.persona.best_epoch_
    with pytest.raises(ModelIntegrityError):
        SASRec.load(tmp_path / "persona", "0" * 64)
