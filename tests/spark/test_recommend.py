"""``recommend --engine spark`` (personarec.spark.recommend) in Spark local mode against the real test Neo4j:
the full MovieLens-100K graph, a small real trained model set, and the single-process job as the reference
(issue 12, part 1 "done means")."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from personarec import db
from personarec.config import Settings
from personarec.graph import Graph
from personarec.jobs import build_recommender, recommend
from personarec.load import load_dataset

pytest.importorskip("pyspark", reason="pyspark is the `spark` extra (run.sh setup installs it)")

from personarec.spark.jars import install_connector  # noqa: E402
from personarec.spark.recommend import recommend_spark  # noqa: E402
from personarec.spark.session import spark_session  # noqa: E402

pytestmark = pytest.mark.neo4j

BATCH = 64
N_USERS = 943
EDGES = ("MATCH (u:User)-[r:RECOMMENDED {run: $run}]->(i:Item) "
         "RETURN u.id AS user, i.id AS item, r.rank AS rank, r.score AS score ORDER BY user, rank")
# Test-only personas: deterministic vectors for nine users in ten, so both scoring paths (persona-SASRec
# candidates, and plain SASRec for users without a persona) run inside the same batches.
SET_PERSONAS = ("MATCH (u:User {dataset: 'ml-100k'}) WITH u, toInteger(u.raw_id) AS n WHERE n % 10 <> 0 "
                "SET u.persona = [x IN range(0, 7) | sin(n * (x + 1))]")


@pytest.fixture(scope="module")
def ml100k(session_graph: Graph, neo4j_settings: Settings, shared_data: Path,
           tmp_path_factory: pytest.TempPathFactory,
           load_tiny_sequences: Callable[..., None]) -> Iterator[tuple[Settings, Path]]:
    """ML-100K loaded, a two-stage model set trained for one epoch and saved, and the single-process
    job's run ``single`` written with it: the reference the Spark job must reproduce."""
    db.reset(session_graph)
    load_dataset(session_graph, neo4j_settings, "movielens", [shared_data / "movielens-100k"], progress=False)
    # a second dataset in the same graph: the Spark job reads every INTERACTED edge and must keep only
    # ml-100k's (the single-process job asks for ml-100k's users by id)
    load_tiny_sequences(session_graph, neo4j_settings, tmp_path_factory.mktemp("other"), "other")
    session_graph.execute(SET_PERSONAS)
    settings = neo4j_settings.model_copy(update={
        "session": neo4j_settings.session.model_copy(update={"epochs": 1, "max_len": 20, "n_candidates": 50}),
        "spark": neo4j_settings.spark.model_copy(update={"partitions": 4, "read_partitions": 2})})
    models = tmp_path_factory.mktemp("spark-models") / "two-stage"
    rec = build_recommender(session_graph, settings, "ml-100k", "two-stage", models)
    recommend(session_graph, settings, rec, "single", dataset="ml-100k", batch_size=BATCH, progress=False)
    yield settings, models
    db.reset(session_graph)


@pytest.fixture(scope="module")
def spark(ml100k: tuple[Settings, Path]) -> Iterator[Any]:
    settings, _ = ml100k
    install_connector(settings.spark)  # cached by run.sh setup; fetched from Maven Central otherwise
    session = spark_session(settings, "local[2]")
    yield session
    session.stop()


def _edges(graph: Graph, run: str) -> list[dict[str, Any]]:
    return graph.execute(EDGES, {"run": run}, read=True)


def _same_lists(graph: Graph, run: str, reference: str = "single") -> None:
    """Every user's top-10 equals the reference run's: same items at the same ranks, same scores up to
    float32 rounding (Spark tasks run torch on one thread each, the single-process job on all cores)."""
    got, want = _edges(graph, run), _edges(graph, reference)
    assert len(want) == 10 * N_USERS
    assert [(r["user"], r["item"], r["rank"]) for r in got] == [(r["user"], r["item"], r["rank"]) for r in want]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(got, want)) < 1e-5


def _run(graph: Graph, run: str) -> dict[str, Any]:
    return graph.read("queries/jobs_run_get.cypher", {"run": run})[0]["run"]


def test_spark_job_writes_the_single_process_top10_and_a_rerun_changes_nothing(
        session_graph: Graph, ml100k: tuple[Settings, Path], spark: Any) -> None:
    settings, models = ml100k
    s = recommend_spark(session_graph, settings, models, "spark", dataset="ml-100k", batch_size=BATCH,
                        spark=spark)
    assert (s.total, s.skipped, s.written, s.edges, s.status) == (N_USERS, 0, N_USERS, 10 * N_USERS, "done")
    _same_lists(session_graph, "spark")
    run = _run(session_graph, "spark")
    assert (run["status"], run["users_done"], run["model"], run["k"]) == ("done", N_USERS, s.model, 10)

    before = _edges(session_graph, "spark")
    again = recommend_spark(session_graph, settings, models, "spark", dataset="ml-100k", batch_size=BATCH,
                        spark=spark)
    assert (again.skipped, again.written, again.edges) == (N_USERS, 0, 0)
    assert _edges(session_graph, "spark") == before


def test_a_crashed_spark_run_resumes_to_the_same_lists(session_graph: Graph, ml100k: tuple[Settings, Path],
                                                       spark: Any) -> None:
    settings, models = ml100k
    with pytest.raises(Exception, match="simulated crash"):
        recommend_spark(session_graph, settings, models, "crash", dataset="ml-100k", batch_size=BATCH,
                        spark=spark, fail_from_partition=2)
    run = _run(session_graph, "crash")
    written = {r["user"] for r in _edges(session_graph, "crash")}
    # whole batches landed (one transaction each, progress with them), the rest did not
    assert run["status"] == "running" and 0 < len(written) < N_USERS
    assert run["users_done"] == len(written) and len(written) % BATCH == 0
    resumed = recommend_spark(session_graph, settings, models, "crash", dataset="ml-100k", batch_size=BATCH,
                              spark=spark)
    assert (resumed.skipped, resumed.written) == (len(written), N_USERS - len(written))
    assert resumed.edges == 10 * (N_USERS - len(written))
    _same_lists(session_graph, "crash")
    assert _run(session_graph, "crash")["users_done"] == N_USERS


def test_spark_job_refuses_a_folder_without_a_model_set(session_graph: Graph, ml100k: tuple[Settings, Path],
                                                        tmp_path: Path) -> None:
    from personarec.jobs.batch import JobError

    settings, _ = ml100k
    with pytest.raises(JobError, match="no saved model set"):
        recommend_spark(session_graph, settings, tmp_path, "nothing", dataset="ml-100k")


def test_recommend_cli_engine_spark(session_graph: Graph, ml100k: tuple[Settings, Path], spark: Any,
                                    tmp_path: Path) -> None:
    """``personarec recommend --engine spark`` (in-process, so it reuses the module's Spark session)."""
    from click.testing import CliRunner

    from personarec.cli import main

    settings, models = ml100k
    assert settings.neo4j.password is not None
    env = {"NEO4J_URI": settings.bolt_uri, "NEO4J_PASSWORD": settings.neo4j.password.get_secret_value()}
    users = tmp_path / "users.txt"
    users.write_text("1\n# a comment\n2\n943\n")
    args = ["recommend", "--engine", "spark", "--model-dir", str(models), "--run", "cli", "--dataset", "ml-100k",
            "--users", str(users),
            "--batch-size", str(BATCH), "--json"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["total"], out["written"], out["edges"], out["status"]) == (3, 3, 30, "done")
    got = [(r["user"], r["item"], r["rank"]) for r in _edges(session_graph, "cli")]
    want = [(r["user"], r["item"], r["rank"]) for r in _edges(session_graph, "single")
            if r["user"] in {"ml-100k:1", "ml-100k:2", "ml-100k:943"}]
    # three users form one batch of their own here, so only the ranked items are compared
    assert got == want
    refused = CliRunner().invoke(main, ["recommend", "--engine", "spark", "--dataset", "ml-100k", "--model", "popular"],
                                env=env)
    assert refused.exit_code != 0 and "--model-dir" in refused.output
