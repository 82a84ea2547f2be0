"""``personarec recommend --engine spark``: the batch recommendation job on Apache Spark (issue 12, part 1).

The same job as :func:`personarec.jobs.batch.recommend`, run partition by partition on any Spark master:

1. the Neo4j connector reads the dataset's ``User`` nodes (a label read) and every ``INTERACTED`` edge as
   plain columns (a ``query`` read); Spark filters them to the dataset and splits and groups each user's
   history in ``seq`` order;
2. the users are numbered in id order and cut into batches of ``batch_size`` exactly as the
   single-process job cuts them; users this run already wrote (resume) are dropped, each remaining
   batch is kept whole inside one partition;
3. each partition is scored with ``mapInArrow`` by the trained model set, shipped to the executors once
   as a broadcast and loaded once per Python worker, through the very same
   ``TrainedModels.recommender()`` → ``SessionRecommender.recommend`` code as the single-process job;
4. the connector writes ``RECOMMENDED {rank, score, run}`` with ``cypher/spark/recommend_edges.cypher``,
   one transaction per batch together with the run's progress.

Run semantics are batch.py's: a ``RecommendationRun`` node, MERGEd edges (a rerun changes nothing), and a
crashed run resumes from the users it has not written when started again with the same id. Because the
batches are cut the same way (and a batch is committed whole), a Spark run, fresh or resumed, scores
every user in the same batch as a fresh single-process run does.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from personarec.config import Settings
from personarec.db import resolve_dataset
from personarec.graph import Graph
from personarec.graph.cypher import statement
from personarec.jobs.base import UserBatch
from personarec.jobs.batch import (
    ALL_SPLITS,
    JobError,
    RunSummary,
    check_output,
    checked_users,
    default_run_id,
    start_run,
)
from personarec.spark.session import NEO4J_FORMAT, connector_options, read_options, spark_session

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

WRITE_QUERY = "spark/recommend_edges.cypher"
EDGES_QUERY = "spark/run_edges.cypher"
HISTORIES_QUERY = "spark/read_histories.cypher"
HISTORIES_COUNT = "spark/count_interactions.cypher"
OUT_SCHEMA = "user string, items array<string>, scores array<double>, run string"

# One loaded model set per Python worker process (Spark reuses workers across tasks), keyed by content hash,
# with the folder it was unpacked into (kept while loaded: the set may read its item index from there).
_WORKER_MODEL: dict[str, Any] = {}


def model_files(folder: Path) -> dict[str, bytes]:
    """The files of a saved model set (``TrainedModels.save``, item index included), by relative path, to
    broadcast to the executors."""
    root = Path(folder)
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    if not files:
        raise JobError(f"{folder} holds no saved model set.")
    return files


def files_key(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def worker_recommender(files: dict[str, bytes], key: str, threads: int, retrieval: Any = None) -> Any:
    """The broadcast model set as a ``SessionRecommender``, loaded once per worker process the way
    ``personarec.jobs.build_recommender`` loads it (``retrieval``: ``RetrievalOptions`` of the driver)."""
    held = _WORKER_MODEL.get(key)
    if held is None:
        import torch

        from personarec.session.models import TrainedModels

        # one task per core: more torch threads than that only oversubscribe the executor
        torch.set_num_threads(threads)
        for _, old_folder in _WORKER_MODEL.values():
            shutil.rmtree(old_folder, ignore_errors=True)
        _WORKER_MODEL.clear()
        # inside a Spark task: the application's files folder, which Spark removes when the application
        # ends (worker processes are killed, not shut down); elsewhere a temporary folder, removed at once
        root = _spark_files_dir()
        folder = Path(tempfile.mkdtemp(prefix="personarec-spark-model-", dir=root))
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        rec = TrainedModels.load(folder, retrieval=retrieval).recommender()
        if root is None:
            shutil.rmtree(folder, ignore_errors=True)
        held = _WORKER_MODEL[key] = (rec, folder)
    return held[0]


def _spark_files_dir() -> str | None:
    """SparkFiles' root folder when running inside a Spark task, else ``None``."""
    try:
        from pyspark import SparkFiles

        return SparkFiles.getRootDirectory() if SparkFiles._is_running_on_worker else None
    except (ImportError, AttributeError):
        return None


def score_batch(rec: Any, users: list[str], personas: list[Any], histories: list[list[str]], k: int,
                run_id: str) -> pa.RecordBatch:
    """Top-``k`` for one batch, checked like the single-process job, as an Arrow batch of output rows."""
    import pyarrow as pa

    batch = UserBatch(ids=users, histories=histories,
                      personas=[None if p is None else [float(x) for x in p] for p in personas])
    items, scores = rec.recommend(batch, k)
    check_output(batch, items, scores, k)
    return pa.RecordBatch.from_pydict({"user": users, "items": items,
                                       "scores": [[float(s) for s in row] for row in scores],
                                       "run": [run_id] * len(users)})


def partition_scorer(broadcast: Any, key: str, k: int, run_id: str, threads: int, retrieval: Any = None,
                     fail_from_partition: int | None = None
                     ) -> Callable[[Iterable[pa.RecordBatch]], Iterable[pa.RecordBatch]]:
    """The ``mapInArrow`` function: rows arrive sorted by (batch, user); each batch is scored whole.

    ``fail_from_partition`` is a test hook that simulates a crash: tasks of that partition index and
    later raise before scoring (the job then stops with earlier partitions' batches committed).
    """

    def run(chunks: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        if fail_from_partition is not None:
            from pyspark import TaskContext

            ctx = TaskContext.get()
            if ctx is not None and ctx.partitionId() >= fail_from_partition:
                raise RuntimeError(f"simulated crash in partition {ctx.partitionId()}")
        rec = None
        current: int | None = None
        users: list[str] = []
        personas: list[Any] = []
        hists: list[list[str]] = []
        for chunk in chunks:
            cols = chunk.to_pydict()
            for b, u, p, h in zip(cols["batch"], cols["user"], cols["persona"], cols["items"]):
                if b != current and users:
                    rec = rec or worker_recommender(broadcast.value, key, threads, retrieval)
                    yield score_batch(rec, users, personas, hists, k, run_id)
                    users, personas, hists = [], [], []
                current = b
                users.append(u)
                personas.append(p)
                hists.append(list(h or []))
        if users:
            rec = rec or worker_recommender(broadcast.value, key, threads, retrieval)
            yield score_batch(rec, users, personas, hists, k, run_id)

    return run


def read_users(spark: SparkSession, settings: Settings, dataset: str) -> DataFrame:
    """``(user, persona)`` for every User of ``dataset``: a partitioned label read (the connector pushes the
    dataset filter down into its Cypher where it can)."""
    from pyspark.sql import functions as F

    df = (spark.read.format(NEO4J_FORMAT).options(**read_options(settings, labels=":User")).load()
          .where(F.col("dataset") == dataset))
    # the connector infers the schema from the data: without any persona the column does not exist
    persona = F.col("persona") if "persona" in df.columns else F.lit(None).cast("array<double>")
    return df.select(F.col("id").alias("user"), persona.alias("persona"))


def read_histories(spark: SparkSession, settings: Settings, dataset: str, splits: Sequence[str],
                   rows: int) -> DataFrame:
    """``(user, items)``: each user's INTERACTED items of ``splits`` in ``seq`` order (jobs_histories.cypher).

    A partitioned connector ``query`` read of ``spark/read_histories.cypher``, which returns plain
    properties only; ``rows`` is that query's row count (``spark/count_interactions.cypher``), which the
    connector cuts into SKIP/LIMIT partitions.
    """
    from pyspark.sql import functions as F

    if rows == 0:  # nothing to read, and the connector could not infer the columns from an empty result
        return spark.createDataFrame([], "user string, items array<string>")
    edges = (spark.read.format(NEO4J_FORMAT)
             .options(**read_options(settings, query=statement(HISTORIES_QUERY), **{"query.count": rows}))
             .load()
             .where((F.col("dataset") == dataset) & F.col("split").isin(list(splits))))
    pairs = edges.select("user", F.struct(F.col("seq"), F.col("item")).alias("x"))
    return (pairs.groupBy("user").agg(F.sort_array(F.collect_list("x")).alias("xs"))
            .select("user", F.expr("transform(xs, x -> x.item)").alias("items")))


def recommend_spark(graph: Graph, settings: Settings, model_dir: str | Path, run_id: str | None = None, *,
                    dataset: str | None = None, users: Sequence[str] | None = None, k: int = 10,
                    batch_size: int = 256, history_splits: Sequence[str] = ALL_SPLITS, master: str | None = None,
                    spark: SparkSession | None = None, fail_from_partition: int | None = None) -> RunSummary:
    """Top-``k`` for ``users`` (default: all of ``dataset``) on Spark; see the module docstring.

    ``graph`` (the Python driver) keeps the run node and resume bookkeeping, as in batch.py; users,
    histories and the edges go through the connector. ``spark`` reuses a session (tests); otherwise one
    is started on ``master`` (default ``settings.spark.master``).
    """
    from pyspark.sql import functions as F

    from personarec.jobs.models import build_recommender
    from personarec.session.models import TrainedModels
    from personarec.session.retrieval import RetrievalOptions

    if k <= 0:
        raise JobError(f"k must be positive, got {k}.")
    folder = Path(model_dir)
    if not TrainedModels.saved(folder):
        raise JobError(f"{folder} holds no saved model set: the Spark engine scores with a trained two-stage "
                       "model (train one with `personarec recommend --model two-stage --model-dir DIR`).")
    dataset = resolve_dataset(graph, dataset)
    # the single-process job's loader (exact or item-index retrieval from [session]): here it validates the
    # set (hash) before any work, on the executors it scores
    recommender = build_recommender(graph, settings, dataset, "two-stage", folder)
    retrieval = RetrievalOptions.from_session(settings.session)  # what the workers load their copies with
    run_id = run_id or default_run_id(recommender.name, dataset)
    targets: list[str] | None = None
    if users is not None:
        targets = checked_users(graph, dataset, users)
    config = {"users": "all" if targets is None else len(targets), "history_splits": list(history_splits),
              "seed": settings.seed}
    run = start_run(graph, run_id, recommender, dataset, k, "users", config)
    status = run["status"]
    done = sorted({r["user"] for r in graph.read("queries/jobs_done_users.cypher", {"run": run_id})})
    edges_before = graph.read(EDGES_QUERY, {"run": run_id})[0]["edges"]

    spark = spark or spark_session(settings, master)
    started = time.perf_counter()
    people = read_users(spark, settings, dataset)
    if targets is not None:
        people = people.where(F.col("user").isin(targets))
    people = people.cache()  # counted, numbered and joined: read from Neo4j once
    total = people.count()
    # number every target in id order (jobs_users.cypher's ORDER BY) and cut batches where the
    # single-process job cuts them; done users are dropped after numbering, and since each batch is
    # committed whole, a resumed run scores exactly the batches an uninterrupted one would have
    order = (people.select("user").orderBy("user").rdd.map(lambda row: row[0]).zipWithIndex()
             .toDF("user string, idx long"))
    people = people.join(order, "user")
    if done:
        people = people.join(spark.createDataFrame([(u,) for u in done], "user string"), "user", "left_anti")
    rows = graph.read(HISTORIES_COUNT)[0]["count"]
    todo = (people.join(read_histories(spark, settings, dataset, history_splits, rows), "user", "left")
            .select("user", "persona", F.coalesce("items", F.array().cast("array<string>")).alias("items"),
                    F.floor(F.col("idx") / batch_size).alias("batch"))
            .cache())
    n_todo = todo.count()
    skipped = total - n_todo
    log.info("run %s (spark): %d users, %d already done, %d to do", run_id, total, skipped, n_todo)
    written = 0
    if n_todo:
        n_batches = todo.select("batch").distinct().count()
        parts = settings.spark.partitions or 2 * spark.sparkContext.defaultParallelism
        parts = max(1, min(parts, n_batches))
        rows = (todo.repartitionByRange(parts, "batch").sortWithinPartitions("batch", "user")
                .select("batch", "user", "persona", "items"))
        files = model_files(folder)
        broadcast = spark.sparkContext.broadcast(files)
        scorer = partition_scorer(broadcast, files_key(files), k, run_id, settings.spark.torch_threads, retrieval,
                                  fail_from_partition)
        try:
            (rows.mapInArrow(scorer, OUT_SCHEMA).write.format(NEO4J_FORMAT).mode("Append")
             .options(**connector_options(settings))
             .option("query", statement(WRITE_QUERY))
             .option("batch.size", str(batch_size))  # one transaction per scoring batch, as batch.py
             .save())
        finally:
            broadcast.unpersist()
        written = n_todo
    todo.unpersist()
    people.unpersist()
    seconds = time.perf_counter() - started
    throughput = written / seconds if written and seconds > 0 else 0.0
    edges = graph.read(EDGES_QUERY, {"run": run_id})[0]["edges"] - edges_before
    if written or status != "done":
        prev = graph.read("queries/jobs_run_get.cypher", {"run": run_id})[0]["run"]
        graph.write("load/recommend_run_finish.cypher",
                    {"run": run_id, "users_done": skipped + written,
                     "sessions_done": prev.get("sessions_done", 0),
                     "throughput": throughput if written else prev.get("throughput"), "seconds": seconds})
    summary = RunSummary(run_id=run_id, model=recommender.name, dataset=dataset, kind="users", k=k, total=total,
                         skipped=skipped, written=written, edges=edges, seconds=seconds, throughput=throughput,
                         status="done")
    log.info(summary.line())
    return summary
