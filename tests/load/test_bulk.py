"""The bulk path (personarec.load.bulk): neo4j-admin import into a managed server's empty database
gives exactly the graph the online loader gives, hostile strings included. Real Neo4j, no mocks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from personarec.config import Settings, load_settings
from personarec.db import counts
from personarec.graph import Graph, connect
from personarec.load import load_dataset
from personarec.load.bulk import BulkError, bulk_load
from personarec.server.process import free_port

PASSWORD = "personarec-bulk-pw"
HOSTILE = 'He said "hi", then \\ MATCH (n) DETACH DELETE n; // \'quoted\', comma, end'


def _write_amazon_2018(folder: Path) -> list[Path]:
    """Reviews and metadata in the Amazon 2018 format (Ni et al. 2019 schema)."""
    folder.mkdir(parents=True, exist_ok=True)
    reviews = []
    for u in range(6):
        for k, item in enumerate(["B01", "B02", "B03", "B04", "B05"][: 3 + u % 3]):
            reviews.append({"overall": float(1 + (u + k) % 5), "verified": True, "reviewerID": f"U{u}",
                            "asin": item, "reviewText": "ok", "summary": "fine",
                            "unixReviewTime": 1_400_000_000 + 86_400 * (k if u % 2 else 4 - k)})
    meta = [
        {"asin": "B01", "title": HOSTILE, "category": ["Movies & TV", "Horror"], "brand": "Acme, Inc.",
         "description": ["Line one.", "Line \"two\" with, commas"], "also_buy": ["B02", "B99"],
         "also_view": ["B03"], "main_cat": "Movies & TV", "date": "March 3, 1999"},
        {"asin": "B02", "title": "Plain", "category": ["Movies & TV"], "also_buy": ["B01"]},
        {"asin": "B77", "title": "Never reviewed"},  # metadata of an item without reviews: skipped
    ]
    r = folder / "Movies_and_TV_5.json"
    m = folder / "meta_Movies_and_TV.json"
    r.write_text("".join(json.dumps(x) + "\n" for x in reviews))
    m.write_text("".join(json.dumps(x) + "\n" for x in meta))
    return [r, m]


@pytest.fixture
def bulk_settings(tmp_path: Path) -> Settings:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "PERSONAREC_"))}
    env.update({"PERSONAREC_SERVER__HOME": str(tmp_path / "home"), "PERSONAREC_SERVER__BOLT_PORT": str(free_port()),
                "PERSONAREC_SERVER__HTTP_PORT": str(free_port()), "NEO4J_PASSWORD": PASSWORD})
    return load_settings(env=env)


def _item(graph: Graph, item_id: str) -> dict:
    return graph.execute("MATCH (i:Item {id: $id}) RETURN properties(i) AS p", {"id": item_id})[0]["p"]


def test_bulk_equals_online_load(graph: Graph, neo4j_settings: Settings, bulk_settings: Settings,
                                 tmp_path: Path) -> None:
    from personarec.server import ManagedNeo4j

    paths = _write_amazon_2018(tmp_path / "src")
    online = load_dataset(graph, neo4j_settings, "amazon", paths, "bulk-t", progress=False)
    expected = counts(graph)
    bulk = bulk_load(bulk_settings, "amazon", paths, "bulk-t", keep_running=True, progress=False)
    server = ManagedNeo4j(bulk_settings.server, password=PASSWORD)
    try:
        with connect(bulk_settings) as g2:
            assert counts(g2) == expected
            assert bulk.fingerprint == online.fingerprint and bulk.interactions == online.interactions == 24
            assert _item(g2, "bulk-t:B01") == _item(graph, "bulk-t:B01")
            assert _item(g2, "bulk-t:B01")["title"] == HOSTILE
            assert "\n" in _item(g2, "bulk-t:B01")["description"]
            q = ("MATCH (u:User)-[r:INTERACTED]->(i:Item) RETURN u.id AS u, i.id AS i, r.seq AS seq, r.split AS split, "
                 "r.rating AS rating, r.ts AS ts ORDER BY u, seq")
            assert g2.execute(q) == graph.execute(q)
            ds = g2.execute("MATCH (d:Dataset {name: 'bulk-t'}) RETURN d.status AS s, d.fingerprint AS f, d.users AS u")
            assert ds == [{"s": "loaded", "f": online.fingerprint, "u": 6}]
            indexes = {r["name"] for r in g2.read("admin/indexes.cypher")}
            assert {"item_id", "user_id", "item_embedding"} <= indexes
        # A second bulk load into the now non-empty database is refused with one clear sentence.
        with pytest.raises(BulkError, match="needs an empty database"):
            bulk_load(bulk_settings, "amazon", paths, "bulk-t", progress=False)
        assert server.running()
    finally:
        server.stop()


def test_bulk_refuses_a_remote_server(neo4j_settings: Settings, tmp_path: Path) -> None:
    remote = neo4j_settings.model_copy(update={"neo4j": neo4j_settings.neo4j.model_copy(
        update={"uri": "neo4j+s://example.invalid:7687"})})
    with pytest.raises(BulkError, match="managed local server"):
        bulk_load(remote, "amazon", [tmp_path], progress=False)
