"""The full MovieLens-100K load, once per module, against the real Neo4j (issue 3 "done means")."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from personarec import db
from personarec.config import Settings
from personarec.graph import Graph
from personarec.load import LoadSummary, load_dataset

ML100K_FINGERPRINT = "8db20a8f58eff3f53c69381d62b3114c"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ml100k(session_graph: Graph, neo4j_settings: Settings, shared_data: Path) -> Iterator[tuple[LoadSummary, float]]:
    db.reset(session_graph)
    t0 = time.monotonic()
    summary = load_dataset(session_graph, neo4j_settings, "movielens", [shared_data / "movielens-100k"],
                           progress=False)
    elapsed = time.monotonic() - t0
    print(f"\nML-100K load: {elapsed:.1f} s")
    yield summary, elapsed
    db.reset(session_graph)


def test_counts_match_the_source(ml100k: tuple[LoadSummary, float], session_graph: Graph) -> None:
    summary, _ = ml100k
    counts = db.counts(session_graph)
    assert counts["node"]["User"] == 943
    assert counts["node"]["Item"] == 1682
    assert counts["rel"]["INTERACTED"] == 100_000
    assert counts["node"]["Dataset"] == 1
    # 18 real genres ("unknown" is a flag, not a genre)
    assert counts["node"]["Genre"] == 18
    assert summary.users == 943 and summary.items == 1682 and summary.interactions == 100_000
    assert summary.types["INTERACTED"].created == 100_000 and summary.rejected == 0
    assert summary.split_counts == {"train": 100_000 - 2 * 943, "valid": 943, "test": 943}


def test_fingerprint_is_pinned_and_stored(ml100k: tuple[LoadSummary, float], session_graph: Graph) -> None:
    summary, _ = ml100k
    assert summary.fingerprint == ML100K_FINGERPRINT
    row = session_graph.execute("MATCH (d:Dataset {name: 'ml-100k'}) RETURN d.fingerprint AS fp, d.split AS split, "
                                "d.status AS status, d.interactions AS n, d.source AS source", read=True)[0]
    assert row == {"fp": ML100K_FINGERPRINT, "split": "loo", "status": "loaded", "n": 100_000, "source": "movielens"}


def test_graph_model_contract(ml100k: tuple[LoadSummary, float], session_graph: Graph) -> None:
    rows = session_graph.execute(
        "MATCH (u:User {id: 'ml-100k:196'})-[r:INTERACTED]->(i:Item {id: 'ml-100k:242'}) "
        "RETURN u.raw_id AS uid, u.dataset AS ds, i.raw_id AS iid, i.title AS title, i.year AS year, "
        "i.kind AS kind, r.rating AS rating, r.ts AS ts, r.split AS split, r.seq AS seq", read=True)
    assert len(rows) == 1
    row = rows[0]
    assert (row["uid"], row["ds"], row["iid"], row["title"], row["year"], row["kind"]) == (
        "196", "ml-100k", "242", "Kolya", 1996, "film")
    assert row["rating"] == 3.0 and row["ts"] == 881250949 and row["split"] == "train"
    toy = session_graph.execute("MATCH (i:Item {id: 'ml-100k:1'})-[:HAS_GENRE]->(g) RETURN collect(g.name) AS g",
                                read=True)[0]["g"]
    assert sorted(toy) == ["Animation", "Children's", "Comedy"]


def test_seq_is_a_dense_time_order_and_held_out_are_last(ml100k: tuple[LoadSummary, float],
                                                         session_graph: Graph) -> None:
    bad = session_graph.execute(
        "MATCH (u:User {dataset: 'ml-100k'})-[r:INTERACTED]->() WITH u, r ORDER BY r.seq "
        "WITH u, collect(r) AS rs, count(r) AS n "
        "WHERE [x IN rs | x.seq] <> range(0, n - 1) "
        "   OR any(k IN range(1, n - 1) WHERE rs[k].ts < rs[k - 1].ts) "
        "   OR rs[n - 1].split <> 'test' OR rs[n - 2].split <> 'valid' "
        "   OR any(x IN rs[0..n - 2] WHERE x.split <> 'train') "
        "RETURN count(u) AS bad", read=True)[0]["bad"]
    assert bad == 0


def test_co_interacted_uses_train_only(ml100k: tuple[LoadSummary, float], session_graph: Graph) -> None:
    # Recompute the weights from the stored train interactions and compare with the edges.
    expected = session_graph.execute(
        "MATCH (u:User {dataset: 'ml-100k'})-[r:INTERACTED {split: 'train'}]->(i) WITH u, i ORDER BY r.seq "
        "WITH u, collect(i) AS items UNWIND range(0, size(items) - 2) AS k "
        "WITH items[k] AS a, items[k + 1] AS b WHERE a <> b RETURN count(*) AS pairs, count(DISTINCT [a, b]) AS edges",
        read=True)[0]
    got = session_graph.execute("MATCH ()-[c:CO_INTERACTED]->() RETURN count(c) AS edges, sum(c.weight) AS total",
                                read=True)[0]
    assert got == {"edges": expected["edges"], "total": expected["pairs"]}
    # No edge starts at a held-out interaction's item position: the last train item of each user never
    # links to the validation item unless some other train history has that pair.
    assert got["total"] == 100_000 - 3 * 943


def test_cli_reload_changes_nothing(ml100k: tuple[LoadSummary, float], session_graph: Graph,
                                    neo4j_settings: Settings, shared_data: Path) -> None:
    """`personarec load movielens …` again: the same counts, nothing created."""
    import json

    from click.testing import CliRunner

    from personarec.cli import main

    before = db.counts(session_graph)
    env = {"NEO4J_URI": neo4j_settings.bolt_uri,
           "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value()}  # type: ignore[union-attr]
    t0 = time.monotonic()
    out = CliRunner().invoke(main, ["load", "movielens", str(shared_data / "movielens-100k"), "--json"], env=env)
    print(f"\nML-100K reload via CLI: {time.monotonic() - t0:.1f} s")
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.output.splitlines()]
    assert lines[0]["fingerprint"] == ML100K_FINGERPRINT and lines[0]["interactions"] == 100_000
    assert all(row["created"] == 0 for row in lines[1:])
    assert db.counts(session_graph) == before
