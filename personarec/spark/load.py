"""``personarec load … --engine spark``: the loader on Apache Spark with the Neo4j connector (issue 12, part 2).

The same graph as :func:`personarec.load.load_dataset` from the same files, with the reading, validation,
k-core and split done by Spark and the writes done by the Neo4j Connector for Apache Spark:

1. the source is planned as the loader plans it (:func:`personarec.load.sources.plan_source`: roles,
   formats, dataset name, item kind); each line-based file is read by Spark as raw bytes in partitions
   (splits of large plain files, one per gzip file) and every line goes through the loaders' own per-line
   functions (``decode_line``, ``parse_review``, ``parse_sequence``, ``parse_rating``, ``parse_meta``,
   ``parse_item``) inside ``mapInArrow``. Line numbers come from each split's start offset
   (``_metadata.file_block_start``) and a count of the lines before it, so the rejects file gets the
   loader's file, line number, reason and raw line, in the loader's order (file by file, line by line);
   the one-object item -> attributes JSON of the sequences source is not line-based and is read on the
   driver with the loader's streaming reader;
2. the optional k-core and the split run as Spark jobs with the pinned protocol of docs/protocol.md: each
   history in time order, ties in source order (file, line, position in the line); leave-one-out or the
   global temporal split; the fingerprint is :func:`personarec.protocol.fingerprint_of_sorted` over the
   held-out rows sorted by Spark in :func:`personarec.protocol.raw_sort_key` order and streamed to the driver;
3. under the dataset's load lock (:class:`personarec.load.lock.DatasetLock`) and between
   ``load/dataset_start.cypher`` and ``load/dataset_finish.cypher``, the connector writes nodes first
   (metadata items file by file, then users, items seen only in interactions, features and attributes;
   each node is one row, so partitions written in parallel never touch the same node), then the
   relationships (metadata edges, ``INTERACTED``, ``CO_INTERACTED``), each kind from a single partition
   (the connector's rule against deadlocks on shared nodes), with the ``cypher/spark/load_*.cypher``
   queries, which make the writes of ``cypher/load/*.cypher``; ``CO_INTERACTED`` comes from consecutive
   *train* interactions only. The summary's created/updated counts come from the count store around each
   write (the connector reports no counters).

Every write MERGEs, so a rerun changes nothing and an interrupted load is finished by running it again;
``replace`` first removes the dataset like the loader does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from personarec.config import Settings
from personarec.graph import Graph
from personarec.graph.cypher import statement
from personarec.load.loader import SCRIPTS, LoadSummary
from personarec.load.lock import DatasetLock
from personarec.load.sources import SourceFiles, plan_source
from personarec.load.splits import (
    NEEDS_TIMESTAMPS,
    STRATEGIES,
    TEST,
    TRAIN,
    VALID,
    SplitError,
    temporal_cutoff_ranks,
)
from personarec.loaders import sequences
from personarec.loaders.common import Reject, Rejects, SourceError, decode_line, duplicate_item, is_gzip, reject_reason
from personarec.protocol import fingerprint_of_sorted
from personarec.spark.session import NEO4J_FORMAT, connector_options, spark_session

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

#: Columns every parsed line carries: its 1-based number, what became of it ("ok", "reject", "blank"), the
#: reject reason and the raw line (kept for rejects, and for the rows a per-file duplicate rule may reject).
LINE_FIELDS = (("line", "long"), ("status", "string"), ("reason", "string"), ("raw", "string"))
#: Payload of an interactions line (a review or rating: one item; a sequence: all of the line's items).
INTERACTION_FIELDS = (("user", "string"), ("items", "array<string>"), ("rating", "double"), ("ts", "long"))
#: Payload of a metadata line: the fields of :class:`personarec.loaders.common.ItemRecord`.
META_FIELDS = (("raw_id", "string"), ("kind", "string"), ("title", "string"), ("year", "long"),
               ("description", "string"), ("categories", "array<string>"), ("brands", "array<string>"),
               ("authors", "array<string>"), ("genres", "array<string>"), ("attributes", "array<string>"),
               ("also_bought", "array<string>"), ("also_viewed", "array<string>"),
               ("bought_together", "array<string>"))
#: The loader's feature and link scripts (label and relationship type in :data:`personarec.load.loader.SCRIPTS`),
#: each named like the ItemRecord field it writes; and the record field of each relationship type.
FEATURES = ("categories", "brands", "authors", "genres")
LINKS = ("also_bought", "also_viewed", "bought_together")
FEATURE_TYPES = {str(SCRIPTS[f][1]): f for f in FEATURES}
LINK_TYPES = {str(SCRIPTS[f][1]): f for f in LINKS}


def _ddl(fields: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in fields)


def _arrow_schema(fields: Iterable[tuple[str, str]]) -> pa.Schema:
    import pyarrow as pa

    types = {"string": pa.string(), "long": pa.int64(), "double": pa.float64(), "array<string>": pa.list_(pa.string())}
    return pa.schema([(name, types[kind]) for name, kind in fields])


# ------------------------------------------------------------------------------------------ parsing
def line_parser(source: str, role: str, fmt: str, file_kind: str | None) -> Callable[[str], dict[str, Any]]:
    """The loaders' per-line function for one file, returning the payload columns of a good line.

    Raises what the loader's reader catches for a bad line (:class:`Reject`, ``RecursionError``).
    """
    from personarec.loaders import amazon, movielens

    if role == "interactions":
        if source == "sequences":
            def parse_sequence(line: str) -> dict[str, Any]:
                parts = sequences.parse_sequence(line)
                return {"user": parts[0], "items": parts[1:], "rating": None, "ts": None}
            return parse_sequence
        parse = amazon.parse_review if source == "amazon" else movielens.parse_rating

        def parse_one(line: str) -> dict[str, Any]:
            user, item, rating, ts = parse(line, fmt)  # type: ignore[arg-type]
            return {"user": user, "items": [item], "rating": rating, "ts": ts}
        return parse_one

    def parse_meta(line: str) -> dict[str, Any]:
        record = (amazon.parse_meta(line, fmt, file_kind) if source == "amazon"  # type: ignore[arg-type]
                  else movielens.parse_item(line, fmt))
        return {name: getattr(record, name) for name, _ in META_FIELDS}
    return parse_meta


def partition_parser(source: str, role: str, fmt: str, file_kind: str | None, encoding: str,
                     first_lines: dict[int, int], keep_raw: bool
                     ) -> Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function over ``(raw bytes, split start)`` rows of one file, in file order per split.

    ``first_lines`` maps each split's start offset to the number of lines before it, so a line's number is
    that plus its position in the split. Each line is handled as :func:`personarec.loaders.common.iter_lines`
    and the loader's readers handle it: undecodable -> reject; blank -> marked (whether it is reported
    depends on what follows it in the file, decided later); else the per-line parser decides.
    """
    payload = INTERACTION_FIELDS if role == "interactions" else META_FIELDS
    fields = LINE_FIELDS + payload

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        schema = _arrow_schema(fields)
        parse = line_parser(source, role, fmt, file_kind)
        seen: dict[int, int] = {}  # lines handled so far per split (a split never spans two tasks)
        for batch in batches:
            cols: dict[str, list[Any]] = {name: [] for name, _ in fields}
            for data, block in zip(batch.column("raw").to_pylist(), batch.column("block").to_pylist()):
                idx = seen.get(block, 0)
                seen[block] = idx + 1
                line, bad = decode_line(data.rstrip(b"\r\n"), encoding)
                values: dict[str, Any] = {}
                reason: str | None
                raw: str | None
                if bad is not None:
                    status, reason, raw = "reject", bad, line
                elif not line.strip():
                    status, reason, raw = "blank", None, ""
                else:
                    try:
                        values = parse(line)
                        status, reason, raw = "ok", None, (line if keep_raw else None)
                    except (Reject, RecursionError) as exc:
                        status, reason, raw = "reject", reject_reason(exc), line
                cols["line"].append(first_lines[block] + idx + 1)
                cols["status"].append(status)
                cols["reason"].append(reason)
                cols["raw"].append(raw)
                for name, _ in payload:
                    cols[name].append(values.get(name))
            yield _record_batch(cols, schema)

    return run


def _record_batch(cols: dict[str, list[Any]], schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    return pa.RecordBatch.from_pydict(cols, schema=schema)


class _Reader:
    """Reads the line-based files of a source with Spark."""

    def __init__(self, spark: SparkSession, plan: SourceFiles) -> None:
        self.spark = spark
        self.plan = plan
        #: the files Spark reads, in the loader's order (interaction files, then metadata files)
        self.files = ([(p, "interactions", f) for p, f in plan.interactions]
                      + [(p, "metadata", f) for p, f in plan.metadata if f != "attributes"])
        self.paths = {i: p for i, (p, _, _) in enumerate(self.files)}

    @staticmethod
    def cache(df: DataFrame) -> DataFrame:
        """``df`` computed once and kept (executor memory, else disk) with its lineage cut: later queries
        plan against a scan of it. ``persist`` keeps the lineage, and Spark then matches every new query's
        plan against every persisted plan, which cost more than the jobs here; the blocks go when the
        DataFrame is garbage collected."""
        return df.localCheckpoint(eager=True)

    def _lines(self, index: int, path: Path) -> DataFrame:
        """``(raw, block, file)``: the file's lines as bytes with the start offset of their split."""
        from pyspark.sql import functions as F

        # Spark picks the codec by file name; the loaders by the gzip magic bytes
        if is_gzip(path) != path.name.lower().endswith(".gz"):
            raise SourceError(f"{path}: the Spark engine decompresses by file name, so a gzip file must end in "
                              ".gz and a plain one must not; rename it.")
        # lineSep "\n": a lone carriage return inside a line does not end it (as in the loaders)
        return (self.spark.read.option("lineSep", "\n").text(path.resolve().as_uri())
                .select(F.col("value").cast("binary").alias("raw"),
                        F.col("_metadata.file_block_start").alias("block"), F.lit(index).alias("file")))

    def _first_lines(self, lines: list[DataFrame]) -> dict[int, dict[int, int]]:
        """file -> split start -> lines before that split (one job over every file)."""
        try:
            counts = sorted((r["file"], r["block"], r["count"])
                            for r in _union(lines).groupBy("file", "block").count().collect())
        except Exception as exc:  # the first job that reads the files: a broken gzip stream fails here
            for index, df in enumerate(lines):
                path = self.paths[index]
                if is_gzip(path):
                    try:
                        df.count()
                    except Exception:
                        raise SourceError(f"{path} is truncated or corrupt ({type(exc).__name__}); fix or "
                                          "re-download it and rerun the load.") from exc
            raise
        first: dict[int, dict[int, int]] = {}
        before: dict[int, int] = {}
        for file, block, n in counts:
            first.setdefault(file, {})[block] = before.get(file, 0)
            before[file] = before.get(file, 0) + n
        return first

    def parse(self) -> tuple[DataFrame, DataFrame | None]:
        """Parsed lines (:func:`partition_parser`) of the interaction files and of the metadata files, cached."""
        from pyspark.sql import functions as F

        lines = [self._lines(i, p) for i, (p, _, _) in enumerate(self.files)]
        first = self._first_lines(lines) if lines else {}
        source = self.plan.source
        encoding = "latin-1" if source == "movielens" else "utf-8"
        parsed: dict[str, list[DataFrame]] = {"interactions": [], "metadata": []}
        for index, (path, role, fmt) in enumerate(self.files):
            file_kind = None
            if role == "metadata" and source == "amazon":
                from personarec.loaders import amazon

                file_kind = self.plan.meta_kind or amazon.kind_from_name(path)
            # raw lines of good rows are kept where a per-file duplicate rule may still reject them
            keep_raw = role == "metadata" or source == "sequences"
            parser = partition_parser(source, role, fmt, file_kind, encoding, first.get(index, {}), keep_raw)
            payload = INTERACTION_FIELDS if role == "interactions" else META_FIELDS
            parsed[role].append(lines[index].select("raw", "block").mapInArrow(parser, _ddl(LINE_FIELDS + payload))
                                .withColumn("file", F.lit(index)))
        # no reviews file (an Amazon metadata-only load): no interactions, as in the loader
        inter = (_union(parsed["interactions"]) if parsed["interactions"] else
                 self.spark.createDataFrame([], _ddl(LINE_FIELDS + INTERACTION_FIELDS + (("file", "int"),))))
        return self.cache(inter), self.cache(_union(parsed["metadata"])) if parsed["metadata"] else None


def _union(frames: list[DataFrame]) -> DataFrame:
    """The rows of several DataFrames (at least one) with the same columns."""
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df)
    return out


def _good_and_rejected(parsed: DataFrame, key: str | None, kind: str) -> tuple[DataFrame, DataFrame]:
    """Good rows, and the rejected rows as ``(file, line, reason, raw, dup, kind)``: parse rejects, blank lines
    followed by a record in their file (iter_lines' rule), and with ``key`` every row after the first of
    its key in a file (``dup`` holds the key; the reason is the loader's, made on the driver)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    no_dup = F.lit(None).cast("string").alias("dup")
    last = parsed.where(F.col("status") != "blank").groupBy("file").agg(F.max("line").alias("last"))
    blanks = (parsed.where(F.col("status") == "blank").join(F.broadcast(last), "file", "left")
              .where(F.col("line") < F.coalesce(F.col("last"), F.lit(0)))
              .select("file", "line", F.lit("blank line").alias("reason"), "raw", no_dup))
    bad = parsed.where(F.col("status") == "reject").select("file", "line", "reason", "raw", no_dup)
    good = parsed.where(F.col("status") == "ok")
    rejected = blanks.unionByName(bad)
    if key is not None:
        ranked = good.withColumn("_n", F.row_number().over(Window.partitionBy("file", key).orderBy("line")))
        dups = ranked.where(F.col("_n") > 1).select("file", "line", F.lit(None).cast("string").alias("reason"),
                                                  "raw", F.col(key).alias("dup"))
        rejected = rejected.unionByName(dups)
        good = ranked.where(F.col("_n") == 1).drop("_n")
    return good, rejected.withColumn("kind", F.lit(kind))


def _add_rejects(rejects: Rejects, rejected: DataFrame, paths: dict[int, Path]) -> None:
    """Stream the rejected rows to the driver in (file, line) order into ``rejects`` (the loader's file)."""
    # one sorted partition: few rows, one job (a global sort would run a job per partition to stream them)
    for row in rejected.repartition(1).sortWithinPartitions("file", "line").toLocalIterator():
        if row["dup"] is None:
            reason = row["reason"]
        else:
            reason = (sequences.duplicate_user if row["kind"] == "interaction" else duplicate_item)(row["dup"])
        rejects.add(paths[row["file"]], row["line"], reason, row["raw"] or "", row["kind"])


# ------------------------------------------------------------------------------------ split & k-core
def kcore_spark(reader: _Reader, rows: DataFrame, k: int) -> tuple[DataFrame, int]:
    """:func:`personarec.load.splits.kcore` in Spark: drop users and items with fewer than ``k`` interactions
    until none is left to drop. Returns the kept rows and how many rows there were before."""
    from pyspark.sql import functions as F

    before = n = rows.count()
    if k <= 1:
        return rows, before
    current = rows
    while True:
        users = current.groupBy("user").count().where(F.col("count") >= k).select("user")
        items = current.groupBy("item").count().where(F.col("count") >= k).select("item")
        kept = reader.cache(current.join(users, "user", "left_semi").join(items, "item", "left_semi"))
        m = kept.count()
        if m == n:
            return kept, before
        current, n = kept, m


def split_spark(rows: DataFrame, strategy: str) -> tuple[DataFrame, tuple[int, int] | None]:
    """``seq`` and ``split`` per row (docs/protocol.md): each user's history in time order, ties in source
    order (file, line, position); leave-one-out or the global temporal split (:mod:`personarec.load.splits`)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy("user").orderBy(F.coalesce(F.col("ts"), F.lit(-1)), "file", "line", "pos")
    rows = rows.withColumn("seq", F.row_number().over(order) - 1)
    if strategy == "loo":
        n = F.count(F.lit(1)).over(Window.partitionBy("user"))
        rows = rows.withColumn("n", n)
        split = (F.when((F.col("n") < 3) | (F.col("seq") < F.col("n") - 2), TRAIN)
                 .when(F.col("seq") == F.col("n") - 2, VALID).otherwise(TEST))
        return rows.withColumn("split", split).drop("n"), None
    total = rows.count()
    first_rank, second_rank = temporal_cutoff_ranks(total)
    if total == 0:
        return rows.withColumn("split", F.lit(TRAIN)), None
    if rows.where(F.col("ts").isNull()).limit(1).count():
        raise SplitError(NEEDS_TIMESTAMPS)
    wanted = {first_rank, second_rank}
    found = dict(rows.select("ts").orderBy("ts").rdd.map(lambda r: r[0]).zipWithIndex()
                 .filter(lambda p: p[1] in wanted).map(lambda p: (p[1], p[0])).collect())
    first, second = found[first_rank], found[second_rank]
    split = F.when(F.col("ts") <= first, TRAIN).when(F.col("ts") <= second, VALID).otherwise(TEST)
    return rows.withColumn("split", split), (first, second)


def _user_sort_key(raw: str) -> tuple[int, int, str, str]:
    """:func:`personarec.protocol.raw_sort_key` as sortable columns: digit ids by value (length, then digits),
    others after them as text."""
    if raw.isdigit():
        digits = str(int(raw))
        return 0, len(digits), digits, ""
    return 1, 0, "", raw


def per_user(rows: DataFrame) -> DataFrame:
    """Per user: interactions ``n``, per split (``train``, ``valid``, ``test``), the held-out items in ``seq``
    order (``held_valid``, ``held_test``) and where the user first appears in the source (``first``)."""
    from pyspark.sql import functions as F

    def held(split: str) -> Column:
        xs = F.sort_array(F.collect_list(F.when(F.col("split") == split, F.struct("seq", "item"))))
        return F.transform(xs, lambda x: x["item"]).alias(f"held_{split}")

    per_split = [F.sum((F.col("split") == s).cast("long")).alias(s) for s in (TRAIN, VALID, TEST)]
    return rows.groupBy("user").agg(F.count(F.lit(1)).alias("n"), *per_split, held(VALID), held(TEST),
                                    F.min(F.struct("file", "line", "pos")).alias("first"))


def fingerprint_spark(users: DataFrame) -> str:
    """The split fingerprint (:func:`personarec.load.splits.fingerprint`) from :func:`per_user` rows: Spark sorts
    the users with held-out items, the driver hashes their lines as they stream in."""
    from pyspark.sql import functions as F

    key = F.udf(_user_sort_key, "struct<a:int, b:int, c:string, d:string>")
    held = (users.where((F.size("held_valid") > 0) | (F.size("held_test") > 0))
            .withColumn("key", key("user"))
            # equal keys ("7" and "007") keep the order in which the users first appear, like the
            # stable sort over the loader's histories
            .orderBy("key.a", "key.b", "key.c", "key.d", "first")
            .select("user", "held_valid", "held_test"))
    return fingerprint_of_sorted((r["user"], r["held_valid"], r["held_test"]) for r in held.toLocalIterator())


# ------------------------------------------------------------------------------------------ writing
class _Writer:
    """Connector writes with the ``cypher/spark/load_*.cypher`` queries, tallied into the summary from the
    count store before and after each write (the connector gives no update counters)."""

    def __init__(self, graph: Graph, settings: Settings, summary: LoadSummary, batch_size: int, partitions: int,
                 lock: DatasetLock, progress: bool) -> None:
        self.graph = graph
        self.options = connector_options(settings)
        self.summary = summary
        self.batch_size = batch_size
        self.partitions = partitions
        self.lock = lock
        self.level = logging.INFO if progress else logging.DEBUG

    def counts(self) -> dict[str, int]:
        return {r["name"]: r["count"] for r in self.graph.read("spark/load_counts.cypher")}

    def write(self, script: str, df: DataFrame, *, single: bool, rows: int | None = None
              ) -> tuple[int, dict[str, int]]:
        """Write ``df`` with ``spark/<script>.cypher``: relationships (``single``) from one partition, nodes
        (one row per node) from up to ``partitions`` tasks at once. ``rows``: the row count when known (else
        counted; -1: not counted, the write is not skipped). Returns the rows written and the count-store
        differences by label/type."""
        self.lock.check()  # a loader that lost its lock must not keep writing
        rows = df.count() if rows is None else rows
        if rows == 0:
            return 0, {}
        t0 = time.monotonic()
        before = self.counts()
        (df.coalesce(1 if single else self.partitions).write.format(NEO4J_FORMAT).mode("Append")
         .options(**self.options)
         .option("query", statement(f"spark/{script}.cypher"))
         .option("batch.size", str(self.batch_size))
         .save())
        after = self.counts()
        log.log(self.level, "%s: %s: %s rows written in %.1f s", self.summary.dataset, script,
                rows if rows >= 0 else "all", time.monotonic() - t0)
        return rows, {k: after[k] - before.get(k, 0) for k in after}

    def tally(self, label: str | None, rel: str | None, unit: str, rows: int, diff: dict[str, int]) -> None:
        """Count like the loader's ``_Writer``: ``unit`` "node" and "rel" report rows that created nothing as
        updated, "created" reports only creations. A write of no rows reports nothing, as there."""
        if not rows:
            return
        if label:
            tc = self.summary.type_counts(label)
            tc.created += diff.get(label, 0)
            if unit == "node":
                tc.updated += rows - diff.get(label, 0)
        if rel:
            tc = self.summary.type_counts(rel)
            tc.created += diff.get(rel, 0)
            tc.updated += rows - diff.get(rel, 0)


def _tagged(columns: dict[str, str], tag: str, value: str) -> Column:
    """One array of ``struct(tag, value)`` from several array columns, each value tagged with its key in
    ``columns``: one row per element after ``inline``, without a union (which would multiply partitions)."""
    from pyspark.sql import functions as F

    def tagger(t: str) -> Callable[[Column], Column]:
        # one parameter: F.transform passes the element index to a second one
        return lambda x: F.struct(F.lit(t).alias(tag), x.alias(value))

    return F.concat(*[F.transform(column, tagger(t)) for t, column in columns.items()])


#: Node label of each metadata relationship's feature end (the loader counts those nodes' creations).
_EDGE_LABELS = {str(SCRIPTS[s][1]): str(SCRIPTS[s][0]) for s in (*FEATURES, "attributes")}


def _item_edges(meta: DataFrame, keep: DataFrame | None, key: Callable[[str | Column], Column], dataset: str
                ) -> DataFrame:
    """The metadata relationships of the kept records, one row each as spark/load_item_edges.cypher takes them
    (plus ``label``, the feature node's label): the rows of the loader's ``_write_items``. Links to the
    record itself are skipped, and with ``keep`` (the items with interactions) links to other items too."""
    from pyspark.sql import functions as F

    features = meta.select("raw_id", F.inline(_tagged(FEATURE_TYPES, "type", "value")))
    features = features.select(key("raw_id").alias("src"), "type", F.lit(None).cast("string").alias("dst"),
                               F.col("value").alias("name"), F.lit(None).cast("string").alias("raw_id"),
                               F.element_at(F.create_map(*[F.lit(x) for kv in _EDGE_LABELS.items() for x in kv]),
                                            F.col("type")).alias("label"))
    attributes = meta.select(key("raw_id").alias("src"), F.lit("HAS_ATTRIBUTE").alias("type"),
                             F.lit(None).cast("string").alias("dst"), F.explode("attributes").alias("raw_id"))
    attributes = attributes.select("src", "type", "dst", key("raw_id").alias("name"), "raw_id",
                                   F.lit(None).cast("string").alias("label"))
    links = (meta.select("raw_id", F.inline(_tagged(LINK_TYPES, "type", "dst")))
             .where(F.col("dst") != F.col("raw_id")))
    if keep is not None:
        links = links.join(keep.withColumnRenamed("item", "dst"), "dst", "left_semi")
    links = links.select(key("raw_id").alias("src"), "type", key("dst").alias("dst"),
                         *[F.lit(None).cast("string").alias(c) for c in ("name", "raw_id", "label")])
    return (features.unionByName(attributes).unionByName(links)
            .withColumn("dataset", F.lit(dataset)))


def _sizes(df: DataFrame, column: str) -> dict[Any, int]:
    return {r[column]: r["count"] for r in df.groupBy(column).count().collect()}


# --------------------------------------------------------------------------------------- entry point
def load_spark(graph: Graph, settings: Settings, source: str, paths: list[Path], dataset: str | None = None,
               split: str = "loo", *, kcore_k: int | None = None, fmt: str | None = None, kind: str | None = None,
               rejects_path: Path | None = None, replace: bool = False, batch_size: int | None = None,
               master: str | None = None, spark: SparkSession | None = None, progress: bool = True) -> LoadSummary:
    """Load one dataset like :func:`personarec.load.load_dataset`, on Spark; see the module docstring.

    ``graph`` (the Python driver) holds the load lock and runs the ``Dataset`` bookkeeping scripts; the
    connector writes the rows. ``spark`` reuses a session (tests); otherwise one is started on ``master``
    (default ``settings.spark.master``). ``batch_size`` (default ``load.batch_size``) is the connector's
    ``batch.size``: rows per write transaction; node writes run in as many tasks as Spark's default
    parallelism (its cores). ``progress`` logs each step at INFO (else DEBUG).
    """
    t0 = time.monotonic()
    if split not in STRATEGIES:
        raise SplitError(f"unknown split strategy {split!r}; use one of {', '.join(STRATEGIES)}.")
    plan = plan_source(source, paths, fmt, kind)
    name = dataset or plan.default_dataset
    level = logging.INFO if progress else logging.DEBUG
    spark = spark or spark_session(settings, master, app_name=f"personarec-load-{name}")
    from pyspark.sql import functions as F

    def key(column: str | Column) -> Column:
        """The graph's node id ``<dataset>:<raw id>``."""
        return F.concat(F.lit(f"{name}:"), F.col(column) if isinstance(column, str) else column)

    ds = F.lit(name)
    reader = _Reader(spark, plan)
    with Rejects(rejects_path) as rejects, ExitStack() as stack:
        # ---- read and validate; rejects in the loader's order (interaction files, then metadata)
        parsed, meta_parsed = reader.parse()
        good, rejected = _good_and_rejected(parsed, "user" if plan.source == "sequences" else None,
                                            "interaction")
        meta_good = None
        if meta_parsed is not None:
            meta_good, meta_rejected = _good_and_rejected(meta_parsed, "raw_id", "item")
            rejected = rejected.unionByName(meta_rejected)
            meta_good = meta_good.drop("raw", "status", "reason")
        _add_rejects(rejects, rejected, reader.paths)
        attr_files = [p for p, f in plan.metadata if f == "attributes"]
        if attr_files:  # one JSON object, not line-based: the loader's streaming reader, on the driver
            records: list[tuple[Any, ...]] = [
                (len(reader.files), 0, raw_id, plan.kind, None, None, None, [], [], [], [], attrs, [], [], [])
                for f in attr_files for raw_id, attrs in sequences.read_attributes(f, rejects)]
            meta_good = spark.createDataFrame(records, _ddl((("file", "int"), ("line", "long")) + META_FIELDS))
        interactions = reader.cache(
            good.select("user", F.posexplode("items").alias("pos", "item"), "rating", "ts", "file", "line"))
        before = None
        if kcore_k:
            interactions, before = kcore_spark(reader, interactions, kcore_k)
        rows = reader.cache(split_spark(interactions, split)[0])
        users = reader.cache(per_user(rows))
        totals = users.agg(F.count(F.lit(1)).alias("users"), F.sum((F.col("n") < 3).cast("long")).alias("short"),
                           *[F.sum(c).alias(c) for c in ("n", TRAIN, VALID, TEST)]).first()
        assert totals is not None  # a global aggregate has one row
        n_users, n_rows = int(totals["users"]), int(totals["n"] or 0)
        counts = {s: int(totals[s] or 0) for s in (TRAIN, VALID, TEST)}
        short = int(totals["short"] or 0) if split == "loo" else 0
        fingerprint = fingerprint_spark(users)
        summary = LoadSummary(name, plan.source, plan.format, split, fingerprint,
                              filtered=0 if before is None else before - n_rows,
                              short_users=short, rejects_file=rejects_path)
        if short:
            log.info("%d users have fewer than 3 interactions: all of theirs are train", short)
        log.log(level, "%s: %d interactions of %d users read (%d filtered by k-core) in %.1f s", name, n_rows,
                n_users, summary.filtered, time.monotonic() - t0)
        items_seen = reader.cache(rows.select("item").distinct())
        n_items_seen = items_seen.count()
        kept_meta, edges = None, None
        per_file: dict[tuple[int, bool], int] = {}  # metadata records by (file, kept)
        edge_sizes: dict[str, int] = {}  # metadata relationship rows by type
        if meta_good is not None:
            # without interactions (a metadata-only load) every item is kept, as in the loader
            seen = items_seen.select(F.col("item").alias("raw_id"), F.lit(True).alias("kept"))
            flagged = reader.cache(meta_good.join(seen, "raw_id", "left")
                                   .withColumn("kept", F.coalesce("kept", F.lit(not n_rows))))
            per_file = {(r["file"], r["kept"]): r["count"]
                        for r in flagged.groupBy("file", "kept").count().collect()}
            summary.meta_skipped = sum(n for (_, kept), n in per_file.items() if not kept)
            kept_meta = flagged.where(F.col("kept")).drop("kept")
            edges = reader.cache(_item_edges(kept_meta, items_seen if n_rows else None, key, name))
            edge_sizes = _sizes(edges, "type")

        # ---- write, under the dataset's load lock (as the loader: see load_dataset)
        lock = stack.enter_context(DatasetLock(graph, name))
        if replace:
            graph.run_script_autocommit("load/dataset_delete.cypher", {"dataset": name, "owner": lock.owner})
        start = {"dataset": name, "source": plan.source, "format": plan.format, "split": split}
        previous = graph.write("load/dataset_start.cypher", start)[0]["previous"]
        writer = _Writer(graph, settings, summary, batch_size or settings.load.batch_size,
                         spark.sparkContext.defaultParallelism, lock, progress)

        # nodes first, each node one row: parallel partitions never write the same node
        if kept_meta is not None:
            for index in sorted(f for (f, kept) in per_file if kept):
                # file by file in the loader's order, so that a later file's fields win as there
                items = kept_meta.where(F.col("file") == index).select(
                    key("raw_id").alias("id"), "raw_id", ds.alias("dataset"), "kind", "title", "year",
                    "description")
                writer.tally("Item", None, "node",
                             *writer.write("load_items", items, single=False, rows=per_file[(index, True)]))
        nodes = [users.select(F.lit("User").alias("kind"), key("user").alias("id"), F.col("user").alias("raw_id")),
                 items_seen.select(F.lit("Item").alias("kind"), key("item").alias("id"),
                                   F.col("item").alias("raw_id"))]
        if edges is not None:
            nodes.append(edges.where(F.col("type") == "HAS_ATTRIBUTE").select(
                F.lit("Attribute").alias("kind"), F.col("name").alias("id"), "raw_id").distinct())
            nodes.append(edges.where(F.col("label").isNotNull()).select(
                F.col("label").alias("kind"), F.lit(None).cast("string").alias("id"),
                F.lit(None).cast("string").alias("raw_id"), "name").distinct())
        node_rows = (_union([df if "name" in df.columns else df.withColumn("name", F.lit(None).cast("string"))
                             for df in nodes])
                     .select("kind", "id", "raw_id", ds.alias("dataset"), F.lit(plan.kind).alias("item_kind"),
                             "name"))
        _, diff = writer.write("load_nodes", node_rows, single=False, rows=-1 if n_rows or edge_sizes else 0)
        writer.tally("User", None, "node", n_users, diff)
        writer.tally("Item", None, "created", n_items_seen, diff)
        for rel, n in edge_sizes.items():
            label = _EDGE_LABELS.get(rel)
            if label and n:  # the loader counts the feature nodes it creates, not the ones it finds
                summary.type_counts(label).created += diff.get(label, 0)

        # then relationships, each kind from one partition (the connector's rule against deadlocks
        # on shared nodes)
        if edges is not None:
            _, diff = writer.write("load_item_edges", edges.drop("label"), single=True,
                                   rows=sum(edge_sizes.values()))
            for rel, n in edge_sizes.items():
                writer.tally(None, rel, "rel", n, diff)
        interacted = rows.select(key("user").alias("user"), key("item").alias("item"), "rating", "ts", "seq",
                                 "split")
        writer.tally(None, "INTERACTED", "rel",
                     *writer.write("load_interactions", interacted, single=True, rows=n_rows))
        if previous is not None and previous != fingerprint:
            # another split of this dataset was loaded before: its train pairs must not linger
            log.info("%s: split changed (%s -> %s), rebuilding CO_INTERACTED", name, previous, fingerprint)
            graph.execute_autocommit(statement("load/co_interacted_delete.cypher"), {"dataset": name})
        writer.tally(None, "CO_INTERACTED", "rel",
                     *writer.write("load_co_interacted", reader.cache(co_interacted(rows, key)), single=True))

        n_items = graph.read("load/dataset_item_count.cypher", {"dataset": name})[0]["items"]
        graph.write("load/dataset_finish.cypher", {
            "dataset": name, "split": split, "fingerprint": fingerprint, "users": n_users, "items": n_items,
            "interactions": n_rows, "train": counts[TRAIN], "valid": counts[VALID], "test": counts[TEST]})
        summary.users, summary.items, summary.interactions, summary.split_counts = n_users, n_items, n_rows, counts
        summary.rejects = dict(rejects.by_reason)
        summary.type_counts("INTERACTED").rejected += rejects.by_kind.get("interaction", 0)
        summary.type_counts("Item").rejected += rejects.by_kind.get("item", 0)
    summary.seconds = time.monotonic() - t0
    log.log(level, "%s loaded on Spark in %.1f s: %d users, %d items, %d interactions, fingerprint %s", name,
            summary.seconds, summary.users, summary.items, summary.interactions, summary.fingerprint)
    return summary


def co_interacted(rows: DataFrame, key: Callable[[Column], Column]) -> DataFrame:
    """``CO_INTERACTED`` rows ``(src, dst, weight)``: how often item b directly follows item a among one user's
    consecutive *train* interactions (:func:`personarec.load.splits.co_interactions`; held-out rows never
    contribute, self-pairs are skipped)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    train = rows.where(F.col("split") == TRAIN)
    pairs = (train.select(F.lag("item").over(Window.partitionBy("user").orderBy("seq")).alias("a"),
                          F.col("item").alias("b"))
             .where(F.col("a").isNotNull() & (F.col("a") != F.col("b"))))
    return (pairs.groupBy("a", "b").agg(F.count(F.lit(1)).alias("weight"))
            .select(key(F.col("a")).alias("src"), key(F.col("b")).alias("dst"), "weight"))
