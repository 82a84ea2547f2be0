"""``load --engine spark`` (personarec.spark.load) in Spark local mode against the real test Neo4j: the same
graph, counts, split fingerprint and rejects file as the single-process loader, on the real Beauty files
and on a fuzzed Amazon sample; a rerun changes nothing (issue 12, part 2 "done means")."""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from personarec import db
from personarec.config import Settings
from personarec.graph import Graph
from personarec.load import load_dataset
from personarec.load.loader import LoadSummary

pytest.importorskip("pyspark", reason="pyspark is the `spark` extra (run.sh setup installs it)")

from personarec.spark.jars import install_connector  # noqa: E402
from personarec.spark.load import load_spark  # noqa: E402
from personarec.spark.session import spark_session  # noqa: E402

pytestmark = pytest.mark.neo4j

BEAUTY_FINGERPRINT = "28750bda8b349621d54e9f5865ebd135"  # docs/protocol.md
# What a load wrote, read back: every node and relationship of the dataset with its properties, one text
# per user or item (far fewer values for the Python driver to unpack than one row per relationship).
INTERACTED = ("MATCH (u:User {dataset: $d})-[r:INTERACTED]->(i:Item) WITH u, r, i ORDER BY r.seq "
              "WITH u, collect(i.id + '|' + toString(r.seq) + '|' + r.split + '|' + coalesce(toString(r.rating), '-') "
              "+ '|' + coalesce(toString(r.ts), '-')) AS xs "
              "RETURN u.id AS u, reduce(s = '', x IN xs | s + x + ';') AS h ORDER BY u")
ITEMS = "MATCH (i:Item {dataset: $d}) RETURN properties(i) AS p ORDER BY i.id"
USERS = "MATCH (u:User {dataset: $d}) RETURN properties(u) AS p ORDER BY u.id"
ITEM_EDGES = ("MATCH (i:Item {dataset: $d})-[r]->(x) WHERE type(r) <> 'INTERACTED' "
              "WITH i, type(r) + '>' + coalesce(x.id, x.name) + '>' + coalesce(toString(r.weight), '-') AS e "
              "ORDER BY e WITH i, collect(e) AS es "
              "RETURN i.id AS i, reduce(s = '', e IN es | s + e + ';') AS h ORDER BY i")
DATASET = "MATCH (d:Dataset {name: $d}) RETURN properties(d) AS p"
# properties a load sets from the clock or its lock token
VOLATILE = {"started_at", "loaded_at", "lock_owner", "lock_host", "lock_pid", "lock_since", "lock_at"}


def _amazon_fuzz() -> ModuleType:
    """tests/loaders/test_amazon.py, for its fuzz generator (test modules are not a package here)."""
    path = Path(__file__).resolve().parents[1] / "loaders" / "test_amazon.py"
    spec = importlib.util.spec_from_file_location("_amazon_fuzz", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _snapshot(graph: Graph, dataset: str) -> dict[str, Any]:
    """The graph a load left: counts per label/type, the dataset's nodes and edges with their properties."""
    ds = graph.execute(DATASET, {"d": dataset}, read=True)[0]["p"]
    return {"counts": db.counts(graph),
            "dataset": {k: v for k, v in ds.items() if k not in VOLATILE},
            "interacted": graph.execute(INTERACTED, {"d": dataset}, read=True),
            "items": graph.execute(ITEMS, {"d": dataset}, read=True),
            "users": graph.execute(USERS, {"d": dataset}, read=True),
            "item_edges": graph.execute(ITEM_EDGES, {"d": dataset}, read=True)}


def _same_summary(got: LoadSummary, want: LoadSummary) -> None:
    for name in ("dataset", "source", "format", "split", "fingerprint", "users", "items", "interactions",
                 "split_counts", "short_users", "filtered", "meta_skipped", "rejects", "types"):
        assert getattr(got, name) == getattr(want, name), name


@pytest.fixture(scope="module")
def spark(neo4j_settings: Settings) -> Iterator[Any]:
    install_connector(neo4j_settings.spark)  # cached by run.sh setup; fetched from Maven Central otherwise
    session = spark_session(neo4j_settings, "local[2]")
    yield session
    session.stop()


def _both(graph: Graph, settings: Settings, spark: Any, tmp: Path, source: str, paths: list[Path], dataset: str,
          split_bytes: int, **options: Any) -> dict[str, Any]:
    """The loader, then (on an emptied graph) the Spark loader on the same files: summaries, graphs, rejects.

    ``split_bytes`` caps Spark's input splits so that a file is read in several partitions (line numbers
    must run on across them).
    """
    db.reset(graph)
    t0 = time.monotonic()
    ref = load_dataset(graph, settings, source, paths, dataset, rejects_path=tmp / "loader.tsv", progress=False,
                       **options)
    t1 = time.monotonic()
    want = _snapshot(graph, dataset)
    db.reset(graph)
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(split_bytes))
    t2 = time.monotonic()
    got = load_spark(graph, settings, source, paths, dataset, rejects_path=tmp / "spark.tsv", spark=spark,
                     progress=False, **options)
    t3 = time.monotonic()
    print(f"\n{dataset}: loader {t1 - t0:.1f} s, Spark {t3 - t2:.1f} s")
    return {"ref": ref, "want": want, "got": got, "graph": _snapshot(graph, dataset), "tmp": tmp}


# -------------------------------------------------------------------------------------------- Beauty
def test_beauty_spark_load_equals_the_loader(graph: Graph, neo4j_settings: Settings, shared_data: Path, spark: Any,
                                             tmp_path: Path) -> None:
    """The real Beauty files (the sequences file read in five splits, and the item -> attributes JSON)."""
    folder = shared_data / "amazon" / "s3rec-beauty"
    out = _both(graph, neo4j_settings, spark, tmp_path, "sequences",
                [folder / "Beauty.txt", folder / "Beauty_item2attributes.json"], "beauty", 256 * 1024)
    got, ref = out["got"], out["ref"]
    assert got.fingerprint == ref.fingerprint == BEAUTY_FINGERPRINT
    assert (got.users, got.items, got.interactions) == (22_363, 12_101, 198_502)
    _same_summary(got, ref)
    assert out["graph"] == out["want"]
    assert out["graph"]["dataset"]["status"] == "loaded"
    assert got.rejects == {} and not (tmp_path / "spark.tsv").exists() and not (tmp_path / "loader.tsv").exists()


# ------------------------------------------------------------------------------------ fuzzed Amazon
def _fuzzed_amazon(folder: Path, seed: int = 7) -> list[Path]:
    """Amazon 2018 reviews in two files (one gzip) and a metadata file, with good rows from a seeded generator
    and the hostile lines of tests/loaders/test_amazon.py spread through them, plus CRLF endings, blank lines
    inside and after the records, a carriage return inside a line, ties in time, and user ids that sort as
    numbers ("7" and "007" tie)."""
    fuzz = _amazon_fuzz()
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    users = [f"U{n}" for n in range(60)] + ["7", "007", "10", "9", "A\u00e9"]
    items = [f"B{n:03d}" for n in range(40)]

    def review(user: str, item: str) -> str:
        return json.dumps({"reviewerID": user, "asin": item, "overall": float(rng.randint(1, 5)),
                           "unixReviewTime": 1_400_000_000 + 86_400 * rng.randint(0, 30), "reviewText": "ok"})

    def reviews(n: int) -> list[bytes | str]:
        lines: list[bytes | str] = []
        for _ in range(n):
            user = rng.choice(users)
            line = review(user, rng.choice(items))
            lines.append(line + "\r" if rng.random() < 0.1 else line)  # CRLF once written
        return lines

    first: list[bytes | str] = reviews(300)
    for i, bad in enumerate(fuzz.fuzzed_review_lines("2018")):
        first.insert(17 * (i + 1), bad)
    first.insert(40, '{"reviewerID": "U1", "asin": "B001",\r "overall": 5.0, "unixReviewTime": 1400000000}')
    first.insert(60, review("U2", "B002"))  # the same review twice: two events
    first.insert(60, first[60])
    first += ["", "  ", ""]  # trailing blank lines are padding, not rejects
    main = fuzz._write_lines(folder / "reviews_Fuzz_5.json", first)
    more = folder / "reviews_Fuzz_more.json.gz"
    with gzip.open(more, "wb") as fh:
        fh.write(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in reviews(120)))
    meta: list[bytes | str] = []
    for n, item in enumerate(items[:30] + ["B900"]):  # B900 has no reviews: skipped
        meta.append(json.dumps({
            "asin": item, "title": f"Item <b>{n}</b> &amp; co", "category": ["Beauty", f"Cat{n % 4}"],
            "brand": f"Brand{n % 3}", "description": ["Line one.", "Line two"],
            "also_buy": [items[(n + 1) % 40], item, "B999"], "also_view": [items[(n + 7) % 40]],
            "main_cat": "All Beauty"}))
    meta.insert(5, meta[3])  # a duplicate record: rejected
    for i, bad in enumerate(fuzz.fuzzed_json_meta_lines("2018")):
        meta.insert(3 * (i + 1), bad)
    meta_file = fuzz._write_lines(folder / "meta_Fuzz.json", meta)
    return [main, more, meta_file]


@pytest.fixture(scope="module")
def fuzzed(session_graph: Graph, neo4j_settings: Settings, spark: Any,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    paths = _fuzzed_amazon(tmp / "src")
    out = _both(session_graph, neo4j_settings, spark, tmp, "amazon", paths, "fuzz", 128 * 1024, kcore_k=2)
    out["paths"] = paths
    yield out
    db.reset(session_graph)


def test_fuzzed_amazon_spark_load_equals_the_loader(fuzzed: dict[str, Any]) -> None:
    got, ref = fuzzed["got"], fuzzed["ref"]
    assert ref.rejected >= 10 and ref.filtered > 0 and ref.meta_skipped > 0 and ref.short_users > 0
    _same_summary(got, ref)
    assert fuzzed["graph"] == fuzzed["want"]
    edge_types = {e.split(">")[0] for r in fuzzed["graph"]["item_edges"] for e in r["h"].split(";") if e}
    assert {"IN_CATEGORY", "BY_BRAND", "ALSO_BOUGHT", "ALSO_VIEWED", "CO_INTERACTED"} <= edge_types
    # the same rejects file: file, line number, reason and raw line, in the same order
    want = (fuzzed["tmp"] / "loader.tsv").read_bytes()
    assert (fuzzed["tmp"] / "spark.tsv").read_bytes() == want
    assert {"blank line", "invalid UTF-8", "too deeply nested", "not a JSON object",
            "duplicate item"} <= set(ref.rejects)


def test_fuzzed_amazon_rerun_through_the_cli_changes_nothing(session_graph: Graph, neo4j_settings: Settings,
                                                             spark: Any, fuzzed: dict[str, Any]) -> None:
    """``personarec load amazon … --engine spark`` (in-process: it reuses the module's Spark session)."""
    from click.testing import CliRunner

    from personarec.cli import main

    assert neo4j_settings.neo4j.password is not None
    env = {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value()}
    args = ["load", "amazon", *map(str, fuzzed["paths"]), "--dataset", "fuzz", "--kcore", "2", "--engine", "spark",
            "--json"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    summary, *types = [json.loads(line) for line in result.stdout.splitlines()]
    assert (summary["fingerprint"], summary["interactions"]) == (fuzzed["ref"].fingerprint, fuzzed["ref"].interactions)
    assert {t["type"] for t in types} >= {"User", "Item", "INTERACTED", "CO_INTERACTED", "IN_CATEGORY"}
    assert all(t["created"] == 0 for t in types), types  # a rerun creates nothing ...
    assert _snapshot(session_graph, "fuzz") == fuzzed["want"]  # ... and changes nothing
    refused = CliRunner().invoke(main, ["load", "amazon", str(fuzzed["paths"][0]), "--engine", "spark", "--bulk"],
                                 env=env)
    assert refused.exit_code != 0 and "--bulk" in refused.output


def test_temporal_split_and_replace_on_spark(session_graph: Graph, neo4j_settings: Settings, spark: Any,
                                             fuzzed: dict[str, Any], tmp_path: Path) -> None:
    """The temporal split (reviews only) on Spark; then ``replace`` with the loo load gives the loo graph again."""
    out = _both(session_graph, neo4j_settings, spark, tmp_path, "amazon", fuzzed["paths"][:2], "fuzz", 1 << 20,
                split="temporal")
    _same_summary(out["got"], out["ref"])
    assert out["got"].split == "temporal" and out["got"].split_counts["test"] > 0
    assert out["graph"] == out["want"]
    replaced = load_spark(session_graph, neo4j_settings, "amazon", fuzzed["paths"], "fuzz", kcore_k=2,
                          replace=True, spark=spark, progress=False)
    assert replaced.fingerprint == fuzzed["ref"].fingerprint
    assert _snapshot(session_graph, "fuzz") == fuzzed["want"]
