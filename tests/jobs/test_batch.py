"""The batch job against a real Neo4j: idempotent, resumable, Parquet equal to Neo4j, clean removal."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from personarec.config import Settings
from personarec.graph import Graph
from personarec.jobs import (
    JobError,
    MostPopular,
    UserBatch,
    compare_runs,
    get_run,
    list_runs,
    read_run,
    recommend,
    recommend_sessions,
    remove_run,
    run_recommendations,
)

DATASET = "tiny"  # as seeded by tests/jobs/conftest.py
N_USERS = 40

EDGES = "MATCH ()-[r:RECOMMENDED]->() RETURN r.run AS run, count(r) AS n ORDER BY run"
ALL_EDGES = ("MATCH (u:User)-[r:RECOMMENDED {run: $run}]->(i:Item) "
             "RETURN u.id AS user, i.id AS item, r.rank AS rank, r.score AS score ORDER BY user, rank")


class Crash(RuntimeError):
    pass


class CrashAfter:
    """Wraps a model and raises after ``n`` batches, like a job killed mid-run."""

    def __init__(self, inner: MostPopular, n: int) -> None:
        self.inner, self.n, self.calls = inner, n, 0
        self.name = inner.name

    def recommend(self, batch: UserBatch, k: int) -> tuple[list[list[str]], list[list[float]]]:
        self.calls += 1
        if self.calls > self.n:
            raise Crash("killed")
        return self.inner.recommend(batch, k)


def test_most_popular_uses_train_counts_and_masks_history(graph: Graph, tiny: dict[str, list[str]]) -> None:
    model = MostPopular.from_graph(graph, DATASET)
    train_counts = Counter(i for items in tiny.values() for i in items[:-2])
    top_item, top_n = model.ranking_[0]
    assert top_n == max(train_counts.values())
    assert train_counts[top_item.split(":")[1]] == top_n
    batch = UserBatch(ids=["a"], histories=[[top_item]])
    items, scores = model.recommend(batch, 5)
    assert top_item not in items[0] and len(items[0]) == 5
    assert scores[0] == sorted(scores[0], reverse=True)


def test_run_writes_edges_and_is_idempotent(graph: Graph, neo4j_settings: Settings, tiny: dict[str, list[str]],
                                            tmp_path: Path) -> None:
    model = MostPopular.from_graph(graph, DATASET)
    first = recommend(graph, neo4j_settings, model, "r1", k=5, batch_size=7, progress=False)
    assert (first.total, first.written, first.skipped, first.edges) == (N_USERS, N_USERS, 0, 5 * N_USERS)
    assert first.throughput > 0
    edges = graph.execute(ALL_EDGES, {"run": "r1"})
    assert len(edges) == 5 * N_USERS
    for row in edges:  # never recommend what the user already has
        raw_user, raw_item = row["user"].split(":")[1], row["item"].split(":")[1]
        assert raw_item not in tiny[raw_user]
    run = get_run(graph, "r1")
    assert (run["status"], run["users_done"], run["k"], run["model"]) == ("done", N_USERS, 5, "most-popular")

    again = recommend(graph, neo4j_settings, model, "r1", k=5, batch_size=7, progress=False)
    assert (again.written, again.skipped, again.edges) == (0, N_USERS, 0)
    assert graph.execute(ALL_EDGES, {"run": "r1"}) == edges
    assert get_run(graph, "r1") == run  # not even a timestamp moved
    with pytest.raises(JobError, match="already exists with k=5"):
        recommend(graph, neo4j_settings, model, "r1", k=3, progress=False)


def test_a_batch_written_again_updates_its_edges_and_adds_none(graph: Graph, neo4j_settings: Settings,
                                                               tiny: dict[str, list[str]]) -> None:
    # the write query's own guarantee (MERGE's, written out in load/recommend_edges.cypher), beneath the job's
    # skipping of users already done: one edge per run, user and item, whatever writes it again
    recommend(graph, neo4j_settings, MostPopular.from_graph(graph, DATASET), "twice", k=3, progress=False)
    before = graph.execute(ALL_EDGES, {"run": "twice"})
    user = before[0]["user"]
    items = [e["item"] for e in before if e["user"] == user]
    rows = [{"user": user, "items": items[::-1], "scores": [30.0, 20.0, 10.0]}]
    for _ in range(2):
        graph.write("load/recommend_edges.cypher", {"run": "twice", "rows": rows, "users_done": N_USERS})
    after = graph.execute(ALL_EDGES, {"run": "twice"})
    assert len(after) == len(before) == 3 * N_USERS
    assert [(e["item"], e["rank"], e["score"]) for e in after if e["user"] == user] == \
        [(items[2], 1, 30.0), (items[1], 2, 20.0), (items[0], 3, 10.0)]
    assert [e for e in after if e["user"] != user] == [e for e in before if e["user"] != user]


def test_crashed_run_resumes_to_the_same_result(graph: Graph, neo4j_settings: Settings,
                                                tiny: dict[str, list[str]]) -> None:
    model = MostPopular.from_graph(graph, DATASET)
    recommend(graph, neo4j_settings, model, "clean", k=4, batch_size=6, progress=False)
    with pytest.raises(Crash):
        recommend(graph, neo4j_settings, CrashAfter(model, 3), "crashy", k=4, batch_size=6, progress=False)
    run = get_run(graph, "crashy")
    assert run["status"] == "running" and run["users_done"] == 18
    assert len(run_recommendations(graph, "crashy")) == 18  # three whole batches, nothing half-written
    resumed = recommend(graph, neo4j_settings, model, "crashy", k=4, batch_size=6, progress=False)
    assert (resumed.skipped, resumed.written) == (18, N_USERS - 18)
    assert get_run(graph, "crashy")["status"] == "done"
    clean = graph.execute(ALL_EDGES, {"run": "clean"})
    crashy = graph.execute(ALL_EDGES, {"run": "crashy"})
    assert crashy == clean
    cmp = compare_runs(graph, "clean", "crashy")
    assert (cmp.users_both, cmp.jaccard, cmp.overlap_at_k, cmp.same_top1) == (N_USERS, 1.0, 1.0, 1.0)


def test_parquet_matches_neo4j_and_resumes(graph: Graph, neo4j_settings: Settings, tiny: dict[str, list[str]],
                                           tmp_path: Path) -> None:
    model = MostPopular.from_graph(graph, DATASET)
    out = tmp_path / "recs"
    with pytest.raises(Crash):
        recommend(graph, neo4j_settings, CrashAfter(model, 2), "pq", k=5, parquet=out, batch_size=8,
                  progress=False)
    recommend(graph, neo4j_settings, model, "pq", k=5, parquet=out, batch_size=8, progress=False)
    table = read_run(out).to_pylist()
    neo = graph.execute(ALL_EDGES, {"run": "pq"})
    assert [(r["user"], r["item"], r["rank"], r["score"]) for r in table] == \
        [(r["user"], r["item"], r["rank"], r["score"]) for r in neo]
    assert len(table) == 5 * N_USERS
    # Parquet only: a different run written without touching Neo4j
    only = recommend(graph, neo4j_settings, model, "pq-only", k=5, parquet=tmp_path / "only", neo4j=False,
                     progress=False)
    assert only.edges == 0 and graph.execute(ALL_EDGES, {"run": "pq-only"}) == []
    assert [(r["user"], r["item"]) for r in read_run(tmp_path / "only").to_pylist()] == \
        [(r["user"], r["item"]) for r in table]


def test_user_list_and_unknown_users(graph: Graph, neo4j_settings: Settings, tiny: dict[str, list[str]]) -> None:
    model = MostPopular.from_graph(graph, DATASET)
    s = recommend(graph, neo4j_settings, model, "some", users=["3", f"{DATASET}:5", "3"], k=2, progress=False)
    assert s.total == 2 and set(run_recommendations(graph, "some")) == {f"{DATASET}:3", f"{DATASET}:5"}
    with pytest.raises(JobError, match="1 of 2 users are not in the graph"):
        recommend(graph, neo4j_settings, model, "bad", users=["3", "999"], k=2, progress=False)


def test_remove_leaves_nothing_of_that_run(graph: Graph, neo4j_settings: Settings,
                                           tiny: dict[str, list[str]]) -> None:
    model = MostPopular.from_graph(graph, DATASET)
    recommend(graph, neo4j_settings, model, "keep", k=3, progress=False)
    recommend(graph, neo4j_settings, model, "drop", k=6, progress=False)
    assert {r["run"] for r in list_runs(graph)} == {"keep", "drop"}
    assert remove_run(graph, "drop", batch_size=25, progress=False) == 6 * N_USERS
    assert graph.execute(EDGES) == [{"run": "keep", "n": 3 * N_USERS}]
    assert graph.execute("MATCH (r:RecommendationRun) RETURN r.id AS id") == [{"id": "keep"}]
    with pytest.raises(Exception, match="no recommendation run 'drop'"):
        remove_run(graph, "drop", progress=False)


def test_anonymous_sessions_go_to_parquet(graph: Graph, neo4j_settings: Settings, tiny: dict[str, list[str]],
                                          tmp_path: Path) -> None:
    model = MostPopular.from_graph(graph, DATASET)
    seen: list[list[str]] = []

    def infer(items: list[str]) -> list[float]:
        seen.append(items)
        return [0.0, 1.0]

    sessions = [("s1", ["1", "2"]), ("s2", ["3", "nope"]), ("s3", [])]
    s = recommend_sessions(graph, neo4j_settings, model, sessions, "anon", k=3, parquet=tmp_path / "anon",
                           infer_persona=infer, progress=False)
    assert (s.total, s.written, s.kind) == (3, 3, "sessions")
    rows = read_run(tmp_path / "anon").to_pylist()
    by = {}
    for r in rows:
        by.setdefault(r["session"], []).append(r["item"])
    assert set(by) == {"s1", "s2", "s3"} and all(len(v) == 3 for v in by.values())
    assert f"{DATASET}:1" not in by["s1"] and f"{DATASET}:2" not in by["s1"]
    assert seen == [[f"{DATASET}:1", f"{DATASET}:2"], [f"{DATASET}:3"]]
    assert get_run(graph, "anon")["sessions_done"] == 3
    again = recommend_sessions(graph, neo4j_settings, model, sessions, "anon", k=3, parquet=tmp_path / "anon",
                               progress=False)
    assert again.written == 0 and len(read_run(tmp_path / "anon")) == len(rows)
