"""Benchmark: batch recommendation throughput (users/s) of the two-stage model, and how it grows with the
catalogue.

Scoring cost does not depend on what the weights learned, so the catalogue sweep uses freshly
initialised networks of the real architecture (persona-SASRec candidate generator with a 64-d persona
token -> top-100 candidates -> SASRec rerank -> top-k; RecBole-sized: hidden 64, 2 layers, 2 heads,
max length 50) on synthetic catalogues and Zipf-distributed sessions of 50 items. Reported per size:
users/s for the whole two-stage call (what the batch job calls per batch), the candidate and rerank
stages separately, and peak memory.

With ``--job-dataset NAME`` it also runs the real batch job (``personarec.jobs.recommend``) end to
end on the configured Neo4j (histories read from and RECOMMENDED edges written to the graph), with a
model of the same architecture over that dataset's items, and removes the run afterwards.

    nice .venv/bin/python bench/recommend_throughput.py [--sizes 1682,10000,100000,1000000]
    nice .venv/bin/python bench/recommend_throughput.py --sizes 1682 --job-dataset ml-100k
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from personarec.jobs import UserBatch  # noqa: E402
from personarec.session.models import TrainedModels  # noqa: E402
from personarec.session.popular import MostPopular  # noqa: E402
from personarec.session.sasrec import SASRec, SASRecConfig, SASRecNet  # noqa: E402


def build_models(item_ids: list[str], persona_dim: int, seed: int, threads: int) -> TrainedModels:
    """The two-stage model set over ``item_ids`` with initialised (untrained) weights."""
    torch.manual_seed(seed)
    cfg = SASRecConfig(seed=seed, threads=threads, progress=False)
    n = len(item_ids)
    sasrec = SASRec(cfg)
    sasrec.net_ = SASRecNet(n, cfg).eval()
    persona = SASRec(cfg)
    persona.net_ = SASRecNet(n, cfg, user_dim=persona_dim).eval()
    persona.user_mean_ = np.zeros(persona_dim, dtype=np.float32)
    persona.user_std_ = np.ones(persona_dim, dtype=np.float32)
    pop = MostPopular()
    pop.counts_ = np.zeros(n + 1, dtype=np.float32)
    return TrainedModels(item_ids=item_ids, popular=pop, sasrec=sasrec, persona=persona, n_candidates=100)


def sessions(n_users: int, n_items: int, length: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Zipf-like sessions of item indices (1-based), distinct items within a session."""
    out = []
    for _ in range(n_users):
        raw = np.unique(np.minimum(rng.zipf(1.2, size=length * 3), n_items))
        rng.shuffle(raw)
        out.append(raw[:length].astype(np.int64))
    return out


def sweep_one(n_items: int, users: int, batch: int, k: int, seed: int, threads: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    item_ids = [f"synth:{i}" for i in range(1, n_items + 1)]
    t0 = time.perf_counter()
    models = build_models(item_ids, 64, seed, threads)
    build_s = time.perf_counter() - t0
    rec = models.recommender()
    sess = sessions(users, n_items, 50, rng)
    personas = rng.normal(size=(users, 64)).astype(np.float32)
    # warm-up: first calls allocate
    warm = UserBatch(ids=["w"], histories=[[item_ids[i - 1] for i in sess[0]]], personas=[personas[0].tolist()])
    rec.recommend(warm, k)
    total = cand_s = rerank_s = 0.0
    for start in range(0, users, batch):
        idx = range(start, min(users, start + batch))
        hist = [[item_ids[i - 1] for i in sess[j]] for j in idx]
        b = UserBatch(ids=[str(j) for j in idx], histories=hist, personas=[personas[j].tolist() for j in idx])
        t = time.perf_counter()
        rec.recommend(b, k)
        total += time.perf_counter() - t
        # the two stages on their own (same inputs, index space)
        s = [sess[j] for j in idx]
        t = time.perf_counter()
        cand, cs = models.candidates(s, personas[list(idx)])
        cand_s += time.perf_counter() - t
        t = time.perf_counter()
        models.rerank(s, cand, cs, k=k)
        rerank_s += time.perf_counter() - t
    return {"items": n_items, "users": users, "batch": batch, "k": k, "build_s": build_s,
            "users_per_s": users / total, "candidates_users_per_s": users / cand_s,
            "rerank_users_per_s": users / rerank_s, "seconds": total,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def job_run(dataset: str, k: int, batch: int, seed: int, threads: int) -> dict[str, Any]:
    """The real batch job on the configured Neo4j, with a same-architecture model over the dataset's items."""
    from personarec.config import load_settings
    from personarec.graph import connect
    from personarec.jobs import recommend, remove_run

    settings = load_settings()
    with connect(settings) as graph:
        items = [r["item"] for r in graph.read("queries/jobs_popularity.cypher",
                                                 {"dataset": dataset, "splits": ["train"]})]
        models = build_models(sorted(items), 64, seed, threads)
        run_id = f"bench-throughput-{os.getpid()}"
        try:
            s = recommend(graph, settings, models.recommender("bench-two-stage"), run_id, dataset=dataset, k=k,
                          batch_size=batch, progress=False)
            personas_note = "users without User.persona fall back to SASRec candidates"
        finally:
            remove_run(graph, run_id, progress=False)
    return {"dataset": dataset, "users": s.total, "items": len(items), "k": k, "batch": batch,
            "users_per_s": s.throughput, "seconds": s.seconds, "edges": s.edges, "note": personas_note}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1682,10000,100000,1000000")
    parser.add_argument("--users", type=int, default=1024, help="users per size (fewer for >= 1M items)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--job-dataset", default=None, help="also run the real job on this dataset in Neo4j")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "recommend_throughput.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {"machine": {"cpu": platform.processor() or platform.machine(),
                                           "cores": os.cpu_count(), "torch_threads": args.threads,
                                           "loadavg_before": os.getloadavg()},
                               "architecture": "persona-SASRec top-100 -> SASRec rerank -> top-k; hidden 64, "
                                               "2 layers, 2 heads, max_len 50; untrained weights (cost only)",
                               "sweep": []}
    for n in [int(x) for x in args.sizes.split(",") if x]:
        users = args.users if n < 1_000_000 else max(args.batch, args.users // 4)
        batch = args.batch if n < 1_000_000 else min(args.batch, 128)  # a 128 x 1M score matrix is 0.5 GB
        res = sweep_one(n, users, batch, args.k, args.seed, args.threads)
        print(json.dumps(res), flush=True)
        results["sweep"].append(res)
    if args.job_dataset:
        res = job_run(args.job_dataset, args.k, args.batch, args.seed, args.threads)
        print(json.dumps(res), flush=True)
        results["job"] = res
    results["machine"]["loadavg_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
