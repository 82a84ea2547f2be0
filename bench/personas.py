"""Personas benchmark (issue 4): export time, HDGI epoch time and peak memory at growing sizes, and the
persona sanity figure.

Sizes: MovieLens-100K and Amazon Beauty (real data, loaded through ``personarec.load.load_dataset``
into Neo4j, exported with ``personarec.graph.export``), and a synthetic user-item graph built in
memory (Zipf-Mandelbrot items, lognormal users: ``bench.synth_amazon.sample_interactions``) for the
HDGI part only — its Neo4j load is benchmarked by ``bench.load_throughput``. On a fresh server, items
without an LLM embedding get a random 384-d stand-in written to Neo4j (the encoder's own cost is
``bench.embed_throughput``); with ``--configured`` nothing is written and unembedded datasets are
exported with random item features (the ``item_features`` field of each result says which).

Sanity (``--sanity DATASET``, on a configured Neo4j where the dataset is loaded, embedded and has
personas): for each user, the mean Jaccard overlap of train items (and genres / DBpedia directors when
present) with the 10 nearest persona neighbours, versus 10 random users and versus the 10 nearest by the
mean of the user's item embeddings (HDGI's input), averaged over users.

Usage::

    nice .venv/bin/python -m bench.personas --out bench/results/personas.json [--datasets ml-100k,beauty]
        [--synthetic-users 100000] [--epochs 3] [--configured]
    nice .venv/bin/python -m bench.personas --sanity ml-100k --out bench/results/personas-sanity.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from personarec.config import Settings, load_settings

log = logging.getLogger(__name__)
DATA = Path(os.environ.get("PERSONAREC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
SOURCES = {"ml-100k": ("movielens", [DATA / "movielens-100k"]),
           "beauty": ("sequences", [DATA / "amazon/s3rec-beauty/Beauty.txt",
                                    DATA / "amazon/s3rec-beauty/Beauty_item2attributes.json"])}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _settings(base: Settings, epochs: int) -> Settings:
    # patience > epochs: time a fixed number of epochs
    persona = base.persona.model_copy(update={"epochs": epochs, "patience": epochs + 1})
    return base.model_copy(update={"persona": persona})


def time_hdgi(export: Any, settings: Settings, seed: int = 2026) -> dict[str, Any]:
    from personarec.persona.train import embed_all, fit, prepare

    t0 = time.perf_counter()
    prep = prepare(export, settings.persona.metapaths, settings.persona.max_neighbors, seed)
    t_prep = time.perf_counter() - t0
    res = fit(prep, settings, seed=seed, progress=False)
    t1 = time.perf_counter()
    embed_all(res.model, prep)
    return {"metapaths": {mp.name: int(a.nnz) for mp, a in zip(prep.metapaths, prep.adjs)},
            "metapath_s": round(t_prep, 2), "epochs": len(res.loss_curve), "epoch_s": round(res.epoch_seconds, 3),
            "full_batch": prep.x.shape[0] <= settings.persona.full_batch_max,
            "embed_all_s": round(time.perf_counter() - t1, 2),
            "loss_first_last": [res.loss_curve[0], res.loss_curve[-1]],
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def ensure_dataset(graph: Any, settings: Settings, name: str, stand_ins: bool = True) -> None:
    """Load ``name`` when absent; with ``stand_ins`` (fresh servers only) give unembedded items a random
    384-d embedding so the export streams as many bytes as with real embeddings."""
    from personarec.load import load_dataset

    have = graph.execute("MATCH (u:User {dataset: $d}) RETURN count(u) > 0 AS ok", {"d": name}, read=True)[0]["ok"]
    if not have:
        kind, paths = SOURCES[name]
        load_dataset(graph, settings, kind, paths, name, progress=False)
    if not stand_ins:
        return
    missing = [r["id"] for r in graph.execute("MATCH (i:Item {dataset: $d}) WHERE i.embedding IS NULL "
                                                "RETURN i.id AS id",
                                                {"d": name}, read=True)]
    if missing:
        rng = np.random.default_rng(0)
        rows = [{"id": i, "embedding": (rng.standard_normal(384) / 20).astype(np.float32).tolist()} for i in missing]
        graph.write_batches("load/persona_bench_embeddings.cypher", rows, batch_size=2000)
        log.info("%s: %d items got a random stand-in embedding", name, len(missing))


def synthetic_export(n_users: int, dim: int = 384, seed: int = 2026) -> Any:
    """An in-memory KGExport: ~10 train items per user (skewed), 1 category per item (100 categories)."""
    from torch_geometric.data import HeteroData

    from bench.synth_amazon import sample_interactions
    from personarec.graph.export import KGExport, mean_item_features

    ev = sample_interactions(n_users * 10, seed=seed)
    users, u_idx = np.unique(ev["user"], return_inverse=True)
    items, i_idx = np.unique(ev["item"], return_inverse=True)
    ui = np.unique(np.stack([u_idx, i_idx], 1), axis=0)
    rng = np.random.default_rng(seed)
    x_item = (rng.standard_normal((len(items), dim), dtype=np.float32) / np.sqrt(dim))
    data = HeteroData()
    data["item"].x = torch.from_numpy(x_item)
    data["user"].x = torch.from_numpy(mean_item_features(ui, x_item, len(users)))
    data["user", "interacted", "item"].edge_index = torch.from_numpy(ui.T.copy())
    cat = rng.integers(0, 100, len(items))
    data["item", "in_category", "category"].edge_index = torch.from_numpy(np.stack([np.arange(len(items)), cat]))
    return KGExport(data, {"user": [str(u) for u in users], "item": [str(i) for i in items],
                           "category": [f"c{k}" for k in range(100)]},
                    rels={("user", "interacted", "item"): "INTERACTED",
                          ("item", "in_category", "category"): "IN_CATEGORY"})


@contextlib.contextmanager
def _graph(base: Settings, configured: bool, workdir: Path) -> Iterator[tuple[Any, Settings]]:
    from personarec.db import init_schema
    from personarec.graph import connect

    if configured:
        with connect(base) as graph:
            init_schema(graph, base)
            yield graph, base
        return
    from bench.load_throughput import fresh_server

    with fresh_server(base, workdir, "1g", "512m") as settings, connect(settings) as graph:
        init_schema(graph, settings)
        yield graph, settings


def run_sizes(args: argparse.Namespace) -> dict[str, Any]:
    from personarec.graph.export import export_graph

    base = load_settings()
    out: dict[str, Any] = {}
    names = [d for d in args.datasets.split(",") if d]
    if names:
        with _graph(base, args.configured, args.workdir) as (graph, settings):
            for name in names:
                # never write stand-in embeddings into a configured (possibly real) graph
                ensure_dataset(graph, settings, name, stand_ins=not args.configured)
                embedded = graph.execute("MATCH (i:Item {dataset: $d}) WHERE i.embedding IS NOT NULL "
                                         "RETURN count(i) > 0 AS ok", {"d": name}, read=True)[0]["ok"]
                t0 = time.perf_counter()
                export = export_graph(graph, name, progress=False,
                                      item_features="embedding" if embedded else "random")
                t_export = time.perf_counter() - t0
                row = {"item_features": "embedding" if embedded else "random (not streamed)",
                       "users": len(export.ids["user"]), "items": len(export.ids["item"]),
                       "train_edges": int(export.data["user", "interacted", "item"].edge_index.shape[1]),
                       "edge_types": {"/".join(k): int(export.data[k].edge_index.shape[1]) for k in export.rels
                                      if k != ("user", "interacted", "item")},
                       "export_s": round(t_export, 2), "peak_rss_after_export_mb": round(peak_rss_mb(), 1)}
                row.update(time_hdgi(export, _settings(settings, args.epochs)))
                out[name] = row
                log.info("%s: %s", name, row)
                del export
    if args.synthetic_users:
        t0 = time.perf_counter()
        export = synthetic_export(args.synthetic_users)
        row = {"users": len(export.ids["user"]), "items": len(export.ids["item"]),
               "train_edges": int(export.data["user", "interacted", "item"].edge_index.shape[1]),
               "build_s": round(time.perf_counter() - t0, 2), "export_s": None,
               "note": "in-memory graph (no Neo4j export); mini-batches when users > persona.full_batch_max"}
        row.update(time_hdgi(export, _settings(base, args.epochs)))
        out[f"synthetic-{args.synthetic_users}"] = row
        log.info("synthetic: %s", row)
    return out


def _binary(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    m.data[:] = 1.0
    return m


def mean_jaccard(sets: sp.csr_matrix, neighbours: np.ndarray) -> float:
    """Mean over users of the mean Jaccard between a user's set and each of its neighbours' sets."""
    sizes = np.asarray(sets.sum(axis=1)).ravel()
    n, k = neighbours.shape
    rows = np.repeat(np.arange(n), k)
    cols = neighbours.ravel()
    inter = np.asarray(sets[rows].multiply(sets[cols]).sum(axis=1)).ravel()
    union = sizes[rows] + sizes[cols] - inter
    jac = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    return float(jac.reshape(n, k).mean())


def top_k_cosine(x: np.ndarray, k: int) -> np.ndarray:
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sim = xn @ xn.T
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1)[:, :k]


def sanity(args: argparse.Namespace) -> dict[str, Any]:
    from personarec.graph import connect
    from personarec.graph.export import export_graph
    from personarec.persona.train import read_personas

    settings = load_settings()
    k = 10
    with connect(settings) as graph:
        export = export_graph(graph, args.sanity, progress=False)
        ids, personas, versions = read_personas(graph, args.sanity)
        run = graph.read("queries/persona_run.cypher", {"dataset": args.sanity, "run": None})
    uidx = export.index("user")
    order = np.array([uidx[u] for u in ids])
    n = len(export.ids["user"])
    assert sorted(order.tolist()) == list(range(n)), "every exported user must have a persona"
    p = np.zeros((n, personas.shape[1]), dtype=np.float32)
    p[order] = personas
    ui = export.data["user", "interacted", "item"].edge_index.numpy()
    n_items = export.num_nodes("item")
    sets = {"train_items": _binary(ui[0], ui[1], (n, n_items))}
    item_user = sets["train_items"]
    for key, (rel, ntype) in {"genres": ("has_genre", "genre"), "dbpedia_directors": ("directed_by", "entity"),
                              "dbpedia_subjects": ("has_subject", "entity")}.items():
        et = ("item", rel, ntype)
        if et in export.rels:
            ei = export.data[et].edge_index.numpy()
            feat = _binary(ei[0], ei[1], (n_items, export.num_nodes(ntype)))
            sets[key] = (item_user @ feat).tocsr()
            sets[key].data[:] = 1.0
    rng = np.random.default_rng(2026)
    rand = np.stack([rng.choice(np.delete(np.arange(n), u), k, replace=False) for u in range(n)])
    neigh = {"hdgi_personas": top_k_cosine(p, k), "mean_item_embedding": top_k_cosine(export.data["user"].x.numpy(), k),
             "random_users": rand,
             "random_vectors": top_k_cosine(rng.standard_normal((n, personas.shape[1])).astype(np.float32), k)}
    table = {name: {key: round(mean_jaccard(s, nb), 4) for key, s in sets.items()} for name, nb in neigh.items()}
    return {"dataset": args.sanity, "users": n, "k": k, "persona_versions": sorted(versions),
            "run": run[0] if run else None, "mean_jaccard_with_k_neighbours": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    parser.add_argument("--datasets", default="ml-100k,beauty", help="real datasets to export and train on")
    parser.add_argument("--synthetic-users", type=int, default=100_000, help="users of the in-memory graph (0: skip)")
    parser.add_argument("--epochs", type=int, default=3, help="HDGI epochs to time per size")
    parser.add_argument("--configured", action="store_true", help="use the configured Neo4j instead of a fresh one")
    parser.add_argument("--sanity", default=None, metavar="DATASET", help="compute the sanity figure instead")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "personarec-bench")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("neo4j").setLevel(logging.WARNING)
    args.workdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"benchmark": "personas", "started": datetime.now(UTC).isoformat(timespec="seconds"),
                              "cpus": os.cpu_count(), "loadavg_before": [round(x, 1) for x in os.getloadavg()],
                              "command": "python -m bench.personas " + " ".join(sys.argv[1:])}
    if args.sanity:
        result["sanity"] = sanity(args)
    else:
        result["sizes"] = run_sizes(args)
    result["loadavg_after"] = [round(x, 1) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
