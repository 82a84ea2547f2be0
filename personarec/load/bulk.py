"""Bulk path for building a large KG from scratch: ``neo4j-admin database import full`` (issue 3 item 7).

The online loader (:func:`personarec.load.load_dataset`) goes through Bolt and ``UNWIND … MERGE``:
idempotent, resumable, works on any server. On an *empty* database of the *managed* server, the
same graph can be written far faster by neo4j-admin's offline importer: this module reads the source
with the loader's own readers and split, writes the nodes and relationships the online loader would
write (README "Graph model") as neo4j-admin CSV files, stops the server, imports, restarts it and
applies the schema (constraints, indexes, vector indexes) and the ``Dataset`` node with the
loader's own ``cypher/load/dataset_*.cypher`` scripts.

Only for an empty database: neo4j-admin replaces the store. A server given by ``NEO4J_URI`` cannot
be bulk-loaded from here (its store files are not ours); use the online loader there.
"""

from __future__ import annotations

import csv
import logging
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from personarec.config import Settings
from personarec.errors import PersonarecError
from personarec.load.loader import LoadSummary
from personarec.load.sources import read_source
from personarec.load.splits import co_interactions, kcore, make_split
from personarec.loaders.common import ItemRecord, Rejects

log = logging.getLogger(__name__)

# Feature relationships of the loader: record attribute -> (relationship type, node label).
_FEATURES = {"categories": ("IN_CATEGORY", "Category"), "brands": ("BY_BRAND", "Brand"),
             "authors": ("BY_AUTHOR", "Person"), "genres": ("HAS_GENRE", "Genre")}
_LINKS = {"also_bought": "ALSO_BOUGHT", "also_viewed": "ALSO_VIEWED", "bought_together": "BOUGHT_TOGETHER"}


class BulkError(PersonarecError):
    """The bulk import cannot run here (not the managed server, database not empty, import failed)."""


class _CsvFiles:
    """One neo4j-admin CSV file per node label / relationship type, opened on first row."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.nodes: dict[str, Path] = {}
        self.rels: dict[str, Path] = {}
        self.counts: dict[str, int] = {}
        self.multiline = False
        self._open: dict[str, Any] = {}

    def _writer(self, kind: str, name: str, header: list[str]) -> Any:
        key = f"{kind}:{name}"
        if key not in self._open:
            path = self.folder / f"{kind}-{name.lower()}.csv"
            fh = path.open("w", newline="", encoding="utf-8")
            writer = csv.writer(fh)
            writer.writerow(header)
            self._open[key] = (fh, writer)
            (self.nodes if kind == "nodes" else self.rels)[name] = path
            self.counts[name] = 0
        return self._open[key][1]

    def write(self, kind: str, name: str, header: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
        writer = self._writer(kind, name, header)
        n = 0
        for row in rows:
            # Fields with line breaks need neo4j-admin's (slower) multi-line parsing; note if any occur.
            if not self.multiline and any(isinstance(v, str) and ("\n" in v or "\r" in v) for v in row):
                self.multiline = True
            writer.writerow(["" if v is None else v for v in row])
            n += 1
        self.counts[name] += n
        return n

    def close(self) -> None:
        for fh, _ in self._open.values():
            fh.close()
        self._open.clear()


def write_import_csv(settings: Settings, source: str, paths: list[Path], folder: Path, dataset: str | None = None,
                     split: str = "loo", *, kcore_k: int | None = None, fmt: str | None = None,
                     kind: str | None = None, rejects_path: Path | None = None,
                     progress: bool = True) -> tuple[_CsvFiles, LoadSummary, dict[str, Any]]:
    """Read and split a source exactly as the online loader does and write the graph as CSV files.

    Returns the files, a :class:`LoadSummary` (``created`` = rows written) and the ``Dataset`` properties.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = _CsvFiles(folder)
    with Rejects(rejects_path) as rejects:
        data = read_source(source, paths, rejects, fmt, kind)
        name = dataset or data.default_dataset
        interactions = data.interactions
        before = len(interactions)
        if kcore_k:
            interactions = kcore(interactions, kcore_k)
        sp = make_split(interactions, split)
        summary = LoadSummary(name, data.source, data.format, sp.strategy, sp.fingerprint,
                              filtered=before - len(interactions), short_users=len(sp.short_users),
                              rejects_file=rejects_path)
        keep = {x.item for x in interactions} if interactions else None
        items: dict[str, dict[str, Any]] = {}
        features: dict[str, set[tuple[str, str]]] = {attr: set() for attr in _FEATURES}
        attributes: set[tuple[str, str]] = set()
        links: dict[str, set[tuple[str, str]]] = {attr: set() for attr in _LINKS}
        record: ItemRecord
        for record in data.items():
            if keep is not None and record.raw_id not in keep:
                summary.meta_skipped += 1
                continue
            # Like the online loader: a later record fills fields an earlier one left empty.
            prev = items.get(record.raw_id, {})
            items[record.raw_id] = {"kind": record.kind, "title": record.title or prev.get("title"),
                                    "year": record.year or prev.get("year"),
                                    "description": record.description or prev.get("description")}
            for attr in _FEATURES:
                features[attr].update((record.raw_id, n) for n in getattr(record, attr))
            attributes.update((record.raw_id, a) for a in record.attributes)
            for attr in _LINKS:
                links[attr].update((record.raw_id, d) for d in getattr(record, attr) if d != record.raw_id)
        for raw in keep or ():
            items.setdefault(raw, {"kind": data.kind, "title": None, "year": None, "description": None})
        summary.rejects = dict(rejects.by_reason)

    def key(raw: str) -> str:
        return f"{name}:{raw}"

    users = sorted(sp.histories)
    out.write("nodes", "User", ["id:ID(User)", "raw_id", "dataset"], ((key(u), u, name) for u in users))
    out.write("nodes", "Item", ["id:ID(Item)", "raw_id", "dataset", "kind", "title", "year:long", "description"],
              ((key(i), i, name, v["kind"], v["title"], v["year"], v["description"])
               for i, v in sorted(items.items())))
    for attr, (rel, label) in _FEATURES.items():
        pairs = features[attr]
        if pairs:
            out.write("nodes", label, [f"name:ID({label})"], ((n,) for n in sorted({n for _, n in pairs})))
            out.write("rels", rel, [":START_ID(Item)", f":END_ID({label})"], ((key(i), n) for i, n in sorted(pairs)))
    if attributes:
        out.write("nodes", "Attribute", ["id:ID(Attribute)", "raw_id", "dataset"],
                  ((key(a), a, name) for a in sorted({a for _, a in attributes})))
        out.write("rels", "HAS_ATTRIBUTE", [":START_ID(Item)", ":END_ID(Attribute)"],
                  ((key(i), key(a)) for i, a in sorted(attributes)))
    for attr, rel in _LINKS.items():
        pairs = {(a, b) for a, b in links[attr] if b in items}  # links to items not loaded are dropped
        if pairs:
            out.write("rels", rel, [":START_ID(Item)", ":END_ID(Item)"], ((key(a), key(b)) for a, b in sorted(pairs)))
    rows: Iterator[Any] = tqdm(sp.rows(), total=len(sp), desc=f"{name}: interactions.csv", unit="row",
                               disable=not progress, leave=False)
    out.write("rels", "INTERACTED", [":START_ID(User)", ":END_ID(Item)", "rating:double", "ts:long", "seq:long",
                                     "split"],
              ((key(r.user), key(r.item), r.rating, r.ts, r.seq, r.split) for r in rows))
    co_pairs = co_interactions(sp)
    out.write("rels", "CO_INTERACTED", [":START_ID(Item)", ":END_ID(Item)", "weight:long"],
              ((key(a), key(b), w) for (a, b), w in co_pairs.items()))
    out.close()
    for label_or_type, n in out.counts.items():
        summary.type_counts(label_or_type).created += n
    counts = sp.counts
    summary.users, summary.items, summary.interactions, summary.split_counts = len(users), len(items), len(sp), counts
    props = {"dataset": name, "source": data.source, "format": data.format, "split": sp.strategy,
             "fingerprint": sp.fingerprint, "users": len(users), "items": len(items), "interactions": len(sp),
             "train": counts["train"], "valid": counts["valid"], "test": counts["test"]}
    return out, summary, props


_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def _duration(text: str) -> float:
    return sum(float(n) * _UNITS[u] for n, u in re.findall(r"(\d+)(ms|h|m|s)", text))


def admin_import(settings: Settings, files: _CsvFiles, *, heap: str = "1g", off_heap: str = "2g",
                 threads: int | None = None) -> dict[str, float | int]:
    """Run ``neo4j-admin database import full`` into the managed server's (stopped) database.

    Returns ``{"seconds", "import_seconds", "nodes", "relationships"}``.
    """
    from personarec.server.manager import _JVM_FLAGS, ADMIN_CLASS, ManagedNeo4j

    server = ManagedNeo4j(settings.server)
    server.install()
    java = server.java()
    server.write_conf()
    cmd = [java, f"-Xmx{heap}", *_JVM_FLAGS, "-cp", f"{server.dist / 'lib'}/*", ADMIN_CLASS,
           "database", "import", "full", "--overwrite-destination=true", "--ignore-empty-strings=true",
           f"--max-off-heap-memory={off_heap}", f"--report-file={files.folder / 'import.report'}"]
    if threads:
        cmd.append(f"--threads={threads}")
    if files.multiline:
        cmd.append("--multiline-fields=true")
    cmd += [f"--nodes={label}={path}" for label, path in files.nodes.items()]
    cmd += [f"--relationships={rel}={path}" for rel, path in files.rels.items()]
    # The database name goes before the file options: --nodes/--relationships take several files and
    # would swallow a trailing positional argument.
    cmd.insert(cmd.index("full") + 1, settings.neo4j.database)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=server.home, env=server._env())
    seconds = time.perf_counter() - start
    if proc.returncode != 0:  # neo4j-admin prints its reason last
        lines = [ln.strip() for ln in (proc.stderr + "\n" + proc.stdout).splitlines()
                 if ln.strip() and not ln.lstrip().startswith("at ")]
        reason = next((ln for ln in lines if "Exception" in ln or "rror" in ln), lines[-1] if lines else "")
        raise BulkError(f"neo4j-admin import failed (exit {proc.returncode}): {reason[:400]}")
    done = re.search(r"IMPORT DONE in ([0-9hms ]+)", proc.stdout)
    nodes = re.search(r"(\d+) nodes", proc.stdout)
    rels = re.search(r"(\d+) relationships", proc.stdout)
    return {"seconds": seconds, "import_seconds": _duration(done.group(1)) if done else seconds,
            "nodes": int(nodes.group(1)) if nodes else -1, "relationships": int(rels.group(1)) if rels else -1}


def bulk_load(settings: Settings, source: str, paths: list[Path], dataset: str | None = None, split: str = "loo",
              *, kcore_k: int | None = None, fmt: str | None = None, kind: str | None = None,
              rejects_path: Path | None = None, off_heap: str = "2g", keep_running: bool | None = None,
              progress: bool = True) -> LoadSummary:
    """Load one dataset into the *empty* database of the managed server with neo4j-admin import.

    Same graph as :func:`personarec.load.load_dataset` (users, items, features, links,
    ``INTERACTED``, ``CO_INTERACTED``, ``Dataset``), same split and fingerprint. The server is
    stopped for the import, then started to apply the schema; it is left running if it was
    running before (or when ``keep_running`` is True).

    Raises:
        BulkError: not the managed server, or its database is not empty, or neo4j-admin failed.
    """
    from personarec.db import init_schema
    from personarec.graph import connect
    from personarec.server import ManagedNeo4j

    if not settings.managed:
        raise BulkError(f"bulk import writes the store files of the managed local server, not of "
                        f"{settings.neo4j.uri}; use the online loader (personarec load without --bulk) there.")
    t0 = time.monotonic()
    password = settings.neo4j.password.get_secret_value() if settings.neo4j.password else None
    server = ManagedNeo4j(settings.server, password=password)
    was_running = server.running()
    if was_running or (server.home / "data" / "databases" / settings.neo4j.database).exists():
        server.start()  # harmless when running; needed to look inside an existing store
        with connect(settings) as graph:
            empty = graph.read("admin/is_empty.cypher")[0]["empty"]
        if not empty:
            if not was_running:
                server.stop()
            raise BulkError("bulk import needs an empty database (neo4j-admin replaces the store); empty it "
                            "with `personarec db reset --yes` or load through the online loader instead.")
    workdir = Path(tempfile.mkdtemp(prefix="bulk-", dir=server.home if server.home.exists() else None))
    try:
        files, summary, props = write_import_csv(settings, source, paths, workdir, dataset, split, kcore_k=kcore_k,
                                                 fmt=fmt, kind=kind, rejects_path=rejects_path, progress=progress)
        server.stop()
        result = admin_import(settings, files, off_heap=off_heap)
        log.info("neo4j-admin imported %s nodes and %s relationships in %.1f s", result["nodes"],
                 result["relationships"], result["seconds"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    server.start()
    try:
        with connect(settings) as graph:
            init_schema(graph, settings)
            graph.write("load/dataset_start.cypher", {k: props[k] for k in ("dataset", "source", "format", "split")})
            graph.write("load/dataset_finish.cypher", {k: v for k, v in props.items()
                                                       if k not in ("source", "format")})
    finally:
        if not (was_running if keep_running is None else keep_running):
            server.stop()
    summary.seconds = time.monotonic() - t0
    log.info("%s bulk-loaded in %.1f s: %d users, %d items, %d interactions, fingerprint %s", summary.dataset,
             summary.seconds, summary.users, summary.items, summary.interactions, summary.fingerprint)
    return summary
