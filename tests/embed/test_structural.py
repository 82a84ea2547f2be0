"""KG-structure item vectors (``personarec embed graph``) for catalogues without text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from personarec.embed.structural import MODEL_NAME, embed_items_structural, lsa_vectors
from personarec.graph import Graph


def test_lsa_separates_two_communities_and_is_reproducible() -> None:
    rng = np.random.default_rng(0)
    # items 0-9 share contexts 0-19, items 10-19 contexts 20-39: two blocks, sparse and noisy
    block = (rng.random((10, 20)) < 0.4).astype(np.float32)
    m = sp.csr_matrix(sp.block_diag([block, (rng.random((10, 20)) < 0.4).astype(np.float32)]))
    vecs, rank = lsa_vectors(m, 8, seed=1)
    again, _ = lsa_vectors(m, 8, seed=1)
    assert rank == 8 and vecs.shape == (20, 8)
    assert np.allclose(vecs, again)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sims = vecs @ vecs.T
    within = (sims[:10, :10].sum() + sims[10:, 10:].sum() - 20) / (2 * 90)
    across = sims[:10, 10:].mean()
    assert within > 0.25 and abs(across) < 0.05, (within, across)


def test_rank_is_capped_and_padded_to_the_index_size() -> None:
    m = sp.csr_matrix(np.eye(4, 3, dtype=np.float32))
    vecs, rank = lsa_vectors(m, 16, seed=0)
    assert rank == 2 and vecs.shape == (4, 16) and not vecs[:, 2:].any()


def test_embed_graph_writes_vectors_from_train_only(graph: Graph, neo4j_settings, tmp_path: Path) -> None:
    from personarec.load import load_dataset

    # users 1-6 buy from items 1-4, users 7-12 from items 5-8; item 9 appears only as a held-out item
    lines = [f"{u} " + " ".join(str((u + k) % 4 + 1) for k in range(5)) + " 9 9" for u in range(1, 7)]
    lines += [f"{u} " + " ".join(str((u + k) % 4 + 5) for k in range(5)) + " 9 9" for u in range(7, 13)]
    path = tmp_path / "two.txt"
    path.write_text("\n".join(lines) + "\n")
    load_dataset(graph, neo4j_settings, "sequences", [path], dataset="two", progress=False)
    summary = embed_items_structural(graph, neo4j_settings, "two", progress=False)
    assert summary.written == summary.items == 9 and summary.kept == 0
    rows = graph.execute("MATCH (i:Item {dataset: 'two'}) RETURN i.id AS id, i.embedding AS v, "
                         "i.embedding_model AS model ORDER BY i.id")
    assert {r["model"] for r in rows} == {MODEL_NAME}
    vec = {r["id"]: np.asarray(r["v"]) for r in rows}
    assert all(v.shape == (neo4j_settings.embed.dimensions,) for v in vec.values())
    same = vec["two:1"] @ vec["two:2"]
    other = vec["two:1"] @ vec["two:5"]
    assert same > other + 0.3, (same, other)
    # item 9 was only ever valid/test: no train context, so nothing to place it by
    assert not vec["two:9"].any()
    # a text embedding is kept unless asked to replace it
    graph.execute("MATCH (i:Item {id: 'two:1'}) SET i.embedding_model = 'all-MiniLM-L6-v2'")
    again = embed_items_structural(graph, neo4j_settings, "two", progress=False)
    assert again.kept == 1 and again.written == 8
