"""The batch recommendation job: top-k for every user (or a list, or anonymous sessions), written to
Neo4j as ``(:User)-[:RECOMMENDED {rank, score, run}]->(:Item)`` and/or to Parquet.

A run id names one run. Writing is idempotent (edges are MERGEd per run, Parquet parts are only added
for users not yet written), and each batch lands in one transaction together with the run's progress,
so a crashed run resumes where it stopped when started again with the same id.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from personarec.config import Settings
from personarec.db import resolve_dataset
from personarec.errors import PersonarecError
from personarec.graph import Graph
from personarec.jobs.base import Recommender, UserBatch
from personarec.jobs.parquet import PartWriter
from personarec.protocol import node_ids

log = logging.getLogger(__name__)

ALL_SPLITS = ("train", "valid", "test")
PersonaInfer = Callable[[list[str]], "list[float] | None"]


class JobError(PersonarecError):
    """A batch job cannot start or continue."""


@dataclass
class RunSummary:
    """What one invocation of a run did."""

    run_id: str
    model: str
    dataset: str
    kind: str  # "users" or "sessions"
    k: int
    total: int  # users (or sessions) the run covers
    skipped: int  # already written by an earlier invocation
    written: int  # written now
    edges: int  # RECOMMENDED edges written now (0 without Neo4j)
    seconds: float
    throughput: float  # written / seconds (users or sessions per second)
    status: str
    parquet: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        unit = "users" if self.kind == "users" else "sessions"
        return (f"run {self.run_id} ({self.model}, k={self.k}, {self.dataset}): {self.written} {unit} written, "
                f"{self.skipped} already done, {self.total} in all; {self.edges} edges; "
                f"{self.seconds:.1f} s, {self.throughput:.1f} {unit}/s; status {self.status}"
                + (f"; Parquet {self.parquet}" if self.parquet else ""))


def default_run_id(model: str, dataset: str) -> str:
    """``<model>-<dataset>-<UTC time>``, e.g. ``most-popular-ml-100k-20260126T013000``."""
    return f"{model}-{dataset}-{datetime.now(UTC):%Y%m%dT%H%M%S}"


def read_id_file(path: str | Path) -> list[str]:
    """One id a line; blank lines and ``#`` comments ignored; duplicates dropped, order kept."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise JobError(f"cannot read {path}: {exc.strerror}.") from exc
    seen: dict[str, None] = {}
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            seen.setdefault(line, None)
    return list(seen)


def read_sessions_file(path: str | Path) -> list[tuple[str, list[str]]]:
    """One session a line: item ids separated by spaces, commas or tabs; session id = ``session-<line>``."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise JobError(f"cannot read {path}: {exc.strerror}.") from exc
    out = []
    for no, line in enumerate(lines, start=1):
        items = line.replace(",", " ").split()
        if items and not items[0].startswith("#"):
            out.append((f"session-{no}", items))
    if not out:
        raise JobError(f"{path} holds no sessions (one a line: item ids).")
    return out


def _chunks(seq: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(seq), size):
        yield list(seq[start:start + size])


def start_run(graph: Graph, run_id: str, recommender: Recommender, dataset: str, k: int, kind: str,
               config: dict[str, Any]) -> dict[str, Any]:
    run = graph.write("load/recommend_run_start.cypher",
                      {"run": run_id, "model": recommender.name, "dataset": dataset, "k": k, "kind": kind,
                       "config": json.dumps(config, sort_keys=True)})[0]["run"]
    for field, want in (("model", recommender.name), ("dataset", dataset), ("k", k), ("kind", kind)):
        if run.get(field) != want:
            raise JobError(f"run {run_id!r} already exists with {field}={run.get(field)!r} (not {want!r}); "
                           "choose another --run or remove it with --remove.")
    return run


def checked_users(graph: Graph, dataset: str, users: Sequence[str]) -> list[str]:
    """``users`` (node or raw ids) as sorted, de-duplicated node ids; :class:`JobError` when any is not in
    the graph, before a run starts."""
    targets = sorted(dict.fromkeys(node_ids(dataset, list(users))))
    found = {r["user"] for r in graph.read("queries/jobs_users_exist.cypher", {"ids": targets})}
    missing = [u for u in targets if u not in found]
    if missing:
        raise JobError(f"{len(missing)} of {len(targets)} users are not in the graph "
                       f"(first: {', '.join(missing[:3])}).")
    return targets


def recommend(graph: Graph, settings: Settings, recommender: Recommender, run_id: str | None = None, *,
              dataset: str | None = None, users: Sequence[str] | None = None, k: int = 10,
              parquet: str | Path | None = None, neo4j: bool = True, batch_size: int = 256,
              history_splits: Sequence[str] = ALL_SPLITS, progress: bool = True) -> RunSummary:
    """Top-``k`` recommendations for ``users`` (node or raw ids; default all users of ``dataset``).

    Writes RECOMMENDED edges and a RecommendationRun node (unless ``neo4j=False``) and/or Parquet parts
    under ``parquet``. Rerunning a run id skips users already written, so a finished run changes
    nothing and a crashed one resumes. The user's history (``history_splits``) is what the model sees
    and excludes.
    """
    if k <= 0:
        raise JobError(f"k must be positive, got {k}.")
    if not neo4j and parquet is None:
        raise JobError("nothing to write: give --parquet PATH when Neo4j output is off.")
    dataset = resolve_dataset(graph, dataset)
    run_id = run_id or default_run_id(recommender.name, dataset)
    if users is None:
        targets = [r["user"] for r in graph.read("queries/jobs_users.cypher", {"dataset": dataset})]
    else:
        targets = checked_users(graph, dataset, users)
    config = {"users": "all" if users is None else len(targets), "history_splits": list(history_splits),
              "seed": settings.seed}

    done: set[str] | None = None
    status = "running"
    if neo4j:
        run = start_run(graph, run_id, recommender, dataset, k, "users", config)
        status = run["status"]
        done = {r["user"] for r in graph.read("queries/jobs_done_users.cypher", {"run": run_id})}
    writer = None
    if parquet is not None:
        writer = PartWriter(Path(parquet), "user", {"run": run_id, "model": recommender.name, "k": k,
                                                    "kind": "users", "dataset": dataset})
        # Neo4j is written first, so Parquet holds a subset of it: what Parquet lacks is still to do
        in_parquet = writer.done_ids()
        done = in_parquet if done is None else done & in_parquet
    assert done is not None
    todo = [u for u in targets if u not in done]
    skipped = len(targets) - len(todo)
    users_done = len(done)
    log.info("run %s: %d users, %d already done, %d to do", run_id, len(targets), skipped, len(todo))

    started = time.perf_counter()
    written = edges = 0
    spent = {"reads": 0.0, "model": 0.0, "writes": 0.0}  # where the seconds went, logged at the end
    bar = tqdm(total=len(todo), desc=f"recommend {run_id}", unit="user", disable=not progress or not todo)
    for chunk in _chunks(todo, batch_size):
        t0 = time.perf_counter()
        rows = graph.read("queries/jobs_histories.cypher", {"users": chunk, "splits": list(history_splits)})
        by_user = {r["user"]: r for r in rows}
        batch = UserBatch(ids=chunk, histories=[by_user[u]["items"] for u in chunk],
                          personas=[by_user[u]["persona"] for u in chunk])
        t1 = time.perf_counter()
        items, scores = recommender.recommend(batch, k)
        check_output(batch, items, scores, k)
        t2 = time.perf_counter()
        spent["reads"] += t1 - t0
        spent["model"] += t2 - t1
        if neo4j:
            payload = [{"user": u, "items": its, "scores": [float(s) for s in scs]}
                       for u, its, scs in zip(chunk, items, scores)]
            new_done = len(set(chunk) - done) + users_done
            result = graph.write("load/recommend_edges.cypher",
                                 {"run": run_id, "rows": payload, "users_done": new_done})
            edges += result[0]["edges"] if result else 0
            users_done = new_done
        if writer is not None:
            writer.write(run_id, chunk, items, scores)
        spent["writes"] += time.perf_counter() - t2
        if not neo4j:
            users_done += len(chunk)
        done.update(chunk)
        written += len(chunk)
        bar.update(len(chunk))
    bar.close()
    seconds = time.perf_counter() - started
    throughput = written / seconds if written and seconds > 0 else 0.0
    if written:
        log.info("run %s: %s", run_id, ", ".join(f"{name} {s:.1f} s" for name, s in spent.items()))
    if neo4j:
        if written or status != "done":
            prev = graph.read("queries/jobs_run_get.cypher", {"run": run_id})[0]["run"]
            graph.write("load/recommend_run_finish.cypher",
                        {"run": run_id, "users_done": len(done),
                         "sessions_done": prev.get("sessions_done", 0),
                         "throughput": throughput if written else prev.get("throughput"),
                         "seconds": seconds})
        status = "done"
    else:
        status = "done"
    summary = RunSummary(run_id=run_id, model=recommender.name, dataset=dataset, kind="users", k=k,
                         total=len(targets), skipped=skipped, written=written, edges=edges,
                         seconds=seconds, throughput=throughput, status=status,
                         parquet=str(parquet) if parquet is not None else None)
    if writer is not None:
        writer.finish({"status": "done", "total": len(targets), "last_invocation": summary.as_dict()})
    log.info(summary.line())
    return summary


def recommend_sessions(graph: Graph, settings: Settings, recommender: Recommender,
                       sessions: Sequence[tuple[str, Sequence[str]]], run_id: str | None = None, *,
                       dataset: str | None = None, k: int = 10, parquet: str | Path | None = None,
                       neo4j: bool = True, infer_persona: PersonaInfer | None = None, batch_size: int = 256,
                       progress: bool = True) -> RunSummary:
    """Top-``k`` for anonymous sessions ``(session id, item ids)``; results go to Parquet.

    Item ids may be raw or node ids; items the graph does not know are dropped (and counted in the
    log). ``infer_persona`` maps a session's item node ids to a persona vector (or ``None``). With
    ``neo4j=True`` a RecommendationRun node (kind ``sessions``) records the run.
    """
    if k <= 0:
        raise JobError(f"k must be positive, got {k}.")
    if parquet is None:
        raise JobError("anonymous-session results go to Parquet: give --parquet PATH.")
    dataset = resolve_dataset(graph, dataset)
    run_id = run_id or default_run_id(recommender.name, dataset)
    sess = [(sid, node_ids(dataset, list(items))) for sid, items in sessions]
    known = {r["item"] for r in graph.read("queries/jobs_items_exist.cypher",
                                             {"ids": sorted({i for _, its in sess for i in its})})}
    unknown = sum(1 for _, its in sess for i in its if i not in known)
    if unknown:
        log.warning("%d session items are not in the graph and are ignored", unknown)
    sess = [(sid, [i for i in its if i in known]) for sid, its in sess]
    if neo4j:
        start_run(graph, run_id, recommender, dataset, k, "sessions", {"sessions": len(sess)})
    writer = PartWriter(Path(parquet), "session", {"run": run_id, "model": recommender.name, "k": k,
                                                   "kind": "sessions", "dataset": dataset})
    done = writer.done_ids()
    todo = [(sid, its) for sid, its in sess if sid not in done]
    started = time.perf_counter()
    bar = tqdm(total=len(todo), desc=f"recommend {run_id}", unit="session", disable=not progress or not todo)
    for start in range(0, len(todo), batch_size):
        chunk = todo[start:start + batch_size]
        ids = [sid for sid, _ in chunk]
        hists = [its for _, its in chunk]
        personas = [infer_persona(its) if infer_persona and its else None for its in hists]
        batch = UserBatch(ids=ids, histories=hists, personas=personas)
        items, scores = recommender.recommend(batch, k)
        check_output(batch, items, scores, k)
        writer.write(run_id, ids, items, scores)
        done.update(ids)
        if neo4j:
            graph.write("load/recommend_run_progress.cypher",
                        {"run": run_id, "users_done": None, "sessions_done": len(done)})
        bar.update(len(chunk))
    bar.close()
    seconds = time.perf_counter() - started
    written = len(todo)
    throughput = written / seconds if written and seconds > 0 else 0.0
    if neo4j:
        graph.write("load/recommend_run_finish.cypher",
                    {"run": run_id, "users_done": 0, "sessions_done": len(done), "throughput": throughput,
                     "seconds": seconds})
    summary = RunSummary(run_id=run_id, model=recommender.name, dataset=dataset, kind="sessions", k=k,
                         total=len(sess), skipped=len(sess) - written, written=written, edges=0,
                         seconds=seconds, throughput=throughput, status="done", parquet=str(parquet))
    writer.finish({"status": "done", "total": len(sess), "last_invocation": summary.as_dict()})
    log.info(summary.line())
    return summary


def check_output(batch: UserBatch, items: list[list[str]], scores: list[list[float]], k: int) -> None:
    """A model that breaks the contract fails loudly rather than writing wrong edges."""
    if len(items) != len(batch) or len(scores) != len(batch):
        raise JobError(f"the model returned {len(items)} lists for a batch of {len(batch)} users.")
    for uid, hist, its, scs in zip(batch.ids, batch.histories, items, scores):
        if len(its) != len(scs) or len(its) > k:
            raise JobError(f"the model returned {len(its)} items and {len(scs)} scores for {uid} (k={k}).")
        if len(set(its)) != len(its) or set(its) & set(hist):
            raise JobError(f"the model returned duplicates or history items for {uid}.")
