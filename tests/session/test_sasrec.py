"""SASRec learns an obvious next-item pattern; state round-trips; user tokens are required when trained."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from personarec.session.data import SequenceData
from personarec.session.sasrec import SASRec, SASRecConfig

N_ITEMS = 12


def cyclic(n_users: int = 24, length: int = 10) -> SequenceData:
    """Each user walks the cycle 0 → 1 → … → 11 → 0 from a different start: the next item is certain."""
    seqs = {f"c:{u}": [f"c:{(u + k) % N_ITEMS}" for k in range(length)] for u in range(n_users)}
    return SequenceData.leave_one_out("c", seqs)


def small(**kw: object) -> SASRecConfig:
    base = dict(hidden=32, inner=64, dropout=0.1, attn_dropout=0.1, max_len=8, lr=5e-3, epochs=40, batch_size=256,
                patience=40, progress=False, seed=7)
    base.update(kw)
    return SASRecConfig(**base)  # type: ignore[arg-type]


def test_learns_a_cyclic_pattern_to_hr_at_1() -> None:
    data = cyclic()
    model = SASRec(small()).train(data)
    ranks = model.ranks(data, "test", data.eval_users("test"))
    assert (ranks == 0).mean() >= 0.95  # HR@1 ≈ 1
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]


def test_training_is_reproducible_and_state_round_trips(tmp_path) -> None:
    data = cyclic(12, 8)
    a = SASRec(small(epochs=3)).train(data)
    b = SASRec(small(epochs=3)).train(data)
    sessions = [data.session(u, "test", 8) for u in range(data.n_users)]
    assert np.allclose(a.score_sessions(sessions).numpy(), b.score_sessions(sessions).numpy(), atol=1e-5)
    a.save(tmp_path / "m.pt")
    c = SASRec.load(tmp_path / "m.pt")
    assert np.allclose(a.score_sessions(sessions).numpy(), c.score_sessions(sessions).numpy(), atol=1e-6)
    # a model trained on a GPU names that device in its config; the loading machine decides where it runs
    state = a.state()
    state["config"]["device"] = "cuda"
    d = SASRec.from_state(state)
    assert d.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert SASRec.from_state(state, device="cpu").device.type == "cpu"


def test_user_token_and_item_init() -> None:
    data = cyclic(12, 8)
    rng = np.random.default_rng(0)
    users = rng.normal(size=(data.n_users, 5)).astype(np.float32)
    items = rng.normal(size=(data.n_items + 1, 7)).astype(np.float32)
    model = SASRec(small(epochs=2)).train(data, users, items)
    sessions = [data.session(u, "test", 8) for u in range(3)]
    assert model.score_sessions(sessions, users[:3]).shape == (3, data.n_items + 1)
    with pytest.raises(ValueError):
        model.score_sessions(sessions)


def test_ranks_batched_by_session_length_come_back_in_the_users_order() -> None:
    # sessions of different lengths (3 to 12 items), users asked for in a shuffled order, batches of 5
    rng = np.random.default_rng(0)
    seqs = {f"u:{u}": [f"i:{int(i)}" for i in rng.integers(0, N_ITEMS, size=3 + u % 10)] for u in range(30)}
    data = SequenceData.leave_one_out("u", seqs)
    model = SASRec(small(epochs=2, eval_batch=5)).train(data)
    users = rng.permutation(data.eval_users("test"))
    got = model.ranks(data, "test", users)
    one_by_one = np.concatenate([model.ranks(data, "test", users[i:i + 1]) for i in range(len(users))])
    assert got.shape == (len(users),) and np.array_equal(got, one_by_one)
    assert model.ranks(data, "test", users[:0]).shape == (0,)
