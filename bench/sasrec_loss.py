"""Benchmark: SASRec training seconds per epoch, full-softmax CE vs sampled softmax, by catalogue size.

The numbers behind ``loss = "auto"`` (``personarec.session.losses.resolve_loss``). For each data set
it trains the real model (``SASRec.train``, RecBole-sized, one torch thread unless ``--threads``) for
a few epochs with each loss and records the training seconds of every epoch, wall and process CPU
time (validation excluded; a 200-user validation sample keeps it short), and the CPU seconds per
1,000 train targets, which compares data sets of different sizes. CPU time is the figure to read on
a shared box: with one torch thread it is what the epoch costs on an idle core, whatever else runs.
Data sets: MovieLens-100K (1,682 items) and Beauty (12,101 items) through the project's loaders
and leave-one-out split (fingerprints checked), and synthetic catalogues (``--synthetic
50000,100000``: Zipf-popular items, sessions of 10, few users so that one full-CE epoch stays
affordable; the cost per target grows with the catalogue, not the users).

    flock /tmp/personarec-bench.lock .venv/bin/python bench/sasrec_loss.py \\
        --out bench/results/sasrec-loss.json [--datasets ml-100k,beauty] [--synthetic 50000] [--epochs 2]

With ``--eval-inputs FILE`` it instead runs the five-row evaluation (``personarec.eval.runner``) from a
``personarec evaluate --save-inputs`` file on the CPU (``--device cuda`` on a GPU) with the given
``[session]`` knobs and SASRec hyper-parameters (the learning rate is not a session setting), and writes
the report folder plus ``run.json`` (settings, wall and CPU seconds, load averages):

    flock /tmp/personarec-bench.lock .venv/bin/python bench/sasrec_loss.py --eval-inputs beauty.npz \\
        --eval-out bench/results/eval-beauty-sampled-cpu --seeds 2020 \\
        --session '{"loss":"sampled","negatives":1024,"negative_sampler":"popularity","patience":6,
                    "valid_users":6000,"time_limit_s":540}' --sasrec '{"lr":0.002,"progress":false}'
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.machine import cpu_features, cpu_model  # noqa: E402
from bench.sasrec import emit, load  # noqa: E402
from personarec.cpu import cpu_bf16_native  # noqa: E402
from personarec.session.data import SequenceData  # noqa: E402
from personarec.session.losses import resolve_precision  # noqa: E402
from personarec.session.sasrec import SASRec, SASRecConfig  # noqa: E402

LOSSES: list[dict[str, Any]] = [
    {"loss": "full", "precision": "fp32"},
    {"loss": "full", "precision": "bf16"},  # measured only where the CPU multiplies bfloat16 natively
    {"loss": "sampled", "negative_sampler": "uniform"},
    {"loss": "sampled", "negative_sampler": "popularity"},
]


def synthetic(n_items: int, n_users: int, length: int = 10, seed: int = 0) -> SequenceData:
    """``n_users`` sessions of ``length`` Zipf(1.1)-popular items from an ``n_items`` catalogue, leave-one-out."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, n_items + 1, dtype=np.float64)
    p = ranks ** -1.1
    p /= p.sum()
    items = [rng.choice(n_items, length, p=p) + 1 for _ in range(n_users)]
    splits = [np.array([0] * (length - 2) + [1, 2], dtype=np.int8) for _ in range(n_users)]
    return SequenceData(f"synthetic-{n_items}", [f"u{u}" for u in range(n_users)],
                        [f"i{k}" for k in range(n_items)], items, splits, [None] * n_users)


def train_targets(data: SequenceData) -> int:
    """Predicted positions per epoch (every train item after the first, per user)."""
    return sum(max(0, len(data.train_sequence(u)) - 1) for u in range(data.n_users))


def measure(data: SequenceData, loss: dict[str, Any], epochs: int, negatives: int, threads: int) -> dict[str, Any]:
    """Train ``epochs`` epochs with ``loss``; seconds per epoch (training only) and per 1,000 targets."""
    cfg = SASRecConfig(epochs=epochs, patience=epochs, progress=False, valid_users=200, threads=threads,
                       device="cpu", negatives=negatives, **loss)
    t0 = time.perf_counter()
    model = SASRec(cfg).train(data)
    per_epoch = [h["train_s"] for h in model.history_]
    cpu = [h["train_cpu_s"] for h in model.history_]
    steady, steady_cpu = float(np.median(per_epoch)), float(np.median(cpu))
    n = train_targets(data)
    return {**model.loss_info(), "label": model.loss_label(), "epochs": len(per_epoch),  # type: ignore[dict-item]
            "train_s_per_epoch": [round(s, 3) for s in per_epoch], "median_s_per_epoch": round(steady, 3),
            "train_cpu_s_per_epoch": [round(s, 3) for s in cpu], "median_cpu_s_per_epoch": round(steady_cpu, 3),
            "cpu_s_per_1000_targets": round(1000 * steady_cpu / n, 5), "wall_s": round(time.perf_counter() - t0, 1),
            "train_loss": [round(h["loss"], 4) for h in model.history_]}


def evaluate_file(inputs_file: Path, out: Path, seeds: list[int], session: dict[str, Any],
                  sasrec: dict[str, Any], device: str = "cpu") -> dict[str, Any]:
    """The five-row table from a saved inputs file on ``device``; returns what ``run.json`` records."""
    import resource

    from personarec.config import Settings
    from personarec.eval.inputs import load_inputs
    from personarec.eval.report import markdown_table
    from personarec.eval.runner import evaluate_inputs

    inputs = load_inputs(inputs_file)
    fp = inputs.data.fingerprint()
    settings = Settings()
    settings.session = settings.session.model_copy(update={**session, "device": device})
    config = SASRecConfig.from_session(settings.session, **sasrec)
    load0, t0, c0 = os.getloadavg(), time.perf_counter(), time.process_time()
    precision = "bf16" if resolve_precision(config.precision, device) == torch.bfloat16 else "fp32"
    loss = (f"full CE, logit products in {precision} ({config.precision})" if config.loss == "full" else
            f"{config.loss}, {config.negatives} {config.negative_sampler} negatives (logQ-corrected)")
    valid = f"{config.valid_users} validation users" if config.valid_users else "all validation users"
    notes = [
        f"{'CPU' if device == 'cpu' else 'GPU'} run, SASRec settings chosen on validation data: loss {loss}, "
        f"lr {config.lr}, batch "
        f"{config.batch_size} targets, patience {config.patience}, early stopping on {valid}; test is full "
        "ranking over all items as always."]
    report = evaluate_inputs(inputs, settings, out, seeds, config, notes=notes)
    run = {"command": " ".join(sys.argv), "config": config.model_dump(), "fingerprint": fp,
           "wall_s": time.perf_counter() - t0, "process_cpu_s": time.process_time() - c0,
           "children_cpu_s": resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime,
           "loadavg_before": load0, "loadavg_after": os.getloadavg(), "torch_threads": config.threads,
           "cpus": os.cpu_count(), "device": device,
           "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None}
    (out / "run.json").write_text(json.dumps(run, indent=2))
    print(markdown_table(report))
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ml-100k,beauty")
    parser.add_argument("--synthetic", default="50000", help="comma-separated catalogue sizes ('' for none)")
    parser.add_argument("--synthetic-users", type=int, default=1500)
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("PERSONAREC_DATA_DIR", ROOT.parent / "shared" / "data")))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--negatives", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--eval-inputs", type=Path, default=None, help="evaluate from this --save-inputs file")
    parser.add_argument("--eval-out", type=Path, default=Path("bench/results/eval-beauty-sampled-cpu"))
    parser.add_argument("--seeds", default="2020")
    parser.add_argument("--session", default="{}", help="JSON of [session] fields for --eval-inputs")
    parser.add_argument("--sasrec", default="{}", help="JSON of SASRecConfig fields for --eval-inputs")
    parser.add_argument("--device", default="cpu", help="torch device for --eval-inputs ('cuda' on a GPU)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    if args.eval_inputs:
        logging.getLogger("personarec").setLevel(logging.INFO)
        run = evaluate_file(args.eval_inputs, args.eval_out, [int(s) for s in args.seeds.split(",")],
                            json.loads(args.session), json.loads(args.sasrec), args.device)
        print(json.dumps({k: run[k] for k in ("wall_s", "process_cpu_s", "loadavg_before", "loadavg_after")}))
        return

    sets: list[SequenceData] = [load(d, args.data_dir) for d in args.datasets.split(",") if d]
    sets += [synthetic(int(n), args.synthetic_users) for n in args.synthetic.split(",") if n]
    load_before = os.getloadavg()
    started = time.perf_counter()
    rows = []
    for data in sets:
        for loss in LOSSES:
            if loss.get("precision") == "bf16" and not cpu_bf16_native():
                continue  # emulated bfloat16 would only measure the emulation
            r = measure(data, loss, args.epochs, args.negatives, args.threads)
            row = {"dataset": data.dataset, "items": data.n_items, "users": data.n_users,
                   "train_targets": train_targets(data), **r}
            print(json.dumps({k: row[k] for k in ("dataset", "items", "label", "median_s_per_epoch",
                                                  "median_cpu_s_per_epoch", "cpu_s_per_1000_targets")}), flush=True)
            rows.append(row)
    speedup = {}
    for name in dict.fromkeys(r["dataset"] for r in rows):
        by = {r["label"]: r["median_cpu_s_per_epoch"] for r in rows if r["dataset"] == name}
        full = by.pop("full CE")
        speedup[name] = {label: round(full / s, 2) for label, s in by.items()}
    result = {
        "what": "SASRec training seconds per epoch (validation excluded), full CE (chunked on the CPU; float32 "
                "and, where native, bfloat16 logit products) vs sampled softmax",
        "rows": rows, "full_over_sampled_cpu_time": speedup, "negatives": args.negatives, "torch_threads": args.threads,
        "device": "cpu", "machine": cpu_model(), "cpu_features": cpu_features(), "cpus": os.cpu_count(),
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
