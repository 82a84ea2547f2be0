"""The SPARQL client against a real Virtuoso: escaping, cache, retries, clear errors."""

from __future__ import annotations

import json
import time
from email.utils import formatdate
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



# ------------------------------------------------------- faulty endpoints (a real local HTTP server, conftest.py)
QUERY = "SELECT ?x WHERE { BIND (1 AS ?x) }"
OVERLOADED = json.dumps({"error": "server overloaded"})
OK_PREFIX_TRUNCATED = '{"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "literal", "val'


def test_error_body_is_an_error_never_cached(fake_sparql, tmp_path: Path) -> None:
    fake_sparql.script = [{"body": OVERLOADED}]
    cache = tmp_path / "cache.sqlite"
    with SparqlClient(fake_sparql.url, cache, retries=1, backoff_s=0.01, min_interval_s=0) as client:
        with pytest.raises(SparqlError, match="server overloaded") as err:
            client.select(QUERY)
        assert "\n" not in str(err.value) and client.requests == 2  # retried: overload is transient
        assert len(client.cache) == 0  # type: ignore[arg-type]
    fake_sparql.script = [{}]  # the endpoint recovers: the rerun asks it again
    with SparqlClient(fake_sparql.url, cache, retries=1, backoff_s=0.01, min_interval_s=0) as rerun:
        assert rerun.select(QUERY) == [{"x": "1"}]
        assert (rerun.requests, rerun.cache_hits) == (1, 0)


def test_a_cached_error_answer_is_asked_again(fake_sparql, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    with SparqlClient(fake_sparql.url, cache, min_interval_s=0) as client:
        client.cache.put(fake_sparql.url, QUERY, {"error": "server overloaded"})  # type: ignore[union-attr]
        assert client.select(QUERY) == [{"x": "1"}]  # an old cache poisoned before the fix heals itself
        assert (client.requests, client.cache_hits) == (1, 0)
        assert client.cache.get(fake_sparql.url, QUERY)["results"]["bindings"]  # type: ignore[union-attr,index]


@pytest.mark.parametrize("answer, reason", [
    ({"body": OK_PREFIX_TRUNCATED}, "truncated or malformed JSON"),
    ({"body": "<html><body>Service Temporarily Unavailable</body></html>", "content_type": "text/html"},
     "not JSON"),
    ({"body": json.dumps({"head": {"vars": ["x"]}})}, "no results"),
    ({"body": "[]"}, "not a JSON object"),
    ({"body": json.dumps({"results": {"bindings": [{"x": "1"}]}})}, "malformed bindings"),
])
def test_malformed_answers_are_one_clear_error(fake_sparql, tmp_path: Path, answer: dict, reason: str) -> None:
    fake_sparql.script = [answer]
    with SparqlClient(fake_sparql.url, tmp_path / "c.sqlite", retries=1, backoff_s=0.01, min_interval_s=0) as client:
        with pytest.raises(SparqlError, match=reason) as err:
            client.select(QUERY)
        assert "\n" not in str(err.value) and fake_sparql.url in str(err.value)
        assert len(client.cache) == 0  # type: ignore[arg-type]


def test_an_ask_answer_is_valid(fake_sparql) -> None:
    fake_sparql.script = [{"body": json.dumps({"head": {}, "boolean": True})}]
    assert SparqlClient(fake_sparql.url, None, min_interval_s=0).select_json("ASK {}")["boolean"] is True


def test_retry_after_seconds_is_honoured(fake_sparql) -> None:
    fake_sparql.script = [{"status": 429, "headers": {"Retry-After": "1"}, "body": "slow down"}, {}]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    client = SparqlClient(fake_sparql.url, None, retries=3, backoff_s=0.01, min_interval_s=0, sleep=sleep)
    t0 = time.monotonic()
    assert client.select(QUERY) == [{"x": "1"}]
    assert waits == [1.0] and time.monotonic() - t0 >= 1.0  # not the 0.01 s backoff
    assert fake_sparql.requests == 2


def test_retry_after_http_date_is_honoured(fake_sparql) -> None:
    when = formatdate(time.time() + 2, usegmt=True)
    fake_sparql.script = [{"status": 503, "headers": {"Retry-After": when}, "body": "busy"}, {}]
    waits: list[float] = []
    client = SparqlClient(fake_sparql.url, None, retries=3, backoff_s=0.01, min_interval_s=0, sleep=waits.append)
    assert client.select(QUERY) == [{"x": "1"}]
    assert len(waits) == 1 and 0.9 <= waits[0] <= 2.1  # the date has whole seconds


def test_retry_after_beyond_the_budget_gives_up_at_once(fake_sparql) -> None:
    fake_sparql.script = [{"status": 429, "headers": {"Retry-After": "3600"}, "body": "come back later"}]
    waits: list[float] = []
    client = SparqlClient(fake_sparql.url, None, retries=3, min_interval_s=0, total_timeout_s=30, sleep=waits.append)
    with pytest.raises(SparqlError, match=r"asked to wait 3600 s") as err:
        client.select(QUERY)
    assert waits == [] and fake_sparql.requests == 1 and "\n" not in str(err.value)


def test_hanging_endpoint_gives_up_within_the_budget(fake_sparql) -> None:
    fake_sparql.script = [{"delay_s": 60}]
    client = SparqlClient(fake_sparql.url, None, timeout_s=1, retries=4, backoff_s=0.2, min_interval_s=0,
                          total_timeout_s=2.5)
    t0 = time.monotonic()
    with pytest.raises(SparqlError, match=r"not answering .* within the 2\.5 s budget") as err:
        client.select(QUERY)
    assert time.monotonic() - t0 < 4.0  # retries x timeout alone would be 5 s (and 333 s with the defaults)
    assert "\n" not in str(err.value)


def test_total_budget_comes_from_settings(tmp_path: Path) -> None:
    from personarec.config import load_settings

    settings = load_settings(env={"PERSONAREC_DBPEDIA__CACHE": str(tmp_path / "c.sqlite"),
                                  "PERSONAREC_DBPEDIA__TOTAL_TIMEOUT_S": "42"})
    assert SparqlClient.from_settings(settings).total_timeout_s == 42.0
