"""Export the knowledge graph from Neo4j to a PyTorch Geometric :class:`~torch_geometric.data.HeteroData`.

The export is the graph the persona model learns from (HDGI, Ren et al. 2019, arXiv 1911.08538; paper
arXiv 2604.06928, "personalized information extraction"):

* node types ``user``, ``item``, one per item-feature label (``category``, ``brand``, ``person``,
  ``genre``, ``attribute``) and ``entity`` for DBpedia resources;
* ``(user, interacted, item)`` from ``INTERACTED {split: 'train'}`` **only**, de-duplicated;
* ``(item, <rel>, <feature>)`` / ``(item, <rel>, entity)`` / ``(item, <rel>, item)`` with ``rel`` the
  lower-cased Neo4j relationship type.

Features: ``item.x`` is ``Item.embedding`` (the LLM text embedding); ``user.x`` is the mean embedding
of the user's *train* items, so nothing held out leaks into the user features.

Rows are streamed from Neo4j and appended to fixed-size numpy chunks; the only per-row Python objects
are the id maps (Neo4j id -> row index), so millions of edges cost about 16 bytes each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from personarec.errors import PersonarecError
from personarec.graph.connection import Graph
from personarec.graph.cypher import statement

log = logging.getLogger(__name__)

#: Item -> feature-node relationship types and the target labels (README "Graph model").
FEATURE_RELS: tuple[str, ...] = ("IN_CATEGORY", "BY_BRAND", "BY_AUTHOR", "HAS_GENRE", "HAS_ATTRIBUTE")
FEATURE_LABELS: tuple[str, ...] = ("Category", "Brand", "Person", "Genre", "Attribute")
#: Item -> DBpedia entity fact types (``SAME_AS`` is the item's own resource, exported too).
ENTITY_RELS: tuple[str, ...] = ("SAME_AS", "DIRECTED_BY", "STARRING", "WRITTEN_BY", "PRODUCED_BY", "AUTHORED_BY",
                                "PUBLISHED_BY", "IN_SERIES", "HAS_SUBJECT", "DBPEDIA_GENRE", "DISTRIBUTED_BY",
                                "CINEMATOGRAPHY_BY")
#: Item -> item links.
ITEM_RELS: tuple[str, ...] = ("ALSO_BOUGHT", "ALSO_VIEWED", "BOUGHT_TOGETHER", "CO_INTERACTED")


class ExportError(PersonarecError):
    """The graph cannot be exported (nothing to export, or item embeddings are missing)."""


class _Int64Buffer:
    """Append-only int64/float32 columns stored in fixed-size numpy chunks (no per-row Python objects)."""

    def __init__(self, columns: int, dtype: Any = np.int64, chunk: int = 1 << 16) -> None:
        self._chunks: list[np.ndarray] = []
        self._cur = np.empty((chunk, columns), dtype=dtype)
        self._n = 0
        self._chunk = chunk

    def append(self, row: tuple[Any, ...]) -> None:
        if self._n == self._chunk:
            self._chunks.append(self._cur)
            self._cur = np.empty_like(self._cur)
            self._n = 0
        self._cur[self._n] = row
        self._n += 1

    def array(self) -> np.ndarray:
        return np.concatenate([*self._chunks, self._cur[: self._n]], axis=0)


@dataclass
class KGExport:
    """A :class:`HeteroData` plus the maps back to Neo4j keys.

    Attributes:
        data: the heterogeneous graph (see the module docstring for its node and edge types).
        ids: node type -> Neo4j keys in row order (``User.id``/``Item.id``, feature ``name``/``id``,
            ``Entity.uri``); ``ids["user"][k]`` is the Neo4j id of row ``k`` of ``data["user"].x``.
        dataset: the dataset exported (``None``: all).
        labels: node type -> Neo4j label.
        rels: edge type -> Neo4j relationship type.
    """

    data: HeteroData
    ids: dict[str, list[str]]
    dataset: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    rels: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def index(self, node_type: str) -> dict[str, int]:
        """Neo4j key -> row index for one node type (built on demand)."""
        return {key: k for k, key in enumerate(self.ids[node_type])}

    def num_nodes(self, node_type: str) -> int:
        return len(self.ids.get(node_type, ()))


def _stream(graph: Graph, name: str, params: dict[str, Any]) -> Iterator[Any]:
    yield from graph.stream(statement(name), params)


def _bar(it: Iterable[Any], desc: str, progress: bool) -> Iterable[Any]:
    return tqdm(it, desc=desc, unit=" rows", disable=not progress, mininterval=1.0, leave=False)


def _dedupe(edges: np.ndarray, n_src: int) -> np.ndarray:
    """Unique (src, dst) pairs sorted by src then dst; ``edges`` is ``[E, 2]``."""
    if len(edges) == 0:
        return np.empty((0, 2), dtype=np.int64)
    n_dst = int(edges[:, 1].max()) + 1
    key = np.unique(edges[:, 0] * n_dst + edges[:, 1])
    return np.stack([key // n_dst, key % n_dst], axis=1)


def export_graph(graph: Graph, dataset: str | None = None, *, item_features: str = "embedding",
                 random_dim: int = 384, seed: int = 0, progress: bool = True) -> KGExport:
    """Stream the train-split knowledge graph of ``dataset`` (``None``: all datasets) into a :class:`KGExport`.

    Args:
        graph: an open :class:`~personarec.graph.Graph`.
        dataset: restrict to users and items of this dataset.
        item_features: ``"embedding"`` uses ``Item.embedding`` (raises :class:`ExportError` when no item
            has one; items without one get the mean of the others and a warning); ``"random"`` gives each
            item a seeded Gaussian vector of size ``random_dim`` — an identity-like fallback for graphs
            that were not embedded yet.
        random_dim: size of the random item features.
        seed: seed of the random item features.
        progress: show tqdm progress bars.
    """
    params: dict[str, Any] = {"dataset": dataset}
    ids: dict[str, list[str]] = {}
    index: dict[str, dict[str, int]] = {}

    # ---- users (ordered ids: the row order, hence the personas, do not depend on store order)
    users = [row["id"] for row in _bar(_stream(graph, "queries/export_users.cypher", params), "users", progress)]
    if not users:
        raise ExportError(f"no users to export{' for dataset ' + repr(dataset) if dataset else ''}; "
                          "load a dataset first (`personarec load ...`).")
    ids["user"], index["user"] = users, {u: k for k, u in enumerate(users)}

    # ---- items and their embeddings
    item_ids: list[str] = []
    emb_rows: list[np.ndarray] = []
    missing: list[int] = []
    dim: int | None = None
    for row in _bar(_stream(graph, "queries/export_items.cypher", params), "items", progress):
        k = len(item_ids)
        item_ids.append(row["id"])
        vec = row["embedding"] if item_features == "embedding" else None
        if vec is None:
            missing.append(k)
            emb_rows.append(np.empty(0, dtype=np.float32))
            continue
        arr = np.asarray(vec, dtype=np.float32)
        if dim is None:
            dim = arr.shape[0]
        elif arr.shape[0] != dim:
            raise ExportError(f"item {row['id']} has a {arr.shape[0]}-d embedding, others {dim}-d; "
                              "re-run `personarec embed items` with one model.")
        emb_rows.append(arr)
    if not item_ids:
        raise ExportError("no items to export; load a dataset first (`personarec load ...`).")
    ids["item"], index["item"] = item_ids, {i: k for k, i in enumerate(item_ids)}
    if item_features == "random":
        gen = np.random.default_rng(seed)
        x_item = gen.standard_normal((len(item_ids), random_dim), dtype=np.float32) / np.sqrt(random_dim)
    elif item_features == "embedding":
        if dim is None:
            raise ExportError("no Item.embedding found; run `personarec embed items` first, or set "
                              "persona.item_features = 'random' to train on the graph structure alone.")
        x_item = np.zeros((len(item_ids), dim), dtype=np.float32)
        have = np.ones(len(item_ids), dtype=bool)
        have[missing] = False
        for j in np.flatnonzero(have):
            x_item[j] = emb_rows[j]
        if missing:
            # Why the mean: a zero vector would make those items look alike; the mean is the prior.
            x_item[missing] = x_item[have].mean(axis=0)
            log.warning("%d of %d items have no embedding; they get the mean embedding", len(missing),
                        len(item_ids))
    else:
        raise ExportError(f"unknown item_features {item_features!r}; use 'embedding' or 'random'.")
    del emb_rows

    data = HeteroData()
    labels = {"user": "User", "item": "Item"}
    rels: dict[tuple[str, str, str], str] = {("user", "interacted", "item"): "INTERACTED"}

    # ---- train interactions
    buf = _Int64Buffer(2)
    uidx, iidx = index["user"], index["item"]
    for row in _bar(_stream(graph, "queries/export_interactions.cypher", params), "train interactions", progress):
        u, i = uidx.get(row["user"]), iidx.get(row["item"])
        if u is not None and i is not None:
            buf.append((u, i))
    ui = _dedupe(buf.array(), len(users))
    del buf
    data["user", "interacted", "item"].edge_index = torch.from_numpy(ui.T.copy())

    # ---- user features: mean embedding of the user's train items (no leakage)
    x_user = mean_item_features(ui, x_item, len(users))
    data["user"].x = torch.from_numpy(x_user)
    data["item"].x = torch.from_numpy(x_item)
    data["user"].num_nodes, data["item"].num_nodes = len(users), len(item_ids)

    # ---- item -> feature / entity nodes
    label_of = {lab: lab.lower() for lab in (*FEATURE_LABELS, "Entity")}
    node_buf: dict[tuple[str, str], _Int64Buffer] = {}
    for row in _bar(_stream(graph, "queries/export_item_nodes.cypher",
                            {**params, "rels": [*FEATURE_RELS, *ENTITY_RELS],
                             "labels": [*FEATURE_LABELS, "Entity"]}), "item facts", progress):
        i = iidx.get(row["item"])
        if i is None or row["key"] is None:
            continue
        ntype = label_of[row["label"]]
        nidx = index.setdefault(ntype, {})
        if row["key"] not in nidx:
            nidx[row["key"]] = len(nidx)
            ids.setdefault(ntype, []).append(row["key"])
            labels[ntype] = row["label"]
        node_buf.setdefault((row["rel"], ntype), _Int64Buffer(2)).append((i, nidx[row["key"]]))
    for (rel, ntype), b in sorted(node_buf.items()):
        edges = _dedupe(b.array(), len(item_ids))
        et = ("item", rel.lower(), ntype)
        data[et].edge_index = torch.from_numpy(edges.T.copy())
        rels[et] = rel
    for ntype in index:
        if ntype not in ("user", "item"):
            data[ntype].num_nodes = len(ids[ntype])

    # ---- item -> item links (kept with their weight)
    link_buf: dict[str, _Int64Buffer] = {}
    weight_buf: dict[str, _Int64Buffer] = {}
    for row in _bar(_stream(graph, "queries/export_item_links.cypher", {**params, "rels": list(ITEM_RELS)}),
                    "item links", progress):
        src, dst = iidx.get(row["src"]), iidx.get(row["dst"])
        if src is None or dst is None:
            continue
        link_buf.setdefault(row["rel"], _Int64Buffer(2)).append((src, dst))
        weight_buf.setdefault(row["rel"], _Int64Buffer(1, np.float32)).append((float(row["weight"]),))
    for rel in sorted(link_buf):
        et = ("item", rel.lower(), "item")
        data[et].edge_index = torch.from_numpy(link_buf[rel].array().T.copy())
        data[et].edge_weight = torch.from_numpy(weight_buf[rel].array()[:, 0].copy())
        rels[et] = rel

    log.info("exported %s: %d users, %d items, %d train edges, node types %s", dataset or "all datasets",
             len(users), len(item_ids), len(ui), sorted(ids))
    return KGExport(data=data, ids=ids, dataset=dataset, labels=labels, rels=rels)


def mean_item_features(ui: np.ndarray, x_item: np.ndarray, n_users: int) -> np.ndarray:
    """Row ``u`` = mean of ``x_item`` over the items of user ``u`` in ``ui`` (``[E, 2]``); zeros without items.

    A sparse product ``D^-1 A X`` keeps the memory at O(users x dim), never O(edges x dim).
    """
    import scipy.sparse as sp

    a = sp.csr_matrix((np.ones(len(ui), dtype=np.float32), (ui[:, 0], ui[:, 1])),
                      shape=(n_users, x_item.shape[0]))
    deg = np.asarray(a.sum(axis=1)).ravel()
    x_user = np.asarray(a @ x_item, dtype=np.float32)
    x_user /= np.maximum(deg, 1.0)[:, None]
    return x_user
