"""embed_items against the real Neo4j and the real all-MiniLM-L6-v2 (issue 3 item 5)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from personarec.cli import main
from personarec.config import Settings
from personarec.embed import DEFAULT_MODEL_ID, EmbedError, embed_items, embed_texts, nearest_items
from personarec.embed.model import encode, load_encoder, resolve_model, use_bf16
from personarec.graph import Graph

ITEMS = [
    {"id": "t:1", "kind": "film", "title": "The Shining", "year": 1980,
     "description": "A family heads to an isolated hotel where a sinister presence drives the father into "
                    "violence. A psychological horror film about ghosts and madness."},
    {"id": "t:2", "kind": "film", "title": "A Nightmare on Elm Street", "year": 1984,
     "description": "A supernatural killer stalks teenagers in their dreams; a slasher horror film."},
    {"id": "t:3", "kind": "book", "title": "The Italian Kitchen Cookbook", "year": 2010,
     "description": "Recipes for pasta, risotto and desserts: a cooking book for home chefs."},
    {"id": "t:4", "kind": "film", "title": "Toy Story", "year": 1995,
     "description": "Animated comedy about toys that come alive when children are not watching."},
]


def _seed(graph: Graph) -> None:
    graph.execute("UNWIND $rows AS r CREATE (i:Item) SET i = r, i.raw_id = split(r.id, ':')[1], i.dataset = 't'",
                  {"rows": ITEMS})
    graph.execute("MATCH (i:Item {id: 't:1'}) MERGE (e:Entity {uri: 'http://dbpedia.org/resource/Stanley_Kubrick'}) "
                  "SET e.label = 'Stanley Kubrick' MERGE (i)-[:DIRECTED_BY]->(e) "
                  "MERGE (g:Genre {name: 'Horror'}) MERGE (i)-[:HAS_GENRE]->(g)")


def test_embed_store_search_and_cache(graph: Graph, neo4j_settings: Settings) -> None:
    _seed(graph)
    first = embed_items(graph, neo4j_settings, progress=False)
    assert (first.items, first.encoded, first.unchanged, first.model) == (4, 4, 0, DEFAULT_MODEL_ID)
    row = graph.execute("MATCH (i:Item {id: 't:1'}) RETURN i.text AS text, size(i.embedding) AS dim, "
                        "i.embedding_model AS model, i.embedding_hash AS hash, "
                        "reduce(s = 0.0, x IN i.embedding | s + x * x) AS norm2")[0]
    assert row["dim"] == 384 and row["model"] == DEFAULT_MODEL_ID and len(row["hash"]) == 64
    assert abs(row["norm2"] - 1.0) < 1e-4
    assert "Directed by: Stanley Kubrick." in row["text"] and "Genres: Horror." in row["text"]

    # The vector index puts the other horror film nearest to a horror film, the cookbook far away.
    shining = graph.execute("MATCH (i:Item {id: 't:1'}) RETURN i.embedding AS v")[0]["v"]
    ranked = [r["id"] for r in nearest_items(graph, shining, k=4)]
    assert ranked[0] == "t:1" and ranked[1] == "t:2" and ranked.index("t:3") > 1
    query = embed_texts(["pasta recipes"], neo4j_settings)[0]
    assert nearest_items(graph, query, k=1)[0]["id"] == "t:3"

    # A rerun encodes nothing; a changed text re-encodes exactly that item; --force encodes all.
    again = embed_items(graph, neo4j_settings, progress=False)
    assert (again.encoded, again.unchanged) == (0, 4)
    graph.execute("MATCH (i:Item {id: 't:4'}) SET i.title = 'Toy Story 2'")
    changed = embed_items(graph, neo4j_settings, progress=False)
    assert (changed.encoded, changed.unchanged) == (1, 3)
    assert graph.execute("MATCH (i:Item {id: 't:4'}) RETURN i.text AS t")[0]["t"].startswith("Toy Story 2 (1995).")
    assert embed_items(graph, neo4j_settings, force=True, progress=False).encoded == 4


def test_dataset_filter_and_items_without_text(graph: Graph, neo4j_settings: Settings) -> None:
    _seed(graph)
    graph.execute("CREATE (:Item {id: 'u:9', raw_id: '9', dataset: 'u'}), "
                  "(:Item {id: 'u:8', raw_id: '8', dataset: 'u', title: 'Beauty Soap'})")
    summary = embed_items(graph, neo4j_settings, dataset="u", progress=False)
    assert (summary.items, summary.encoded, summary.no_text, summary.datasets) == (2, 1, 1, ["u"])
    embedded = graph.execute("MATCH (i:Item) WHERE i.embedding IS NOT NULL RETURN collect(i.id) AS ids")
    assert embedded[0]["ids"] == ["u:8"]


def test_dimension_mismatch_is_one_clear_error(graph: Graph, neo4j_settings: Settings) -> None:
    _seed(graph)
    wrong = neo4j_settings.model_copy(update={"embed": neo4j_settings.embed.model_copy(update={"dimensions": 768})})
    with pytest.raises(EmbedError, match="makes 384-d embeddings but embed.dimensions is 768"):
        embed_items(graph, wrong, progress=False)


def test_model_resolution_is_offline(tmp_path) -> None:
    assert resolve_model("all-MiniLM-L6-v2").id == DEFAULT_MODEL_ID
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2").source.endswith("model")
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(EmbedError, match="is not a folder"):
        resolve_model(str(tmp_path / "file.bin"))
    with pytest.raises(EmbedError, match="cannot load embedding model"):  # not cached, never downloaded
        load_encoder("no-such-org/no-such-model")


def test_cli_embed_items(graph: Graph, neo4j_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(graph)
    monkeypatch.setenv("NEO4J_URI", neo4j_settings.bolt_uri)
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_settings.neo4j.password.get_secret_value())
    result = CliRunner().invoke(main, ["embed", "items", "--dataset", "t", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "4 items: 4 encoded, 0 unchanged" in result.output
    result = CliRunner().invoke(main, ["embed", "search", "dream killer slasher", "-k", "1", "--json"])
    assert result.exit_code == 0 and '"t:2"' in result.output
    bad = CliRunner().invoke(main, ["embed", "items", "--model", "no-such-org/no-such-model"])
    assert bad.exit_code == 1 and bad.output.startswith("error: cannot load embedding model")


def test_bf16_encoding_matches_fp32_and_is_unit_length() -> None:
    _, model = load_encoder(DEFAULT_MODEL_ID)
    texts = ["The Shining (1980). A film. Genres: Horror. Directed by: Stanley Kubrick.",
             "A cookbook of pasta recipes from Bologna, with notes on flour and eggs. " * 12, "Toy Story"]
    fp32, bf16 = encode(model, texts, "fp32"), encode(model, texts, "bf16")
    assert fp32.dtype == bf16.dtype == np.float32 and fp32.shape == bf16.shape == (3, 384)
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    assert (fp32 * bf16).sum(1).min() > 0.999
    assert use_bf16("fp32", "cpu") is False and use_bf16("bf16", "cpu") is True
    assert use_bf16("auto", "cuda:0") is False
    with pytest.raises(EmbedError, match="unknown embedding precision"):
        use_bf16("fp16", "cpu")
