"""The evaluation runner: the five rows, segments, report files; the protocol check on ML-100K."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from personarec.config import load_settings
from personarec.eval.runner import evaluate, evaluate_data
from personarec.session.data import load_sequences
from personarec.session.popular import MostPopular
from personarec.session.sasrec import SASRecConfig

sys.path.insert(0, str(Path(__file__).parents[1] / "session"))
from test_sasrec import cyclic  # noqa: E402

FAST = SASRecConfig(hidden=16, inner=32, max_len=8, epochs=2, progress=False, batch_size=256)


def test_five_rows_two_seeds_and_report(tmp_path: Path) -> None:
    data = cyclic(16, 8)
    rng = np.random.default_rng(0)
    personas = rng.normal(size=(data.n_users, 4)).astype(np.float32)
    items = rng.normal(size=(data.n_items + 1, 6)).astype(np.float32)
    settings = load_settings(env={})
    report = evaluate_data(data, settings, tmp_path, [1, 2], FAST, personas, items, save_models=tmp_path / "model")
    assert list(report.summary) == ["popular", "sasrec", "history", "persona", "rerank"]
    all_ = report.summary["rerank"]["all"]
    assert set(all_) >= {"HR@10", "HR@100", "NDCG@10", "MRR@10", "MRR"}
    # the reranked list keeps the generator's candidates: same HR@100 (100 ≥ catalogue here)
    assert all_["HR@100"]["mean"] == report.summary["persona"]["all"]["HR@100"]["mean"]
    assert report.summary["popular"]["all"]["NDCG@10"]["std"] == 0.0  # deterministic
    seg_users = {s: report.summary["sasrec"][s]["users"]["mean"] for s in ("all", "head", "tail")}
    assert seg_users["head"] + seg_users["tail"] == seg_users["all"] == report.users
    for name in ("report.md", "results.json", "metrics.png", "segments.png", "hit_curve.png", "valid_curves.png"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["seeds"] == [1, 2] and len(saved["runs"]) == 2
    assert "Persona-SASRec + SASRec rerank" in (tmp_path / "report.md").read_text()
    from personarec.session.models import TrainedModels

    kept = TrainedModels.load(tmp_path / "model")  # the first seed's models, for a batch job to serve
    assert kept.persona is not None and kept.item_ids == data.item_ids


def test_reference_rows_name_both_learners(tmp_path: Path) -> None:
    data = cyclic(16, 8)
    rng = np.random.default_rng(0)
    personas = rng.normal(size=(data.n_users, 4)).astype(np.float32)
    reference = rng.normal(size=(data.n_users, 4)).astype(np.float32)
    items = rng.normal(size=(data.n_items + 1, 6)).astype(np.float32)
    report = evaluate_data(data, load_settings(env={}), tmp_path, [1], FAST, personas, items,
                           reference_personas=reference, learners={"persona": "heco", "persona_ref": "hdgi"})
    assert list(report.summary) == ["popular", "sasrec", "history", "persona", "rerank", "persona_ref", "rerank_ref"]
    assert {t["model"] for t in report.training} == {"sasrec", "history", "persona", "persona_ref"}
    # the reference generator reads the reference personas, not the stored ones
    from personarec.session.models import train_models

    models = train_models(data, FAST.model_copy(update={"seed": 1}), personas, items, reference_personas=reference)
    assert models.persona is not None and models.persona_ref is not None
    sessions = [data.session(u, "test", 8) for u in range(4)]
    own = models.persona_ref.score_sessions(sessions, reference[:4])
    assert torch.allclose(own, models.persona_ref.score_sessions(sessions, reference[:4]))
    assert not torch.allclose(own, models.persona_ref.score_sessions(sessions, personas[:4]))
    text = (tmp_path / "report.md").read_text()
    for label in ("Persona-SASRec, HeCo personas (candidates)", "Persona-SASRec, HeCo personas + SASRec rerank",
                  "Persona-SASRec, HDGI personas (candidates)", "Persona-SASRec, HDGI personas + SASRec rerank"):
        assert f"| {label} |" in text
    assert set(report.significance["rerank_ref"]) == {"sasrec", "history"}
    assert json.loads((tmp_path / "results.json").read_text())["learners"] == {"persona": "heco", "persona_ref": "hdgi"}


def test_a_reference_that_could_not_be_trained_is_said() -> None:
    from personarec.eval.inputs import EvalInputs
    from personarec.eval.runner import input_notes

    inputs = EvalInputs(cyclic(6, 5), meta={"reference_skipped": "hdgi: the graph has no Item.embedding"})
    assert input_notes(inputs) == ["no reference rows: training the reference personas failed "
                                   "(hdgi: the graph has no Item.embedding)."]


def test_without_personas_or_embeddings_rows_are_absent_and_said(graph, neo4j_settings, tmp_path: Path,
                                                                  load_tiny_sequences) -> None:
    load_tiny_sequences(graph, neo4j_settings, tmp_path)
    report = evaluate(graph, neo4j_settings, "tiny", tmp_path / "out", [3], FAST)
    assert list(report.summary) == ["popular", "sasrec"]
    assert any("persona" in n for n in report.notes) and any("Item.embedding" in n for n in report.notes)


def test_variants_trained_early_give_the_same_table(graph, neo4j_settings, tmp_path: Path,
                                                    load_tiny_sequences) -> None:
    from personarec.eval.runner import EarlyVariants
    from personarec.session.fit import VariantPool

    load_tiny_sequences(graph, neo4j_settings, tmp_path, dataset="early")
    settings = neo4j_settings.model_copy(update={"eval": neo4j_settings.eval.model_copy(update={"jobs": 2})})
    plain = evaluate(graph, settings, "early", tmp_path / "plain", [3], FAST)
    with VariantPool(2) as pool:
        # personas are not in this graph: only the variants whose inputs are there are handed in
        assert EarlyVariants(graph, settings, "early", 3, pool, FAST).queue("sasrec", "persona") == ["sasrec"]
        early = evaluate(graph, settings, "early", tmp_path / "early", [3], FAST, pool=pool)
        assert pool.submitted == ["sasrec"]  # the evaluation adopted it instead of training it again
    # (as JSON: an empty segment's means are NaN, which equals nothing)
    assert json.dumps(early.summary, sort_keys=True) == json.dumps(plain.summary, sort_keys=True)
    assert early.curves == plain.curves


@pytest.mark.slow
def test_most_popular_matches_recbole_reference_on_ml100k(graph, neo4j_settings, shared_data: Path) -> None:
    """docs/protocol.md: most-popular by true train counts on ML-100K, RecBole 1.2.1 under the same protocol."""
    from personarec.load import load_dataset

    load_dataset(graph, neo4j_settings, "movielens", [shared_data / "movielens-100k"], dataset="ml-100k",
                 progress=False)
    data = load_sequences(graph, "ml-100k")
    assert data.fingerprint() == "8db20a8f58eff3f53c69381d62b3114c"
    m = MostPopular().train(data).evaluate(data, "test")
    assert m["HR@10"] == pytest.approx(0.0859, abs=5e-5)
    # ties in popularity are ordered differently by RecBole's top-k: one user of 943 moves at HR@100
    assert m["HR@100"] == pytest.approx(0.3181, abs=1.5e-3)
    assert m["NDCG@10"] == pytest.approx(0.0443, abs=1e-3)
    assert m["MRR@10"] == pytest.approx(0.0318, abs=1e-3)
