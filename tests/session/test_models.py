"""The model set the batch job uses: candidates, rerank, save/load, the Recommender adapter."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from personarec.jobs.base import Recommender, UserBatch
from personarec.session.models import TrainedModels, train_models
from personarec.session.sasrec import SASRecConfig

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
    for row, s in zip(cand.tolist(), sessions):
        assert not set(row) & set(s.tolist()) and 0 not in row
    top, _ = models.rerank(sessions, cand, cs, k=3)
    assert all(set(t) <= set(c) for t, c in zip(top.tolist(), cand.tolist()))
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
