"""A small planted-structure knowledge graph built with Cypher, following the README graph contract.

Three user groups each prefer one cluster of items; each cluster has its own genre and director entity;
item embeddings are the cluster centroid plus noise. Each user's last event is ``test``, the one before
``valid``, the rest ``train``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from personarec.config import Settings
from personarec.graph import Graph

DATASET = "toy"
DIM = 384


def build_kg(graph: Graph, n_users: int = 60, n_items: int = 45, groups: int = 3, per_user: int = 10,
             seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((groups, DIM)).astype(np.float32)
    item_group = np.arange(n_items) % groups
    emb = centroids[item_group] + 0.8 * rng.standard_normal((n_items, DIM)).astype(np.float32)
    items = [{"id": f"{DATASET}:i{k}", "raw_id": f"i{k}", "embedding": emb[k].tolist(),
              "genre": f"genre-{item_group[k]}", "entity": f"http://dbpedia.org/resource/Director_{item_group[k]}"}
             for k in range(n_items)]
    graph.execute("""
        UNWIND $items AS it
        MERGE (i:Item {id: it.id})
        SET i.raw_id = it.raw_id, i.dataset = $ds, i.kind = 'film', i.embedding = it.embedding
        MERGE (g:Genre {name: it.genre}) MERGE (i)-[:HAS_GENRE]->(g)
        MERGE (e:Entity {uri: it.entity}) MERGE (i)-[:DIRECTED_BY]->(e)
    """, {"items": items, "ds": DATASET})
    events, user_group = [], {}
    for u in range(n_users):
        g = u % groups
        user_group[f"{DATASET}:u{u}"] = g
        own = np.flatnonzero(item_group == g)
        other = np.flatnonzero(item_group != g)
        chosen = (list(rng.choice(own, size=per_user - 2, replace=False))
                  + list(rng.choice(other, size=2, replace=False)))
        rng.shuffle(chosen)
        for seq, k in enumerate(chosen):
            split = "test" if seq == per_user - 1 else "valid" if seq == per_user - 2 else "train"
            events.append({"user": f"{DATASET}:u{u}", "raw": f"u{u}", "item": f"{DATASET}:i{k}", "seq": seq,
                           "ts": 1000 + seq, "split": split})
    graph.execute("""
        UNWIND $events AS ev
        MERGE (u:User {id: ev.user}) SET u.raw_id = ev.raw, u.dataset = $ds
        WITH u, ev MATCH (i:Item {id: ev.item})
        CREATE (u)-[:INTERACTED {rating: 4.0, ts: ev.ts, seq: ev.seq, split: ev.split}]->(i)
    """, {"events": events, "ds": DATASET})
    return {"items": items, "events": events, "user_group": user_group, "item_group": item_group}


@pytest.fixture
def small_kg(graph: Graph) -> dict[str, Any]:
    return build_kg(graph)


@pytest.fixture
def kg_builder() -> Callable[..., dict[str, Any]]:
    """:func:`build_kg` itself, for a test that plants a graph of another shape (test modules do not import
    conftest under --import-mode=importlib)."""
    return build_kg


@pytest.fixture
def persona_settings(neo4j_settings: Settings, tmp_path) -> Settings:
    """Test settings: models saved under tmp_path, a short training run."""
    persona = neo4j_settings.persona.model_copy(update={"epochs": 60, "patience": 15, "max_neighbors": 16})
    return neo4j_settings.model_copy(update={"model_store": tmp_path / "models", "persona": persona})
