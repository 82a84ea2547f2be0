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

With ``--ann`` it compares exact retrieval with the FAISS item index (``personarec.session.retrieval``)
instead, at ``--ann-sizes`` (100k and 1M items), writing ``recommend_throughput_ann.json``. Per size and
catalogue, exact and ANN each run in a fresh process (so each peak RSS is its own), over the same users
and sessions; reported: users/s of the whole two-stage call (``SessionRecommender.recommend``, every
user with a persona), the index build time, peak RSS, **recall@100** of the index's candidates against
the exact candidates, and the **share of users whose final top-10 is identical** to exact retrieval's;
ANN is run at each ``--nprobes`` (IVF) and, where ``--hnsw-sizes`` says, with an HNSW index at each
``--ef-searches``; ``--pq-search`` runs the IVF-PQ index at each ``nprobe:refine``, certified by the
bounded scan (``session.ann_verify``, exact by construction) unless the entry ends in ``:0``.
``--crossover`` adds exact vs ANN users/s at small sizes (where ``auto`` switches). ``--device cuda`` runs
the networks, the exact scores and the certifying scan on a GPU (the FAISS index stays on the CPU).

Two synthetic catalogues, because an index's recall depends on the geometry of the item vectors:

* ``isotropic`` — freshly initialised networks (item rows N(0, 0.02²) in all 64 dimensions, untrained
  Transformer): no neighbourhood structure at all, the worst case for any ANN index. Trained tables
  do not look like this.
* ``trained-like`` — the geometry of a *trained* model (``--trained DIR``: a model folder
  ``TrainedModels.save`` wrote, e.g. ``reports/main/model`` of ``bash run.sh main`` on ML-100K): each
  network (persona-SASRec, SASRec) keeps its trained Transformer, position, persona-projection and
  LayerNorm weights, and its item table is replaced by ``n`` rows drawn from a Gaussian with the mean
  and full covariance of that model's trained item table (rows 1..n; ID and projected LLM parts summed),
  drawn jointly for both networks (a 128-d Gaussian over [persona-SASRec row | SASRec row]), so an
  item's two vectors are as correlated as in the trained pair.
  Trained tables are strongly anisotropic (on ML-100K a participation ratio of 7–13 of 64 dimensions,
  80% of the energy in 14–15 directions, a common mean direction of ~0.36 of the row norm); the
  Gaussian keeps exactly that second-order structure, and the queries come from trained weights, so
  they point where trained queries point. It has no cluster structure beyond that, and no
  norm–popularity rule (on ML-100K item norms correlate with log-popularity at +0.33 for
  persona-SASRec but -0.80 for SASRec, so there is no one rule to copy).
* ``--real-check`` measures how pessimistic that Gaussian is: recall@100 of the IVF index on the
  trained model's own SASRec table with real MovieLens-100K sessions (``u.data`` under
  ``PERSONAREC_DATA_DIR``), against the same model with its table replaced by the Gaussian of it, at
  IVF settings that scan the same shares of the catalogue.

Sessions are Zipf-distributed item indices (50 distinct items), personas standard normal after the
model's standardisation.

    flock /tmp/personarec-bench.lock nice .venv/bin/python bench/recommend_throughput.py --ann \
        --trained reports/main/model --real-check --crossover 10000,30000,100000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.machine import cpu_features, cpu_model  # noqa: E402
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


# ----------------------------------------------------------------------------- exact vs ANN retrieval
def _gaussian_like(table: torch.Tensor, n: int, rng: np.random.Generator) -> torch.Tensor:
    """(n + 1, d) rows drawn from a Gaussian with the mean and covariance of ``table``'s rows 1..; row 0 zero."""
    x = table[1:].double().cpu().numpy()
    mean, cov = x.mean(0), np.cov(x, rowvar=False)
    chol = np.linalg.cholesky(cov + 1e-9 * np.eye(cov.shape[0]))
    out = np.zeros((n + 1, x.shape[1]), dtype=np.float32)
    for start in range(1, n + 1, 100_000):  # in chunks: no n x d float64 temporaries
        stop = min(n + 1, start + 100_000)
        out[start:stop] = mean + rng.standard_normal((stop - start, x.shape[1])) @ chol.T
    return torch.from_numpy(out)


def _with_table(model: SASRec, table: torch.Tensor) -> SASRec:
    """A copy of trained ``model`` whose item table is ``table`` (ID embeddings only), other weights kept."""
    assert model.net_ is not None
    cfg = model.config.model_copy(update={"device": "cpu"})
    user_dim = None if model.net_.user_proj is None else model.net_.user_proj.in_features
    net = SASRecNet(table.shape[0] - 1, cfg, user_dim=user_dim)
    state = {k: v for k, v in model.net_.state_dict().items()
             if not k.startswith(("item_emb", "item_proj", "item_text"))}
    missing = net.load_state_dict(state, strict=False)
    assert set(missing.missing_keys) == {"item_emb.weight"}, missing
    with torch.no_grad():
        net.item_emb.weight.copy_(table)
    out = SASRec(cfg)
    out.net_ = net.eval()
    out.user_mean_, out.user_std_ = model.user_mean_, model.user_std_
    return out


def catalogue_models(kind: str, n_items: int, seed: int, threads: int, trained: Path | None) -> TrainedModels:
    """The two-stage set over ``n_items`` synthetic items: ``isotropic`` or ``trained-like`` (docstring)."""
    item_ids = [f"synth:{i}" for i in range(1, n_items + 1)]
    if kind == "isotropic":
        return build_models(item_ids, 64, seed, threads)
    if trained is None:
        raise SystemExit("the trained-like catalogue needs --trained DIR (a TrainedModels.save folder)")
    base = TrainedModels.load(trained)
    if base.persona is None:
        raise SystemExit(f"{trained} holds no persona-SASRec")
    rng = np.random.default_rng(seed)
    # one joint Gaussian over [persona row | SASRec row]: an item's vectors in the two models stay as
    # correlated as trained ones are (two independent draws would make the reranker's choice among the
    # candidates unrelated to the generator's ranking, an artefact that exaggerates top-10 changes)
    hidden = base.item_table("persona").shape[1]
    joint = _gaussian_like(torch.cat([base.item_table("persona"), base.item_table("sasrec")], dim=1), n_items, rng)
    persona = _with_table(base.persona, joint[:, :hidden].contiguous())
    sasrec = _with_table(base.sasrec, joint[:, hidden:].contiguous())
    pop = MostPopular()
    pop.counts_ = np.zeros(n_items + 1, dtype=np.float32)
    return TrainedModels(item_ids=item_ids, popular=pop, sasrec=sasrec, persona=persona, n_candidates=100)


def _persona_inputs(models: TrainedModels, users: int, rng: np.random.Generator) -> np.ndarray:
    """Persona vectors that are standard normal after the model's own standardisation."""
    assert models.persona is not None and models.persona.user_mean_ is not None
    assert models.persona.user_std_ is not None
    z = rng.normal(size=(users, models.persona.user_mean_.shape[0])).astype(np.float32)
    return (models.persona.user_mean_ + z * models.persona.user_std_).astype(np.float32)


def _run_two_stage(models: TrainedModels, item_ids: list[str], sess: list[np.ndarray], personas: np.ndarray,
                   batch: int, k: int) -> tuple[float, list[list[str]], np.ndarray]:
    """Seconds of the whole two-stage call over all users, their top-k ids, and the candidates it reranked."""
    rec = models.recommender()

    def users(idx: range) -> UserBatch:
        return UserBatch(ids=[str(j) for j in idx], histories=[[item_ids[i - 1] for i in sess[j]] for j in idx],
                         personas=[personas[j].tolist() for j in idx])

    # warm-up, untimed: one full batch (the scan copy of the table, the kernels for the batch's shapes,
    # the heap's growth to a batch's working set: what a job over many batches pays once)
    rec.recommend(users(range(min(batch, len(sess)))), k)
    seconds, tops, cands = 0.0, [], []
    generate = TrainedModels.candidates

    def recording(*a: Any, **kw: Any) -> tuple[torch.Tensor, torch.Tensor]:
        out = generate(models, *a, **kw)
        cands.append(out[0].numpy())
        return out

    models.candidates = recording  # type: ignore[method-assign]  # keep what the call itself retrieved
    for start in range(0, len(sess), batch):
        b = users(range(start, min(len(sess), start + batch)))
        t = time.perf_counter()
        items, _ = rec.recommend(b, k)
        seconds += time.perf_counter() - t
        tops.extend(items)
    del models.candidates
    return seconds, tops, np.concatenate(cands)


def ann_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """One process: exact (saves its lists) or ANN (compares with them) on one size and catalogue."""
    from personarec.session.retrieval import RetrievalOptions

    torch.set_num_threads(cfg["threads"])
    rng = np.random.default_rng(cfg["seed"])
    t0 = time.perf_counter()
    models = catalogue_models(cfg["catalogue"], cfg["items"], cfg["seed"], cfg["threads"],
                              Path(cfg["trained"]) if cfg["trained"] else None)
    device = torch.device(cfg.get("device", "cpu"))
    for model in (models.sasrec, models.persona):
        if model is not None and model.net_ is not None:
            model.net_.to(device)
    setup_s = time.perf_counter() - t0
    sess = sessions(cfg["users"], cfg["items"], 50, rng)
    personas = _persona_inputs(models, cfg["users"], rng)
    item_ids = models.item_ids
    out: dict[str, Any] = {"items": cfg["items"], "catalogue": cfg["catalogue"], "users": cfg["users"],
                           "batch": cfg["batch"], "k": cfg["k"], "mode": cfg["mode"], "device": str(device),
                           "setup_s": setup_s}
    ref = Path(cfg["ref"])
    if cfg["mode"] == "exact":
        models.retrieval = RetrievalOptions(mode="exact")
        seconds, tops, cands = _run_two_stage(models, item_ids, sess, personas, cfg["batch"], cfg["k"])
        np.savez(ref, cands=cands, tops=np.array([[int(i.split(":")[1]) for i in t] for t in tops], dtype=np.int64))
        out.update(users_per_s=cfg["users"] / seconds, seconds=seconds)
    else:
        exact = np.load(ref)
        runs = []
        for params in cfg["runs"]:
            opts = RetrievalOptions(mode="ann", **params)
            models.retrieval = opts
            models._item_indexes.clear()
            t = time.perf_counter()
            index = models.item_index("persona")  # every user has a persona: only persona-SASRec generates
            build_s = time.perf_counter() - t
            for search in cfg["search"][params["index"]]:
                models.retrieval = RetrievalOptions(mode="ann", **params, **search)
                seconds, tops, cands = _run_two_stage(models, item_ids, sess, personas, cfg["batch"], cfg["k"])
                top_idx = np.array([[int(i.split(":")[1]) for i in t] for t in tops], dtype=np.int64)
                recall = np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(cands, exact["cands"], strict=True)])
                same = float(np.mean(np.all(top_idx == exact["tops"], axis=1)))
                res = {**params, **search, "build_s": build_s if search == cfg["search"][params["index"]][0] else None,
                       "users_per_s": cfg["users"] / seconds, "seconds": seconds, "recall_at_100": float(recall),
                       "identical_top10_share": same, "index_mb": _index_mb(index.index)}
                print(json.dumps({"size": cfg["items"], "catalogue": cfg["catalogue"], **res}), file=sys.stderr,
                      flush=True)
                runs.append(res)
        out["runs"] = runs
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device.type == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def _index_mb(index: Any) -> float:
    import faiss

    return len(faiss.serialize_index(index)) / 2**20


def _spawn(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`ann_worker` in a fresh interpreter (its own peak RSS)."""
    import subprocess

    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(cfg)], capture_output=True, text=True,
                          check=False)
    sys.stderr.write(proc.stderr[-4000:] if proc.returncode else "".join(
        line + "\n" for line in proc.stderr.splitlines() if line.startswith("{")))
    if proc.returncode:
        raise SystemExit(f"worker failed: {cfg['mode']} {cfg['items']} {cfg['catalogue']}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def real_check(trained: Path, fractions: list[float], seed: int) -> dict[str, Any]:
    """Recall@100 of the IVF index on a trained model's own item table with real sessions (MovieLens-100K's
    ``u.data`` under ``settings.data_dir``), against the same model with its table replaced by the Gaussian
    of the trained-like catalogue, at IVF settings that scan the given shares of the catalogue.
    SASRec is the generator here (the real personas live in Neo4j)."""
    from personarec.config import load_settings
    from personarec.session.retrieval import ItemIndex, RetrievalOptions, ann_top, exact_top

    data_dir = load_settings().data_dir
    if data_dir is None:
        raise SystemExit("--real-check reads movielens-100k/u.data under PERSONAREC_DATA_DIR")
    base = TrainedModels.load(trained)
    rows = np.loadtxt(Path(data_dir) / "movielens-100k" / "u.data", dtype=np.int64)
    index_of = {iid: k + 1 for k, iid in enumerate(base.item_ids)}
    order = np.lexsort((rows[:, 3], rows[:, 0]))
    by_user: dict[int, list[int]] = {}
    for u, i in rows[order][:, :2]:
        if f"ml-100k:{i}" in index_of:
            by_user.setdefault(int(u), []).append(index_of[f"ml-100k:{i}"])
    sess = [np.asarray(v, dtype=np.int64) for v in by_user.values()]
    inputs = [s[-base.max_len:] for s in sess]
    rng = np.random.default_rng(seed)
    real = base.item_table("sasrec")
    gauss = _gaussian_like(real, real.shape[0] - 1, rng)
    out: dict[str, Any] = {"model": "SASRec of the main job's ML-100K model set", "users": len(sess),
                           "items": real.shape[0] - 1, "runs": []}
    for name, model in (("trained table", base.sasrec), ("Gaussian of it", _with_table(base.sasrec, gauss))):
        table = real if model is base.sasrec else gauss
        h = model.final_states(inputs, None, table)
        exact = exact_top(h, table, sess, 100)[0].numpy()
        nlist = 4 * round(float(np.sqrt(real.shape[0] - 1)))
        index = ItemIndex.build(table, RetrievalOptions(mode="ann", index="ivf", nlist=nlist))
        for share in fractions:
            opts = RetrievalOptions(mode="ann", index="ivf", nlist=nlist, nprobe=max(1, round(share * nlist)),
                                    verify=False)
            got = ann_top(h, table, index, sess, 100, opts)[0].numpy()
            recall = float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(got, exact, strict=True)]))
            out["runs"].append({"table": name, "nlist": nlist, "nprobe": opts.nprobe, "share_scanned": share,
                                "recall_at_100": recall})
            print(json.dumps(out["runs"][-1]), flush=True)
    if base.history is not None and base.item_vectors is not None:
        # a real trained pair: SASRec + history vector generates, SASRec reranks (as persona-SASRec would)
        table = base.item_table("history")
        h = base.history.final_states(inputs, base.history_vector(inputs), table)
        cand, cs = exact_top(h, table, sess, 100)
        top = base.rerank(inputs, cand, cs, k=10)[0].numpy()
        nlist = 4 * round(float(np.sqrt(table.shape[0] - 1)))
        index = ItemIndex.build(table, RetrievalOptions(mode="ann", index="ivf", nlist=nlist))
        out["two_stage"] = []
        for share in fractions + [0.25, 0.5]:
            opts = RetrievalOptions(mode="ann", index="ivf", nlist=nlist, nprobe=max(1, round(share * nlist)),
                                    verify=False)
            c2, s2 = ann_top(h, table, index, sess, 100, opts)
            t2 = base.rerank(inputs, c2, s2, k=10)[0].numpy()
            recall = float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(c2.numpy(), cand.numpy(),
                                                                                   strict=True)]))
            out["two_stage"].append({"generator": "SASRec + history vector (trained)", "reranker": "SASRec (trained)",
                                     "nlist": nlist, "nprobe": opts.nprobe, "share_scanned": share,
                                     "recall_at_100": recall,
                                     "identical_top10_share": float(np.mean(np.all(t2 == top, axis=1)))})
            print(json.dumps(out["two_stage"][-1]), flush=True)
    return out


def ann_compare(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """Exact vs ANN per size and catalogue (see the module docstring), into ``out``; written after each step."""
    import tempfile

    def save() -> None:
        out["machine"]["loadavg_after"] = os.getloadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2))

    out["compare"] = []
    if args.real_check:
        if args.trained is None:
            raise SystemExit("--real-check needs --trained DIR")
        out["real_check"] = real_check(args.trained, [0.016, 0.032, 0.064, 0.128], args.seed)
        save()
    nprobes = [int(x) for x in args.nprobes.split(",") if x]
    efs = [int(x) for x in args.ef_searches.split(",") if x]
    hnsw_sizes = {int(x) for x in args.hnsw_sizes.split(",") if x}
    pq_search = [{"nprobe": int(f[0]), "refine": int(f[1]), "verify": f[2:] != ["0"]} for f in
                 (entry.split(":") for entry in args.pq_search.split(",") if entry)]
    for kind in [c for c in args.catalogues.split(",") if c]:
        if kind == "trained-like" and args.trained is None:
            print("no --trained DIR: skipping the trained-like catalogue", file=sys.stderr)
            continue
        for n in [int(x) for x in args.ann_sizes.split(",") if x]:
            users = args.ann_users if n < 1_000_000 else args.ann_users // 4
            # a 128 x 1M score matrix is 0.5 GB of a CPU's memory (exact_top bounds it per call anyway)
            batch = args.batch if n < 1_000_000 or args.device != "cpu" else min(args.batch, 128)
            with tempfile.TemporaryDirectory() as tmp:
                base = {"items": n, "catalogue": kind, "users": users, "batch": batch, "k": args.k,
                        "seed": args.seed, "threads": args.threads, "trained": str(args.trained or ""),
                        "ref": str(Path(tmp) / "exact.npz"), "device": args.device}
                exact = _spawn({**base, "mode": "exact"})
                print(json.dumps(exact), flush=True)
                runs = [{"index": "ivf", "nlist": args.nlist}] if nprobes else []
                if pq_search:
                    runs.append({"index": "ivf-pq", "nlist": args.nlist})
                if n in hnsw_sizes:
                    runs.append({"index": "hnsw", "hnsw_m": args.hnsw_m, "ef_construction": args.ef_construction})
                ann = _spawn({**base, "mode": "ann", "runs": runs, "batch": args.ann_batch or batch,
                              "search": {"ivf": [{"nprobe": p} for p in nprobes], "ivf-pq": pq_search,
                                         "hnsw": [{"ef_search": e} for e in efs]}})
            out["compare"].append({"items": n, "catalogue": kind, "exact": exact, "ann": ann})
            save()
    if args.crossover:
        out["crossover"] = []
        for n in [int(x) for x in args.crossover.split(",") if x]:
            with tempfile.TemporaryDirectory() as tmp:
                base = {"items": n, "catalogue": "isotropic", "users": args.ann_users, "batch": args.batch,
                        "k": args.k, "seed": args.seed, "threads": args.threads, "trained": "",
                        "ref": str(Path(tmp) / "exact.npz")}
                exact = _spawn({**base, "mode": "exact"})
                ann = _spawn({**base, "mode": "ann", "runs": [{"index": "ivf", "nlist": args.nlist}],
                              "search": {"ivf": [{"nprobe": args.crossover_nprobe}], "hnsw": []}})
            row = {"items": n, "exact_users_per_s": exact["users_per_s"], "ann": ann["runs"][0]}
            print(json.dumps(row), flush=True)
            out["crossover"].append(row)
            save()
    save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1682,10000,100000,1000000")
    parser.add_argument("--users", type=int, default=1024, help="users per size (fewer for >= 1M items)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--job-dataset", default=None, help="also run the real job on this dataset in Neo4j")
    parser.add_argument("--out", type=Path, default=None,
                        help="default bench/results/recommend_throughput.json (--ann: recommend_throughput_ann.json)")
    ann = parser.add_argument_group("exact vs ANN retrieval (--ann)")
    ann.add_argument("--ann", action="store_true", help="compare exact retrieval with the item index")
    ann.add_argument("--ann-sizes", default="100000,1000000")
    ann.add_argument("--catalogues", default="isotropic,trained-like")
    ann.add_argument("--trained", type=Path, default=None, help="a TrainedModels.save folder (trained-like)")
    ann.add_argument("--ann-users", type=int, default=2048, help="users per size (half at >= 1M items)")
    ann.add_argument("--ann-batch", type=int, default=None,
                     help="users per call for the index runs (default: the exact run's, at most 128 at 1M items, "
                          "where exact scoring holds a batch x items float32 matrix; the batch job's own is 256)")
    ann.add_argument("--nlist", type=int, default=None, help="IVF cells (default: 4 sqrt(items))")
    ann.add_argument("--nprobes", default="64,128,256,512", help="IVF cells scanned, one run each")
    ann.add_argument("--pq-search", default="512:16,512:32,1024:32",
                     help="ivf-pq runs as nprobe:refine (certified, session.ann_verify), nprobe:refine:0 "
                     "(the index alone); '' skips the ivf-pq index")
    ann.add_argument("--hnsw-sizes", default="100000", help="sizes that also get an HNSW index")
    ann.add_argument("--hnsw-m", type=int, default=32)
    ann.add_argument("--ef-construction", type=int, default=64)
    ann.add_argument("--ef-searches", default="200,400")
    ann.add_argument("--crossover", default="", help="sizes for exact vs ANN users/s (e.g. 10000,30000,100000)")
    ann.add_argument("--crossover-nprobe", type=int, default=256)
    ann.add_argument("--real-check", action="store_true", help="recall on the --trained model's own table")
    ann.add_argument("--device", default="cpu", help="where the networks, the scores and the scan run "
                                                     "(cuda: a GPU; the FAISS index stays on the CPU)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(ann_worker(json.loads(args.worker))))
        return
    torch.set_num_threads(args.threads)
    if args.ann:
        args.out = args.out or ROOT / "bench" / "results" / "recommend_throughput_ann.json"
        ann_results: dict[str, Any] = {
                   "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                               "cpu_features": cpu_features(),
                               "torch_threads": args.threads, "loadavg_before": os.getloadavg(),
                               "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None},
                   "architecture": "persona-SASRec top-100 -> SASRec rerank -> top-k; hidden 64, 2 layers, 2 heads, "
                                   "max_len 50; every user has a persona (persona-SASRec generates)",
                   "command": " ".join(sys.argv)}
        ann_compare(args, ann_results)
        return
    args.out = args.out or ROOT / "bench" / "results" / "recommend_throughput.json"
    results: dict[str, Any] = {"machine": {"cpu": cpu_model(),
                                           "cores": os.cpu_count(), "cpu_features": cpu_features(),
                                           "torch_threads": args.threads,
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
