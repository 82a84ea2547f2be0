"""The persona learners (hdgi, hdgi-struct, heco) behind one interface, on the planted graph in a real Neo4j:
community recovery, cold start from the model store, the CLI flag, and train-split-only positives/corruption."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from personarec import store
from personarec.cli import main
from personarec.config import Settings
from personarec.graph import Graph
from personarec.graph.export import export_graph
from personarec.persona import PersonaEncoder, train_personas
from personarec.persona.heco import HeCoLearner
from personarec.persona.learners import learner_names, make_learner
from personarec.persona.struct import StructLearner, rewire
from personarec.persona.train import embed_all, fit, prepare, read_personas

DATASET = "toy"  # as in conftest.build_kg
LEARNERS = ["hdgi", "hdgi-struct", "heco"]


def _with(settings: Settings, **persona: Any) -> Settings:
    return settings.model_copy(update={"persona": settings.persona.model_copy(update=persona)})


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_registry_matches_the_config_literal() -> None:
    assert set(learner_names()) == set(LEARNERS)
    with pytest.raises(ValueError, match="unknown persona learner 'nope'"):
        make_learner("nope")


@pytest.mark.parametrize("learner", LEARNERS)
def test_learner_recovers_the_planted_groups_and_cold_start_agrees(
        graph: Graph, small_kg: dict[str, Any], persona_settings: Settings, learner: str) -> None:
    settings = _with(persona_settings, learner=learner)
    summary = train_personas(graph, settings, DATASET, progress=False)
    assert summary.learner == learner and summary.users == 60
    ids, personas, versions = read_personas(graph, DATASET)
    assert versions == {1} and personas.shape == (60, settings.persona.dimensions)

    # communities: most of each user's 5 nearest users by persona are in its planted group (random: 19/59)
    group = np.array([small_kg["user_group"][u] for u in ids])
    unit = personas / np.linalg.norm(personas, axis=1, keepdims=True)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    nearest = np.argsort(-sim, axis=1)[:, :5]
    assert float(np.mean(group[nearest] == group[:, None])) >= 0.85

    # cold start rebuilds this learner's module from the stored meta and reproduces the stored personas
    _, meta = store.load(settings.model_store, summary.model_key, summary.model_sha256)
    assert meta["learner"] == learner
    encoder = PersonaEncoder.load(settings.model_store, summary.model_key, summary.model_sha256)
    assert encoder.learner.name == learner
    index = {u: j for j, u in enumerate(ids)}
    own, other = [], []
    users = sorted(index)[:12]
    for k, uid in enumerate(users):
        train = [e["item"] for e in small_kg["events"] if e["user"] == uid and e["split"] == "train"]
        vec = encoder.infer(graph, train)
        own.append(_cos(vec, personas[index[uid]]))
        # against a user of another planted group: the scale to read the agreement against
        group_of = small_kg["user_group"]
        stranger = next(u for u in users[k + 1:] + users[:k] if group_of[u] != group_of[uid])
        other.append(_cos(vec, personas[index[stranger]]))
    assert np.mean(own) > 0.85 and min(own) > 0.6
    assert np.mean(own) > np.mean(other) + 0.1


def test_personas_train_with_learner_heco_records_it(graph: Graph, small_kg: dict[str, Any], neo4j_settings: Settings,
                                                    tmp_path) -> None:
    env = {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value(),
           "PERSONAREC_MODEL_STORE": str(tmp_path / "models"), "PERSONAREC_PERSONA__MAX_NEIGHBORS": "16",
           "PERSONAREC_PERSONA__PATIENCE": "10"}
    runner = CliRunner()
    # an unknown learner is a usage error before any work: exit 2, nothing written
    res = runner.invoke(main, ["personas", "train", "--dataset", DATASET, "--learner", "nope"], env=env)
    assert res.exit_code == 2 and "--learner" in res.output
    assert graph.execute("MATCH (r:PersonaRun) RETURN count(r) AS n", read=True)[0]["n"] == 0
    assert graph.execute("MATCH (u:User) WHERE u.persona IS NOT NULL RETURN count(u) AS n", read=True)[0]["n"] == 0

    res = runner.invoke(main, ["personas", "train", "--dataset", DATASET, "--learner", "heco", "--epochs", "30",
                               "--json"], env=env)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["learner"] == "heco" and summary["run_id"].startswith("heco-")
    run = graph.execute("MATCH (r:PersonaRun {id: $id}) RETURN r", {"id": summary["run_id"]}, read=True)[0]["r"]
    assert run["learner"] == "heco" and run["model"] == "HeCo" and '"learner": "heco"' in run["config"]
    n = graph.execute("MATCH (u:User {persona_run: $id}) WHERE size(u.persona) = 64 RETURN count(u) AS n",
                      {"id": summary["run_id"]}, read=True)[0]["n"]
    assert n == 60
    _, meta = store.load(tmp_path / "models", summary["model_key"], summary["model_sha256"])
    assert meta["learner"] == "heco" and meta["model"] == "HeCo" and meta["learner_options"]["positives"] == 12

    # the report names the learner
    res = runner.invoke(main, ["personas", "assess", "--dataset", DATASET, "--sample", "5", "--out",
                               str(tmp_path / "assess"), "--json"], env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["runs"][0]["run"]["learner"] == "heco"


def _positives_and_corruption(graph: Graph, settings: Settings) -> tuple[np.ndarray, list[np.ndarray], int]:
    """HeCo's positives (both sources, stacked), the rewired adjacencies for a fixed permutation, train edges."""
    export = export_graph(graph, DATASET, progress=False)
    prep = prepare(export, ["auto"], settings.persona.max_neighbors, seed=3)
    pos = []
    for source in ("jaccard", "items", "metapaths"):  # exact shared train items, and HeCo's summed metapath counts
        heco = HeCoLearner({"positives": 4, "positives_from": source})
        heco.setup(prep, seed=3)
        assert heco.pos is not None
        pos.append(heco.pos.toarray())
    struct = StructLearner()
    struct.start_epoch(len(prep.user_ids), torch.Generator().manual_seed(3))
    assert struct.perm is not None
    rows = np.arange(len(prep.user_ids))
    corrupted = [rewire(a, rows, struct.perm).toarray() for a in prep.adjs]
    return np.stack(pos), corrupted, int(export.data["user", "interacted", "item"].edge_index.shape[1])


def test_positives_and_corruption_use_the_train_split_only(graph: Graph, small_kg: dict[str, Any],
                                                           persona_settings: Settings) -> None:
    pos, corrupted, edges = _positives_and_corruption(graph, persona_settings)
    for p in pos:
        assert (p.sum(axis=1) == 4).all() and (np.diag(p) == 1).all()  # the user itself + its top 3
    # rewiring keeps every user's degree and self loop, and moves its neighbours
    prep = prepare(export_graph(graph, DATASET, progress=False), ["auto"], persona_settings.persona.max_neighbors,
                   seed=3)
    for a, c in zip(prep.adjs, corrupted, strict=True):
        dense = a.toarray()
        np.testing.assert_allclose(np.diag(c), np.diag(dense))
        np.testing.assert_allclose(np.sort(c, axis=1), np.sort(dense, axis=1))
        assert not np.array_equal(c != 0, dense != 0)

    # user u0 (group 0) now also interacts with every group-1 item, but only in valid/test
    group1 = [f"{DATASET}:i{k}" for k in np.flatnonzero(small_kg["item_group"] == 1)]
    extra = [{"item": i, "split": "valid" if k % 2 else "test", "seq": 100 + k} for k, i in enumerate(group1)]
    graph.execute("""
        MATCH (u:User {id: $user}) UNWIND $extra AS ev MATCH (i:Item {id: ev.item})
        CREATE (u)-[:INTERACTED {rating: 5.0, ts: 5000 + ev.seq, seq: ev.seq, split: ev.split}]->(i)
    """, {"user": f"{DATASET}:u0", "extra": extra})
    pos2, corrupted2, edges2 = _positives_and_corruption(graph, persona_settings)
    assert edges2 == edges
    np.testing.assert_array_equal(pos2, pos)
    for c, c2 in zip(corrupted, corrupted2, strict=True):
        np.testing.assert_array_equal(c2, c)

    # the same edges in the train split do change them: the check above can fail
    graph.execute("MATCH (:User {id: $user})-[r:INTERACTED]->() WHERE r.seq >= 100 SET r.split = 'train'",
                  {"user": f"{DATASET}:u0"})
    pos3, corrupted3, edges3 = _positives_and_corruption(graph, persona_settings)
    assert edges3 > edges
    assert not np.array_equal(pos3, pos) or any(not np.array_equal(a, b) for a, b in zip(corrupted3, corrupted))


def test_every_learner_trains_on_the_shared_mini_batch_path(graph: Graph, small_kg: dict[str, Any],
                                                            persona_settings: Settings) -> None:
    export = export_graph(graph, DATASET, progress=False)
    prep = prepare(export, ["auto"], persona_settings.persona.max_neighbors, seed=1)
    group = np.array([small_kg["user_group"][u] for u in prep.user_ids])
    for learner in LEARNERS:
        settings = _with(persona_settings, learner=learner, full_batch_max=10, batch_size=24, heco_batch_size=24,
                         epochs=25, heco_max_steps=None)
        a = fit(prep, settings, seed=5, progress=False)
        b = fit(prep, settings, seed=5, progress=False)
        assert a.learner.name == learner and a.loss_curve == b.loss_curve, learner  # seeded
        assert min(a.loss_curve) < a.loss_curve[0], learner
        h, beta = embed_all(a.model, prep, batch_size=7, learner=a.learner)
        np.testing.assert_allclose(h, embed_all(b.model, prep, learner=b.learner)[0], atol=1e-5)
        assert beta.sum() == pytest.approx(1.0, abs=1e-6)
        unit = h / np.linalg.norm(h, axis=1, keepdims=True)
        sim = unit @ unit.T
        np.fill_diagonal(sim, -np.inf)
        assert float(np.mean(group[sim.argmax(axis=1)] == group)) > 0.8, learner  # random: 1/3

    # heco's step budget ends training mid-epoch: 60 users in batches of at most 24 take 3 or more steps
    budget = fit(prep, _with(persona_settings, learner="heco", heco_full_batch_max=10, heco_batch_size=24,
                             heco_max_steps=2), seed=5, progress=False)
    assert len(budget.loss_curve) == 1


def test_evaluation_reads_heco_personas_and_learns_the_hdgi_reference_in_memory(
        graph: Graph, small_kg: dict[str, Any], persona_settings: Settings) -> None:
    from personarec.eval.runner import read_inputs
    from personarec.persona.train import export_train_graph, learn_personas
    from personarec.session.data import align_vectors

    settings = _with(persona_settings, learner="heco")
    train_personas(graph, settings, DATASET, progress=False)
    runs = graph.execute("MATCH (r:PersonaRun) RETURN count(r) AS n", read=True)[0]["n"]
    _, stored, _ = read_personas(graph, DATASET)

    inputs = read_inputs(graph, DATASET, settings, progress=False)
    assert inputs.meta["persona_learner"] == "heco" and inputs.meta["reference_learner"] == "hdgi"
    assert inputs.personas is not None and inputs.reference_personas is not None
    assert inputs.reference_personas.shape == inputs.personas.shape
    # nothing written: the same runs and the same stored personas
    assert graph.execute("MATCH (r:PersonaRun) RETURN count(r) AS n", read=True)[0]["n"] == runs
    np.testing.assert_array_equal(read_personas(graph, DATASET)[1], stored)
    # they are the HDGI personas a training with the same settings gives, per user
    ids, hdgi = learn_personas(graph, _with(persona_settings, learner="hdgi"), DATASET, progress=False)
    aligned = align_vectors(ids, hdgi, inputs.data.user_ids, "hdgi")
    assert aligned is not None
    np.testing.assert_allclose(inputs.reference_personas, aligned, atol=1e-4)
    # one export can serve both learners (the main job's): the same reference personas, no second read
    export = export_train_graph(graph, settings, DATASET, progress=False)
    train_personas(graph, settings, DATASET, progress=False, write=False, export=export)
    reused = read_inputs(graph, DATASET, settings, progress=False, export=export)
    np.testing.assert_array_equal(reused.reference_personas, inputs.reference_personas)

    # no reference when switched off, or when the stored personas are the reference learner's
    off = settings.model_copy(update={"eval": settings.eval.model_copy(update={"reference_learner": "none"})})
    assert read_inputs(graph, DATASET, off, progress=False).reference_personas is None
    same = settings.model_copy(update={"eval": settings.eval.model_copy(update={"reference_learner": "heco"})})
    assert read_inputs(graph, DATASET, same, progress=False).reference_personas is None
