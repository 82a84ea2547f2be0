"""Benchmark (issue 12): batch scoring on Spark (``recommend --engine spark``) at local[1] and local[2] vs
the single-process job (``personarec.jobs.recommend``), end to end on a real Neo4j.

A private Neo4j (free ports, temporary home) is loaded with a synthetic Amazon-format file
(``bench.synth_amazon``: Zipf-Mandelbrot items, lognormal users, at least 5 reviews a user) through
the project's own loader (``personarec.load.load_dataset``, pinned split), each user gets a
deterministic 64-d ``User.persona``, and the model set is the real two-stage architecture with
untrained weights (``bench.recommend_throughput.build_models``: scoring cost does not depend on what
the weights learned), saved with ``TrainedModels.save`` so the Spark job broadcasts it as in production.

Measured per engine: seconds and users/s of the whole run (reads, scoring, RECOMMENDED writes, run
bookkeeping; Spark's own start-up is reported apart), and, for the per-core projection, the pure
scoring rate of one torch thread on the same users (``SessionRecommender.recommend`` only).
The Spark runs and the single-process run must write the same top-k (checked: same items and ranks).

    flock /tmp/personarec-bench.lock nice .venv/bin/python -m bench.spark_recommend --reviews 20000 \
        --out bench/results/spark_recommend.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.recommend_throughput import build_models  # noqa: E402
from bench.synth_amazon import generate  # noqa: E402
from personarec.graph import Graph, connect  # noqa: E402
from personarec.jobs import UserBatch, recommend  # noqa: E402
from personarec.load import load_dataset  # noqa: E402
from personarec.server import private_server  # noqa: E402
from personarec.session.models import TrainedModels  # noqa: E402

log = logging.getLogger("bench.spark_recommend")
DATASET = "synth"
# bench-only seeding (like tests/jobs/conftest.py): a deterministic persona per user
# (in batches of its own transactions: the million-user graph's personas do not fit one transaction's heap)
# (seeded by the node's own number: any raw id format, e.g. the synthetic "A1000OPI98VW44", gives one)
SET_PERSONAS = ("MATCH (u:User {dataset: $dataset}) CALL (u) { "
                "WITH u, toInteger(split(elementId(u), ':')[-1]) AS n "
                "SET u.persona = [x IN range(0, 63) | sin((n + 7) * (x + 1))] } IN TRANSACTIONS OF 20000 ROWS")
HAS_PERSONAS = "MATCH (u:User {dataset: $dataset}) WHERE u.persona IS NOT NULL RETURN count(u) > 0 AS any"
EDGES = ("MATCH (u:User)-[r:RECOMMENDED {run: $run}]->(i:Item) "
         "RETURN u.id AS user, i.id AS item, r.rank AS rank ORDER BY user, rank")


def _edges(graph: Graph, run: str) -> list[tuple[str, str, int]]:
    return [(r["user"], r["item"], r["rank"]) for r in graph.execute(EDGES, {"run": run}, read=True)]


def pure_scoring_rate(graph: Graph, models_dir: Path, batch: int, k: int, users: int) -> dict[str, Any]:
    """Users/s of ``SessionRecommender.recommend`` alone on one torch thread (the per-core rate)."""
    torch.set_num_threads(1)
    rec = TrainedModels.load(models_dir).recommender()
    ids = [r["user"] for r in graph.read("queries/jobs_users.cypher", {"dataset": DATASET})][:users]
    rows = graph.read("queries/jobs_histories.cypher", {"users": ids, "splits": ["train", "valid", "test"]})
    by = {r["user"]: r for r in rows}
    rec.recommend(UserBatch(ids=ids[:1], histories=[by[ids[0]]["items"]], personas=[by[ids[0]]["persona"]]), k)
    t = time.perf_counter()
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        rec.recommend(UserBatch(ids=chunk, histories=[by[u]["items"] for u in chunk],
                                personas=[by[u]["persona"] for u in chunk]), k)
    seconds = time.perf_counter() - t
    torch.set_num_threads(os.cpu_count() or 1)
    return {"users": len(ids), "seconds": seconds, "users_per_s": len(ids) / seconds, "torch_threads": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=int, default=50_000, help="synthetic reviews (users = reviews / 10)")
    parser.add_argument("--masters", default="local[1],local[2]")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "spark_recommend.json")
    parser.add_argument("--bulk", action="store_true",
                        help="load with neo4j-admin import (personarec.load.bulk) instead of the online loader")
    parser.add_argument("--score-users", type=int, default=0,
                        help="score only the first N users of the graph in every engine (0: all of them)")
    parser.add_argument("--reviews-file", type=Path, default=None,
                        help="the synthetic reviews file: reused when it exists, else written there")
    parser.add_argument("--existing", action="store_true",
                        help=f"score on the configured Neo4j (environment/config file), whose {DATASET!r} dataset is "
                             "already loaded (e.g. by an earlier run of this benchmark's loading steps); "
                             "no private server, no load")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    result: dict[str, Any] = {
        "machine": {"cpu": platform.machine(), "cores": os.cpu_count(), "loadavg_before": load_before},
        "setup": {"reviews": args.reviews, "batch": args.batch, "k": args.k,
                  "model": "persona-SASRec top-100 -> SASRec rerank, hidden 64, 2 layers, max_len 50; "
                           "untrained weights (cost only)"},
        "runs": []}
    if args.existing:
        _existing(args, work, result)
    else:
        _private(args, work, result)
    shutil.rmtree(work, ignore_errors=True)
    result["machine"]["loadavg_after"] = os.getloadavg()
    result["machine"]["peak_rss_mb_driver"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["projection"] = projection(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _existing(args: argparse.Namespace, work: Path, result: dict[str, Any]) -> None:
    """Score on the configured server, whose dataset is loaded already (its personas seeded if missing)."""
    from personarec.config import load_settings
    from personarec.spark.jars import install_connector

    settings = load_settings()
    install_connector(settings.spark)
    with connect(settings) as graph:
        found = graph.read("queries/recbole_dataset.cypher", {"dataset": DATASET})
        if not found:
            raise SystemExit(f"--existing: the configured Neo4j holds no {DATASET!r} dataset")
        result["setup"].pop("reviews")  # the graph is what it is, not --reviews
        result["setup"].update({key: found[0]["dataset"].get(key) for key in ("users", "items", "interactions")})
        result["setup"]["loader"] = "existing graph"
        _score(graph, settings, args, work, result,
               seed_personas=not graph.execute(HAS_PERSONAS, {"dataset": DATASET}, read=True)[0]["any"])


def _private(args: argparse.Namespace, work: Path, result: dict[str, Any]) -> None:
    """Generate (or reuse) the synthetic file, load it into a private server, score there."""
    from personarec.spark.jars import install_connector

    src = args.reviews_file or work / "synth.json"
    if not src.exists():
        result["setup"]["generator"] = generate(src, args.reviews, seed=args.seed)
    with private_server(work / "neo4j", "bench-spark-pw", heap="2g", pagecache="1g") as settings:
        from personarec.db import init_schema
        from personarec.load.bulk import bulk_load

        install_connector(settings.spark)
        t = time.perf_counter()
        if args.bulk:  # into the empty store; the schema comes with it
            s = bulk_load(settings, "amazon", [src], DATASET, keep_running=True, progress=False)
        with connect(settings) as graph:
            if not args.bulk:
                init_schema(graph, settings)
                s = load_dataset(graph, settings, "amazon", [src], DATASET, progress=False)
            result["setup"].update({"users": s.users, "items": s.items, "interactions": s.interactions,
                                    "load_s": time.perf_counter() - t, "loader": "bulk" if args.bulk else "online"})
            _score(graph, settings, args, work, result)


def _score(graph: Graph, settings: Any, args: argparse.Namespace, work: Path, result: dict[str, Any],
           seed_personas: bool = True) -> None:
    """Seed personas, build the model set, then time the single-process job and each Spark master on the
    same users (all, or the first ``--score-users``), checking that every engine writes the same lists.
    Each master's connector reads (all users, every INTERACTED edge, grouped) are also timed on their own:
    the job reads the whole dataset whatever ``--score-users`` is, so this is its fixed cost."""
    from personarec.spark.recommend import HISTORIES_COUNT, read_histories, read_users, recommend_spark
    from personarec.spark.session import spark_session

    if seed_personas:
        t = time.perf_counter()
        graph.execute_autocommit(SET_PERSONAS, {"dataset": DATASET})
        result["setup"]["personas_s"] = time.perf_counter() - t
    targets: list[str] | None = None
    if args.score_users:
        targets = [r["user"] for r in graph.read("queries/jobs_users.cypher", {"dataset": DATASET})][
            :args.score_users]
        result["setup"]["scored_users"] = len(targets)
    items = sorted(r["item"] for r in graph.read("queries/jobs_popularity.cypher",
                                                  {"dataset": DATASET, "splits": ["train"]}))
    models = build_models(items, 64, args.seed, threads=os.cpu_count() or 1)
    models_dir = work / "models"
    models.save(models_dir)

    result["pure_scoring_one_thread"] = pure_scoring_rate(graph, models_dir, args.batch, args.k,
                                                          min(2048, args.score_users or 2048))
    log.info("pure scoring: %s", result["pure_scoring_one_thread"])

    rec = TrainedModels.load(models_dir).recommender()
    single = recommend(graph, settings, rec, "bench-single", dataset=DATASET, users=targets, k=args.k,
                       batch_size=args.batch, progress=False)
    result["runs"].append({"engine": "single-process", "torch_threads": torch.get_num_threads(),
                           "seconds": single.seconds, "users": single.written,
                           "users_per_s": single.throughput, "edges": single.edges})
    log.info("single: %s", single.line())
    reference = _edges(graph, "bench-single")
    for master in args.masters.split(","):
        t = time.perf_counter()
        spark = spark_session(settings, master)
        startup = time.perf_counter() - t
        run_id = f"bench-{master.replace('[', '-').replace(']', '')}"
        actual = {"spark_master": spark.sparkContext.master,
                  "default_parallelism": spark.sparkContext.defaultParallelism}
        t = time.perf_counter()
        rows = graph.read(HISTORIES_COUNT)[0]["count"]
        read_users(spark, settings, DATASET).count()
        read_histories(spark, settings, DATASET, ["train", "valid", "test"], rows).count()
        actual["read_all_s"] = time.perf_counter() - t
        log.info("%s: reading every user and history took %.1f s", master, actual["read_all_s"])
        try:
            sp = recommend_spark(graph, settings, models_dir, run_id, dataset=DATASET, users=targets, k=args.k,
                                 batch_size=args.batch, spark=spark)
        finally:
            spark.stop()
        same = _edges(graph, run_id) == reference
        result["runs"].append({"engine": "spark", "master": master, "cores": spark_cores(master),
                               **actual, "startup_s": startup, "seconds": sp.seconds, "users": sp.written,
                               "users_per_s": sp.throughput, "edges": sp.edges,
                               "same_top_k_as_single_process": same})
        log.info("%s: %s (same lists: %s)", master, sp.line(), same)


def spark_cores(master: str) -> int:
    inner = master[master.find("[") + 1:master.find("]")] if "[" in master else "1"
    return os.cpu_count() or 1 if inner == "*" else int(inner.split(",")[0])


def projection(result: dict[str, Any]) -> dict[str, Any]:
    """1M users on a cluster, on paper: scoring scales with cores at the measured per-core rate; the
    RECOMMENDED writes share one Neo4j (leader), bounded here by the measured single-writer rate."""
    per_core = result["pure_scoring_one_thread"]["users_per_s"]
    spark_runs = [r for r in result["runs"] if r["engine"] == "spark"]
    end_to_end = {r["master"]: r["users_per_s"] for r in spark_runs}
    out: dict[str, Any] = {"per_core_scoring_users_per_s": per_core, "end_to_end_users_per_s": end_to_end}
    out["hours_for_1M_users_scoring_only"] = {f"{c}_cores": 1e6 / (per_core * c) / 3600 for c in (2, 16, 64, 256)}
    # every user of this graph, here: the fixed read plus the users at the rate measured past the read
    # (the job's own seconds include a read like the one timed apart; an estimate, not a run)
    users = result["setup"].get("users")
    if users:
        out["hours_for_all_users_here_estimated"] = {
            r["master"]: (r["read_all_s"] + users * max(r["seconds"] - r["read_all_s"], 1e-9) / r["users"]) / 3600
            for r in spark_runs if r.get("read_all_s") and r["users"]}
        single = [r for r in result["runs"] if r["engine"] == "single-process" and r["users"]]
        if single:
            out["hours_for_all_users_here_estimated"]["single-process"] = users / single[0]["users_per_s"] / 3600
    return out


if __name__ == "__main__":
    main()
