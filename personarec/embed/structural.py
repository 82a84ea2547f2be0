"""Item vectors from the knowledge graph's structure, for catalogues without item text.

Some catalogues carry no text at all: the S3-Rec Amazon Beauty release has item ids and attribute ids
only, so there is nothing for a sentence-transformer to read. The session models (item
initialisation, the history-embedding baseline) and HDGI still need an item vector, so this module
builds one from the graph itself: latent semantic analysis (Deerwester et al. 1990) of the
item × context matrix, where an item's contexts are its **train** users, its feature and DBpedia
nodes, and its linked items. Columns are weighted by inverse document frequency, rows L2-normalised,
and a randomised truncated SVD (Halko, Martinsson & Tropp 2011) gives ``U Σ^½``; rows are
L2-normalised so that the cosine vector index and a dot product agree, as for the text embeddings.

Only what :func:`personarec.graph.export.export_graph` exports is used, so held-out interactions
never reach these vectors. They are stored as ``Item.embedding`` with
``Item.embedding_model = 'kg-svd'``. ``personarec embed items`` leaves items without text alone, and
an item that gains text gets a text embedding on its next run (the stored hash is not a text hash).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from personarec.config import Settings
from personarec.graph import Graph
from personarec.graph.export import KGExport, export_graph

log = logging.getLogger(__name__)

MODEL_NAME = "kg-svd"
WRITE_BATCH = 500


@dataclass
class StructuralSummary:
    """What a structural embedding run did."""

    dataset: str
    items: int
    written: int
    kept: int            # items that already had an embedding (text) and were left alone
    contexts: int        # columns of the item × context matrix
    rank: int            # SVD rank actually used (≤ dimensions; the rest is zero padding)
    dimensions: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def context_matrix(export: KGExport) -> sp.csr_matrix:
    """Items × contexts, binary: train users, feature/entity nodes, linked items (both directions)."""
    data = export.data
    n_items = export.num_nodes("item")
    blocks: list[sp.csr_matrix] = []
    for (src, _rel, dst), store in data.edge_items():
        ei = store.edge_index.numpy()
        if src == "user" and dst == "item":
            rows, cols, width = ei[1], ei[0], export.num_nodes("user")
        elif src == "item" and dst == "item":
            rows = np.concatenate([ei[0], ei[1]])
            cols = np.concatenate([ei[1], ei[0]])
            width = n_items
        elif src == "item":
            rows, cols, width = ei[0], ei[1], export.num_nodes(dst)
        else:
            continue
        m = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(n_items, width))
        m.data[:] = 1.0  # duplicates summed by the constructor: keep it binary
        blocks.append(m)
    if not blocks:
        return sp.csr_matrix((n_items, 0), dtype=np.float32)
    return sp.hstack(blocks, format="csr", dtype=np.float32)


def lsa_vectors(matrix: sp.csr_matrix, dimensions: int, seed: int, power_iters: int = 4,
                oversample: int = 16) -> tuple[np.ndarray, int]:
    """IDF-weighted, row-normalised randomised truncated SVD; returns (rows × dimensions, rank used).

    The rank is capped by the matrix (``min(rows, columns) - 1``); columns beyond it are zeros, so
    the vectors always fit a vector index of ``dimensions``.
    """
    n, m = matrix.shape
    out = np.zeros((n, dimensions), dtype=np.float32)
    rank = max(0, min(dimensions, n - 1, m - 1))
    if rank == 0 or matrix.nnz == 0:
        return out, 0
    df = np.asarray((matrix > 0).sum(axis=0)).ravel()
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    a = (matrix @ sp.diags(idf.astype(np.float32))).tocsr()
    norms = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel())
    a = (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ a).tocsr().astype(np.float64)
    rng = np.random.default_rng(seed)
    k = min(rank + oversample, min(n, m))
    q, _ = np.linalg.qr(a @ rng.standard_normal((m, k)))
    for _ in range(power_iters):  # power iterations sharpen the spectrum of a slowly decaying matrix
        q, _ = np.linalg.qr(a.T @ q)
        q, _ = np.linalg.qr(a @ q)
    u_small, s, _ = np.linalg.svd((a.T @ q).T, full_matrices=False)
    u = (q @ u_small)[:, :rank] * np.sqrt(s[:rank])
    # sign convention: largest-magnitude entry of each component positive, so reruns agree
    flip = np.sign(u[np.abs(u).argmax(axis=0), np.arange(rank)])
    u *= np.where(flip == 0, 1.0, flip)
    out[:, :rank] = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    return out, rank


def embed_items_structural(graph: Graph, settings: Settings, dataset: str, *, replace_text: bool = False,
                           progress: bool = True) -> StructuralSummary:
    """Compute KG-structure vectors for the items of ``dataset`` and store them as ``Item.embedding``.

    Args:
        graph: an open graph holding ``dataset``.
        settings: ``embed.dimensions`` (the vector index size) and the global ``seed``.
        dataset: the dataset whose items to embed.
        replace_text: also overwrite items that have a text (LLM) embedding; by default only items
            without an embedding, or with an earlier structural one, are written.
        progress: show progress bars while exporting.
    """
    started = time.perf_counter()
    export = export_graph(graph, dataset, item_features="random", random_dim=1, seed=settings.seed,
                          progress=progress)
    matrix = context_matrix(export)
    vectors, rank = lsa_vectors(matrix, settings.embed.dimensions, settings.seed)
    items = export.ids["item"]
    current = {row["id"]: row["model"] for row in graph.read("queries/embed_models.cypher", {"dataset": dataset})}
    write = [k for k, iid in enumerate(items)
             if replace_text or current.get(iid) in (None, MODEL_NAME)]
    digest = hashlib.md5(matrix.indices.tobytes() + matrix.indptr.tobytes()).hexdigest()[:16]
    graph.write_batches("load/embed_items_structural.cypher",
                        ({"id": items[k], "embedding": vectors[k].tolist()} for k in write),
                        batch_size=WRITE_BATCH, extra={"model": MODEL_NAME, "hash": f"{MODEL_NAME}:{digest}"})
    summary = StructuralSummary(dataset=dataset, items=len(items), written=len(write),
                                kept=len(items) - len(write), contexts=matrix.shape[1], rank=rank,
                                dimensions=settings.embed.dimensions, seconds=time.perf_counter() - started)
    log.info("structural item vectors for %s: %s", dataset, summary.as_dict())
    return summary
