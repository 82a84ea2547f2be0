"""The SPARQL client against a real Virtuoso: escaping, cache, retries, clear errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from personarec.loaders.dbpedia.sparql import SparqlClient, SparqlError, sparql_iri, sparql_literal
from personarec.server.process import free_port

NASTY = ['He said "hi"', "back\\slash", "it's", 'end\\"', "tab\tnew\nline", "} UNION { ?s ?p ?o", "Ümlaut «quote»"]


def test_literals_round_trip_through_the_server(sparql_endpoint: str) -> None:
    client = SparqlClient(sparql_endpoint, None, min_interval_s=0)
    for text in NASTY:
        rows = client.select(f"SELECT ?x WHERE {{ BIND ({sparql_literal(text)} AS ?x) }}")
        assert rows == [{"x": text}], text
    rows = client.select(f"SELECT ?x WHERE {{ BIND ({sparql_literal(NASTY[0], 'en')} AS ?x) }}")
    assert rows == [{"x": NASTY[0]}]


def test_iri_validation() -> None:
    assert sparql_iri("http://dbpedia.org/resource/Heat_(1995_film)") == "<http://dbpedia.org/resource/Heat_(1995_film)>"
    for bad in ["http://x.org/a> } DROP ALL { <b", "no-scheme", "http://x.org/a b", 'http://x.org/"']:
        with pytest.raises(ValueError):
            sparql_iri(bad)
    with pytest.raises(ValueError):
        sparql_literal("x", "en} ?s")


def test_cache_answers_a_rerun_without_requests(sparql_endpoint: str, tmp_path: Path) -> None:
    query = ("SELECT ?l WHERE { <http://dbpedia.org/resource/Toy_Story> "
             "<http://www.w3.org/2000/01/rdf-schema#label> ?l }")
    with SparqlClient(sparql_endpoint, tmp_path / "cache.sqlite", min_interval_s=0) as client:
        first = client.select(query)
        again = client.select(query)
        assert first == again == [{"l": "Toy Story"}]
        assert (client.requests, client.cache_hits) == (1, 1)
    with SparqlClient(sparql_endpoint, tmp_path / "cache.sqlite", min_interval_s=0) as rerun:
        assert rerun.select(query) == first
        assert (rerun.requests, rerun.cache_hits) == (0, 1)


def test_polite_interval(sparql_endpoint: str) -> None:
    client = SparqlClient(sparql_endpoint, None, min_interval_s=0.3)
    t0 = time.monotonic()
    for n in range(3):
        client.select(f"SELECT ({n} AS ?n) WHERE {{}}")
    assert time.monotonic() - t0 >= 0.6
    assert client.requests == 3


def test_endpoint_down_is_one_clear_error() -> None:
    client = SparqlClient(f"http://127.0.0.1:{free_port()}/sparql", None, retries=2, backoff_s=0.05,
                          min_interval_s=0, timeout_s=2)
    with pytest.raises(SparqlError, match=r"is not answering .* after 3 attempts") as err:
        client.select("SELECT * WHERE { ?s ?p ?o } LIMIT 1")
    assert "\n" not in str(err.value)
    assert client.requests == 3


def test_malformed_query_is_not_retried(sparql_endpoint: str) -> None:
    client = SparqlClient(sparql_endpoint, None, retries=3, backoff_s=0.05, min_interval_s=0)
    with pytest.raises(SparqlError, match="malformed"):
        client.select("SELECT ?x WHERE { this is not sparql }")
    assert client.requests == 1


def test_endpoint_must_be_http() -> None:
    with pytest.raises(SparqlError, match="http"):
        SparqlClient("file:///etc/passwd")


def test_politeness_only_towards_remote_endpoints(tmp_path: Path) -> None:
    from personarec.config import load_settings

    settings = load_settings(env={"PERSONAREC_DBPEDIA__CACHE": str(tmp_path / "c.sqlite")})
    public = SparqlClient.from_settings(settings)
    assert public.endpoint == "https://dbpedia.org/sparql" and public.min_interval_s == 1.0
    assert SparqlClient.from_settings(settings, "http://127.0.0.1:8891/sparql").min_interval_s == 0.0
    assert public.cache is not None and public.cache.path == tmp_path / "c.sqlite"
