"""Export of the train-split KG from a real Neo4j to PyG HeteroData."""

from __future__ import annotations

import numpy as np
import pytest

from personarec.graph import Graph
from personarec.graph.export import ExportError, export_graph

KG = """
UNWIND range(0, 5) AS k
CREATE (:Item {id: 'x:i' + k, raw_id: toString(k), dataset: 'x', embedding: [toFloat(k), toFloat(10 * k), 1.0]})
WITH count(*) AS c
UNWIND range(0, 2) AS k CREATE (:User {id: 'x:u' + k, raw_id: toString(k), dataset: 'x'})
WITH count(*) AS c
UNWIND [['x:u0','x:i0','train',0], ['x:u0','x:i1','train',1], ['x:u0','x:i1','train',2], ['x:u0','x:i2','valid',3],
        ['x:u0','x:i3','test',4], ['x:u1','x:i3','train',0], ['x:u1','x:i4','valid',1], ['x:u1','x:i5','test',2],
        ['x:u2','x:i5','test',0]] AS e
MATCH (u:User {id: e[0]}), (i:Item {id: e[1]})
CREATE (u)-[:INTERACTED {split: e[2], seq: e[3], ts: e[3], rating: 1.0}]->(i)
WITH count(*) AS c
MATCH (a:Item {id: 'x:i0'}), (b:Item {id: 'x:i1'}), (d:Item {id: 'x:i3'})
WITH a, b, d
MERGE (g:Genre {name: 'Drama'}) MERGE (cat:Category {name: 'Films'})
MERGE (e:Entity {uri: 'http://dbpedia.org/resource/Someone'}) SET e.label = 'Someone'
CREATE (a)-[:HAS_GENRE]->(g), (d)-[:HAS_GENRE]->(g), (b)-[:IN_CATEGORY]->(cat), (a)-[:DIRECTED_BY]->(e),
       (d)-[:DIRECTED_BY]->(e), (a)-[:CO_INTERACTED {weight: 2.0}]->(b)
// another dataset in the same database must not leak in
CREATE (:User {id: 'y:u0', dataset: 'y'})-[:INTERACTED {split: 'train', seq: 0}]->
       (:Item {id: 'y:i0', dataset: 'y', embedding: [9.0, 9.0, 9.0]})
"""


def test_export_train_only_with_id_maps_and_features(graph: Graph) -> None:
    graph.execute(KG)
    ex = export_graph(graph, "x", progress=False)
    data = ex.data
    assert ex.ids["user"] == ["x:u0", "x:u1", "x:u2"]
    assert ex.ids["item"] == [f"x:i{k}" for k in range(6)]
    ui = data["user", "interacted", "item"].edge_index.numpy()
    pairs = {(ex.ids["user"][u], ex.ids["item"][i]) for u, i in ui.T}
    # only train events, de-duplicated; no valid/test pair of any user reaches the export
    assert pairs == {("x:u0", "x:i0"), ("x:u0", "x:i1"), ("x:u1", "x:i3")}
    held_out = graph.execute("MATCH (u:User)-[r:INTERACTED]->(i) WHERE r.split <> 'train' AND u.dataset = 'x' "
                             "RETURN u.id AS u, i.id AS i", read=True)
    assert held_out and not pairs & {(r["u"], r["i"]) for r in held_out}
    # item features are the embeddings; user features the mean of the user's train items only
    np.testing.assert_allclose(data["item"].x[3].numpy(), [3, 30, 1])
    np.testing.assert_allclose(data["user"].x.numpy(), [[0.5, 5, 1], [3, 30, 1], [0, 0, 0]])
    # feature, entity and item-item edges with their own node types and id maps
    assert ex.ids["genre"] == ["Drama"] and ex.ids["category"] == ["Films"]
    assert ex.ids["entity"] == ["http://dbpedia.org/resource/Someone"]
    assert sorted(data["item", "has_genre", "genre"].edge_index[0].tolist()) == [0, 3]
    assert data["item", "directed_by", "entity"].edge_index.shape == (2, 2)
    assert data["item", "co_interacted", "item"].edge_weight.tolist() == [2.0]
    assert ex.rels[("item", "directed_by", "entity")] == "DIRECTED_BY"
    assert data["genre"].num_nodes == 1 and data["user"].num_nodes == 3
    # all datasets at once
    both = export_graph(graph, None, progress=False)
    assert both.ids["user"] == ["x:u0", "x:u1", "x:u2", "y:u0"]


def test_export_without_embeddings_is_a_clear_error_or_the_random_fallback(graph: Graph) -> None:
    graph.execute("CREATE (:User {id: 'z:u', dataset: 'z'})-[:INTERACTED {split: 'train'}]->"
                  "(:Item {id: 'z:i', dataset: 'z'})")
    with pytest.raises(ExportError, match="embed items"):
        export_graph(graph, "z", progress=False)
    ex = export_graph(graph, "z", item_features="random", random_dim=8, seed=1, progress=False)
    assert ex.data["item"].x.shape == (1, 8)
    np.testing.assert_allclose(ex.data["user"].x.numpy(), ex.data["item"].x.numpy())
    with pytest.raises(ExportError, match="no users"):
        export_graph(graph, "nope", progress=False)
