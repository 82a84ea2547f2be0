"""The managed Virtuoso mirror: start, idempotent load, prefixes, free-text index, clean stop."""

from __future__ import annotations

import gzip
import json
import socket
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from personarec.errors import ServerError
from personarec.server.process import free_port
from personarec.server.virtuoso import ManagedVirtuoso

pytestmark = [pytest.mark.sparql,  # starts its own Virtuoso
              pytest.mark.skipif(not ManagedVirtuoso.available(), reason="virtuoso-t / isql-vt not installed")]

TRIPLES = """<http://dbpedia.org/resource/Heat_(1995_film)> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://dbpedia.org/ontology/Film> .
<http://dbpedia.org/resource/Heat_(1995_film)> <http://www.w3.org/2000/01/rdf-schema#label> "Heat (1995 film)"@en .
<http://dbpedia.org/resource/Heat_(1995_film)> <http://dbpedia.org/ontology/director> <http://dbpedia.org/resource/Michael_Mann> .
<http://dbpedia.org/resource/Michael_Mann> <http://www.w3.org/2000/01/rdf-schema#label> "Michael Mann"@en .
"""


def _ask(endpoint: str, query: str) -> list[dict]:
    data = urllib.parse.urlencode({"query": query, "format": "application/sparql-results+json"}).encode()
    with urllib.request.urlopen(endpoint, data=data, timeout=30) as resp:
        return json.loads(resp.read())["results"]["bindings"]


def test_start_load_twice_query_stop(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with gzip.open(data / "heat.nt.gz", "wt") as fh:
        fh.write(TRIPLES)
    server = ManagedVirtuoso(tmp_path / "home", free_port(), free_port(), start_timeout_s=60)
    try:
        assert server.start(load=data) is True
        assert server.start() is False  # already running: harmless
        assert server.triples() == 4
        assert server.load(data) == [str(data / "heat.nt.gz")]
        assert server.triples() == 4  # loading again duplicates nothing
        # dbo:/dbr: declared on the server, free-text index on literals (bif:contains as on dbpedia.org)
        rows = _ask(server.endpoint, 'SELECT ?f WHERE { ?f rdfs:label ?l . ?l bif:contains \'"heat"\' . '
                                     "?f a dbo:Film ; dbo:director dbr:Michael_Mann }")
        assert [r["f"]["value"] for r in rows] == ["http://dbpedia.org/resource/Heat_(1995_film)"]
        st = server.status()
        assert st.running and st.triples == 4 and st.loaded_files == [str(data / "heat.nt.gz")]
        assert (server.home / "virtuoso.ini").read_text().count("127.0.0.1:") == 2
    finally:
        assert server.stop() is True
    assert server.stop() is False
    assert not server.running() and not server.pid_file.exists()
    # A restart keeps the data.
    try:
        server.start()
        assert server.triples() == 4
    finally:
        server.stop()


def test_port_in_use_and_bad_folder(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        server = ManagedVirtuoso(tmp_path / "home", busy.getsockname()[1], free_port())
        with pytest.raises(ServerError, match="already in use"):
            server.start()
    with pytest.raises(ServerError, match="no \\*.nt.gz"):
        server.start(load=tmp_path)
    with pytest.raises(ServerError, match="not running"):
        server.isql("SELECT 1;")
