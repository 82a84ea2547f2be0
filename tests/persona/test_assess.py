"""``personarec personas assess`` (personarec.persona.assess): the persona quality report.

The numeric pieces (chunked nearest neighbours, random neighbours, Jaccard, entropy, loss) are checked
against hand computations without a server; the report itself on the planted three-group graph of
``conftest.build_kg`` in a real Neo4j, after a real training run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

from personarec.cli import main
from personarec.config import Settings
from personarec.graph import Graph
from personarec.persona import PersonaError, train_personas
from personarec.persona.assess import (
    REFERENCES,
    assess,
    attention_entropy,
    loss_summary,
    mean_jaccard,
    neighbour_jaccard,
    random_neighbours,
    top_k_cosine,
)

DATASET = "toy"  # as in conftest.build_kg


def _env(settings: Settings) -> dict[str, str]:
    return {"NEO4J_URI": settings.bolt_uri, "NEO4J_PASSWORD": settings.neo4j.password.get_secret_value(),
            "PERSONAREC_MODEL_STORE": str(settings.model_store)}


# ------------------------------------------------------------------------------- without a server
def test_chunked_top_k_cosine_matches_the_full_similarity_matrix() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((53, 8)).astype(np.float32)
    x[7] = 0.0  # a user without items: cosine 0 with everyone, still gets k neighbours
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sim = xn @ xn.T
    np.fill_diagonal(sim, -np.inf)
    want = np.argsort(-sim, axis=1, kind="stable")[:, :5]
    for max_bytes in (1, 4 * 53 * 3, 1 << 26):  # one row per block, 3 rows per block (53 = 17*3 + 2), one block
        got = top_k_cosine(x, 5, max_bytes=max_bytes)
        assert got.shape == (53, 5)
        assert not (got == np.arange(53)[:, None]).any()
        rows = [u for u in range(53) if u != 7]  # row 7's similarities are all 0: any 5 are right
        np.testing.assert_array_equal(got[rows], want[rows])
    with pytest.raises(ValueError, match="k must be"):
        top_k_cosine(x, 53)


def test_random_neighbours_are_distinct_other_users_and_seeded() -> None:
    for n, k in ((11, 10), (1000, 10)):
        nb = random_neighbours(n, k, np.random.default_rng(3))
        assert nb.shape == (n, k) and nb.min() >= 0 and nb.max() < n
        assert not (nb == np.arange(n)[:, None]).any()
        assert all(len(set(row)) == k for row in nb.tolist())
    np.testing.assert_array_equal(random_neighbours(50, 4, np.random.default_rng(1)),
                                  random_neighbours(50, 4, np.random.default_rng(1)))
    # with k = n - 1 every other user is drawn: the full complement
    nb = random_neighbours(11, 10, np.random.default_rng(5))
    assert all(set(row) == set(range(11)) - {u} for u, row in enumerate(nb.tolist()))


def test_neighbour_jaccard_by_hand() -> None:
    # sets {0, 1}, {1, 2}, {3}, {} ; a duplicate entry must not count twice
    sets = sp.csr_matrix((np.ones(6), ([0, 0, 1, 1, 2, 1], [0, 1, 1, 2, 3, 2])), shape=(4, 4))
    nb = np.array([[1, 2], [0, 3], [0, 1], [2, 0]])
    want = np.array([(1 / 3 + 0) / 2, (1 / 3 + 0) / 2, 0.0, 0.0])
    np.testing.assert_allclose(neighbour_jaccard(sets, nb), want)
    np.testing.assert_allclose(neighbour_jaccard(sets, nb, max_nnz=1), want)  # one user per block
    assert mean_jaccard(sets, nb) == pytest.approx(want.mean())


def test_attention_entropy_and_loss_summary_by_hand() -> None:
    h, norm = attention_entropy([0.5, 0.25, 0.25, 0.0])
    assert h == pytest.approx(1.5 * math.log(2)) and norm == pytest.approx(1.5 * math.log(2) / math.log(4))
    assert attention_entropy([1 / 3] * 3)[1] == pytest.approx(1.0)
    assert attention_entropy([1.0]) == (0.0, None)
    s = loss_summary([0.9, 0.4, 0.5])
    assert (s["epochs"], s["first"], s["last"], s["min"], s["min_epoch"]) == (3, 0.9, 0.5, 0.4, 1)
    assert loss_summary(None)["epochs"] == 0


# ----------------------------------------------------------------------------------- in Neo4j
def test_assess_a_trained_run_through_the_cli(graph: Graph, small_kg: dict[str, Any], persona_settings: Settings,
                                             tmp_path: Path) -> None:
    summary = train_personas(graph, persona_settings, DATASET, progress=False)
    out = tmp_path / "report"
    res = CliRunner().invoke(main, ["personas", "assess", "--dataset", DATASET, "--out", str(out), "--json"],
                             env=_env(persona_settings))
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])

    # the files exist and parse: the JSON is the printed report, the Markdown has every table, the PNG is a PNG
    assert json.loads((out / "assess.json").read_text()) == report
    md = (out / "assess.md").read_text()
    for heading in ("## Run " + summary.run_id, "### Neighbour overlap", "### Metapath attention", "### Loss",
                    "### Cold-start agreement"):
        assert heading in md
    assert "| train items |" in md and "| Genre |" in md and "| Entity via DIRECTED_BY |" in md
    import matplotlib.pyplot as plt

    img = plt.imread(out / "assess.png")
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100

    assert report["dataset"] == DATASET and len(report["runs"]) == 1
    run = report["runs"][0]
    assert run["run"]["id"] == summary.run_id and run["users"] == 60 and run["k"] == 10

    # personas find users with overlapping train histories far better than chance
    overlap = run["overlap"]
    assert set(overlap) == {"items", "Genre", "Entity", "Entity/DIRECTED_BY"}
    assert set(overlap["items"]) == set(REFERENCES)
    for measure in ("items", "Genre", "Entity", "Entity/DIRECTED_BY"):
        row = overlap[measure]
        assert row["persona"] > row["random_vectors"] and row["persona"] > row["random_users"], (measure, row)
    # items discriminate: about twice the chance level. Genres (= directors here: one of each per group, 3 in
    # all) saturate, since every user also holds 2 off-group items: chance is ~0.7 and the margin small.
    items = overlap["items"]
    assert items["persona"] > 1.5 * max(items["random_vectors"], items["random_users"]), items
    assert items["mean_embedding"] > 1.5 * items["random_users"], items
    assert overlap["Genre"]["persona"] == overlap["Entity/DIRECTED_BY"]["persona"]  # one genre, one director

    # attention entropy = -Σ β ln β of the β stored on the PersonaRun node, by hand
    stored = graph.execute("MATCH (r:PersonaRun {id: $id}) RETURN r.metapath_attention AS beta, "
                           "r.loss_curve AS curve", {"id": summary.run_id}, read=True)[0]
    h = -sum(b * math.log(b) for b in stored["beta"] if b > 0)
    assert run["attention"]["beta"] == pytest.approx(stored["beta"])
    assert run["attention"]["metapaths"] == summary.metapaths
    assert run["attention"]["entropy_nats"] == pytest.approx(h)
    assert run["attention"]["entropy_normalised"] == pytest.approx(h / math.log(len(stored["beta"])))
    loss = run["loss"]
    assert loss["epochs"] == len(stored["curve"]) == summary.epochs
    assert (loss["first"], loss["last"], loss["min"]) == pytest.approx(
        (stored["curve"][0], stored["curve"][-1], min(stored["curve"])))
    assert loss["min"] == pytest.approx(summary.best_loss) and loss["min_epoch"] == summary.best_epoch

    # cold start from a user's own train items lands on the stored persona (the encoder sees the same mean
    # features and, along each metapath, much the same neighbours; measured: mean 0.9995, min 0.998), while
    # it is nearly orthogonal to another user's persona (measured 0.03); sample 200 > 60 users: all of them
    cold = run["cold_start"]
    assert cold["users"] == 60 and cold["skipped"] == 0
    assert cold["mean"] > 0.99 and cold["median"] > 0.99 and cold["min"] > 0.95, cold
    assert cold["mean"] > cold["other_user_mean"] + 0.5, cold

    # a second run replaces the personas: `--run all` reports both, the replaced one without vectors
    again = train_personas(graph, persona_settings, DATASET, progress=False)
    both = assess(graph, persona_settings, DATASET, "all", sample=0, progress=False)
    assert [r.run["id"] for r in both.runs] == [again.run_id, summary.run_id]
    assert both.runs[0].overlap is not None and both.runs[0].cold_start is None  # sample 0: skipped
    assert both.runs[1].overlap is None and both.runs[1].users == 0 and "replaced" in (both.runs[1].note or "")
    assert both.runs[1].attention["entropy_nats"] == pytest.approx(h)
    # the same seed gives the same report
    assert assess(graph, persona_settings, DATASET, sample=0, progress=False).runs[0].overlap == both.runs[0].overlap


def test_validation_and_test_edges_do_not_count(graph: Graph, neo4j_settings: Settings,
                                                kg_builder: Callable[..., dict[str, Any]]) -> None:
    """x and y share only held-out items (valid and test) and each other's persona: their overlap is 0."""
    kg = kg_builder(graph, n_users=0)  # items, genres and director entities only
    item_group = kg["item_group"]
    g0, g1, g2 = (np.flatnonzero(item_group == g) for g in range(3))
    events = ([{"user": "x", "item": int(i), "split": "train"} for i in g0[:6]]
              + [{"user": "y", "item": int(i), "split": "train"} for i in g1[:6]]
              + [{"user": u, "item": int(g2[0]), "split": "valid"} for u in ("x", "y")]
              + [{"user": u, "item": int(g2[1]), "split": "test"} for u in ("x", "y")])
    graph.execute("""
        UNWIND $events AS ev
        MERGE (u:User {id: $ds + ':' + ev.user}) SET u.raw_id = ev.user, u.dataset = $ds
        WITH u, ev MATCH (i:Item {id: $ds + ':i' + toString(ev.item)})
        CREATE (u)-[:INTERACTED {rating: 4.0, ts: 0, seq: 0, split: ev.split}]->(i)
    """, {"events": events, "ds": DATASET})
    graph.execute("CREATE (:PersonaRun {id: 'run-x', version: 1, dataset: $ds, users: 2, epochs: 2, "
                  "metapaths: ['U-I-U', 'U-I-Genre-I-U'], metapath_attention: [0.25, 0.75], loss_curve: [0.7, 0.6], "
                  "created_at: datetime()})", {"ds": DATASET})
    graph.execute("MATCH (u:User {dataset: $ds}) SET u.persona = [1.0, 0.0, 0.5], u.persona_run = 'run-x', "
                  "u.persona_version = 1", {"ds": DATASET})
    shared = graph.execute("MATCH (:User {id: 'toy:x'})-[a:INTERACTED]->(i)<-[b:INTERACTED]-(:User {id: 'toy:y'}) "
                           "RETURN collect(DISTINCT a.split) AS splits", read=True)[0]["splits"]
    assert sorted(shared) == ["test", "valid"]  # they do share items, but only held-out ones

    report = assess(graph, neo4j_settings, DATASET, k=1, sample=0, progress=False)
    run = report.runs[0]
    assert run.users == 2 and run.k == 1
    assert run.overlap is not None
    for measure in ("items", "Genre", "Entity", "Entity/DIRECTED_BY"):  # the held-out item's genre/director too
        assert run.overlap[measure]["persona"] == 0.0, (measure, run.overlap[measure])
    assert run.attention["entropy_nats"] == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))

    # control: one shared TRAIN item is counted, 1 / (7 + 6 - 1)
    graph.execute("MATCH (u:User {id: 'toy:x'}), (i:Item {id: $item}) "
                  "CREATE (u)-[:INTERACTED {rating: 4.0, ts: 1, seq: 1, split: 'train'}]->(i)",
                  {"item": f"{DATASET}:i{g1[0]}"})
    run = assess(graph, neo4j_settings, DATASET, k=1, sample=0, progress=False).runs[0]
    assert run.overlap is not None and run.overlap["items"]["persona"] == pytest.approx(1 / 12)
    assert run.overlap["Genre"]["persona"] == pytest.approx(1 / 2)  # {genre-0, genre-1} vs {genre-1}


def test_cli_usage_errors_and_a_dataset_without_runs(graph: Graph, small_kg: dict[str, Any],
                                                    persona_settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    env = _env(persona_settings)
    res = runner.invoke(main, ["personas", "assess", "--dataset", "nosuch", "--out", str(tmp_path / "r")], env=env)
    assert res.exit_code == 2 and "'nosuch' is not in the graph (datasets: toy)" in res.output
    res = runner.invoke(main, ["personas", "assess", "--dataset", DATASET, "-k", "0"], env=env)
    assert res.exit_code == 2 and "-k" in res.output
    res = runner.invoke(main, ["personas", "assess", "--dataset", DATASET, "--out", str(tmp_path / "r")], env=env)
    assert res.exit_code == 1
    assert res.output.strip() == ("error: no persona run of dataset 'toy'; train personas first with "
                                  "`personarec personas train --dataset toy`.")
    assert not (tmp_path / "r").exists()  # nothing written
    with pytest.raises(PersonaError, match="no persona run 'nope' of dataset 'toy'"):
        assess(graph, persona_settings, DATASET, "nope", progress=False)
