"""Training the SASRec variants side by side gives the same models as training them one after another."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from personarec.session.fit import TrainingCancelled, Variant, VariantPool, _expected_cost, fit_variants
from personarec.session.sasrec import SASRec, SASRecConfig

sys.path.insert(0, str(Path(__file__).parent))
from test_sasrec import cyclic  # noqa: E402


def test_parallel_training_equals_sequential_training(caplog: pytest.LogCaptureFixture) -> None:
    data = cyclic(12, 8)
    rng = np.random.default_rng(3)
    users = rng.normal(size=(data.n_users, 4)).astype(np.float32)
    items = rng.normal(size=(data.n_items + 1, 6)).astype(np.float32)
    cfg = SASRecConfig(hidden=16, inner=32, max_len=8, epochs=3, progress=False, batch_size=64, seed=11)
    # three variants on two workers: the persona variant is queued first, the results keep the given order
    variants = [Variant("sasrec"), Variant("history", users[:, ::-1].copy(), items), Variant("persona", users, items)]
    one = fit_variants(data, cfg, variants, jobs=1)
    with caplog.at_level(logging.INFO, logger="personarec.session.fit"):
        two = fit_variants(data, cfg, variants, jobs=2)
    assert list(one) == list(two) == ["sasrec", "history", "persona"]
    # each worker's model is announced as it comes back, with its epochs and best validation score
    trained = [r.getMessage() for r in caplog.records if r.getMessage().startswith("trained ")]
    assert sorted(m.split(":")[0] for m in trained) == ["trained history", "trained persona", "trained sasrec"]
    assert all(" 3 epochs, best valid NDCG@10 " in m for m in trained)
    for name in one:
        a, b = one[name], two[name]
        assert a.best_epoch_ == b.best_epoch_ and len(a.history_) == len(b.history_) == 3
        assert a.config == b.config
        for key, value in a.net_.state_dict().items():  # type: ignore[union-attr]
            torch.testing.assert_close(value, b.net_.state_dict()[key], rtol=0, atol=0)  # type: ignore[union-attr]
        session = [np.array([1, 2, 3])]
        uv = {"persona": users[:1], "history": users[:1, ::-1].copy()}.get(name)
        torch.testing.assert_close(a.score_sessions(session, uv), b.score_sessions(session, uv))


def test_the_queue_starts_with_the_variants_that_cost_most_per_epoch() -> None:
    vec = np.zeros((3, 2), dtype=np.float32)
    variants = [Variant("sasrec"), Variant("history", vec, vec), Variant("persona", vec, vec),
                Variant("persona_ref", vec, vec), Variant("persona_ids", vec)]
    queue = sorted(variants, key=_expected_cost, reverse=True)
    # persona variants first (LLM item vectors before ID-only), then history, plain SASRec last
    assert [v.name for v in queue] == ["persona", "persona_ref", "persona_ids", "history", "sasrec"]


def test_every_epoch_is_reported_with_the_best_so_far_and_the_epochs_since() -> None:
    rows: list[dict[str, float]] = []
    cfg = SASRecConfig(hidden=16, inner=32, max_len=8, epochs=6, patience=2, progress=False, batch_size=64, seed=11)
    model = SASRec(cfg).train(cyclic(12, 8), on_epoch=rows.append)
    assert [r["epoch"] for r in rows] == list(range(len(model.history_)))
    for row, kept in zip(rows, model.history_, strict=True):
        assert {k: row[k] for k in kept} == kept  # the history row itself
        assert row["stale"] == row["epoch"] - row["best_epoch"]
    assert all(row["stale"] < cfg.patience for row in rows[:-1])  # training stops at the patience, not before
    assert rows[-1]["best_epoch"] == model.best_epoch_
    assert rows[-1]["best_valid_ndcg10"] == max(h["valid_ndcg10"] for h in model.history_)


def test_a_failing_variant_fails_the_set_with_its_own_error() -> None:
    data = cyclic(12, 8)
    cfg = SASRecConfig(hidden=16, inner=32, max_len=8, epochs=2, progress=True, batch_size=64, seed=11)
    wrong = np.zeros((data.n_users - 1, 4), dtype=np.float32)  # one user short: the worker's training fails
    with pytest.raises(IndexError):
        fit_variants(data, cfg, [Variant("sasrec"), Variant("persona", wrong), Variant("history", wrong)], jobs=2)


def test_variants_handed_in_early_are_adopted_and_changed_inputs_train_again() -> None:
    data = cyclic(12, 8)
    rng = np.random.default_rng(5)
    users = rng.normal(size=(data.n_users, 4)).astype(np.float32)
    items = rng.normal(size=(data.n_items + 1, 6)).astype(np.float32)
    cfg = SASRecConfig(hidden=16, inner=32, max_len=8, epochs=3, progress=False, batch_size=64, seed=11)
    variants = [Variant("sasrec"), Variant("history", users, items)]
    alone = fit_variants(data, cfg, variants, jobs=1)
    with VariantPool(2) as pool:
        pool.submit(data, cfg.model_copy(update={"progress": True}), Variant("sasrec"))  # bars do not matter
        pool.submit(data, cfg, Variant("history", users[::-1].copy(), items))  # other vectors: not this model
        pooled = fit_variants(data, cfg, variants, pool=pool)
        # plain SASRec was trained once; the history model again, on the vectors it was asked for with
        assert pool.submitted == ["sasrec", "history", "history"]
    for name, model in alone.items():
        assert pooled[name].best_epoch_ == model.best_epoch_
        for key, value in model.net_.state_dict().items():  # type: ignore[union-attr]
            torch.testing.assert_close(value, pooled[name].net_.state_dict()[key], rtol=0, atol=0)  # type: ignore[union-attr]


def test_closing_a_pool_stops_its_running_training() -> None:
    data = cyclic(12, 8)
    endless = SASRecConfig(hidden=16, inner=32, max_len=8, epochs=100_000, patience=100_000, progress=False,
                           batch_size=64, seed=11)
    pool = VariantPool(1)
    future = pool.submit(data, endless, Variant("sasrec"))
    while not future.running():  # handed to the worker: no longer cancellable, so it must be stopped
        time.sleep(0.05)
    pool.close()
    assert isinstance(future.exception(), TrainingCancelled)
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(data, endless, Variant("sasrec"))


_OWNER = """
import sys, time
sys.path.insert(0, {tests!r})
from test_sasrec import cyclic
from personarec.session.fit import Variant, VariantPool
from personarec.session.sasrec import SASRecConfig

if __name__ == "__main__":
    pool = VariantPool(1, progress=False)
    cfg = SASRecConfig(hidden=16, inner=32, max_len=8, epochs=100_000, patience=100_000, progress=False,
                       batch_size=64)
    future = pool.submit(cyclic(12, 8), cfg, Variant("sasrec"))
    while not future.running():
        time.sleep(0.05)
    print(*pool._pool._processes, flush=True)  # the worker's pid
    time.sleep(600)
"""


def test_a_worker_stops_when_the_job_that_owns_its_pool_is_killed(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess

    script = tmp_path / "owner.py"
    script.write_text(_OWNER.format(tests=str(Path(__file__).parent)))
    # stderr to a file: the killed owner's resource tracker reports the semaphores it leaves behind
    with (tmp_path / "owner.err").open("w") as err:
        owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=err, text=True)
    assert owner.stdout is not None
    line = owner.stdout.readline()
    assert line.strip().isdigit(), (tmp_path / "owner.err").read_text()
    worker = int(line)
    owner.send_signal(signal.SIGKILL)  # no clean-up at all: the pool is never closed
    owner.wait()
    deadline = time.monotonic() + 120  # a liveness bound, not a speed goal: the worker ends within a second
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{worker}/stat") as stat:  # reaped by init? a zombie has stopped training too
            if stat.read().split(") ", 1)[1].startswith("Z"):
                return
        time.sleep(0.2)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the worker outlived the job that owned its pool")
