"""A small persona graph for the Neo4j Browser guide (``cypher/browser/personas_*.cypher``).

Ids follow the guide's defaults (``personas_1_set_params.cypher``: user ``ml-100k:1``, item ``ml-100k:50``,
k 5), so the guide runs unchanged. Users 2-6 have personas close to user 1's (closest first), users 7-12
point the other way; the personas and the PersonaRun are written with the statements ``personarec personas
train`` writes them with (``load/persona_users.cypher`` is not needed: only the properties matter, and the
run node comes from ``load/persona_run.cypher``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from personarec.graph import Graph
from personarec.graph.cypher import cypher_dir, statement

DS = "ml-100k"
DIMS = 64
RUN = {"id": "run-guide", "version": 1, "model": "HDGI", "learner": "hdgi", "dataset": DS,
       "config": json.dumps({"epochs": 4}), "loss_curve": [1.3863, 0.9012, 0.5120, 0.5234],
       "metapaths": ["U-I-U", "U-I-Genre-I-U", "U-I-I-U"], "attention": [0.25, 0.6, 0.15],
       "users": 12, "epochs": 4, "best_loss": 0.512, "model_key": "hdgi/run-guide.pt", "model_sha256": "0" * 64}
ITEMS = {"1": ("Toy Story (1995)", ["Animation", "Comedy"]), "2": ("GoldenEye (1995)", ["Action", "Thriller"]),
         "3": ("Four Rooms (1995)", ["Thriller"]), "4": ("Get Shorty (1995)", ["Action", "Comedy"]),
         "5": ("Copycat (1995)", ["Thriller", "Drama"]), "6": ("Shanghai Triad (1995)", ["Drama"]),
         "7": ("Twelve Monkeys (1995)", ["Sci-Fi", "Drama"]), "8": ("Babe (1995)", ["Comedy"]),
         "9": ("Dead Man Walking (1995)", ["Drama"]), "50": ("Star Wars (1977)", ["Action", "Sci-Fi"])}
#: user -> (train items, test items)
TAKES = {"1": (["1", "2", "4", "7"], ["5"]),
         "2": (["1", "2", "50", "8"], []), "3": (["1", "4", "50"], ["2"]), "4": (["2", "7", "50", "9"], []),
         "5": (["1", "8"], ["50"]), "6": (["4", "6"], []),
         **{str(u): (["3", "5", "6", "9"], ["8"]) for u in range(7, 13)}}
PLANT = """
UNWIND $items AS it
CREATE (i:Item {id: $ds + ':' + it.raw, raw_id: it.raw, dataset: $ds, kind: 'film', title: it.title})
WITH i, it
UNWIND it.genres AS name
MERGE (g:Genre {name: name})
CREATE (i)-[:HAS_GENRE]->(g)
WITH count(*) AS ignored
MATCH (a:Item {id: $ds + ':1'}), (b:Item {id: $ds + ':50'}), (c:Item {id: $ds + ':2'})
CREATE (a)-[:CO_INTERACTED {weight: 3}]->(b), (c)-[:CO_INTERACTED {weight: 2}]->(b)
WITH count(*) AS ignored
UNWIND $users AS us
CREATE (u:User {id: $ds + ':' + us.raw, raw_id: us.raw, dataset: $ds, persona: us.persona,
                persona_version: 1, persona_run: $run})
WITH u, us
UNWIND range(0, size(us.items) - 1) AS pos
MATCH (i:Item {id: $ds + ':' + us.items[pos]})
CREATE (u)-[:INTERACTED {rating: 4.0, ts: 1000 + pos, seq: pos, split: us.splits[pos]}]->(i)
"""


def plant_guide_graph(graph: Graph) -> dict[str, Any]:
    """Plant the guide's graph; returns the ids of user 1's neighbours, closest first."""
    rng = np.random.default_rng(7)
    base = rng.standard_normal(DIMS)
    users = []
    for raw, (train, test) in TAKES.items():
        u = int(raw)
        if u == 1:
            vec = base
        elif u <= 6:  # closer for a smaller number: noise grows with u
            vec = base + 0.1 * (u - 1) * rng.standard_normal(DIMS)
        else:
            vec = -base + 0.5 * rng.standard_normal(DIMS)
        users.append({"raw": raw, "persona": [float(v) for v in vec], "items": train + test,
                      "splits": ["train"] * len(train) + ["test"] * len(test)})
    items = [{"raw": raw, "title": title, "genres": genres} for raw, (title, genres) in ITEMS.items()]
    graph.execute(PLANT, {"items": items, "users": users, "ds": DS, "run": RUN["id"]})
    graph.execute(statement("load/persona_run.cypher"), RUN)
    return {"neighbours": [f"{DS}:{u}" for u in range(2, 7)], "run": RUN}


@pytest.fixture
def guide_graph(graph: Graph) -> dict[str, Any]:
    return plant_guide_graph(graph)


GUIDE = ["personas_2_neighbourhood.cypher", "personas_3_attention.cypher", "personas_4_similar.cypher",
         "why_this_item.cypher"]


def guide_params(graph: Graph) -> dict[str, Any]:
    """The parameters ``personas_1_set_params.cypher`` sets: each ``:param name => expr`` evaluated by the
    server as the Browser does (``RETURN expr``)."""
    params = {}
    for line in (cypher_dir() / "browser" / "personas_1_set_params.cypher").read_text().splitlines():
        match = re.fullmatch(r":param (\w+) => (.+?);?", line.strip())
        if match:
            params[match[1]] = graph.execute(f"RETURN {match[2]} AS v", read=True)[0]["v"]
    return params


def drawn(graph: Graph, name: str, params: dict[str, Any]) -> tuple[int, int, int]:
    """What the Browser draws for the graph query ``cypher/browser/<name>`` with "Connect result nodes" on
    (its default): the number of nodes of the returned paths, of their relationships (the Browser's
    "Displaying N nodes, M relationships.") and of all relationships among those nodes (the returned ones
    plus those the Browser adds between result nodes: its overview's "* (M)")."""
    nodes, returned = set(), set()
    for rec in graph.stream(statement(f"browser/{name}"), params):
        nodes |= {n.element_id for n in rec["p"].nodes}
        returned |= {r.element_id for r in rec["p"].relationships}
    among = graph.execute("MATCH (a)-[r]->(b) WHERE elementId(a) IN $ids AND elementId(b) IN $ids "
                          "RETURN count(r) AS n", {"ids": sorted(nodes)}, read=True)[0]["n"]
    return len(nodes), len(returned), among


@pytest.fixture
def guide() -> dict[str, Any]:
    """The helpers above, for the test modules (they cannot import this conftest)."""
    return {"params": guide_params, "drawn": drawn, "files": GUIDE}
