"""``enrich_dbpedia`` end to end: real films from Neo4j, linked through the Virtuoso mirror, facts back in Neo4j."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from personarec.loaders.dbpedia.sparql import SparqlClient
from personarec.cli import main
from personarec.config import Settings, load_settings
from personarec.enrich.dbpedia import enrich_dbpedia
from personarec.graph import Graph

DBR = "http://dbpedia.org/resource/"
ITEMS = [  # ML-100K items as `personarec load movielens` writes them
    {"id": "ml-100k:1", "raw_id": "1", "kind": "film", "title": "Toy Story", "year": 1995},
    {"id": "ml-100k:12", "raw_id": "12", "kind": "film", "title": "Usual Suspects, The", "year": 1995},
    {"id": "ml-100k:14", "raw_id": "14", "kind": "film", "title": "Postino, Il", "year": 1994},
    {"id": "ml-100k:246", "raw_id": "246", "kind": "film", "title": "Chasing Amy", "year": 1997},
    {"id": "ml-100k:268", "raw_id": "268", "kind": "film", "title": "Chasing Amy", "year": 1997},
    {"id": "ml-100k:9999", "raw_id": "9999", "kind": "film", "title": 'The "Quoted" \\ Film', "year": 2001},
]


def _load_items(graph: Graph) -> None:
    rows = [{**r, "description": None} for r in ITEMS]
    graph.write_batches("load/items.cypher", rows, extra={"dataset": "ml-100k"})


def _counts(graph: Graph) -> dict:
    return graph.read("queries/dbpedia_counts.cypher", {"dataset": "ml-100k"})[0]


def test_enrich_links_facts_and_cached_rerun(graph: Graph, neo4j_settings: Settings, sparql_endpoint: str,
                                             tmp_path: Path) -> None:
    _load_items(graph)
    cache = tmp_path / "sparql.sqlite"
    report = tmp_path / "unmatched.tsv"
    with SparqlClient(sparql_endpoint, cache, min_interval_s=0) as client:
        s = enrich_dbpedia(graph, neo4j_settings, "ml-100k", client=client, unmatched_file=report, progress=False)
    assert (s.items, s.linked, s.unmatched) == (6, 5, 1)
    assert s.requests > 0 and s.facts > 0 and s.abstracts == 5

    links = {r["id"]: r for r in graph.execute(
        "MATCH (i:Item)-[s:SAME_AS]->(e:Entity) RETURN i.id AS id, e.uri AS uri, e.label AS label, "
        "e.types AS types, s.confidence AS c, s.method AS m")}
    assert links["ml-100k:1"]["uri"] == DBR + "Toy_Story" and links["ml-100k:1"]["label"] == "Toy Story"
    assert links["ml-100k:1"]["types"] == ["http://dbpedia.org/ontology/Film"]
    assert links["ml-100k:12"]["uri"] == DBR + "The_Usual_Suspects" and links["ml-100k:12"]["c"] >= 0.8
    assert links["ml-100k:246"]["uri"] == links["ml-100k:268"]["uri"] == DBR + "Chasing_Amy"
    assert "ml-100k:9999" not in links

    directors = graph.execute("MATCH (:Item {id: 'ml-100k:1'})-[:DIRECTED_BY]->(e:Entity) RETURN e.uri AS uri, "
                              "e.label AS label")
    assert directors == [{"uri": DBR + "John_Lasseter", "label": "John Lasseter"}]
    toy = graph.execute("MATCH (i:Item {id: 'ml-100k:1'}) OPTIONAL MATCH (i)-[r]->(:Entity) "
                        "RETURN i.abstract AS abstract, collect(DISTINCT type(r)) AS rels")[0]
    assert toy["abstract"].startswith("Toy Story is a 1995 American computer-animated")
    assert set(toy["rels"]) == {"SAME_AS", "DIRECTED_BY", "DISTRIBUTED_BY", "HAS_SUBJECT"}  # what the mirror has
    amy = graph.execute("MATCH (:Item {id: 'ml-100k:246'})-[r]->(:Entity) RETURN collect(DISTINCT type(r)) AS rels")
    assert {"STARRING", "WRITTEN_BY", "PRODUCED_BY", "CINEMATOGRAPHY_BY"} <= set(amy[0]["rels"])
    subject = graph.execute("MATCH (:Item {id: 'ml-100k:1'})-[:HAS_SUBJECT]->(e:Entity {uri: $u}) "
                            "RETURN e.label AS label", {"u": DBR + "Category:1995_films"})
    assert subject == [{"label": "1995 films"}]
    # Both duplicate catalogue entries carry the shared film's facts.
    assert graph.execute("MATCH (i:Item)-[:STARRING]->(:Entity {uri: $u}) RETURN count(i) AS n",
                         {"u": DBR + "Ben_Affleck"}) == [{"n": 2}]

    rows = list(csv.reader(report.open(), delimiter="\t"))
    assert rows[0] == ["item", "title", "best_candidate", "confidence", "reason"]
    assert [r[0] for r in rows[1:]] == ["ml-100k:9999"] and rows[1][1] == 'The "Quoted" \\ Film'

    before = _counts(graph)
    assert before["linked_items"] == 5 and before["facts"] == s.facts
    with SparqlClient(sparql_endpoint, cache, min_interval_s=0) as client:
        again = enrich_dbpedia(graph, neo4j_settings, "ml-100k", client=client, unmatched_file=report,
                               progress=False)
    assert again.requests == 0 and again.cache_hits == s.requests  # nothing asked twice
    assert _counts(graph) == before  # MERGE: a rerun changes nothing
    assert again.relinked == 0

    # A stricter threshold later: links it no longer makes go, with their facts and abstract.
    postino = "MATCH (i:Item {id: 'ml-100k:14'}) OPTIONAL MATCH (i)-[r]->(:Entity) RETURN count(r) AS n, i.abstract AS a"
    assert graph.execute(postino)[0]["n"] > 0 and links["ml-100k:14"]["c"] < 1.0
    with SparqlClient(sparql_endpoint, cache, min_interval_s=0) as client:
        strict = enrich_dbpedia(graph, neo4j_settings, "ml-100k", client=client, unmatched_file=report,
                                min_confidence=1.0, progress=False)
    assert strict.relinked == 5 - strict.linked > 0  # (new free-text requests for the items now below)
    assert graph.execute(postino)[0] == {"n": 0, "a": None}
    assert graph.execute("MATCH (i:Item {id: 'ml-100k:1'})-[:DIRECTED_BY]->(e) RETURN e.uri AS u") == [
        {"u": DBR + "John_Lasseter"}]
    assert graph.execute("MATCH (e:Entity) WITH e.uri AS u, count(*) AS n WHERE n > 1 RETURN u") == []


def test_cli_enrich_and_down_endpoint(graph: Graph, neo4j_settings: Settings, sparql_endpoint: str,
                                      tmp_path: Path) -> None:
    _load_items(graph)
    assert neo4j_settings.neo4j.password is not None
    env = {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value(),
           "PERSONAREC_DBPEDIA__CACHE": str(tmp_path / "c.sqlite"), "PERSONAREC_DBPEDIA__MIN_INTERVAL_S": "0",
           "PERSONAREC_DBPEDIA__RETRIES": "1", "PERSONAREC_DBPEDIA__BACKOFF_S": "0.05"}
    runner = CliRunner()
    result = runner.invoke(main, ["enrich", "dbpedia", "--dataset", "ml-100k", "--endpoint", sparql_endpoint,
                                  "--unmatched", str(tmp_path / "u.tsv")], env=env)
    assert result.exit_code == 0, result.output
    assert "linked 5" in result.output and "unmatched 1" in result.output and "facts written" in result.output
    assert (tmp_path / "u.tsv").exists()

    result = runner.invoke(main, ["enrich", "dbpedia", "--endpoint", "http://127.0.0.1:9/sparql", "--no-cache"],
                           env=env)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "error:" in result.output and "not answering" in result.output


def test_settings_defaults_point_at_public_dbpedia() -> None:
    settings = load_settings(env={})
    assert settings.dbpedia.endpoint == "https://dbpedia.org/sparql"
    assert settings.dbpedia.min_interval_s >= 1.0 and settings.dbpedia.min_confidence == 0.8
