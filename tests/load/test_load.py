"""Loading fixtures and the real Amazon review heads into the real Neo4j: every format, rejects,
injection strings, idempotency, an interrupted load and a truncated gzip."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from personarec import db
from personarec.cli import main
from personarec.config import Settings
from personarec.errors import GraphError, PersonarecError
from personarec.graph import Graph
from personarec.load import load_dataset

FIX = Path(__file__).resolve().parents[1] / "fixtures"
AMZ = FIX / "amazon"


def _one(graph: Graph, query: str, **params: Any) -> Any:
    rows = graph.execute(query, params, read=True)
    return rows[0][next(iter(rows[0]))] if rows else None


def _head2014(shared_data: Path) -> Path:
    return shared_data / "amazon" / "raw-samples" / "reviews-2014-movies_and_tv-head.json"


def test_amazon_2014_reviews_and_literal_meta(graph: Graph, neo4j_settings: Settings, shared_data: Path,
                                              tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.tsv"
    s = load_dataset(graph, neo4j_settings, "amazon", [_head2014(shared_data), AMZ / "meta_Movies_and_TV-2014.json"],
                     dataset="mtv14", rejects_path=rejects, progress=False)
    counts = db.counts(graph)
    assert counts["node"]["User"] == 934 and counts["node"]["Item"] == 11
    assert counts["rel"]["INTERACTED"] == 999
    assert s.format == "2014" and s.short_users > 0  # most users of a file head have one review
    assert s.split_counts["train"] + s.split_counts["valid"] + s.split_counts["test"] == 999
    # the title full of quotes, backslashes and Cypher keywords round-trips as data
    evil = 'Robert\'); MATCH (n) DETACH DELETE n; // "quoted" \\ back\\slash ${x} {MERGE} `tick`'
    assert _one(graph, "MATCH (i:Item {id: 'mtv14:0005119367'}) RETURN i.title") == evil
    assert _one(graph, "MATCH (i:Item {title: $t}) RETURN i.raw_id", t=evil) == "0005119367"
    assert _one(graph, "MATCH (i:Item {id: 'mtv14:0310263662'}) RETURN i.description") == \
        "DETACH DELETE everything; CREATE (x)"
    carol = graph.execute(
        "MATCH (i:Item {id: 'mtv14:0005019281'}) RETURN i.kind AS kind, "
        "[(i)-[:IN_CATEGORY]->(c) | c.name] AS cats, [(i)-[:BY_BRAND]->(b) | b.name] AS brands, "
        "[(i)-[:ALSO_BOUGHT]->(o) | o.raw_id] AS bought, [(i)-[:ALSO_VIEWED]->(o) | o.raw_id] AS viewed, "
        "[(i)-[:BOUGHT_TOGETHER]->(o) | o.raw_id] AS together", read=True)[0]
    assert carol["kind"] == "film" and sorted(carol["cats"]) == ["Holiday", "Movies", "Movies & TV", "TV"]
    assert carol["brands"] == ["Studio A"]
    assert carol["bought"] == ["0005119367"]  # B000EXAMPL has no interactions, so no phantom item
    assert carol["viewed"] == ["0310263662"] and carol["together"] == ["0005119367"]
    # items reviewed but without metadata still carry the kind from the file name
    assert _one(graph, "MATCH (i:Item {dataset: 'mtv14'}) WHERE i.kind <> 'film' RETURN count(i)") == 0
    lines = rejects.read_text().splitlines()
    assert [ln.split("\t")[1] for ln in lines] == ["5", "6", "7"] and s.types["Item"].rejected == 3


def test_amazon_2018_books_authors_and_links(graph: Graph, neo4j_settings: Settings) -> None:
    s = load_dataset(graph, neo4j_settings, "amazon", [AMZ / "meta_Books-2018.json", AMZ / "reviews_Books-2018.json"],
                     progress=False)
    assert s.dataset == "amazon-books-2018" and s.users == 3 and s.items == 4 and s.interactions == 10
    assert s.meta_skipped == 1  # B0000BK999 was never reviewed
    rows = graph.execute("MATCH (i:Item {dataset: $d}) RETURN i.raw_id AS id, i.kind AS kind, i.title AS title, "
                         "[(i)-[:BY_AUTHOR]->(p) | p.name] AS authors, [(i)-[:ALSO_BOUGHT]->(o) | o.raw_id] AS bought "
                         "ORDER BY id", {"d": s.dataset}, read=True)
    assert [r["kind"] for r in rows] == ["book"] * 4
    assert rows[0]["title"] == "The Long & Winding Road"
    assert sorted(rows[0]["bought"]) == ["B0000BK002", "B0000BK003"] and rows[0]["authors"] == ["Jane Doe"]
    assert rows[3]["title"] == "Fourth \\ Book \"with\" 'quotes'"
    assert _one(graph, "MATCH (p:Person {name: 'Jane Doe'})<-[:BY_AUTHOR]-(i) RETURN count(i)") == 2
    assert db.counts(graph)["node"].get("Brand") is None


def test_amazon_2023_and_temporal_split(graph: Graph, neo4j_settings: Settings) -> None:
    s = load_dataset(graph, neo4j_settings, "amazon", [AMZ / "Movies_and_TV-2023.jsonl",
                                                       AMZ / "meta_Movies_and_TV-2023.jsonl"],
                     dataset="mtv23", split="temporal", progress=False)
    assert s.items == 3 and s.users == 3 and s.interactions == 11 and s.split == "temporal"
    assert s.types["INTERACTED"].rejected == 2
    ts = graph.execute("MATCH (:User)-[r:INTERACTED]->() RETURN min(r.ts) AS lo, max(r.ts) AS hi", read=True)[0]
    assert ts["lo"] == 1_600_000_000 and ts["hi"] < 1_700_000_000  # milliseconds became seconds
    # ties in time keep file order: AGUSER23C's two events at the same second
    seqs = graph.execute("MATCH (:User {id: 'mtv23:AGUSER23C'})-[r:INTERACTED]->(i) RETURN i.raw_id AS item, "
                         "r.seq AS seq ORDER BY seq", read=True)
    assert [r["item"] for r in seqs] == ["B08PARENT3", "B08PARENT2", "B08PARENT1"]
    split = graph.execute("MATCH ()-[r:INTERACTED]->() WITH r.split AS s, max(r.ts) AS hi, min(r.ts) AS lo "
                          "RETURN s, hi, lo ORDER BY lo", read=True)
    assert [r["s"] for r in split][0] == "train"
    assert all(a["hi"] < b["lo"] for a, b in zip(split, split[1:]))  # no future in train
    assert _one(graph, "MATCH (:Item {id: 'mtv23:B08PARENT1'})-[:BOUGHT_TOGETHER]->(o) RETURN o.raw_id") == "B08PARENT2"
    assert _one(graph, "MATCH (d:Dataset {name: 'mtv23'}) RETURN d.split") == "temporal"


def test_changing_the_split_rebuilds_co_interacted(graph: Graph, neo4j_settings: Settings) -> None:
    paths = [AMZ / "Movies_and_TV-2023.jsonl"]
    edges = "MATCH (a)-[c:CO_INTERACTED]->(b) RETURN a.id AS a, b.id AS b, c.weight AS w ORDER BY a, b"
    load_dataset(graph, neo4j_settings, "amazon", paths, dataset="sw", split="temporal", progress=False)
    temporal_edges = graph.execute(edges, read=True)
    assert len(temporal_edges) == 3
    # leave-one-out on the same dataset: its train part has no consecutive pair of distinct items
    s = load_dataset(graph, neo4j_settings, "amazon", paths, dataset="sw", split="loo", progress=False)
    assert s.split == "loo" and graph.execute(edges, read=True) == []
    assert graph.execute("MATCH ()-[r:INTERACTED {split: 'test'}]->() RETURN count(r) AS n", read=True)[0]["n"] == 3
    load_dataset(graph, neo4j_settings, "amazon", paths, dataset="sw", split="temporal", progress=False)
    assert graph.execute(edges, read=True) == temporal_edges


def test_sequences_and_attributes(graph: Graph, neo4j_settings: Settings) -> None:
    s = load_dataset(graph, neo4j_settings, "sequences", [FIX / "sequences" / "Tiny.txt",
                                                          FIX / "sequences" / "Tiny_item2attributes.json"],
                     progress=False)
    assert s.dataset == "tiny" and s.users == 4 and s.items == 4 and s.interactions == 14
    counts = db.counts(graph)
    assert counts["node"]["Attribute"] == 3 and counts["rel"]["HAS_ATTRIBUTE"] == 5
    assert _one(graph, "MATCH (a:Attribute {id: 'tiny:1'}) RETURN a.raw_id + '/' + a.dataset") == "1/tiny"
    # user 10 (13 10 11 12 13): train 13 10 11 -> 13->10, 10->11; valid 12, test 13
    hist = graph.execute("MATCH (:User {id: 'tiny:10'})-[r:INTERACTED]->(i) RETURN i.raw_id AS i, r.split AS s, "
                         "r.ts AS ts, r.rating AS rating ORDER BY r.seq", read=True)
    assert [(h["i"], h["s"]) for h in hist] == [("13", "train"), ("10", "train"), ("11", "train"),
                                                ("12", "valid"), ("13", "test")]
    assert all(h["ts"] is None and h["rating"] is None for h in hist)
    w = {(r["a"], r["b"]): r["w"] for r in graph.execute(
        "MATCH (a)-[c:CO_INTERACTED]->(b) RETURN a.raw_id AS a, b.raw_id AS b, c.weight AS w", read=True)}
    # train histories: 1: 10 11; 2: 11; 3: (short: 12 13 all train); 10: 13 10 11
    assert w == {("10", "11"): 2, ("12", "13"): 1, ("13", "10"): 1}


def test_loading_twice_changes_no_counts(graph: Graph, neo4j_settings: Settings, shared_data: Path) -> None:
    paths = [_head2014(shared_data), AMZ / "meta_Movies_and_TV-2014.json"]
    load_dataset(graph, neo4j_settings, "amazon", paths, dataset="twice", progress=False)
    first = db.counts(graph)
    weights = graph.execute("MATCH ()-[c:CO_INTERACTED]->() RETURN sum(c.weight) AS w", read=True)
    again = load_dataset(graph, neo4j_settings, "amazon", paths, dataset="twice", progress=False)
    assert db.counts(graph) == first
    assert graph.execute("MATCH ()-[c:CO_INTERACTED]->() RETURN sum(c.weight) AS w", read=True) == weights
    assert all(tc.created == 0 for tc in again.types.values())
    assert again.types["INTERACTED"].updated == 999


class _FailingGraph(Graph):
    """The real server, with the connection 'lost' after a number of write batches (fault injection)."""

    def __init__(self, graph: Graph, batches: int) -> None:
        super().__init__(graph.driver, graph.database, graph.uri, graph.batch_size)
        self.left = batches

    def execute_counters(self, query: str, params: Any = None) -> dict[str, int]:
        if self.left == 0:
            raise GraphError("Neo4j is not reachable (injected failure).")
        self.left -= 1
        return super().execute_counters(query, params)


def test_interrupted_load_rerun_ends_with_clean_counts(graph: Graph, neo4j_settings: Settings,
                                                       shared_data: Path) -> None:
    paths = [_head2014(shared_data), AMZ / "meta_Movies_and_TV-2014.json"]
    clean = load_dataset(graph, neo4j_settings, "amazon", paths, dataset="cut", batch_size=100, progress=False)
    clean_counts = db.counts(graph)
    db.reset(graph)
    with pytest.raises(GraphError, match="injected"):
        load_dataset(_FailingGraph(graph, 18), neo4j_settings, "amazon", paths, dataset="cut", batch_size=100,
                     progress=False)
    partial = db.counts(graph)
    assert 0 < partial["rel"].get("INTERACTED", 0) < 999
    assert _one(graph, "MATCH (d:Dataset {name: 'cut'}) RETURN d.status") == "loading"
    rerun = load_dataset(graph, neo4j_settings, "amazon", paths, dataset="cut", batch_size=100, progress=False)
    assert db.counts(graph) == clean_counts
    assert rerun.fingerprint == clean.fingerprint
    assert _one(graph, "MATCH (d:Dataset {name: 'cut'}) RETURN d.status") == "loaded"


def test_truncated_gzip_meta_then_rerun(graph: Graph, neo4j_settings: Settings, tmp_path: Path) -> None:
    reviews = AMZ / "reviews_Books-2018.json"
    # enough metadata lines that the cut falls after the first batch of items was written
    meta_lines = (AMZ / "meta_Books-2018.json").read_text().splitlines()[:2]
    meta_lines += [f'{{"asin": "B0000BK{n:03d}", "title": "Filler {n}", "main_cat": "Books"}}' for n in range(100, 900)]
    full = gzip.compress(("\n".join(meta_lines) + "\n").encode())
    good, cut = tmp_path / "meta_Books.json.gz", tmp_path / "cut" / "meta_Books.json.gz"
    cut.parent.mkdir()
    good.write_bytes(full)
    cut.write_bytes(full[: int(len(full) * 0.8)])
    load_dataset(graph, neo4j_settings, "amazon", [reviews, good], dataset="gz", batch_size=1, progress=False)
    clean_counts = db.counts(graph)
    db.reset(graph)
    with pytest.raises(PersonarecError, match="truncated or corrupt after line"):
        load_dataset(graph, neo4j_settings, "amazon", [reviews, cut], dataset="gz", batch_size=1, progress=False)
    assert _one(graph, "MATCH (i:Item {id: 'gz:B0000BK001'}) RETURN i.title") == "The Long & Winding Road"
    assert db.counts(graph)["rel"].get("INTERACTED", 0) == 0  # nothing half-written
    load_dataset(graph, neo4j_settings, "amazon", [reviews, good], dataset="gz", batch_size=1, progress=False)
    assert db.counts(graph) == clean_counts


def test_replace_removes_what_an_earlier_load_wrote(graph: Graph, neo4j_settings: Settings,
                                                    shared_data: Path) -> None:
    head = _head2014(shared_data)
    load_dataset(graph, neo4j_settings, "amazon", [head], dataset="r", progress=False)
    s = load_dataset(graph, neo4j_settings, "amazon", [head], dataset="r", kcore_k=3, replace=True, progress=False)
    assert s.filtered > 0
    assert db.counts(graph)["rel"]["INTERACTED"] == s.interactions < 999
    assert _one(graph, "MATCH (u:User {dataset: 'r'}) WHERE COUNT { (u)-[:INTERACTED]->() } < 3 RETURN count(u)") == 0


def test_cli_movielens_1m_layout_with_rejects(graph: Graph, neo4j_settings: Settings, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.tsv"
    env = {"NEO4J_URI": neo4j_settings.bolt_uri,
           "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value()}  # type: ignore[union-attr]
    result = CliRunner().invoke(main, ["load", "movielens", str(FIX / "ml-1m"), "--rejects", str(rejects)], env=env)
    assert result.exit_code == 0, result.output
    assert "dataset ml-1m (movielens 1m): 3 users, 3 items, 9 interactions" in result.output
    assert "3 lines rejected" in result.output
    assert len(rejects.read_text().splitlines()) == 3
    assert _one(graph, "MATCH (i:Item {id: 'ml-1m:2'}) RETURN i.title") == "Café au lait"
    # user 3's first three ratings share one second: file order decides
    assert [r["i"] for r in graph.execute("MATCH (:User {id: 'ml-1m:3'})-[r:INTERACTED]->(i) RETURN i.raw_id AS i "
                                          "ORDER BY r.seq", read=True)] == ["2", "1", "3", "2"]
    bad = CliRunner().invoke(main, ["load", "sequences", str(FIX / "ml-1m" / "movies.dat"),
                                    str(FIX / "ml-1m" / "ratings.dat")], env=env)
    assert bad.exit_code == 1 and bad.output.startswith("error: give one sequence file")


def test_concurrent_writers_and_the_create_path_write_the_same_graph(graph: Graph, neo4j_settings: Settings,
                                                                     shared_data: Path) -> None:
    """load.writers > 1 and the first-load CREATE path give exactly the graph of one merging writer."""
    paths = [_head2014(shared_data), AMZ / "meta_Movies_and_TV-2014.json"]
    snapshot = ("MATCH (u:User)-[r:INTERACTED]->(i:Item) RETURN u.id AS u, i.id AS i, r.seq AS seq, r.split AS split, "
                "r.rating AS rating, r.ts AS ts ORDER BY u, seq")
    weights = "MATCH (a)-[c:CO_INTERACTED]->(b) RETURN a.id AS a, b.id AS b, c.weight AS w ORDER BY a, b"
    one = neo4j_settings.model_copy(update={"load": neo4j_settings.load.model_copy(update={"writers": 1})})
    three = neo4j_settings.model_copy(update={"load": neo4j_settings.load.model_copy(update={"writers": 3})})
    first = load_dataset(graph, three, "amazon", paths, dataset="w", batch_size=37, progress=False)
    assert first.types["INTERACTED"].created == 999  # created, not merged: a first load
    fresh = (graph.execute(snapshot, read=True), graph.execute(weights, read=True), db.counts(graph))
    again = load_dataset(graph, one, "amazon", paths, dataset="w", batch_size=37, progress=False)
    assert again.types["INTERACTED"].created == 0 and again.types["INTERACTED"].updated == 999
    assert (graph.execute(snapshot, read=True), graph.execute(weights, read=True), db.counts(graph)) == fresh
    db.reset(graph)
    load_dataset(graph, one, "amazon", paths, dataset="w", batch_size=5000, progress=False)
    assert (graph.execute(snapshot, read=True), graph.execute(weights, read=True), db.counts(graph)) == fresh
