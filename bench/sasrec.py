"""Benchmark: our SASRec (Kang & McAuley 2018, full-softmax CE) under the pinned protocol, without Neo4j.

Reads the dataset with the project's own loaders, splits it leave-one-out (checking the split
fingerprint of ``docs/protocol.md``), trains SASRec with RecBole's defaults, and prints one JSON
object: full-ranking test metrics (history masked), seconds per epoch, best epoch, and the time to
reach the best validation NDCG@10. Also reports most-popular as the protocol check.

    nice .venv/bin/python bench/sasrec.py --dataset ml-100k [--epochs 200] [--out bench/results/x.json]
    nice .venv/bin/python bench/sasrec.py --dataset beauty --valid-users 5000
    .venv/bin/python bench/sasrec.py --dataset beauty --loss sampled --negatives 4096 --lr 0.002 --patience 6 \\
        --valid-users 6000 --device cpu      # sampled softmax (personarec.session.losses)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from personarec.load.splits import leave_one_out  # noqa: E402
from personarec.loaders.movielens import read_ratings  # noqa: E402
from personarec.loaders.sequences import read_sequences  # noqa: E402
from personarec.session.data import SequenceData, from_split  # noqa: E402
from personarec.session.popular import MostPopular  # noqa: E402
from personarec.session.sasrec import SASRec, SASRecConfig  # noqa: E402

FINGERPRINTS = {"ml-100k": "8db20a8f58eff3f53c69381d62b3114c", "beauty": "28750bda8b349621d54e9f5865ebd135"}


def load(dataset: str, data_dir: Path) -> SequenceData:
    """The dataset as :class:`SequenceData`, via the loaders' parsers and leave-one-out split."""
    if dataset == "ml-100k":
        split = leave_one_out(read_ratings(data_dir / "movielens-100k"))
    elif dataset == "beauty":
        split = leave_one_out(read_sequences(data_dir / "amazon" / "s3rec-beauty" / "Beauty.txt"))
    else:
        raise SystemExit(f"unknown dataset {dataset!r}: ml-100k or beauty")
    if split.fingerprint != FINGERPRINTS[dataset]:
        raise SystemExit(f"split fingerprint {split.fingerprint} differs from the pinned one")
    return from_split(dataset, split)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("PERSONAREC_DATA_DIR", ROOT.parent / "shared" / "data")))
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--valid-users", type=int, default=None)
    parser.add_argument("--time-limit", type=float, default=None, help="seconds of training at most")
    parser.add_argument("--loss", default="full", choices=["auto", "full", "sampled"])
    parser.add_argument("--negatives", type=int, default=256)
    parser.add_argument("--sampler", default="popularity", choices=["uniform", "popularity"])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    data = load(args.dataset, args.data_dir)
    pop = MostPopular().train(data)
    cfg = SASRecConfig(epochs=args.epochs, patience=args.patience, seed=args.seed,
                       valid_users=args.valid_users, time_limit_s=args.time_limit, progress=False,
                       loss=args.loss, negatives=args.negatives, negative_sampler=args.sampler, lr=args.lr,
                       device=args.device)
    t0 = time.perf_counter()
    model = SASRec(cfg).train(data)
    train_s = time.perf_counter() - t0
    best = model.history_[model.best_epoch_]
    result = {
        "dataset": args.dataset, "users": data.n_users, "items": data.n_items,
        "protocol": "leave-one-out, full ranking, history masked (train+valid for test), target never masked",
        "most_popular_test": pop.evaluate(data, "test"),
        "sasrec_test": model.evaluate(data, "test"), "loss": model.loss_info(),
        "sasrec_valid": model.evaluate(data, "valid"),
        "epochs_run": len(model.history_), "best_epoch": model.best_epoch_,
        "seconds_per_epoch_train": model.epoch_seconds_,
        "seconds_to_best_valid_incl_eval": best["elapsed_s"], "train_seconds_total": train_s,
        "config": cfg.model_dump(), "torch_threads": cfg.threads, "machine": platform.processor() or platform.machine(),
        "curve": [{k: round(v, 5) for k, v in h.items()} for h in model.history_],
    }
    emit(result, args.out)



def emit(result: dict[str, Any], out: Path | None) -> None:
    """Print ``result`` as JSON and, with ``out``, write it there (folders created)."""
    text = json.dumps(result, indent=2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    print(text)

if __name__ == "__main__":
    main()
