"""The Neo4j Browser persona guide (``cypher/browser/``) run through the driver on the planted graph of
``conftest.py``: each file is a titled single statement, the ``:param`` file sets integer parameters, the
graph views stay small (explicit paths, no CO_INTERACTED fan-out), the tables read well, and every LIMIT
survives ``k`` as a float (what ``:params {k: 10}`` stores)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from personarec.graph import Graph
from personarec.graph.cypher import cypher_dir, statement


def test_files_are_titled_single_statements() -> None:
    folder = cypher_dir() / "browser"
    names = sorted(p.name for p in folder.glob("*.cypher"))
    assert names == ["personas_1_set_params.cypher", "personas_2_neighbourhood.cypher",
                     "personas_3_attention.cypher", "personas_4_similar.cypher", "why_this_item.cypher"]
    for name in names:
        first = (folder / name).read_text().splitlines()[0]
        assert re.fullmatch(r"// personas [1-5]: .+", first), f"{name}: first line is not a title: {first}"
        if name != "personas_1_set_params.cypher":
            assert "LIMIT $" not in statement(f"browser/{name}"), f"{name}: a LIMIT without toInteger()"
    lines = (folder / "personas_1_set_params.cypher").read_text().splitlines()[1:]
    assert lines and all(re.fullmatch(r":param \w+ => .+;", line) for line in lines), lines


def test_grass_is_pure_grass() -> None:
    """No comment (the Browser glues it onto the first selector and :style rejects it); every rule is
    ``selector { property: value; ... }``."""
    text = (cypher_dir() / "browser" / "personas.grass").read_text()
    assert "/*" not in text and "//" not in text
    rule = r'([\w.]+)\s*\{((?:"[^"]*"|[^}"])*)\}'  # a caption like "{title}" holds braces
    rules = re.findall(rule, text)
    assert rules[0][0] == "node" and rules[1][0] == "relationship"
    assert re.sub(rule, "", text).strip() == ""
    for _, body in rules:
        for decl in filter(None, (d.strip() for d in body.split(";"))):
            assert re.fullmatch(r"[\w-]+:\s*\S.*", decl), decl
    assert "node.User" in dict(rules) and "node.Item" in dict(rules)


def test_set_params_gives_integers(graph: Graph, guide: dict[str, Any]) -> None:
    assert guide["params"](graph) == {"user": "ml-100k:1", "item": "ml-100k:50", "k": 5}
    assert isinstance(guide["params"](graph)["k"], int)


def test_neighbourhood_draws_user_neighbours_items_and_genres(graph: Graph, guide: dict[str, Any],
                                                              guide_graph: dict[str, Any]) -> None:
    params = guide["params"](graph)
    paths = [rec["p"] for rec in graph.stream(statement("browser/personas_2_neighbourhood.cypher"), params)]
    users = {n["id"] for p in paths for n in p.nodes if "User" in n.labels}
    items = {n["id"] for p in paths for n in p.nodes if "Item" in n.labels}
    genres = {n["name"] for p in paths for n in p.nodes if "Genre" in n.labels}
    assert users == {"ml-100k:1", *guide_graph["neighbours"]}
    # own train items first (1, 2, 4, 7 are user 1's; the neighbours took all four), then the most popular
    assert items == {"ml-100k:1", "ml-100k:2", "ml-100k:4", "ml-100k:7", "ml-100k:50"}
    assert len(genres) == 3 and genres <= {"Action", "Comedy", "Sci-Fi", "Animation", "Thriller", "Drama"}
    assert {r.type for p in paths for r in p.relationships} == {"INTERACTED", "HAS_GENRE"}
    assert all(r["split"] == "train" for p in paths for r in p.relationships if r.type == "INTERACTED")
    # readable at a glance, even with "Connect result nodes" (it adds the 2 CO_INTERACTED and 2 test links)
    assert guide["drawn"](graph, "personas_2_neighbourhood.cypher", params) == (14, 22, 26)


def test_attention_table(graph: Graph, guide: dict[str, Any], guide_graph: dict[str, Any]) -> None:
    rows = graph.execute(statement("browser/personas_3_attention.cypher"), guide["params"](graph), read=True)
    assert [(r["metapath"], r["beta"]) for r in rows] == [("U-I-Genre-I-U", 0.6), ("U-I-U", 0.25),
                                                          ("U-I-I-U", 0.15)]
    assert [len(r["share"]) for r in rows] == [12, 5, 3]
    assert {(r["run"], r["epochs"], r["loss_first"], r["loss_last"], r["loss_min"]) for r in rows} == {
        ("v1 HDGI", 4, 1.3863, 0.5234, 0.512)}


def test_similar_table_has_readable_scores(graph: Graph, guide: dict[str, Any],
                                           guide_graph: dict[str, Any]) -> None:
    params = guide["params"](graph)
    rows = graph.execute(statement("browser/personas_4_similar.cypher"), params, read=True)
    index = graph.execute(statement("queries/persona_similar.cypher"), {"id": params["user"], "k": params["k"]},
                          read=True)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["user"] for r in rows] == [r["user"] for r in index] == guide_graph["neighbours"]
    for row, hit in zip(rows, index, strict=True):
        assert row["cosine"] == pytest.approx(2 * hit["score"] - 1, abs=5e-4)
        assert row["cosine"] == round(row["cosine"], 3) and row["z"] > 0  # closer than the average user
    assert [r["shared"] for r in rows] == [2, 2, 2, 1, 1]


@pytest.mark.parametrize("k", [3, 3.0])
def test_limits_accept_a_float_k(graph: Graph, guide: dict[str, Any], guide_graph: dict[str, Any],
                                 k: float) -> None:
    """``:params {k: 3}`` stores 3.0; ``LIMIT 3.0`` is an error, ``LIMIT toInteger($k)`` is not."""
    params = {**guide["params"](graph), "k": k}
    assert len(graph.execute(statement("browser/personas_4_similar.cypher"), params, read=True)) == 3
    users = {n["id"] for rec in graph.stream(statement("browser/personas_2_neighbourhood.cypher"), params)
             for n in rec["p"].nodes if "User" in n.labels}
    assert len(users) == 4
    paths = list(graph.stream(statement("queries/persona_explain_paths.cypher"),
                              {"a": "ml-100k:1", "b": "ml-100k:2", "limit": float(k)}))
    assert len(paths) == 3


def test_explain_paths_are_few_and_skip_item_links(graph: Graph, guide_graph: dict[str, Any]) -> None:
    paths = [rec["p"] for rec in graph.stream(statement("queries/persona_explain_paths.cypher"),
                                              {"a": "ml-100k:1", "b": "ml-100k:2", "limit": 25})]
    shared = {p.nodes[1]["id"] for p in paths if len(p.relationships) == 2}
    assert shared == {"ml-100k:1", "ml-100k:2"}
    features = [p.nodes[2]["name"] for p in paths if len(p.relationships) == 4]
    assert 0 < len(features) <= 5 and len(set(features)) == len(features)
    assert "CO_INTERACTED" not in {r.type for p in paths for r in p.relationships}


def test_why_this_item_with_the_guide_params(graph: Graph, guide: dict[str, Any],
                                             guide_graph: dict[str, Any]) -> None:
    params = guide["params"](graph)
    paths = [rec["p"] for rec in graph.stream(statement("browser/why_this_item.cypher"), params)]
    assert paths and all(p.end_node["id"] == "ml-100k:50" for p in paths)
    # neighbours 2, 3, 4 took Star Wars in train (5 only in test)
    assert {p.start_node["id"] for p in paths if len(p.relationships) == 1} == {"ml-100k:2", "ml-100k:3",
                                                                                  "ml-100k:4"}
