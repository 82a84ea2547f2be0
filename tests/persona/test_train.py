"""End-to-end persona training on a small planted graph in a real Neo4j: write-back, run node, vector
index, reproducibility, atomicity and cold start."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from personarec.config import Settings
from personarec.graph import Graph
from personarec.graph.export import export_graph
from personarec.persona import infer_persona, train_personas
from personarec.persona.train import embed_all, fit, prepare, read_personas, write_back

DATASET = "toy"  # as in conftest.build_kg


def _personas(graph: Graph) -> dict[str, np.ndarray]:
    rows = graph.execute("MATCH (u:User) WHERE u.persona IS NOT NULL RETURN u.id AS id, u.persona AS p", read=True)
    return {r["id"]: np.asarray(r["p"]) for r in rows}


def test_train_writes_personas_run_and_index_answers(graph: Graph, small_kg: dict[str, Any],
                                                      persona_settings: Settings) -> None:
    summary = train_personas(graph, persona_settings, DATASET, progress=False)
    assert summary.users == 60 and summary.version == 1
    assert summary.metapaths == ["U-I-U", "U-I-Genre-I-U", "U-I-Entity-I-U"]
    assert sum(summary.attention) == pytest.approx(1.0, abs=1e-6)
    assert summary.loss_curve[-1] < summary.loss_curve[0]

    personas = _personas(graph)
    assert len(personas) == 60
    assert all(v.shape == (persona_settings.persona.dimensions,) for v in personas.values())
    users = graph.execute("MATCH (u:User) RETURN collect(DISTINCT u.persona_version) AS v, "
                          "collect(DISTINCT u.persona_run) AS r", read=True)[0]
    assert users["v"] == [1] and users["r"] == [summary.run_id]
    run = graph.execute("MATCH (r:PersonaRun {id: $id}) RETURN r", {"id": summary.run_id}, read=True)[0]["r"]
    assert run["model"] == "HeCo" and run["learner"] == "heco"  # the default learner
    assert run["metapaths"] == summary.metapaths
    assert len(run["loss_curve"]) == summary.epochs and '"dimensions": 64' in run["config"]

    # the vector index answers `similar`, and persona neighbours come mostly from the same planted group
    group = small_kg["user_group"]
    hits = total = 0
    for uid in list(group)[:12]:
        rows = graph.read("queries/persona_similar.cypher", {"id": uid, "k": 5})
        assert len(rows) == 5 and uid not in [r["user"] for r in rows]
        hits += sum(group[r["user"]] == group[uid] for r in rows)
        total += len(rows)
    assert hits / total > 0.6  # random would be 1/3

    # a second run bumps the version everywhere
    again = train_personas(graph, persona_settings, DATASET, progress=False)
    assert again.version == 2
    assert graph.execute("MATCH (u:User) RETURN collect(DISTINCT u.persona_version) AS v", read=True)[0]["v"] == [2]

    # the neighbourhood and explanation queries run on the result
    uid = next(iter(group))
    items = graph.read("queries/persona_neighbourhood_items.cypher", {"id": uid, "k": 5, "limit": 5})
    feats = graph.read("queries/persona_neighbourhood_features.cypher", {"id": uid, "k": 5, "limit": 5})
    assert items and feats and {f["kind"] for f in feats} <= {"Genre", "Entity"}
    other = next(u for u in group if u != uid and group[u] == group[uid])
    why = graph.read("queries/persona_explain.cypher", {"a": uid, "b": other, "limit": 50})
    assert {"U-I-Genre-I-U", "U-I-Entity-I-U"} <= {w["metapath"] for w in why}


def test_same_seed_same_personas(graph: Graph, small_kg: dict[str, Any], persona_settings: Settings) -> None:
    export = export_graph(graph, DATASET, progress=False)
    runs = []
    for _ in range(2):
        prep = prepare(export, ["auto"], persona_settings.persona.max_neighbors, seed=7)
        res = fit(prep, persona_settings, seed=7, progress=False)
        runs.append((embed_all(res.model, prep)[0], res.loss_curve))
    np.testing.assert_allclose(runs[0][0], runs[1][0], atol=1e-6)
    assert runs[0][1] == runs[1][1]
    prep = prepare(export, ["auto"], persona_settings.persona.max_neighbors, seed=8)
    other = embed_all(fit(prep, persona_settings, seed=8, progress=False).model, prep)[0]
    assert not np.allclose(runs[0][0], other, atol=1e-3)


def test_write_back_is_atomic_for_a_concurrent_reader(graph: Graph, neo4j_settings: Settings) -> None:
    n = 2000
    ids = [f"{DATASET}:u{k}" for k in range(n)]
    graph.execute("UNWIND $ids AS id CREATE (:User {id: id, dataset: $ds})", {"ids": ids, "ds": DATASET})
    dim = neo4j_settings.persona.dimensions
    seen: list[tuple[int, ...]] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            ids_, _, versions = read_personas(graph, DATASET)
            if ids_:
                seen.append((tuple(sorted(versions)), len(ids_)))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for version in (1, 2, 3):
            personas = np.full((n, dim), float(version), dtype=np.float32)
            got = write_back(graph, ids, personas, {
                "id": f"run-{version}", "model": "HDGI", "dataset": DATASET, "config": "{}", "loss_curve": [1.0],
                "metapaths": ["U-I-U"], "attention": [1.0], "users": n, "epochs": 1, "best_loss": 1.0,
                "model_key": None, "model_sha256": None}, batch_size=500)
            assert got == version
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    # every snapshot holds exactly one version for all users: never a mix of old and new
    mixed = [snapshot for snapshot in seen if len(snapshot[0]) != 1 or snapshot[1] != n]
    assert not mixed, mixed[:3]
    assert len({snapshot[0] for snapshot in seen}) >= 2  # the reader did overlap the writes
    final = graph.execute("MATCH (u:User) RETURN DISTINCT u.persona[0] AS p, u.persona_run AS r", read=True)
    assert final == [{"p": 3.0, "r": "run-3"}]


def test_infer_persona_for_an_anonymous_session(graph: Graph, small_kg: dict[str, Any],
                                                persona_settings: Settings) -> None:
    train_personas(graph, persona_settings, DATASET, progress=False)
    group = small_kg["user_group"]
    item_group = small_kg["item_group"]
    hits = total = 0
    for g in range(3):
        session = [f"{DATASET}:i{k}" for k in np.flatnonzero(item_group == g)[:5]]
        vec = infer_persona(graph, persona_settings, session)
        assert vec.shape == (persona_settings.persona.dimensions,) and np.isfinite(vec).all()
        near = graph.read("queries/persona_similar_vector.cypher", {"vector": vec.tolist(), "k": 5,
                                                                     "dataset": DATASET})
        hits += sum(group[r["user"]] == g for r in near)
        total += len(near)
    assert hits / total > 0.6
    # inference for an existing user's train items lands near that user's own persona
    uid = next(iter(group))
    train_items = [e["item"] for e in small_kg["events"] if e["user"] == uid and e["split"] == "train"]
    vec = infer_persona(graph, persona_settings, train_items)
    own = _personas(graph)[uid]
    cos = float(vec @ own / (np.linalg.norm(vec) * np.linalg.norm(own)))
    assert cos > 0.8


def test_infer_without_a_run_is_a_clear_error(graph: Graph, small_kg: dict[str, Any],
                                               persona_settings: Settings) -> None:
    from personarec.persona import PersonaError

    with pytest.raises(PersonaError, match="train personas first"):
        infer_persona(graph, persona_settings, [f"{DATASET}:i1"])
