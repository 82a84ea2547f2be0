"""Metapath parsing and bounded metapath adjacencies, checked against hand-computed matrices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from personarec.graph import Graph
from personarec.graph.export import export_graph
from personarec.persona.metapath import (
    MetapathError,
    hop_matrices,
    metapath_adjacency,
    normalize_adjacency,
    parse_metapath,
    resolve_metapaths,
    top_k_rows,
)

TINY = """
UNWIND range(0, 4) AS k CREATE (:Item {id: 'h:i' + k, raw_id: toString(k), dataset: 'h', embedding: [toFloat(k), 1.0]})
WITH count(*) AS c
UNWIND range(0, 3) AS k CREATE (:User {id: 'h:u' + k, raw_id: toString(k), dataset: 'h'})
WITH count(*) AS c
UNWIND [['h:u0','h:i0','train'], ['h:u0','h:i1','train'], ['h:u1','h:i1','train'], ['h:u2','h:i2','train'],
        ['h:u3','h:i3','train'], ['h:u3','h:i2','test'], ['h:u2','h:i4','valid']] AS e
MATCH (u:User {id: e[0]}), (i:Item {id: e[1]})
CREATE (u)-[:INTERACTED {split: e[2], seq: 0, ts: 0, rating: 1.0}]->(i)
WITH count(*) AS c
UNWIND [['h:i0','Drama'], ['h:i2','Drama'], ['h:i3','Comedy'], ['h:i1','Comedy']] AS g
MATCH (i:Item {id: g[0]}) MERGE (x:Genre {name: g[1]}) CREATE (i)-[:HAS_GENRE]->(x)
"""


def test_parse_metapaths() -> None:
    assert parse_metapath("U-I-U").kind == "uiu"
    mp = parse_metapath("U-I-entity:DIRECTED_BY|starring-I-U")
    assert (mp.kind, mp.label, mp.rels) == ("via", "Entity", ("DIRECTED_BY", "STARRING"))
    assert parse_metapath("U-I-I:ALSO_BOUGHT-U").rels == ("ALSO_BOUGHT",)
    for bad in ("I-U-I", "U-I-Planet-I-U", "U-I-Genre-U"):
        with pytest.raises(MetapathError):
            parse_metapath(bad)


def test_metapath_adjacency_equals_hand_computed_matrix(graph: Graph) -> None:
    """Users u0..u3; train: u0{i0,i1}, u1{i1}, u2{i2}, u3{i3}; held out: u3-i2 (test), u2-i4 (valid).
    Genres: Drama{i0,i2}, Comedy{i1,i3}."""
    graph.execute(TINY)
    export = export_graph(graph, "h", progress=False)
    assert export.ids["user"] == ["h:u0", "h:u1", "h:u2", "h:u3"]
    mps = resolve_metapaths(["auto"], export)
    assert [m.name for m in mps] == ["U-I-U", "U-I-Genre-I-U"]

    uiu = metapath_adjacency(hop_matrices(export, mps[0]), k=None).toarray()
    # only u0 and u1 share a train item (i1); the held-out u3-i2 must not link u2 and u3
    expected_uiu = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(uiu > 0, expected_uiu > 0)

    ugu = metapath_adjacency(hop_matrices(export, mps[1]), k=None).toarray()
    # u0 reaches Drama (i0) and Comedy (i1); u1 Comedy; u2 Drama; u3 Comedy. Path counts:
    # u0-u1: i1-Comedy-i1, i0?no, i1-Comedy-i1 ... = 1 (Comedy via i1) ; u0-u2: Drama via i0->i2 = 1
    # u0-u3: Comedy via i1->i3 = 1 ; u1-u3: Comedy = 1 ; u1-u2, u2-u3: none
    expected_ugu = np.array([[0, 1, 1, 1], [1, 0, 0, 1], [1, 0, 0, 0], [1, 1, 0, 0]])
    np.testing.assert_array_equal(ugu, expected_ugu)

    norm, deg = normalize_adjacency(sp.csr_matrix(ugu))
    np.testing.assert_array_equal(deg, [4, 3, 2, 3])  # neighbours + self loop
    b = expected_ugu + np.eye(4)
    np.testing.assert_allclose(norm.toarray(), b / np.sqrt(np.outer(deg, deg)), rtol=1e-6)


def test_k_bounds_every_row_and_prefers_more_paths() -> None:
    rng = np.random.default_rng(0)
    ui = sp.random(200, 50, density=0.3, random_state=1, format="csr", dtype=np.float32)
    ui.data[:] = 1
    adj = metapath_adjacency([ui, ui.T.tocsr()], k=5, seed=3)
    assert np.diff(adj.indptr).max() <= 5
    assert (adj.diagonal() == 0).all()
    # without sampling the hops, top-K keeps the K rows with the most shared items
    m = sp.csr_matrix(np.array([[5, 1, 3, 2, 4]], dtype=np.float32))
    kept = top_k_rows(m, 2, rng)
    assert sorted(kept.indices.tolist()) == [0, 4]
    # the same seed gives the same sample
    again = metapath_adjacency([ui, ui.T.tocsr()], k=5, seed=3)
    assert (adj != again).nnz == 0
