"""Benchmark: RecBole 1.2.1's SASRec and ours, side by side on the same exported split.

Both models see the files ``personarec export recbole`` wrote (RecBole reads the pre-split benchmark
files; ours rebuilds its sequences from the ``.inter`` file and must land on the same split
fingerprint). Both are scored with the same code (``personarec.eval.metrics``): full ranking over all
items, history masked (train for validation, train + valid for test), the target never masked — RecBole's
own sequential full-sort evaluation does not mask history, so its model is scored here instead.

Reported: test HR@10 / NDCG@10 (and HR@100, MRR@10) of both at their best validation epoch, and wall
time (training + masked validation) until each reaches its best validation NDCG@10; the headline ratio
is RecBole's time to its best over our time to first reach RecBole's best. Time is process CPU time
(both use 2 torch threads), since on a shared machine wall time mostly measures other people's load;
wall times are recorded beside it. RecBole runs under a time
cap, so its numbers are a lower bound when it is still improving when stopped.

RecBole is not a dependency of personarec: install it in its own virtualenv once, e.g.

    python3 -m venv bench/.venv-recbole
    echo "$PWD/.venv/lib/python3.11/site-packages" > bench/.venv-recbole/lib/python3.11/site-packages/zz_main.pth
    bench/.venv-recbole/bin/pip install --no-deps recbole==1.2.1
    bench/.venv-recbole/bin/pip install "pandas<3" colorlog==4.7.2 colorama==0.4.4 tabulate texttable \
        thop tensorboard plotly

(the .pth line reuses the project's torch instead of downloading another). Then:

    personarec export recbole --dataset ml-100k --out /tmp/recbole
    nice .venv/bin/python bench/recbole_compare.py --files /tmp/recbole/ml-100k --recbole-minutes 25

RecBole's SASRec needs ~30 epochs of ~2.5 CPU-minutes each to reach its best on MovieLens-100K, more
than a time cap allows on 2 cores. The published numbers were made in halves: its epoch count on a
GPU, its CPU cost per epoch from a short CPU run, ours on CPU, then combined:

    python bench/recbole_compare.py --phase recbole --device cuda --files F --recbole-minutes 7 --out rb_gpu.json
    python bench/recbole_compare.py --phase recbole --device cpu  --files F --recbole-minutes 2.6 --out rb_cpu.json
    python bench/recbole_compare.py --phase ours --files F --out ours.json
    python bench/recbole_compare.py --files F --recbole-json rb_gpu.json --recbole-cpu-json rb_cpu.json \
        --ours-json ours.json --out bench/results/recbole_compare.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_RECBOLE_PY = ROOT / "bench" / ".venv-recbole" / "bin" / "python"


def read_sequences(folder: Path, name: str) -> dict[str, list[str]]:
    """Each user's items in our seq order (the ``.inter`` rows are written in that order)."""
    from personarec.export import read_atomic

    seqs: dict[str, list[str]] = {}
    for row in read_atomic(folder / f"{name}.inter"):
        seqs.setdefault(row["user_id"], []).append(row["item_id"])
    return seqs


def _time_to_reach(history: list[dict[str, float]], level: float, clock: str = "cpu_s") -> float | None:
    for h in history:
        if h["valid_ndcg10"] >= level:
            return h[clock]
    return None


# ----------------------------------------------------------------------------- RecBole (its own venv)
def run_recbole(folder: Path, name: str, minutes: float, seed: int, max_epochs: int, patience: int,
                device: str = "cpu") -> dict[str, Any]:
    """Train RecBole's SASRec epoch by epoch; after each epoch score validation with history masked."""
    import numpy as np
    import torch

    # RecBole 1.2.1 aliases names NumPy 2 removed (np.float_ ...); restore them for it, in this process only
    for alias, real in (("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_)):
        if alias not in np.__dict__:
            setattr(np, alias, real)
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    from personarec.eval.metrics import mask_history, metrics_from_ranks, target_ranks

    torch.set_num_threads(2)
    # RecBole swaps in its bundled copy for names it ships (ml-100k), and parses sys.argv: give it a
    # private name (symlinks to our files) and no command line
    import tempfile

    link_root = Path(tempfile.mkdtemp(prefix="recbole-data-"))
    rb_name = f"personarec-{name}"
    (link_root / rb_name).mkdir()
    for f in folder.iterdir():
        if f.name.startswith(name + "."):
            (link_root / rb_name / (rb_name + f.name[len(name):])).symlink_to(f)
    sys.argv = sys.argv[:1]
    config = Config(model="SASRec", dataset=rb_name, config_file_list=[str(folder / f"{name}.yaml")],
                    config_dict={"data_path": str(link_root), "loss_type": "CE", "train_neg_sample_args": None,
                                 "seed": seed, "reproducibility": True, "device": device,
                                 "use_gpu": device != "cpu", "gpu_id": "" if device == "cpu" else "0",
                                 "show_progress": False, "epochs": max_epochs, "worker": 0,
                                 "checkpoint_dir": str(Path("/tmp") / f"recbole-ckpt-{os.getpid()}")})
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])
    model = SASRec(config, train_data._dataset).to(device)
    trainer = Trainer(config, model)

    seqs = read_sequences(folder, name)
    tok2id = dataset.field2token_id
    uid_tok = dataset.field2id_token["user_id"]
    item_index = tok2id["item_id"]

    def evaluate(loader: Any, stage: str) -> dict[str, float]:
        model.eval()
        ranks = []
        with torch.no_grad():
            for batch in loader:
                inter = batch[0]
                scores = model.full_sort_predict(inter.to(device)).view(len(inter), -1).float().cpu().clone()
                targets = inter["item_id"].long().cpu()
                hist = []
                for uid in inter["user_id"].cpu().tolist():
                    items = seqs[str(uid_tok[uid])]
                    # validation: the train items (all but the last two); test: all but the last
                    hist.append(np.array([item_index[i] for i in items[: len(items) - (2 if stage == "valid" else 1)]],
                                         dtype=np.int64))
                mask_history(scores, hist, targets)
                ranks.append(target_ranks(scores, targets).numpy())
        r = np.concatenate(ranks)
        return {k: float(v.mean()) for k, v in metrics_from_ranks(r).items()} | {"users": int(len(r))}

    history: list[dict[str, float]] = []
    best, best_state, best_epoch, since = -1.0, None, -1, 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    for epoch in range(max_epochs):
        t0 = time.perf_counter()
        model.train()
        loss = trainer._train_epoch(train_data, epoch, show_progress=False)
        train_s = time.perf_counter() - t0
        ndcg = evaluate(valid_data, "valid")["NDCG@10"]
        elapsed = time.perf_counter() - started
        history.append({"epoch": epoch, "loss": float(loss if not isinstance(loss, tuple) else sum(loss)),
                        "valid_ndcg10": ndcg, "train_s": train_s, "elapsed_s": elapsed,
                        "cpu_s": time.process_time() - cpu_started})
        print(json.dumps(history[-1]), file=sys.stderr, flush=True)
        if ndcg > best:
            best, best_epoch, since = ndcg, epoch, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            since += 1
        if since >= patience:
            stop = "early stopping (patience)"
            break
        if elapsed > minutes * 60:
            stop = f"time cap of {minutes:g} min"
            break
    else:
        stop = "max epochs"
    model.load_state_dict(best_state)
    still_rising = stop.startswith("time cap") and best_epoch >= len(history) - 3
    return {"device": device, "torch_threads": torch.get_num_threads(),
            "best_epoch": best_epoch, "epochs_run": len(history), "stopped_by": stop,
            "lower_bound": stop.startswith("time cap"), "still_rising_at_stop": still_rising,
            "seconds_to_best_valid": history[best_epoch]["elapsed_s"],
            "cpu_seconds_to_best_valid": history[best_epoch]["cpu_s"],
            "seconds_per_epoch_train": float(np.mean([h["train_s"] for h in history])),
            "best_valid": evaluate(valid_data, "valid"), "test": evaluate(test_data, "test"),
            "test_unmasked_note": "RecBole's own evaluator would not mask history for SASRec",
            "history": history, "config": {k: config[k] for k in ("train_batch_size", "learning_rate",
                                                                   "hidden_size", "n_layers", "n_heads",
                                                                   "hidden_dropout_prob", "attn_dropout_prob",
                                                                   "MAX_ITEM_LIST_LENGTH", "loss_type")}}


# ----------------------------------------------------------------------------- ours
def run_ours(folder: Path, name: str, seed: int, minutes: float, patience: int) -> dict[str, Any]:
    from personarec.export import read_benchmark_split, split_fingerprint
    from personarec.session.data import SequenceData
    from personarec.session.sasrec import SASRec, SASRecConfig

    data = SequenceData.leave_one_out(name, read_sequences(folder, name))
    expected = split_fingerprint(read_benchmark_split(folder, name))
    if data.fingerprint() != expected:
        raise SystemExit(f"our sequences give split {data.fingerprint()}, the benchmark files {expected}")
    import personarec.session.sasrec as sasrec_module

    cfg = SASRecConfig(seed=seed, patience=patience, time_limit_s=minutes * 60, progress=False)
    # the shared machine's load makes wall time noisy: run once on the process CPU clock (what our
    # SASRec's history then records as elapsed_s), and keep the total wall time beside it
    real_time = sasrec_module.time
    sasrec_module.time = SimpleNamespace(perf_counter=time.process_time)
    wall0 = time.perf_counter()
    try:
        model = SASRec(cfg).train(data)
    finally:
        sasrec_module.time = real_time
    wall = time.perf_counter() - wall0
    for h in model.history_:
        h["cpu_s"] = h["elapsed_s"]
    return {"best_epoch": model.best_epoch_, "epochs_run": len(model.history_),
            "cpu_seconds_to_best_valid": model.history_[model.best_epoch_]["cpu_s"],
            "wall_seconds_total": wall,
            "seconds_to_best_valid": wall * model.history_[model.best_epoch_]["cpu_s"] / model.history_[-1]["cpu_s"],
            "seconds_per_epoch_train": model.epoch_seconds_, "best_valid": model.evaluate(data, "valid"),
            "test": model.evaluate(data, "test"), "history": model.history_, "config": cfg.model_dump(),
            "fingerprint": data.fingerprint()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=Path, required=True, help="export folder (holds <name>.inter, ...)")
    parser.add_argument("--name", default=None, help="RecBole dataset name (default: the folder's name)")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--recbole-minutes", type=float, default=25.0, help="time cap for RecBole's training")
    parser.add_argument("--ours-minutes", type=float, default=25.0)
    parser.add_argument("--max-epochs", type=int, default=300)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--recbole-python", type=Path, default=DEFAULT_RECBOLE_PY)
    parser.add_argument("--device", default="cpu", help="RecBole's device (cpu, or cuda for its epoch count only)")
    parser.add_argument("--recbole-json", type=Path, default=None, help="reuse a finished RecBole run's JSON")
    parser.add_argument("--ours-json", type=Path, default=None, help="reuse a finished run of ours (--phase ours)")
    parser.add_argument("--recbole-cpu-json", type=Path, default=None,
                        help="a short RecBole CPU run (--phase recbole --device cpu): when the main RecBole run "
                             "was on a GPU, its epochs to best are costed at this run's CPU seconds per epoch")
    parser.add_argument("--phase", choices=["all", "recbole", "ours"], default="all",
                        help="all: both then the comparison; recbole (in RecBole's venv) / ours: one side's JSON")
    parser.add_argument("--note", default=None, help="where the reused halves ran (stored in the result)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "recbole_compare.json")
    args = parser.parse_args()
    folder = args.files.resolve()
    name = args.name or folder.name

    if args.phase == "recbole":  # inside RecBole's venv
        res = run_recbole(folder, name, args.recbole_minutes, args.seed, args.max_epochs, args.patience, args.device)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2))
        return

    if args.phase == "ours":
        res = run_ours(folder, name, args.seed, args.ours_minutes, args.patience)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2))
        return

    load_before = os.getloadavg()
    if args.recbole_json is not None:
        recbole = json.loads(args.recbole_json.read_text())
    else:
        rb_out = args.out.with_name(args.out.stem + ".recbole.json")
        if not args.recbole_python.exists():
            raise SystemExit(f"RecBole's virtualenv is missing ({args.recbole_python}); see this file's docstring.")
        subprocess.run([str(args.recbole_python), __file__, "--phase", "recbole", "--files", str(folder),
                        "--name", name, "--seed", str(args.seed), "--recbole-minutes", str(args.recbole_minutes),
                        "--max-epochs", str(args.max_epochs), "--patience", str(args.patience),
                        "--out", str(rb_out), "--device", args.device], check=True,
                       cwd=tempfile.mkdtemp(prefix="recbole-cwd-"))  # RecBole writes log_tensorboard/ into its cwd
        recbole = json.loads(rb_out.read_text())
    ours = json.loads(args.ours_json.read_text()) if args.ours_json is not None else \
        run_ours(folder, name, args.seed, args.ours_minutes, args.patience)
    if args.recbole_cpu_json is not None:
        cpu_run = json.loads(args.recbole_cpu_json.read_text())
        n = len(cpu_run["history"])
        per_cpu, per_wall = cpu_run["history"][-1]["cpu_s"] / n, cpu_run["history"][-1]["elapsed_s"] / n
        epochs = recbole["best_epoch"] + 1
        recbole["measured_on_device"] = {k: recbole[k] for k in ("device", "seconds_to_best_valid",
                                                                 "cpu_seconds_to_best_valid")}
        recbole["cpu_seconds_to_best_valid"] = per_cpu * epochs
        recbole["seconds_to_best_valid"] = per_wall * epochs
        recbole["time_is_estimate"] = (f"{epochs} epochs to best (run on {recbole['device']}) x {per_cpu:.0f} CPU s "
                                       f"/ {per_wall:.0f} wall s per epoch measured on CPU with "
                                       f"{cpu_run['torch_threads']} threads over {n} epoch(s)")
    rb_best = recbole["best_valid"]["NDCG@10"]
    ours_reach = _time_to_reach(ours["history"], rb_best)
    # our history runs on the CPU clock; wall time scaled by the run's overall wall/CPU ratio
    wall_per_cpu = ours["wall_seconds_total"] / ours["history"][-1]["cpu_s"]
    ours_reach_wall = ours_reach * wall_per_cpu if ours_reach else None
    result = {
        "dataset": name, "files": str(folder), "seed": args.seed,
        "protocol": "leave-one-out from the exported benchmark files, full ranking over all items, history "
                    "masked (train for valid, train+valid for test), target never masked; same scorer for both",
        "recbole": {k: v for k, v in recbole.items() if k != "history"},
        "ours": {k: v for k, v in ours.items() if k != "history"},
        "recbole_best_valid_ndcg10": rb_best,
        "clock": "process CPU seconds (training + masked validation), both with 2 torch threads",
        "recbole_cpu_seconds_to_best_valid": recbole["cpu_seconds_to_best_valid"],
        "ours_cpu_seconds_to_reach_recbole_best_valid": ours_reach,
        "speedup_to_recbole_best": (recbole["cpu_seconds_to_best_valid"] / ours_reach) if ours_reach else None,
        "speedup_best_to_best": recbole["cpu_seconds_to_best_valid"] / ours["cpu_seconds_to_best_valid"],
        "recbole_wall_seconds_to_best_valid": recbole["seconds_to_best_valid"],
        "ours_wall_seconds_to_reach_recbole_best_valid": ours_reach_wall,
        "speedup_wall_to_recbole_best": (recbole["seconds_to_best_valid"] / ours_reach_wall
                                         if ours_reach_wall else None),
        "test_ndcg10": {"recbole": recbole["test"]["NDCG@10"], "ours": ours["test"]["NDCG@10"]},
        "test_hr10": {"recbole": recbole["test"]["HR@10"], "ours": ours["test"]["HR@10"]},
        "target_met": bool(ours_reach and recbole["cpu_seconds_to_best_valid"] / ours_reach >= 5
                           and ours["test"]["NDCG@10"] >= recbole["test"]["NDCG@10"]),
        "recbole_is_lower_bound": recbole.get("lower_bound", False),
        "histories": {"recbole": recbole["history"], "ours": ours["history"]},
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                    "note": args.note or "this machine; wall times include other users' load"},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("recbole_best_valid_ndcg10", "recbole_cpu_seconds_to_best_valid",
                                             "ours_cpu_seconds_to_reach_recbole_best_valid",
                                             "speedup_to_recbole_best", "speedup_best_to_best", "test_ndcg10",
                                             "speedup_wall_to_recbole_best", "test_hr10", "target_met",
                                             "recbole_is_lower_bound")}, indent=2))


if __name__ == "__main__":
    main()
