"""Load throughput of the review load, online loader vs ``neo4j-admin database import`` (issue 3 item 7).

For each dataset (real MovieLens-100K, real Amazon Beauty sequences, a synthetic Amazon-2018
reviews file written by :mod:`bench.synth_amazon`):

1. **ceiling**: the loader's own readers and split give the rows (users, items, ``INTERACTED``,
   ``CO_INTERACTED``); they are written as CSV and imported with ``neo4j-admin database import full``
   into the empty database of a throw-away server home (:mod:`bench.ceiling`);
2. **online**: a fresh managed Neo4j (own home, free ports, schema applied) receives the same source
   through ``personarec.load.load_dataset`` (Bolt, batched ``UNWIND … MERGE``);
3. **bulk** (``--bulk``): the product's bulk path ``personarec.load.bulk.bulk_load`` end to end
   (read, split, CSV, import, server start, schema with index population, ``Dataset`` node);
4. **spark** (``--spark MASTER``): ``load --engine spark`` (``personarec.spark.load.load_spark``) into a
   fresh server, Spark's start-up included.

Rates are relationships per second (``INTERACTED`` + ``CO_INTERACTED``). The online loader's time
is split into the whole call (reading, splitting, writing) and its write phase (time inside the loader's
batch writer), and the
ceiling's into the import wall time (JVM start included) and neo4j-admin's own "IMPORT DONE" time.
The headline ratio is online write phase vs ceiling import wall time: both write the same given
rows; both would pay the same parsing.

Usage::

    nice .venv/bin/python -m bench.load_throughput --out bench/results/load_throughput.json \\
        [--datasets ml-100k,beauty,synthetic] [--synthetic-reviews 5000000] [--bulk] [--skip-online]
        [--spark local[2]]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.ceiling import admin_import, review_rows, write_csv
from personarec.config import Settings, load_settings
from personarec.server.process import free_port

log = logging.getLogger("bench.load_throughput")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PERSONAREC_DATA_DIR", ROOT.parent / "shared" / "data"))
PASSWORD = "personarec-bench-pw"
REVIEW_RELS = ("INTERACTED", "CO_INTERACTED")
#: what the write phase counts: the batch writer on these scripts, and reading the element ids they use
WRITE_SCRIPTS = ("users", "interaction_items", "element_ids", "interactions", "co_interacted")


def datasets(synthetic_file: Path) -> dict[str, tuple[str, list[Path]]]:
    """name -> (loader source, paths)."""
    return {
        "ml-100k": ("movielens", [DATA / "movielens-100k"]),
        "beauty": ("sequences", [DATA / "amazon" / "s3rec-beauty" / "Beauty.txt"]),
        "synthetic": ("amazon", [synthetic_file]),
    }


@contextmanager
def fresh_server(base: Settings, workdir: Path, heap: str, pagecache: str) -> Iterator[Settings]:
    """A managed Neo4j in its own home on free ports, stopped (and its home removed) afterwards."""
    from personarec.server import private_server

    home = Path(tempfile.mkdtemp(prefix="online-", dir=workdir))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONAREC_")}  # no user config
    try:
        with private_server(home, PASSWORD, env=env, heap=heap, pagecache=pagecache,
                            jar_cache=str(base.server.jar_cache)) as settings:
            yield settings
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def timed_writes() -> Iterator[dict[str, float]]:
    """Time spent in the loader's batch writer per load script and in its element-id read (wraps, does not
    change, the loader)."""
    from personarec.load import loader

    original = loader._Writer.write
    spent: dict[str, float] = defaultdict(float)

    def write(self: Any, script: str, rows: Any, total: int | None = None, **kwargs: Any) -> int:
        start = time.perf_counter()
        try:
            return original(self, script, rows, total, **kwargs)
        finally:
            spent[script] += time.perf_counter() - start

    original_eids = loader._element_ids

    def element_ids(graph: Any, dataset: str) -> Any:
        start = time.perf_counter()
        try:
            return original_eids(graph, dataset)
        finally:
            spent["element_ids"] += time.perf_counter() - start

    loader._Writer.write = write  # type: ignore[method-assign]
    loader._element_ids = element_ids  # type: ignore[assignment]
    try:
        yield spent
    finally:
        loader._Writer.write = original  # type: ignore[method-assign]
        loader._element_ids = original_eids  # type: ignore[assignment]


def run_ceiling(name: str, source: str, paths: list[Path], base: Settings, workdir: Path,
                off_heap: str) -> dict[str, Any]:
    """Prepare the rows, write CSV, run neo4j-admin import; returns counts and timings."""
    t0 = time.perf_counter()
    rows = review_rows(source, paths, name)
    prepare_s = time.perf_counter() - t0
    folder = Path(tempfile.mkdtemp(prefix="ceiling-", dir=workdir))
    try:
        t0 = time.perf_counter()
        csv_paths = write_csv(rows, folder / "csv")
        csv_s = time.perf_counter() - t0
        counts = {"users": len(rows["users"]), "items": len(rows["items"]), "INTERACTED": len(rows["split"]),
                  "CO_INTERACTED": len(rows["co"])}
        del rows
        gc.collect()
        result = admin_import(csv_paths, folder / "home", base.server, off_heap=off_heap)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rels = counts["INTERACTED"] + counts["CO_INTERACTED"]
    if result["relationships"] not in (-1, rels):
        raise RuntimeError(f"neo4j-admin imported {result['relationships']} relationships, expected {rels}")
    return {**counts, "relationships": rels, "prepare_s": round(prepare_s, 2), "csv_s": round(csv_s, 2),
            "import_wall_s": round(result["seconds"], 2), "import_engine_s": round(result["import_seconds"], 2),
            "rels_per_s_wall": round(rels / result["seconds"]),
            "rels_per_s_engine": round(rels / max(result["import_seconds"], 1e-3)),
            "rels_per_s_end_to_end": round(rels / (prepare_s + csv_s + result["seconds"]))}


def run_online(name: str, source: str, paths: list[Path], base: Settings, workdir: Path, heap: str,
               pagecache: str, batch_size: int | None = None, writers: int | None = None) -> dict[str, Any]:
    """Load through ``personarec.load.load_dataset`` into a fresh server; returns counts and timings."""
    from personarec.db import counts as db_counts
    from personarec.db import init_schema
    from personarec.graph import connect
    from personarec.load import load_dataset

    with fresh_server(base, workdir, heap, pagecache) as settings, connect(settings) as graph:
        if writers:
            settings = settings.model_copy(update={"load": settings.load.model_copy(update={"writers": writers})})
        init_schema(graph, settings)
        with timed_writes() as spent:
            t0 = time.perf_counter()
            summary = load_dataset(graph, settings, source, paths, name, progress=False, batch_size=batch_size)
            total_s = time.perf_counter() - t0
        found = db_counts(graph)
    rels = sum(found["rel"].get(t, 0) for t in REVIEW_RELS)
    write_s = sum(spent[s] for s in WRITE_SCRIPTS)
    return {"users": found["node"].get("User", 0), "items": found["node"].get("Item", 0),
            **{t: found["rel"].get(t, 0) for t in REVIEW_RELS}, "relationships": rels,
            "all_relationships": sum(found["rel"].values()), "load_s": round(total_s, 2),
            "write_s": round(write_s, 2), "write_s_by_script": {k: round(v, 2) for k, v in spent.items()},
            "batch_size": batch_size or settings.load.batch_size, "writers": settings.load.writers,
            "rels_per_s_write": round(rels / write_s), "rels_per_s_end_to_end": round(rels / total_s),
            "interacted_per_s": round(found["rel"].get("INTERACTED", 0) / max(spent["interactions"], 1e-3)),
            "summary_interactions": summary.interactions}


def run_spark(name: str, source: str, paths: list[Path], base: Settings, workdir: Path, heap: str,
              pagecache: str, master: str, batch_size: int | None = None) -> dict[str, Any]:
    """``personarec.spark.load.load_spark`` (``load --engine spark``) into a fresh server on ``master``:
    Spark start-up, parsing, split and the connector's writes, end to end."""
    from personarec.db import counts as db_counts
    from personarec.db import init_schema
    from personarec.graph import connect
    from personarec.spark.jars import install_connector
    from personarec.spark.load import load_spark
    from personarec.spark.session import spark_session

    with fresh_server(base, workdir, heap, pagecache) as settings, connect(settings) as graph:
        init_schema(graph, settings)
        install_connector(settings.spark)
        t0 = time.perf_counter()
        spark = spark_session(settings, master, app_name="bench-load")
        startup_s = time.perf_counter() - t0
        try:
            summary = load_spark(graph, settings, source, paths, name, batch_size=batch_size, spark=spark,
                                 progress=True)
        finally:
            spark.stop()
        total_s = time.perf_counter() - t0
        found = db_counts(graph)
    rels = sum(found["rel"].get(t, 0) for t in REVIEW_RELS)
    return {"master": master, "users": found["node"].get("User", 0), "items": found["node"].get("Item", 0),
            **{t: found["rel"].get(t, 0) for t in REVIEW_RELS}, "relationships": rels,
            "all_relationships": sum(found["rel"].values()), "fingerprint": summary.fingerprint,
            "spark_startup_s": round(startup_s, 2), "load_s": round(total_s, 2),
            "rels_per_s_end_to_end": round(rels / total_s)}


def run_bulk(name: str, source: str, paths: list[Path], base: Settings, workdir: Path,
             off_heap: str) -> dict[str, Any]:
    """``personarec.load.bulk.bulk_load`` end to end into a fresh managed home: read, split, CSV,
    neo4j-admin import, server start, schema (constraint and index population), Dataset node."""
    from personarec.db import counts as db_counts
    from personarec.graph import connect
    from personarec.load.bulk import bulk_load
    from personarec.server import ManagedNeo4j

    home = Path(tempfile.mkdtemp(prefix="bulk-", dir=workdir))
    env = {"PERSONAREC_SERVER__HOME": str(home), "PERSONAREC_SERVER__BOLT_PORT": str(free_port()),
           "PERSONAREC_SERVER__HTTP_PORT": str(free_port()), "PERSONAREC_SERVER__JAR_CACHE": str(base.server.jar_cache),
           "NEO4J_PASSWORD": PASSWORD}
    settings = load_settings(env=env)
    try:
        t0 = time.perf_counter()
        summary = bulk_load(settings, source, paths, name, off_heap=off_heap, keep_running=True, progress=False)
        total_s = time.perf_counter() - t0
        with connect(settings) as graph:
            found = db_counts(graph)
    finally:
        ManagedNeo4j(settings.server, password=PASSWORD).stop()
        shutil.rmtree(home, ignore_errors=True)
    rels = sum(found["rel"].get(t, 0) for t in REVIEW_RELS)
    return {"users": found["node"].get("User", 0), "items": found["node"].get("Item", 0),
            **{t: found["rel"].get(t, 0) for t in REVIEW_RELS}, "relationships": rels,
            "all_relationships": sum(found["rel"].values()), "fingerprint": summary.fingerprint,
            "bulk_s": round(total_s, 2), "rels_per_s_end_to_end": round(rels / total_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    parser.add_argument("--datasets", default="ml-100k,beauty,synthetic", help="comma-separated subset")
    parser.add_argument("--synthetic-reviews", type=int, default=5_000_000, help="size of the synthetic file")
    parser.add_argument("--synthetic-file", type=Path, default=None,
                        help="reuse/write the synthetic reviews here (default: under --workdir)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "personarec-bench",
                        help="scratch space for CSV files and server homes (removed per run)")
    parser.add_argument("--heap", default="1g", help="heap of the online server (as `personarec neo4j start`)")
    parser.add_argument("--pagecache", default="512m", help="page cache of the online server")
    parser.add_argument("--off-heap", default="1g", help="neo4j-admin import --max-off-heap-memory")
    parser.add_argument("--skip-online", action="store_true", help="ceiling only")
    parser.add_argument("--batch-size", type=int, default=None, help="online loader rows per transaction "
                        "(default: load.batch_size)")
    parser.add_argument("--writers", type=int, default=None, help="online loader transactions in flight "
                        "(default: load.writers)")
    parser.add_argument("--skip-ceiling", action="store_true", help="online loader only")
    parser.add_argument("--bulk", action="store_true",
                        help="also time `personarec.load.bulk.bulk_load` end to end (import + restart + schema)")
    parser.add_argument("--spark", default=None, metavar="MASTER",
                        help="also time `load --engine spark` (personarec.spark.load) on this master, e.g. local[2]")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("neo4j").setLevel(logging.WARNING)
    args.workdir.mkdir(parents=True, exist_ok=True)
    base = load_settings(env={k: v for k, v in os.environ.items() if k.startswith("PERSONAREC_SERVER__JAR")})
    synthetic = args.synthetic_file or args.workdir / f"synthetic-amazon-2018-{args.synthetic_reviews}.json"
    wanted = [d.strip() for d in args.datasets.split(",") if d.strip()]
    results: dict[str, Any] = {
        "benchmark": "load_throughput", "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "node": platform.node()},
        "neo4j": base.server.version, "target": "online write rate >= 20% of the neo4j-admin import rate",
        "command": "python -m bench.load_throughput " + " ".join(f"--{k.replace('_', '-')}={v}" for k, v in
                                                                  vars(args).items() if v not in (None, False)),
        "datasets": {},
    }
    for name in wanted:
        source, paths = datasets(synthetic)[name]
        # The build machines are shared: the load average says how noisy the timings are.
        entry: dict[str, Any] = {"source": source, "paths": [str(p) for p in paths],
                                 "loadavg_before": [round(x, 1) for x in os.getloadavg()]}
        if name == "synthetic":
            if not synthetic.exists():
                from bench.synth_amazon import generate

                entry["generator"] = generate(synthetic, args.synthetic_reviews)
            entry["synthetic_reviews_requested"] = args.synthetic_reviews
        elif not paths[0].exists():
            log.warning("skipping %s: %s not found", name, paths[0])
            continue
        if not args.skip_ceiling:
            log.info("%s: neo4j-admin import (ceiling)", name)
            entry["ceiling"] = run_ceiling(name, source, paths, base, args.workdir, args.off_heap)
            log.info("%s ceiling: %s", name, entry["ceiling"])
            gc.collect()
        if not args.skip_online:
            log.info("%s: online load through personarec.load", name)
            entry["online"] = run_online(name, source, paths, base, args.workdir, args.heap, args.pagecache,
                                         args.batch_size, args.writers)
            log.info("%s online: %s", name, entry["online"])
            gc.collect()
        if args.bulk:
            log.info("%s: bulk path (personarec.load.bulk)", name)
            entry["bulk"] = run_bulk(name, source, paths, base, args.workdir, args.off_heap)
            log.info("%s bulk: %s", name, entry["bulk"])
            gc.collect()
        if args.spark:
            log.info("%s: Spark load (personarec.spark.load) on %s", name, args.spark)
            entry["spark"] = run_spark(name, source, paths, base, args.workdir, args.heap, args.pagecache,
                                       args.spark, args.batch_size)
            log.info("%s spark: %s", name, entry["spark"])
            gc.collect()
        entry["loadavg_after"] = [round(x, 1) for x in os.getloadavg()]
        if "ceiling" in entry and "online" in entry:
            on, ce = entry["online"], entry["ceiling"]
            entry["same_rows"] = all(on[k] == ce[k] for k in ("users", "INTERACTED", "CO_INTERACTED"))
            entry["ratio_write_vs_import_wall"] = round(on["rels_per_s_write"] / ce["rels_per_s_wall"], 3)
            entry["ratio_write_vs_import_engine"] = round(on["rels_per_s_write"] / ce["rels_per_s_engine"], 3)
            entry["ratio_end_to_end"] = round(on["rels_per_s_end_to_end"] / ce["rels_per_s_end_to_end"], 3)
            entry["meets_target"] = entry["ratio_write_vs_import_wall"] >= 0.2
        if "spark" in entry and "online" in entry:
            entry["spark_same_rows_as_online"] = all(entry["spark"][k] == entry["online"][k]
                                                     for k in ("users", "INTERACTED", "CO_INTERACTED"))
            entry["spark_speedup_end_to_end"] = round(entry["spark"]["rels_per_s_end_to_end"]
                                                      / entry["online"]["rels_per_s_end_to_end"], 2)
        if "bulk" in entry and "online" in entry:
            entry["bulk_speedup_end_to_end"] = round(entry["bulk"]["rels_per_s_end_to_end"]
                                                     / entry["online"]["rels_per_s_end_to_end"], 2)
        results["datasets"][name] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")  # after each dataset: partial results survive
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({n: {k: e.get(k) for k in ("ratio_write_vs_import_wall", "ratio_end_to_end", "meets_target")}
                      for n, e in results["datasets"].items()}, indent=2))


if __name__ == "__main__":
    main()
