"""Sequences: protocol views, inactivity gaps, fingerprint, and the Neo4j read."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from personarec.session.data import SequenceData, history_vectors, load_item_embeddings, load_personas, load_sequences

SEQS = {"d:1": ["d:a", "d:b", "d:c", "d:d", "d:e"], "d:2": ["d:c", "d:a", "d:b"], "d:10": ["d:e", "d:a"]}


def build() -> SequenceData:
    return SequenceData.leave_one_out("d", SEQS)


def test_leave_one_out_views() -> None:
    data = build()
    assert data.user_ids == ["d:1", "d:2", "d:10"]  # numeric raw ids sort as numbers
    a, b, c, d, e = (data.item_index(f"d:{x}") for x in "abcde")
    u1 = data.user_index("d:1")
    assert data.train_sequence(u1).tolist() == [a, b, c]
    assert data.target(u1, "valid") == d and data.target(u1, "test") == e
    assert data.history(u1, "valid").tolist() == [a, b, c]
    assert data.history(u1, "test").tolist() == [a, b, c, d]
    assert data.session(u1, "test", max_len=2).tolist() == [c, d]
    u10 = data.user_index("d:10")  # two interactions: all train, never evaluated
    assert data.target(u10, "test") == 0 and u10 not in data.eval_users("test")
    counts = data.train_counts()
    assert counts[a] == 2 and counts[c] == 2 and counts[e] == 1 and counts[0] == 0


def test_no_held_out_item_is_in_the_training_data() -> None:
    data = build()
    for u in data.eval_users("test"):
        train_positions = np.flatnonzero(data.splits[u] == 0)
        held = np.flatnonzero(data.splits[u] > 0)
        assert train_positions.max() < held.min()  # train strictly precedes held-out events in time
        assert len(data.train_sequence(u)) == len(data.items[u]) - 2


def test_inactivity_gap_cuts_the_session() -> None:
    ts = {"d:1": [0, 10, 5000, 5010, 5020], "d:2": [0, 1, 2], "d:10": [0, 1]}
    data = SequenceData.leave_one_out("d", SEQS, ts)
    u1 = data.user_index("d:1")
    c, d = data.item_index("d:c"), data.item_index("d:d")
    assert data.session(u1, "test", 50, gap_s=1000).tolist() == [c, d]
    assert len(data.session(u1, "test", 50)) == 4


def test_fingerprint_is_the_pinned_recipe() -> None:
    expected = hashlib.md5(b"1\td\te\n2\ta\tb\n").hexdigest()
    assert build().fingerprint() == expected


def test_history_vectors_are_train_means() -> None:
    data = build()
    vecs = np.arange((data.n_items + 1) * 2, dtype=np.float32).reshape(-1, 2)
    hv = history_vectors(data, vecs)
    u2 = data.user_index("d:2")
    assert np.allclose(hv[u2], vecs[data.item_index("d:c")])  # user 2 has one train item


def test_load_sequences_from_neo4j(graph, neo4j_settings, tmp_path: Path) -> None:
    from personarec.load import load_dataset

    path = tmp_path / "tiny.txt"
    path.write_text("1 a b c d e\n2 c a b\n")
    load_dataset(graph, neo4j_settings, "sequences", [path], dataset="tiny", progress=False)
    data = load_sequences(graph, "tiny")
    assert data.n_users == 2 and data.n_items == 5
    u1 = data.user_index("tiny:1")
    assert [data.item_ids[i - 1] for i in data.items[u1]] == [f"tiny:{x}" for x in "abcde"]
    assert data.target(u1, "test") == data.item_index("tiny:e")
    assert data.fingerprint() == hashlib.md5(b"1\td\te\n2\ta\tb\n").hexdigest()


def test_personas_and_item_embeddings_align_with_the_index_maps(graph) -> None:
    graph.execute("""
        UNWIND [['p:1', [1.0, 0.0]], ['p:2', null]] AS u
        MERGE (user:User {id: u[0]}) SET user.dataset = 'p', user.persona = u[1], user.persona_version = 1
        WITH user
        UNWIND range(0, 3) AS n
        MERGE (i:Item {id: 'p:i' + n}) SET i.dataset = 'p', i.embedding = CASE WHEN n = 2 THEN null ELSE [n, 1.0] END
        MERGE (user)-[r:INTERACTED {seq: n}]->(i)
        SET r.split = CASE n WHEN 3 THEN 'test' WHEN 2 THEN 'valid' ELSE 'train' END, r.ts = n""")
    data = load_sequences(graph, "p")
    personas = load_personas(graph, data)
    assert personas is not None and personas.shape == (2, 2)
    assert personas[data.user_index("p:1")].tolist() == [1.0, 0.0]
    assert personas[data.user_index("p:2")].tolist() == [0.0, 0.0]  # no persona: zero row
    items = load_item_embeddings(graph, data)
    assert items is not None and items.shape == (5, 2) and items[0].tolist() == [0.0, 0.0]  # row 0 = padding
    assert items[data.item_index("p:i3")].tolist() == [3.0, 1.0]
    assert items[data.item_index("p:i2")].tolist() == [0.0, 0.0]
