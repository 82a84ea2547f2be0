"""Benchmark: the README's main job (``bash run.sh main``) stage by stage, as a newcomer runs it.

Runs ``bash run.sh main`` from the repository root with an empty data home (``XDG_DATA_HOME``), into
which only the assembled Neo4j jars are copied from the usual data home when they are there (the "after
set-up" of the three-minute goal: nothing is downloaded, nothing computed before is reused), stamps
every stage line as the job prints it, stops the job's Neo4j, and writes one JSON object: seconds per
stage and for the whole command, each SASRec variant's epochs, best epoch and seconds per epoch, the
table's NDCG@10 per row, the machine (CPU model, bfloat16/AMX flags, cores), the commit, and the load
average before and after (a shared box's timings are lower bounds when it was busy).

It also reads the box's CPU time (/proc/stat) every second: per stage and for the whole command, the
core-seconds spent busy, idle and stolen by the host (``cpu_s``), and the job's own processes' CPU
seconds (``job_cpu_s``: the Neo4j server, started in the background, is not among them). A stage whose
idle is near zero was bound by the cores, and no reordering of the work can make it shorter than its
busy core-seconds divided by the cores.

    .venv/bin/python -m bench.main_job --out bench/results/main_job.json [--log /tmp/main.log] [--keep-home]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_features, cpu_model, cpu_times  # noqa: E402
from personarec.config import default_home  # noqa: E402

STAGE = re.compile(r"^== \[(\d+)/(\d+)\] (.+?)  \(")
FINISHED = re.compile(r"^pipeline finished in (\d+) s")
TRAINED = re.compile(r"personarec\.session\.fit: trained (\w+): (\d+) epochs, best valid NDCG@10 ([\d.]+) at epoch "
                     r"(\d+), ([\d.]+) s/epoch \[(\d+) s\]")
ROW = re.compile(r"^\| (.+?) \| ([\d.]+) ± [\d.]+ \| ([\d.]+) ± [\d.]+ \| ([\d.]+) ± [\d.]+ \|")


def parse(lines: list[tuple[float, str]]) -> dict[str, Any]:
    """Stages, models and table rows from the job's output, each line with its seconds since the start."""
    starts: list[tuple[str, float]] = []
    end = None
    models: dict[str, dict[str, float]] = {}
    rows: dict[str, dict[str, float]] = {}
    for t, line in lines:
        if m := STAGE.match(line):
            starts.append((m.group(3), t))
        elif m := FINISHED.match(line):
            end = t
        elif m := TRAINED.search(line):
            models[m.group(1)] = {"epochs": int(m.group(2)), "best_valid_ndcg10": float(m.group(3)),
                                  "best_epoch": int(m.group(4)), "seconds_per_epoch": float(m.group(5)),
                                  "done_after_s": int(m.group(6))}
        elif m := ROW.match(line):
            rows[m.group(1)] = {"HR@10": float(m.group(2)), "HR@100": float(m.group(3)), "NDCG@10": float(m.group(4))}
    bounds = [t for _, t in starts] + ([end] if end is not None else [])
    spans = {name: (t, bounds[k + 1]) for k, (name, t) in enumerate(starts) if k + 1 < len(bounds)}
    stages = {name: round(t1 - t0, 1) for name, (t0, t1) in spans.items()}
    return {"stages_s": stages, "stage_bounds": spans, "models": models, "table": rows}


def _sample_cpu(samples: list[tuple[float, dict[str, float]]], started: float, done: threading.Event) -> None:
    while True:
        now = cpu_times()
        if now is not None:
            samples.append((time.monotonic() - started, now))
        if done.wait(1.0):
            return


def cpu_use(samples: list[tuple[float, dict[str, float]]], bounds: dict[str, tuple[float, float]]
            ) -> dict[str, dict[str, float]]:
    """Busy, idle and stolen core-seconds of the box within each named (start, end) stretch, from the
    /proc/stat readings nearest its ends (readings a second apart: each figure is good to ~a second)."""
    if len(samples) < 2:
        return {}

    def at(t: float) -> dict[str, float]:
        return min(samples, key=lambda s: abs(s[0] - t))[1]

    out = {}
    for name, (t0, t1) in bounds.items():
        a, b = at(t0), at(t1)
        out[name] = {k: round(b[k] - a[k], 1) for k in ("busy", "idle", "steal")}
    return out


def machine() -> dict[str, Any]:
    """The CPU's model name, cores and vector/bf16/AMX flags."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "cpu_features": cpu_features(),
            "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "main_job.json")
    parser.add_argument("--log", type=Path, help="also write the job's whole output here")
    parser.add_argument("--keep-home", action="store_true", help="keep the data home (default: removed)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="personarec-main-"))
    jars = default_home() / "neo4j-dist"
    if jars.is_dir():  # set-up already done: the server's jars, nothing else
        shutil.copytree(jars, home / "personarec" / "neo4j-dist")
    env = {**os.environ, "XDG_DATA_HOME": str(home)}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    load_before = [round(x, 2) for x in os.getloadavg()]
    lines: list[tuple[float, str]] = []
    log = args.log.open("w") if args.log else None
    started = time.monotonic()
    samples: list[tuple[float, dict[str, float]]] = []
    done = threading.Event()
    sampler = threading.Thread(target=_sample_cpu, args=(samples, started, done), daemon=True)
    sampler.start()
    try:
        # text mode splits tqdm's carriage-return updates into lines as well
        with subprocess.Popen(["bash", "run.sh", "main"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, bufsize=1) as job:
            assert job.stdout is not None
            for line in job.stdout:
                lines.append((time.monotonic() - started, line.rstrip("\n")))
                if log is not None:
                    log.write(line)
            code = job.wait()
        total = time.monotonic() - started
        job_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        done.set()
        sampler.join()
    finally:
        if log is not None:
            log.close()
        subprocess.run([str(ROOT / ".venv" / "bin" / "personarec"), "neo4j", "stop"], cwd=ROOT, env=env,
                       capture_output=True)
        if not args.keep_home:
            shutil.rmtree(home, ignore_errors=True)
    parsed = parse(lines)
    bounds = {"command": (0.0, total), **parsed.pop("stage_bounds")}
    result = {"benchmark": "main_job", "command": "bash run.sh main", "commit": commit, "exit_code": code,
              "command_s": round(total, 1),
              "pipeline_s": next((int(m.group(1)) for _, line in lines if (m := FINISHED.match(line))), None),
              **parsed, "cpu_s": cpu_use(samples, bounds),
              "job_cpu_s": round(job_cpu.ru_utime + job_cpu.ru_stime, 1),
              "machine": machine(), "loadavg_before": load_before,
              "loadavg_after": [round(x, 2) for x in os.getloadavg()],
              "date": time.strftime("%Y-%m-%dT%H:%M:%S")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("exit_code", "command_s", "pipeline_s", "stages_s", "job_cpu_s")},
                     indent=2))
    if code != 0:
        raise SystemExit(f"the main job failed with exit code {code}; its output: {args.log or 'rerun with --log'}")


if __name__ == "__main__":
    main()
