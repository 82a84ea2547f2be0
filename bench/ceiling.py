"""The ceiling of the load benchmark: ``neo4j-admin database import full`` of the review rows.

The same rows the online loader writes for a review load — ``User`` and ``Item`` nodes keyed
``<dataset>:<raw id>`` with ``raw_id`` and ``dataset``, and ``(:User)-[:INTERACTED {rating, ts, seq,
split}]->(:Item)`` plus ``(:Item)-[:CO_INTERACTED {weight}]->(:Item)`` (docs/graph-model.md) — are
written as neo4j-admin CSV files and imported into the empty database of a separate, throw-away server
home, using ``org.neo4j.cli.AdminTool`` from the cached jars of the managed server
(``personarec/server/manager.py``). The import time is the ceiling a loader going through Bolt and
Cypher can be compared with.
"""

from __future__ import annotations

import csv
import logging
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from personarec.config import ServerConfig
from personarec.errors import PersonarecError
from personarec.server.manager import _JVM_FLAGS, ADMIN_CLASS, ManagedNeo4j

log = logging.getLogger(__name__)


def review_rows(source: str, paths: list[Path], dataset: str | None = None) -> dict[str, Any]:
    """Exactly the rows ``personarec.load.load_dataset`` writes for a review load, without Neo4j.

    Uses the loader's own readers and split (``read_source``, ``make_split``, ``co_interactions``),
    so both sides of the benchmark get identical users, items, ``INTERACTED`` and ``CO_INTERACTED``.
    """
    from personarec.load.sources import read_source
    from personarec.load.splits import co_interactions, make_split
    from personarec.loaders.common import Rejects

    with Rejects(None) as rejects:
        data = read_source(source, paths, rejects)
    split = make_split(data.interactions, "loo")
    name = dataset or data.default_dataset
    return {"dataset": name, "kind": data.kind, "split": split, "co": co_interactions(split),
            "items": sorted({x.item for x in data.interactions}), "users": sorted(split.histories)}


def write_csv(rows: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Write the rows as neo4j-admin CSV files (header line + data, ids ``<dataset>:<raw id>``)."""
    folder.mkdir(parents=True, exist_ok=True)
    ds = rows["dataset"]
    paths = {"users": folder / "users.csv", "items": folder / "items.csv",
             "interacted": folder / "interacted.csv", "co_interacted": folder / "co_interacted.csv"}
    with paths["users"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id:ID(User)", "raw_id", "dataset"])
        w.writerows((f"{ds}:{u}", u, ds) for u in rows["users"])
    with paths["items"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id:ID(Item)", "raw_id", "dataset", "kind"])
        w.writerows((f"{ds}:{i}", i, ds, rows["kind"]) for i in rows["items"])
    with paths["interacted"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([":START_ID(User)", ":END_ID(Item)", "rating:float", "ts:long", "seq:int", "split"])
        w.writerows((f"{ds}:{r.user}", f"{ds}:{r.item}", "" if r.rating is None else r.rating,
                     "" if r.ts is None else r.ts, r.seq, r.split) for r in rows["split"].rows())
    with paths["co_interacted"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([":START_ID(Item)", ":END_ID(Item)", "weight:long"])
        w.writerows((f"{ds}:{a}", f"{ds}:{b}", n) for (a, b), n in rows["co"].items())
    return paths


def admin_import(paths: dict[str, Path], home: Path, server: ServerConfig, heap: str = "1g",
                 off_heap: str = "2g", threads: int = 2) -> dict[str, float | int]:
    """Run ``neo4j-admin database import full`` into an empty ``neo4j`` database under ``home``.

    Returns ``{"seconds"`` (wall, with JVM start), ``"import_seconds"`` (neo4j-admin's own "IMPORT DONE
    in"), ``"nodes", "relationships"}`` as neo4j-admin reports them.
    """
    cfg = server.model_copy(update={"home": home})
    managed = ManagedNeo4j(cfg)
    managed.install()
    java = managed.java()
    managed.write_conf()
    cmd = [java, f"-Xmx{heap}", *_JVM_FLAGS, "-cp", f"{managed.dist / 'lib'}/*", ADMIN_CLASS,
           "database", "import", "full", f"--nodes=User={paths['users']}", f"--nodes=Item={paths['items']}",
           f"--relationships=INTERACTED={paths['interacted']}",
           f"--relationships=CO_INTERACTED={paths['co_interacted']}", "--overwrite-destination=true",
           f"--max-off-heap-memory={off_heap}", f"--threads={threads}", f"--report-file={home / 'import.report'}",
           "neo4j"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=home,
                          env={**managed._env(), "HEAP_SIZE": heap})
    seconds = time.perf_counter() - start
    if proc.returncode != 0:  # neo4j-admin prints its reason last
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise PersonarecError(f"neo4j-admin import failed (exit {proc.returncode}): {' | '.join(tail)}")
    out = proc.stdout
    nodes = re.search(r"Imported:\s*\n?\s*(\d+) nodes", out)
    rels = re.search(r"(\d+) relationships", out)
    log.debug("neo4j-admin output:\n%s", out)
    done = re.search(r"IMPORT DONE in ([0-9hms ]+)", out)
    return {"seconds": seconds, "import_seconds": parse_duration(done.group(1)) if done else seconds,
            "nodes": int(nodes.group(1)) if nodes else -1, "relationships": int(rels.group(1)) if rels else -1}


_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Seconds from neo4j-admin's ``1m 2s 345ms`` style durations."""
    return sum(float(n) * _UNITS[u] for n, u in re.findall(r"(\d+)(ms|h|m|s)", text))
