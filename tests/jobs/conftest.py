"""A small real graph for the batch-job tests: users, items and INTERACTED edges with splits."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from personarec.graph import Graph

DATASET = "tiny"
N_USERS = 40
N_ITEMS = 30

# Test-only seeding: the package's own loaders are tested elsewhere; here we need a known graph fast.
SEED_QUERY = """
UNWIND $items AS raw
CREATE (:Item {id: $dataset + ':' + raw, raw_id: raw, dataset: $dataset, kind: 'film', title: 'Item ' + raw})
WITH count(*) AS ignored
UNWIND $users AS u
CREATE (user:User {id: $dataset + ':' + u.raw, raw_id: u.raw, dataset: $dataset, persona: u.persona})
WITH user, u
UNWIND range(0, size(u.items) - 1) AS pos
MATCH (i:Item {id: $dataset + ':' + u.items[pos]})
CREATE (user)-[:INTERACTED {rating: 4.0, ts: 1000 + pos, seq: pos,
        split: CASE WHEN pos = size(u.items) - 1 THEN 'test' WHEN pos = size(u.items) - 2 THEN 'valid'
               ELSE 'train' END}]->(i)
"""


def seed_tiny(graph: Graph, seed: int = 7) -> dict[str, list[str]]:
    """Create the tiny dataset; returns ``{user raw id: item raw ids in seq order}``."""
    rng = random.Random(seed)
    # a skewed popularity so most-popular has a clear ranking
    weights = [1.0 / (i + 1) for i in range(N_ITEMS)]
    users = []
    for u in range(1, N_USERS + 1):
        n = rng.randint(4, 9)
        items: list[str] = []
        while len(items) < n:
            pick = str(rng.choices(range(1, N_ITEMS + 1), weights)[0])
            if pick not in items:
                items.append(pick)
        users.append({"raw": str(u), "items": items, "persona": [rng.random() for _ in range(4)]})
    seed_histories(graph, DATASET, [str(i) for i in range(1, N_ITEMS + 1)], users)
    return {u["raw"]: u["items"] for u in users}


def seed_histories(graph: Graph, dataset: str, items: list[str], users: list[dict[str, Any]]) -> None:
    """Create ``items`` and ``users`` (``{raw, items, persona}``); each history's last two are valid, test."""
    graph.execute(SEED_QUERY, {"dataset": dataset, "items": items, "users": users})


@pytest.fixture
def tiny(graph: Graph) -> dict[str, list[str]]:
    return seed_tiny(graph)


@pytest.fixture
def seed(graph: Graph) -> Callable[[str, list[str], list[dict[str, Any]]], None]:
    """:func:`seed_histories` on the test's graph, for tests that need their own small dataset."""
    return lambda dataset, items, users: seed_histories(graph, dataset, items, users)
