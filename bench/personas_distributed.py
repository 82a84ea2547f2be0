"""Distributed persona training benchmark (issue 12 part 3): ``torchrun --nproc_per_node N`` data-parallel
HDGI training (``personarec.persona.distributed``) on the synthetic 100k-user graph versus one process:
seconds per epoch and the loss curves of both (same seed and batch order, so they must agree).

The graph is ``bench.personas.synthetic_export`` (Zipf-Mandelbrot items, lognormal users, one category
per item; metapaths U-I-U and U-I-Category-I-U), prepared once and cached under ``--cache`` so every
run trains on the same bytes. Each configuration runs in a fresh process: one process with ``--threads``
torch threads (all cores, and 1), then ``torchrun --standalone --nproc_per_node N`` with one thread per
rank. Per-epoch times come from the training loop's epoch callback; the JSON also records the load
average before/after each run (the machine is shared: read timings under load as upper bounds).

Usage (hold the shared lock while timing)::

    flock /tmp/personarec-bench.lock nice .venv/bin/python -m bench.personas_distributed \\
        --users 100000 --epochs 3 --nproc 2 --out bench/results/personas_distributed.json
        [--batch-size 8192]   # mini-batches of that many users instead of the default full batch
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from personarec.config import Settings, load_settings, torchrun_env

log = logging.getLogger(__name__)


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _prep_file(cache: Path, users: int, seed: int) -> Path:
    """The prepared synthetic graph, built once (export + metapaths) and cached as a torch pickle."""
    path = cache / f"personas-synthetic-{users}-seed{seed}.pt"
    if path.exists():
        return path
    from bench.personas import synthetic_export
    from personarec.persona.train import prepare

    t0 = time.perf_counter()
    export = synthetic_export(users, seed=seed)
    prep = prepare(export, ["auto"], 32, seed)
    prep.counts = []  # HeCo's positives only; hdgi does not read them
    log.info("prepared %d users in %.1f s", prep.x.shape[0], time.perf_counter() - t0)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(prep, tmp)
    tmp.replace(path)
    return path


def _settings(epochs: int, batch_size: int | None) -> Settings:
    base = load_settings(env={})
    update: dict[str, Any] = {"epochs": epochs, "patience": epochs + 1}  # time a fixed number of epochs
    if batch_size:
        update.update(full_batch_max=1, batch_size=batch_size)
    return base.model_copy(update={"persona": base.persona.model_copy(update=update)})


def worker(args: argparse.Namespace) -> None:
    """One configuration: one process (``fit``) or, under torchrun, one rank (``fit_distributed``)."""
    from personarec.persona.distributed import check_same_graph, fit_distributed, init_from_torchrun
    from personarec.persona.train import fit_loop

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    prep = torch.load(args.prep, weights_only=False)
    load_s = time.perf_counter() - t0
    settings = _settings(args.epochs, args.batch_size)
    marks: list[float] = []
    launched = torchrun_env()
    rank, world = (launched.rank, launched.world_size) if launched else (0, 1)
    start = time.perf_counter()
    if launched and world > 1:
        init_from_torchrun(launched)
        check_same_graph(prep)
        start = time.perf_counter()
        res = fit_distributed(prep, settings, seed=args.seed, progress=False,
                              on_epoch=lambda e, loss: marks.append(time.perf_counter()))
    else:
        # fit_loop rather than fit: fit would force 1 thread on small graphs, here we choose the threads
        res = fit_loop(prep, settings, seed=args.seed, progress=False,
                       on_epoch=lambda e, loss: marks.append(time.perf_counter()), step=None)
    epoch_s = np.diff([start, *marks]).tolist()
    row = {"processes": world, "threads_per_process": torch.get_num_threads(), "rank": rank,
           "users": int(prep.x.shape[0]), "full_batch": not args.batch_size,
           "batch_size": args.batch_size or int(prep.x.shape[0]), "prep_load_s": round(load_s, 2),
           "epoch_s": [round(x, 2) for x in epoch_s], "mean_epoch_s": round(float(np.mean(epoch_s)), 2),
           "loss_curve": res.loss_curve, "final_loss": res.loss_curve[-1],
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if launched and world > 1:
        import torch.distributed as dist

        rows: list[Any] = [None] * world
        dist.all_gather_object(rows, row)
        dist.destroy_process_group()
        if rank != 0:
            return
        row = {**rows[0], "per_rank_mean_epoch_s": [r["mean_epoch_s"] for r in rows],
               "per_rank_peak_rss_mb": [r["peak_rss_mb"] for r in rows]}
    Path(args.result).write_text(json.dumps(row))


def _run(cmd: list[str], result: Path, env: dict[str, str]) -> dict[str, Any]:
    before = _loadavg()
    t0 = time.perf_counter()
    log.info("running %s", " ".join(cmd))
    subprocess.run(cmd, check=True, env=env)
    row = json.loads(result.read_text())
    row.update(wall_s=round(time.perf_counter() - t0, 1), loadavg_before=before, loadavg_after=_loadavg(),
               command=" ".join(cmd[cmd.index("-m"):] if "-m" in cmd else cmd))
    if "torchrun" in Path(cmd[0]).name:
        row["command"] = "torchrun " + " ".join(cmd[1:cmd.index("-m")]) + " " + row["command"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="JSON results file")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--nproc", type=int, default=2, help="torchrun processes (one thread each)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch threads of the one-process baseline (a 1-thread baseline runs too)")
    parser.add_argument("--batch-size", type=int, default=None, help="mini-batches of this many users "
                        "(default: full batch, as persona.full_batch_max = 250,000 gives at 100k users)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "personarec-bench")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prep", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.worker:
        worker(args)
        return
    if args.out is None:
        parser.error("--out is required")
    result: dict[str, Any] = {"benchmark": "personas_distributed",
                              "started": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                              "loadavg_before": _loadavg(), "torch": torch.__version__, "backend": "gloo",
                              "command": "python -m bench.personas_distributed " + " ".join(sys.argv[1:])}
    t0 = time.perf_counter()
    prep = _prep_file(args.cache, args.users, args.seed)
    result["prepare_s"] = round(time.perf_counter() - t0, 1)
    common = ["--worker", "--prep", str(prep), "--epochs", str(args.epochs), "--seed", str(args.seed)]
    if args.batch_size:
        common += ["--batch-size", str(args.batch_size)]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        for threads in sorted({args.threads, 1}, reverse=True):
            runs[f"1 process x {threads} threads"] = _run(
                [sys.executable, "-m", "bench.personas_distributed", *common, "--threads", str(threads),
                 "--result", str(out)], out, env)
        torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
        runs[f"torchrun {args.nproc} processes x 1 thread"] = _run(
            [torchrun, "--standalone", "--nproc_per_node", str(args.nproc), "-m", "bench.personas_distributed",
             *common, "--threads", "1", "--result", str(out)], out, {**env, "OMP_NUM_THREADS": "1"})
    result["runs"] = runs
    base = runs[f"1 process x {args.threads} threads"]
    one = runs["1 process x 1 threads"]
    dist_row = runs[f"torchrun {args.nproc} processes x 1 thread"]
    ref = np.asarray(base["loss_curve"])
    result["summary"] = {
        "users": base["users"], "epochs": args.epochs, "full_batch": base["full_batch"],
        "mean_epoch_s": {name: r["mean_epoch_s"] for name, r in runs.items()},
        "speedup_vs_1_process_all_threads": round(base["mean_epoch_s"] / dist_row["mean_epoch_s"], 2),
        "speedup_vs_1_process_1_thread": round(one["mean_epoch_s"] / dist_row["mean_epoch_s"], 2),
        "final_loss": {name: r["final_loss"] for name, r in runs.items()},
        "max_rel_loss_diff_vs_1_process": {
            name: float(np.max(np.abs(np.asarray(r["loss_curve"]) - ref) / np.abs(ref))) for name, r in runs.items()},
    }
    result["loadavg_after"] = _loadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
