"""Cold-start personas for users who are not in the graph (anonymous sessions).

A new user is a new row of every metapath adjacency: their features are the mean embedding of the
session's items (as for trained users, HDGI's input), their metapath neighbours are the users reached
from those items along each metapath in Neo4j (at most ``K`` per hop, as in training), and the trained
per-metapath GCNs and the run's semantic attention ``β`` give the persona (HDGI Eqs. 2 and 6,
Ren et al. 2019, arXiv 1911.08538), completed by the run's learner (a skip path, HeCo's network-schema
view of ``x``; :mod:`personarec.persona.learners`) — no retraining.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from personarec import store
from personarec.config import Settings
from personarec.graph.connection import Graph
from personarec.graph.export import ENTITY_RELS, ITEM_RELS
from personarec.persona.learners import make_learner
from personarec.persona.metapath import Metapath
from personarec.persona.train import PersonaError, _small_op_threads

log = logging.getLogger(__name__)

#: Feature label -> the relationship types that reach it.
_LABEL_RELS: dict[str, tuple[str, ...]] = {"Category": ("IN_CATEGORY",), "Brand": ("BY_BRAND",),
                                           "Person": ("BY_AUTHOR",), "Genre": ("HAS_GENRE",),
                                           "Attribute": ("HAS_ATTRIBUTE",), "Entity": ENTITY_RELS}


class PersonaEncoder:
    """A trained run's encoder, loaded from the model store key its ``PersonaRun.model_key`` names."""

    def __init__(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        # the run's learner and its options rebuild the same module (models saved before learners: HDGI)
        self.learner = make_learner(meta.get("learner", "hdgi"), meta.get("learner_options"))
        self.in_channels = int(meta["in_channels"])
        self.model = self.learner.build(self.in_channels, meta["hidden_channels"], len(meta["metapaths"]),
                                        meta["attention_channels"])
        self.model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
        self.model.eval()
        self.metapaths = [Metapath(mp["name"], mp["kind"], mp["label"],
                                   tuple(mp["rels"]) if mp["rels"] else None) for mp in meta["metapaths"]]
        self.beta = torch.tensor(meta["beta"], dtype=torch.float32)
        self.degrees = [tensors[f"degrees.{j}"].float() for j in range(len(self.metapaths))]
        self.user_index = {u: k for k, u in enumerate(meta["user_ids"])}
        self.user_x = tensors["user_x"].float()
        self.k = int(meta["max_neighbors"])
        self.dataset: str | None = meta["dataset"]
        self.item_features: str = meta["item_features"]
        self.item_x = tensors["item_x"].float() if "item_x" in tensors else None
        self.item_index = {i: k for k, i in enumerate(meta["item_ids"])} if meta.get("item_ids") else None
        self.num_items = len(meta["item_ids"]) if meta.get("item_ids") else 0

    @classmethod
    def load(cls, store_root: Path, key: str, sha256: str | None = None) -> PersonaEncoder:
        """The encoder saved under ``key`` in the model store ``store_root``, checked against ``sha256``."""
        return _load(str(Path(store_root).expanduser().resolve()), key, sha256)

    def item_features_of(self, graph: Graph, item_ids: list[str]) -> tuple[torch.Tensor, list[str]]:
        """Features of the known session items (unknown ids are dropped) and the ids kept."""
        if self.item_index is not None and self.item_x is not None:  # random item features travel in the store
            kept = [i for i in item_ids if i in self.item_index]
            rows = torch.tensor([self.item_index[i] for i in kept], dtype=torch.long)
            return self.item_x[rows], kept
        found = graph.read("queries/persona_item_features.cypher", {"ids": item_ids})
        kept = [r["id"] for r in found if r["embedding"] is not None]
        vecs = [r["embedding"] for r in found if r["embedding"] is not None]
        if not vecs:
            return torch.empty(0, self.in_channels), []
        return torch.tensor(np.asarray(vecs, dtype=np.float32)), kept

    def neighbours(self, graph: Graph, mp: Metapath, item_ids: list[str]) -> list[str]:
        """Users reached from the session items along ``mp`` (top ``K`` by path count), from Neo4j."""
        params: dict[str, Any] = {"ids": item_ids, "k": self.k, "dataset": self.dataset}
        if mp.kind == "uiu":
            rows = graph.read("queries/persona_infer_uiu.cypher", params)
        elif mp.kind == "items":
            rows = graph.read("queries/persona_infer_links.cypher", {**params, "rels": list(mp.rels or ITEM_RELS)})
        else:
            rels = list(mp.rels or _LABEL_RELS[mp.label or ""])
            rows = graph.read("queries/persona_infer_via.cypher", {**params, "rels": rels, "label": mp.label})
        return [r["id"] for r in rows if r["id"] in self.user_index]

    def infer(self, graph: Graph, item_ids: list[str]) -> np.ndarray:
        """The persona of a user whose session holds ``item_ids``."""
        with _small_op_threads(0), torch.no_grad():
            return self._infer(graph, item_ids)

    def _infer(self, graph: Graph, item_ids: list[str]) -> np.ndarray:
        x_items, kept = self.item_features_of(graph, item_ids)
        if not kept:
            raise PersonaError("none of the session's items is in the graph with features; "
                               "check the ids (e.g. 'ml-100k:50').")
        x_new = x_items.mean(dim=0, keepdim=True)
        hs = []
        gcns: Any = self.model.gcns
        for j, (mp, gcn) in enumerate(zip(self.metapaths, gcns, strict=True)):
            nbrs = torch.tensor([self.user_index[u] for u in self.neighbours(graph, mp, kept)], dtype=torch.long)
            d_new = float(len(nbrs) + 1)  # + self loop, as in training's D^-1/2 (B + I) D^-1/2
            x = torch.cat([x_new, self.user_x[nbrs]], dim=0)
            w = torch.cat([torch.tensor([1.0 / d_new]), 1.0 / torch.sqrt(d_new * self.degrees[j][nbrs])])
            adj = torch.sparse_coo_tensor(torch.stack([torch.zeros(len(w), dtype=torch.long),
                                                       torch.arange(len(w))]), w, (1, len(w)), check_invariants=False)
            hs.append(gcn(x, adj))
        stacked = torch.stack(hs, dim=0)  # [P, 1, C]
        items = None
        if self.learner.uses_items and self.item_index is not None:
            known = [self.item_index[i] for i in kept if i in self.item_index]  # new items: features only
            idx = torch.tensor([[0] * len(known), known], dtype=torch.long).reshape(2, -1)
            items = torch.sparse_coo_tensor(idx, torch.full((len(known),), 1.0 / max(len(known), 1)),
                                            (1, self.num_items), check_invariants=False).coalesce()
        h = self.learner.persona(self.model, stacked, self.beta, x_new, items)  # β of the run: attention is global
        return h[0].numpy().astype(np.float32)


@lru_cache(maxsize=4)
def _load(store_root: str, key: str, sha256: str | None) -> PersonaEncoder:
    # Cached per (store, key, hash): a re-trained or replaced model has another hash and is read again.
    if not store.exists(store.model_dir(Path(store_root), key)):
        raise PersonaError(f"the trained persona model {key!r} is not in the model store {store_root}; copy it "
                           "there (settings.model_store) or run `personarec personas train` again.")
    return PersonaEncoder(*store.load(Path(store_root), key, sha256))


def latest_run(graph: Graph, dataset: str | None = None, run: str | None = None) -> dict[str, Any]:
    """The latest ``PersonaRun`` (of ``dataset``), or the run ``run``; raises when there is none."""
    rows = graph.read("queries/persona_run.cypher", {"dataset": dataset, "run": run})
    if not rows:
        raise PersonaError("no persona run found; train personas first with `personarec personas train`.")
    return rows[0]


def infer_persona(graph: Graph, settings: Settings, item_ids: list[str], *, dataset: str | None = None,
                  run: str | None = None) -> np.ndarray:
    """Persona (``settings.persona.dimensions`` floats) for an anonymous session of ``item_ids`` (Item.id),
    with the encoder of the latest persona run (of ``dataset``) or of run ``run``."""
    info = latest_run(graph, dataset, run)
    if not info.get("model_key"):
        raise PersonaError(f"persona run {info['id']} names no model in the model store (it predates the store); "
                           "run `personarec personas train` again.")
    encoder = PersonaEncoder.load(settings.model_store, info["model_key"], info["model_sha256"])
    vec = encoder.infer(graph, list(dict.fromkeys(item_ids)))
    if vec.shape[0] != settings.persona.dimensions:
        log.warning("run %s has %d-d personas, settings say %d", info["id"], vec.shape[0],
                    settings.persona.dimensions)
    return vec
