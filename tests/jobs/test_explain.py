""""Why this item" (personarec.jobs.explain, ``personarec why`` and cypher/browser/why_this_item.cypher)
on a small planted graph in the real Neo4j.

The graph: every item has the broad genre "Drama" (14 items); only Alpha and the target share the
director Jane Director; Beta is linked to the target by CO_INTERACTED {weight: 3}. User ``u`` took Alpha,
Beta, Gamma and Filler 0 in train (in that order). Of ``u``'s three nearest personas, n1 and n2 took
the target in train and n3 only in test; four far users took it too but are no neighbours. ``p`` has no
persona.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from personarec.cli import main
from personarec.config import Settings
from personarec.graph import Graph
from personarec.graph.cypher import statement
from personarec.jobs.explain import ExplainError, explain_item, qualify, specificity

DS = "why"
DIMS = 64

PLANT = """
UNWIND $items AS it
CREATE (i:Item {id: $ds + ':' + it.raw, raw_id: it.raw, dataset: $ds, kind: 'film', title: it.title})
MERGE (g:Genre {name: 'Drama'})
CREATE (i)-[:HAS_GENRE]->(g)
WITH count(*) AS ignored
MATCH (a:Item {id: $ds + ':a'}), (t:Item {id: $ds + ':t'}), (b:Item {id: $ds + ':b'}), (c:Item {id: $ds + ':c'}),
      (f1:Item {id: $ds + ':f1'})
CREATE (d1:Entity {uri: 'http://dbpedia.org/resource/Jane_Director', label: 'Jane Director'}),
       (d2:Entity {uri: 'http://dbpedia.org/resource/Other_Director'})
CREATE (a)-[:DIRECTED_BY]->(d1), (t)-[:DIRECTED_BY]->(d1), (c)-[:DIRECTED_BY]->(d2), (f1)-[:DIRECTED_BY]->(d2),
       (b)-[:CO_INTERACTED {weight: 3}]->(t)
WITH count(*) AS ignored
UNWIND $users AS us
CREATE (u:User {id: $ds + ':' + us.raw, raw_id: us.raw, dataset: $ds})
SET u.persona = us.persona
WITH u, us
UNWIND range(0, size(us.items) - 1) AS pos
MATCH (i:Item {id: $ds + ':' + us.items[pos]})
CREATE (u)-[:INTERACTED {rating: 4.0, ts: 1000 + pos, seq: pos, split: us.splits[pos]}]->(i)
"""


@pytest.fixture
def planted(graph: Graph) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    base = rng.standard_normal(DIMS)

    def near() -> list[float]:
        return (base + 0.05 * rng.standard_normal(DIMS)).tolist()

    def far() -> list[float]:
        return (-base + 0.05 * rng.standard_normal(DIMS)).tolist()

    items = ([{"raw": "t", "title": "Target"}, {"raw": "a", "title": "Alpha"}, {"raw": "b", "title": "Beta"},
              {"raw": "c", "title": "Gamma"}] + [{"raw": f"f{n}", "title": f"Filler {n}"} for n in range(10)])
    users = [{"raw": "u", "persona": near(), "items": ["a", "b", "c", "f0", "f2", "f3"],
              "splits": ["train"] * 4 + ["valid", "test"]},
             {"raw": "n1", "persona": near(), "items": ["t", "f4"], "splits": ["train", "train"]},
             {"raw": "n2", "persona": near(), "items": ["f5", "t"], "splits": ["train", "train"]},
             {"raw": "n3", "persona": near(), "items": ["f5", "t"], "splits": ["train", "test"]},
             {"raw": "p", "persona": None, "items": ["a", "f6"], "splits": ["train", "train"]}]
    users += [{"raw": f"x{n}", "persona": far(), "items": ["t"], "splits": ["train"]} for n in range(4)]
    graph.execute(PLANT, {"ds": DS, "items": items, "users": users})
    graph.execute("CREATE (:RecommendationRun {id: 'r1', dataset: $ds}), (:RecommendationRun {id: 'r2', dataset: $ds}) "
                  "WITH 1 AS one MATCH (u:User {id: 'why:u'}), (t:Item {id: 'why:t'}) "
                  "CREATE (u)-[:RECOMMENDED {run: 'r1', rank: 2, score: 0.75}]->(t)", {"ds": DS})
    return {"users": users}


def test_paths_are_real_and_ranked_by_specificity(graph: Graph, planted: dict[str, Any]) -> None:
    res = explain_item(graph, "why:u", "why:t", k=3, limit=20)
    kinds = [(p.kind, p.via, p.title, p.shared) for p in res.paths]
    # the specific director first, then the strong co-interaction link, then the two neighbours, and the
    # broad genre, reached from each of the four recent train items, last
    assert kinds[:2] == [("entity", "DIRECTED_BY", "Alpha", "Jane Director"), ("link", "CO_INTERACTED", "Beta", None)]
    assert {k[3] for k in kinds[2:4]} == {"why:n1", "why:n2"} and all(k[0] == "neighbour" for k in kinds[2:4])
    assert kinds[4:] == [("feature", "HAS_GENRE", t, "Drama") for t in ("Filler 0", "Gamma", "Beta", "Alpha")]
    assert res.total_paths == 8 and res.recent_looked == 4 and res.neighbours_looked == 3
    assert res.neighbours_took == ["why:n1", "why:n2"]  # n3 took it in test only; far users are no neighbours
    director, link, genre = res.paths[0], res.paths[1], res.paths[-1]
    assert director.degree == 2 and director.score == pytest.approx(1 / math.log(3))
    assert genre.degree == 14 and genre.score == pytest.approx(1 / math.log(15)) and director.score > genre.score
    assert link.weight == 3 and link.score == pytest.approx(0.75)
    assert res.paths[2].score == pytest.approx(0.5 * res.paths[2].weight) and 0.9 < res.paths[2].weight <= 1.0
    assert director.path == ("why:u -[INTERACTED]-> Alpha -[DIRECTED_BY]-> Jane Director (Entity, 2 items) "
                             "<-[DIRECTED_BY]- Target")
    # items in the order of their best path; Filler 0 before Gamma and Alpha on genre: ties go to the latest
    assert res.summary == ("Recommended because you watched Alpha (same director: Jane Director; same genre: Drama), "
                           "Beta (next to it in 3 train histories; same genre: Drama), Filler 0 (same genre: Drama) "
                           "and 1 more of your recent items, and 2 of your 3 persona neighbours took it.")
    assert res.run is None and res.taken == []
    top = explain_item(graph, "why:u", "why:t", k=3, limit=3)
    assert [p.as_dict() for p in top.paths] == [p.as_dict() for p in res.paths[:3]] and top.total_paths == 8


def test_recent_window_takes_the_latest_train_items(graph: Graph, planted: dict[str, Any]) -> None:
    res = explain_item(graph, "why:u", "why:t", recent=2, k=3)
    assert res.recent_looked == 2
    assert {p.title for p in res.paths if p.kind != "neighbour"} == {"Filler 0", "Gamma"}  # seq 3 and 2
    assert all(p.via == "HAS_GENRE" for p in res.paths if p.kind != "neighbour")


def test_run_placement(graph: Graph, planted: dict[str, Any]) -> None:
    placed = explain_item(graph, "why:u", "why:t", k=3, run="r1").run
    assert placed is not None and (placed.recommended, placed.rank, placed.score) == (True, 2, 0.75)
    missing = explain_item(graph, "why:u", "why:t", k=3, run="r2").run
    assert missing is not None and (missing.recommended, missing.rank) == (False, None)
    with pytest.raises(ExplainError, match="there is no recommendation run 'nope'"):
        explain_item(graph, "why:u", "why:t", run="nope")


def test_user_without_persona_and_item_already_taken(graph: Graph, planted: dict[str, Any]) -> None:
    res = explain_item(graph, "why:p", "why:t")
    assert not res.has_persona and res.neighbours_looked == 0 and res.neighbours_took == []
    assert all(p.kind != "neighbour" for p in res.paths) and res.paths[0].shared == "Jane Director"
    assert "why:p has no persona yet, so persona neighbours are not part of this explanation" in res.summary
    taken = explain_item(graph, "why:n1", "why:t", k=3)
    assert taken.taken == ["train"] and "Note: you already took it (train)." in taken.summary
    assert all(p.item != "why:t" for p in taken.paths)  # the item itself is no path to itself
    graph.execute("CREATE (:Item {id: 'why:lone', dataset: 'why', kind: 'film', title: 'Lone'})")
    nothing = explain_item(graph, "why:x0", "why:lone", k=2)
    assert nothing.paths == [] and nothing.summary == ("None of your 1 most recent train items links to Lone in the "
                                                       "knowledge graph; none of your 2 persona neighbours took it.")


def test_unknown_user_item_and_bad_arguments(graph: Graph, planted: dict[str, Any]) -> None:
    with pytest.raises(ExplainError, match=r"^user why:ghost is not in the graph\.$"):
        explain_item(graph, "why:ghost", "why:t")
    with pytest.raises(ExplainError, match=r"^item why:nothing is not in the graph\.$"):
        explain_item(graph, "why:u", "why:nothing")
    graph.execute("CREATE (:Item {id: 'other:t', dataset: 'other'})")
    with pytest.raises(ExplainError, match="is of dataset why but item other:t is of dataset other"):
        explain_item(graph, "why:u", "other:t")
    with pytest.raises(ExplainError, match="limit must be at least 1"):
        explain_item(graph, "why:u", "why:t", limit=0)


def test_helpers() -> None:
    assert qualify("u", "why") == "why:u" and qualify("why:u", "why") == "why:u" and qualify("x:u", None) == "x:u"
    assert specificity(2) > specificity(14) > specificity(1000) and specificity(None) == specificity(2)


def test_browser_query_draws_the_paths(graph: Graph, planted: dict[str, Any]) -> None:
    paths = [rec["p"] for rec in graph.stream(statement("browser/why_this_item.cypher"),
                                              {"user": "why:u", "item": "why:t"})]
    assert paths
    shapes = set()
    for p in paths:
        assert p.end_node["id"] == "why:t" or p.nodes[-1]["id"] == "why:t"
        shapes.add((p.start_node["id"], tuple(r.type for r in p.relationships),
                    tuple(n.get("title") or n.get("label") or n.get("name") for n in p.nodes[1:-1])))
    assert ("why:u", ("INTERACTED", "DIRECTED_BY", "DIRECTED_BY"), ("Alpha", "Jane Director")) in shapes
    assert ("why:u", ("INTERACTED", "CO_INTERACTED"), ("Beta",)) in shapes
    assert ("why:u", ("INTERACTED", "HAS_GENRE", "HAS_GENRE"), ("Gamma", "Drama")) in shapes
    neighbours = {s[0] for s in shapes if s[1] == ("INTERACTED",)}
    assert {"why:n1", "why:n2"} <= neighbours and not neighbours & {"why:n3", "why:u"}
    assert max(len(p.relationships) for p in paths) == 3  # no fan-out beyond user -> item -> shared -> item
    none = list(graph.stream(statement("browser/why_this_item.cypher"), {"user": "why:p", "item": "why:t"}))
    assert none and all(rec["p"].start_node["id"] == "why:p" for rec in none)  # no persona: no neighbour paths


@pytest.fixture
def cli_env(neo4j_settings: Settings, graph: Graph) -> dict[str, str]:
    assert neo4j_settings.neo4j.password is not None
    return {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value()}


def test_why_cli_end_to_end(cli_env: dict[str, str], planted: dict[str, Any]) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["why", "u", "t", "--dataset", DS, "-k", "3", "--run", "r1", "--limit", "3"],
                        env=cli_env)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "why:u -> why:t (Target)"
    assert lines[1].startswith("Recommended because you watched Alpha (same director: Jane Director")
    assert lines[2] == "run r1: rank 2, score 0.75"
    assert lines[3] == "looked at: 4 most recent train items (at most 20), 3 persona neighbours; 8 paths, top 3:"
    assert "DIRECTED_BY" in lines[6] and lines[-1] == "(3 rows)"
    out = json.loads(runner.invoke(main, ["why", "why:u", "why:t", "-k", "3", "--run", "r2", "--json"],
                                   env=cli_env).output)
    assert out["run"] == {"run": "r2", "recommended": False, "rank": None, "score": None}
    assert out["total_paths"] == 8 and out["paths"][0]["shared"] == "Jane Director"
    res = runner.invoke(main, ["why", "u", "t", "--dataset", DS, "--run", "r2"], env=cli_env)
    assert res.exit_code == 0 and "run r2: not recommended to why:u" in res.output
    res = runner.invoke(main, ["why", "p", "t", "--dataset", DS], env=cli_env)
    assert res.exit_code == 0 and "no persona neighbours (no persona)" in res.output
    for args, message in ((["ghost", "t"], "error: user why:ghost is not in the graph.\n"),
                          (["u", "nothing"], "error: item why:nothing is not in the graph.\n")):
        bad = runner.invoke(main, ["why", *args, "--dataset", DS], env=cli_env)
        assert bad.exit_code == 1 and bad.output == message
    bad = runner.invoke(main, ["why", "u", "t", "--dataset", "nosuch"], env=cli_env)
    assert bad.exit_code == 2 and "'nosuch' is not in the graph" in bad.output
    bad = runner.invoke(main, ["why", "u", "t", "--dataset", DS, "--limit", "0"], env=cli_env)
    assert bad.exit_code == 2
    # `recommend` itself still parses as before
    assert runner.invoke(main, ["recommend", "--list", "--json"], env=cli_env).exit_code == 0
