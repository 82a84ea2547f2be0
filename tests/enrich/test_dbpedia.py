"""``enrich_dbpedia`` end to end: real films from Neo4j, linked through the Virtuoso mirror, facts back in Neo4j."""

from __future__ import annotations

import csv
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from personarec.cli import main
from personarec.config import Settings, load_settings
from personarec.enrich.dbpedia import enrich_dbpedia
from personarec.graph import Graph
from personarec.loaders.dbpedia.sparql import SparqlClient, SparqlError

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
    postino = ("MATCH (i:Item {id: 'ml-100k:14'}) OPTIONAL MATCH (i)-[r]->(:Entity) "
               "RETURN count(r) AS n, i.abstract AS a")
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


# ----------------------------------------------- an endpoint that answers errors (a real local HTTP server)
class _Endpoint:
    """SPARQL over HTTP on 127.0.0.1: ``mode`` "error" answers HTTP 200 + ``{"error": …}`` to every query,
    "facts-error" only to fact queries, "healthy" answers like DBpedia for Toy Story and The Usual Suspects."""

    RESOURCES = {"Toy Story": ("Toy_Story", "Toy Story is a 1995 American computer-animated film."),
                 "The Usual Suspects": ("The_Usual_Suspects", "The Usual Suspects is a 1995 crime film.")}

    def __init__(self) -> None:
        self.mode = "error"
        self.requests = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                endpoint.requests += 1
                body = json.dumps(endpoint.answer(form["query"][0])).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sparql"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, query: str) -> dict:
        if self.mode == "error" or (self.mode == "facts-error" and "VALUES ?prop" in query):
            return {"error": "server overloaded"}
        rows: list[dict] = []
        if "VALUES ?lookup" in query:
            for label in re.findall(r'"((?:[^"\\]|\\.)*)"@en', query):
                if label in self.RESOURCES:
                    name, abstract = self.RESOURCES[label]
                    rows.append({"lookup": label, "res": DBR + name, "label": label, "abstract": abstract})
        elif "VALUES ?prop" in query:
            if DBR + "Toy_Story" in query:
                rows.append({"res": DBR + "Toy_Story", "prop": "http://dbpedia.org/ontology/director",
                             "obj": DBR + "John_Lasseter", "objLabel": "John Lasseter"})
        elif "VALUES ?res" in query:
            rows = [{"res": DBR + name, "abstract": abstract} for name, abstract in self.RESOURCES.values()
                    if DBR + name in query]
        bindings = [{k: {"type": "literal", "value": v} for k, v in row.items()} for row in rows]
        return {"head": {"vars": []}, "results": {"bindings": bindings}}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _enriched_graph(graph: Graph) -> dict:
    """Two films linked with a fact and an abstract each, as an earlier run left them; returns the counts."""
    _load_items(graph)
    graph.write_batches("load/dbpedia_links.cypher", [
        {"item": "ml-100k:1", "uri": DBR + "Toy_Story", "label": "Toy Story", "confidence": 1.0, "method": "label",
         "type": "http://dbpedia.org/ontology/Film"},
        {"item": "ml-100k:12", "uri": DBR + "The_Usual_Suspects", "label": "The Usual Suspects", "confidence": 1.0,
         "method": "label", "type": "http://dbpedia.org/ontology/Film"}])
    graph.write_batches("load/dbpedia_facts.cypher", [
        {"item": "ml-100k:1", "rel": "DIRECTED_BY", "uri": DBR + "John_Lasseter", "label": "John Lasseter"}])
    graph.write_batches("load/dbpedia_abstracts.cypher", [
        {"item": "ml-100k:1", "abstract": _Endpoint.RESOURCES["Toy Story"][1]},
        {"item": "ml-100k:12", "abstract": _Endpoint.RESOURCES["The Usual Suspects"][1]}])
    counts = _counts(graph)
    assert counts == {"linked_items": 2, "facts": 1, "abstracts": 2}
    return counts


def test_error_answers_keep_links_facts_and_are_not_cached(graph: Graph, neo4j_settings: Settings,
                                                           tmp_path: Path) -> None:
    before = _enriched_graph(graph)
    endpoint = _Endpoint()
    cache = tmp_path / "sparql.sqlite"
    try:
        def run() -> object:
            with SparqlClient(endpoint.url, cache, retries=1, backoff_s=0.01, min_interval_s=0) as client:
                return enrich_dbpedia(graph, neo4j_settings, "ml-100k", client=client,
                                      unmatched_file=tmp_path / "u.tsv", progress=False)

        with pytest.raises(SparqlError, match="server overloaded.*stopped before changing the graph"):
            run()
        assert _counts(graph) == before  # not read as "no match": no link, fact or abstract dropped
        assert endpoint.requests == 2  # the first label query and its one retry

        # the CLI says so in one line and exits 1 instead of 0
        assert neo4j_settings.neo4j.password is not None
        env = {"NEO4J_URI": neo4j_settings.bolt_uri,
               "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value(),
               "PERSONAREC_DBPEDIA__CACHE": str(cache), "PERSONAREC_DBPEDIA__MIN_INTERVAL_S": "0",
               "PERSONAREC_DBPEDIA__RETRIES": "0"}
        result = CliRunner().invoke(main, ["enrich", "dbpedia", "--dataset", "ml-100k", "--endpoint", endpoint.url,
                                           "--unmatched", str(tmp_path / "u.tsv")], env=env)
        assert result.exit_code == 1 and "Traceback" not in result.output and result.output.count("error: ") == 1
        message = result.output[result.output.index("error: "):]  # (after the progress bar on stderr)
        assert message.count("\n") == 1 and "server overloaded" in message
        assert _counts(graph) == before

        # an error in the facts stage: links confirmed, facts of the earlier run kept
        endpoint.mode = "facts-error"
        with pytest.raises(SparqlError, match="stopped after updating the links"):
            run()
        assert _counts(graph) == before

        # the endpoint recovers: nothing of the error answers was cached, so the rerun asks again
        endpoint.mode = "healthy"
        asked = endpoint.requests
        summary = run()
        assert summary.requests > 0 and endpoint.requests > asked  # type: ignore[attr-defined]
        assert (summary.linked, summary.facts, summary.abstracts, summary.relinked) == (2, 1, 2, 0)  # type: ignore[attr-defined]
        assert _counts(graph) == before
    finally:
        endpoint.close()
