"""Evaluation inputs files (``--save-inputs`` / ``--inputs``) and seeds trained in parallel (``--jobs``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from personarec.cli import main
from personarec.config import load_settings
from personarec.eval.inputs import EvalInputs, InputsError, load_inputs, save_inputs
from personarec.eval.runner import evaluate_data
from personarec.session.sasrec import SASRecConfig

sys.path.insert(0, str(Path(__file__).parents[1] / "session"))
from test_sasrec import cyclic  # noqa: E402

FAST = SASRecConfig(hidden=16, inner=32, max_len=8, epochs=2, progress=False, batch_size=256)


def _inputs() -> EvalInputs:
    data = cyclic(12, 7)
    rng = np.random.default_rng(0)
    return EvalInputs(data, rng.normal(size=(data.n_users, 4)).astype(np.float32),
                      rng.normal(size=(data.n_items + 1, 6)).astype(np.float32), {"item_vector_models": {"x": 7}})


def test_round_trip_keeps_sequences_splits_and_vectors(tmp_path: Path) -> None:
    inputs = _inputs()
    path = save_inputs(tmp_path / "in.npz", inputs)
    back = load_inputs(path)
    assert back.data.fingerprint() == inputs.data.fingerprint()
    assert back.data.user_ids == inputs.data.user_ids and back.data.item_ids == inputs.data.item_ids
    for a, b in zip(back.data.items, inputs.data.items):
        assert np.array_equal(a, b)
    for a, b in zip(back.data.splits, inputs.data.splits):
        assert np.array_equal(a, b)
    assert np.array_equal(back.personas, inputs.personas)
    assert np.array_equal(back.item_vectors, inputs.item_vectors)
    assert back.meta == inputs.meta
    assert back.reference_personas is None


def test_round_trip_keeps_the_reference_personas(tmp_path: Path) -> None:
    inputs = _inputs()
    inputs.reference_personas = np.random.default_rng(1).normal(size=inputs.personas.shape).astype(np.float32)
    inputs.meta.update(persona_learner="heco", reference_learner="hdgi")
    back = load_inputs(save_inputs(tmp_path / "in.npz", inputs))
    assert np.array_equal(back.reference_personas, inputs.reference_personas)
    assert back.meta["reference_learner"] == "hdgi" and back.meta["persona_learner"] == "heco"


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputsError, match="no such file"):
        load_inputs(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(InputsError, match="not a personarec-eval-inputs"):
        load_inputs(other)
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(InputsError, match="not an evaluation inputs file"):
        load_inputs(junk)


def test_parallel_seeds_give_the_same_table(tmp_path: Path) -> None:
    inputs = _inputs()
    one = load_settings(env={})
    two = load_settings(env={"PERSONAREC_EVAL__JOBS": "2"})
    assert two.eval.jobs == 2
    a = evaluate_data(inputs.data, one, tmp_path / "a", [1, 2], FAST, inputs.personas, inputs.item_vectors)
    b = evaluate_data(inputs.data, two, tmp_path / "b", [1, 2], FAST, inputs.personas, inputs.item_vectors)
    assert list(b.summary) == ["popular", "sasrec", "history", "persona", "rerank"]
    # json: an empty segment's NaN compares equal to itself there
    assert json.dumps(a.summary) == json.dumps(b.summary) and a.hit_curves == b.hit_curves
    assert [t["seed"] for t in b.training] == [1, 1, 1, 2, 2, 2]


def test_evaluate_command_from_an_inputs_file_needs_no_database(tmp_path: Path) -> None:
    path = save_inputs(tmp_path / "in.npz", _inputs())
    env = {"NEO4J_URI": "bolt://127.0.0.1:9", "PERSONAREC_SESSION__MAX_LEN": "8"}  # nothing listens there
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["evaluate", "--inputs", str(path), "--out", str(out), "--seeds", "1",
                                       "--epochs", "1", "--device", "cpu"], env=env)
    assert result.exit_code == 0, result.output
    assert "| SASRec + history embedding |" in result.output and "trained on CPU" in result.output
    assert "Item.embedding: 7 items by x." in (out / "report.md").read_text()
    both = CliRunner().invoke(main, ["evaluate", "--inputs", str(path), "--save-inputs", str(tmp_path / "b.npz")],
                              env=env)
    assert both.exit_code != 0 and "give one of them" in both.output
