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
personas): for each user, the mean Jaccard overlap of train items (and genres / DBpedia entities when
present) with the 10 nearest persona neighbours, versus 10 random users, random vectors and the 10
nearest by the mean of the user's item embeddings (HDGI's input), averaged over users. It is the
neighbour-overlap part of ``personarec personas assess`` (``personarec.persona.assess``), called here.

Usage::

    nice .venv/bin/python -m bench.personas --out bench/results/personas.json [--datasets ml-100k,beauty]
        [--synthetic-users 100000] [--epochs 3] [--configured]
    nice .venv/bin/python -m bench.personas --sanity ml-100k --out bench/results/personas-sanity.json
    nice .venv/bin/python -m bench.personas --cost --configured --datasets beauty \
        --out bench/results/personas-cost-beauty.json [--learners hdgi,hdgi-struct,heco]
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
    t_fit = time.perf_counter()
    res = fit(prep, settings, seed=seed, progress=False)
    t1 = time.perf_counter()
    embed_all(res.model, prep, learner=res.learner)
    limit = min(settings.persona.full_batch_max, res.learner.full_batch_max() or settings.persona.full_batch_max)
    return {"learner": settings.persona.learner,
            "metapaths": {mp.name: int(a.nnz) for mp, a in zip(prep.metapaths, prep.adjs)},
            "metapath_s": round(t_prep, 2), "epochs": len(res.loss_curve), "epoch_s": round(res.epoch_seconds, 3),
            "max_steps": res.learner.max_steps(), "full_batch": prep.x.shape[0] <= limit,
            "train_s": round(t1 - t_fit, 1),
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


def cost(args: argparse.Namespace) -> dict[str, Any]:
    """Issue 10's cost check: each of ``--learners`` trained to its own stopping rule with the default
    settings (early stop, step budget) on each dataset's export, timed back to back in one process, with
    each learner's time as a multiple of ``hdgi``'s."""
    from personarec.graph.export import export_graph

    base = load_settings()
    out: dict[str, Any] = {}
    with _graph(base, args.configured, args.workdir) as (graph, settings):
        for name in [d for d in args.datasets.split(",") if d]:
            ensure_dataset(graph, settings, name, stand_ins=not args.configured)
            export = export_graph(graph, name, progress=False, item_features="embedding")
            rows: dict[str, Any] = {}
            for learner in args.learners.split(","):
                s = settings.model_copy(update={"persona": settings.persona.model_copy(update={"learner": learner})})
                rows[learner] = row = time_hdgi(export, s)
                log.info("%s %s: %s", name, learner, row)
            if "hdgi" in rows:
                for row in rows.values():
                    row["train_s_over_hdgi"] = round(row["train_s"] / rows["hdgi"]["train_s"], 2)
            out[name] = {"users": len(export.ids["user"]), "items": len(export.ids["item"]), "learners": rows}
            del export
    return out


def sanity(args: argparse.Namespace) -> dict[str, Any]:
    """The neighbour-overlap part of ``personarec personas assess`` (personarec.persona.assess) on the
    latest run of ``args.sanity``: one implementation, the library's."""
    from personarec.graph import connect
    from personarec.persona.assess import REFERENCES, assess

    settings = load_settings()
    with connect(settings) as graph:
        report = assess(graph, settings, args.sanity, k=10, sample=0, seed=2026, progress=False)
    run = report.runs[0]
    overlap = run.overlap or {}
    table = {ref: {measure: None if row[ref] is None else round(float(row[ref] or 0.0), 4)
                   for measure, row in overlap.items()} for ref in REFERENCES}
    return {"dataset": args.sanity, "users": run.users, "k": run.k, "run": run.run,
            "mean_jaccard_with_k_neighbours": table, "attention": run.attention,
            "loss": {key: v for key, v in run.loss.items() if key != "curve"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    parser.add_argument("--datasets", default="ml-100k,beauty", help="real datasets to export and train on")
    parser.add_argument("--synthetic-users", type=int, default=100_000, help="users of the in-memory graph (0: skip)")
    parser.add_argument("--epochs", type=int, default=3, help="HDGI epochs to time per size")
    parser.add_argument("--configured", action="store_true", help="use the configured Neo4j instead of a fresh one")
    parser.add_argument("--sanity", default=None, metavar="DATASET", help="compute the sanity figure instead")
    parser.add_argument("--cost", action="store_true",
                        help="time --learners trained to their own stopping rule on --datasets instead")
    parser.add_argument("--learners", default="hdgi,hdgi-struct,heco", help="learners timed by --cost")
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
    elif args.cost:
        result["cost"] = cost(args)
    else:
        result["sizes"] = run_sizes(args)
    result["loadavg_after"] = [round(x, 1) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
