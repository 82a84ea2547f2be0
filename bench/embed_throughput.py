"""Embedding throughput of ``personarec embed items`` (issue 3 item 5), in items per second.

Loads MovieLens-100K (real data, 1,682 films with title, year and genres) into a fresh managed Neo4j
through ``personarec.load.load_dataset``, then runs ``embed_items`` three times: a first full run
(encoder throughput and end-to-end time including reads and writes), a rerun (the text-hash cache:
nothing should be encoded), and a ``force`` run (everything re-encoded with a warm model).

Usage::

    nice .venv/bin/python -m bench.embed_throughput --out bench/results/embed_throughput.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from bench.load_throughput import DATA, fresh_server
from personarec.config import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    parser.add_argument("--batch-size", type=int, default=None, help="encoder batch size (default: config)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "personarec-bench")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("neo4j").setLevel(logging.WARNING)
    args.workdir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(2026)

    from personarec.db import init_schema
    from personarec.embed import embed_items
    from personarec.graph import connect
    from personarec.load import load_dataset

    base = load_settings(env={})
    results: dict[str, object] = {
        "benchmark": "embed_throughput", "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "loadavg_before": [round(x, 1) for x in os.getloadavg()],
        "command": f"python -m bench.embed_throughput --out {args.out}"
                   + (f" --batch-size {args.batch_size}" if args.batch_size else ""),
    }
    with fresh_server(base, args.workdir, "1g", "512m") as settings, connect(settings) as graph:
        init_schema(graph, settings)
        load_dataset(graph, settings, "movielens", [DATA / "movielens-100k"], "ml-100k", progress=False)
        runs = {}
        for name, force in (("first", False), ("rerun_cached", False), ("force_warm", True)):
            t0 = time.perf_counter()
            summary = embed_items(graph, settings, dataset="ml-100k", force=force, batch_size=args.batch_size,
                                  progress=False)
            runs[name] = {**summary.as_dict(), "wall_s": round(time.perf_counter() - t0, 2),
                          "items_per_s_end_to_end": round(summary.encoded / max(time.perf_counter() - t0, 1e-9), 1)}
            logging.info("%s: %s", name, runs[name])
        sample = graph.execute("MATCH (i:Item {id: 'ml-100k:1'}) RETURN i.text AS text")[0]["text"]
    results.update({"runs": runs, "example_text": sample,
                    "loadavg_after": [round(x, 1) for x in os.getloadavg()],
                    "finished": datetime.now(UTC).isoformat(timespec="seconds")})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: {m: v[m] for m in ("encoded", "unchanged", "items_per_s", "items_per_s_end_to_end")}
                      for k, v in runs.items()}, indent=2))


if __name__ == "__main__":
    main()
