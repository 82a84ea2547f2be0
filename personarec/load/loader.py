"""Write a source into Neo4j through ``cypher/load/*.cypher``: batched, idempotent ``UNWIND … MERGE``.

Order of work (each step is safe to repeat, so an interrupted load is finished by running it again):

1. read and validate every interaction (rejects go to the rejects file), optional k-core, split;
2. ``Dataset`` node: its load lock (:mod:`personarec.load.lock`, one loader per dataset), then
   ``status = 'loading'``;
3. item metadata, streamed in batches, with features (categories, brands, authors, genres, attributes);
4. users, items seen only in interactions, ``INTERACTED {rating, ts, seq, split}``;
5. item–item metadata links, then ``CO_INTERACTED {weight}`` from consecutive *train* interactions;
6. ``Dataset`` gets the split strategy, fingerprint, counts and ``status = 'loaded'``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from personarec.config import Settings
from personarec.graph import Graph
from personarec.graph.cypher import statement
from personarec.load.lock import DatasetLock
from personarec.load.sources import SourceData, read_source
from personarec.load.splits import Split, co_interactions, kcore, make_split
from personarec.loaders.common import ItemRecord, Rejects

log = logging.getLogger(__name__)

#: script -> (node label it creates, relationship type it creates, what a row stands for: a node, a
#: relationship, or a node whose merges onto existing ones are not reported as updates)
SCRIPTS: dict[str, tuple[str | None, str | None, str]] = {
    "users": ("User", None, "node"),
    "items": ("Item", None, "node"),
    "interaction_items": ("Item", None, "created"),  # merges onto metadata items: only creations count
    "interactions": (None, "INTERACTED", "rel"),
    "categories": ("Category", "IN_CATEGORY", "rel"),
    "brands": ("Brand", "BY_BRAND", "rel"),
    "authors": ("Person", "BY_AUTHOR", "rel"),
    "genres": ("Genre", "HAS_GENRE", "rel"),
    "attributes": ("Attribute", "HAS_ATTRIBUTE", "rel"),
    "also_bought": (None, "ALSO_BOUGHT", "rel"),
    "also_viewed": (None, "ALSO_VIEWED", "rel"),
    "bought_together": (None, "BOUGHT_TOGETHER", "rel"),
    "co_interacted": (None, "CO_INTERACTED", "rel"),
}

#: Scripts fed the large, id-only row streams take ``$data``: one tab-separated text per batch, in
#: this column order. The pure-Python Bolt packer spends ~15 us per value, so a list of 5,000 maps
#: costs far more to send than the server needs to merge it; one string is packed in one call. Only
#: validated ids (no tabs or newlines), numbers and fixed words go this way; free text stays in $rows.
TEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "raw_id"),
    "interaction_items": ("id", "raw_id", "kind"),
    "interactions": ("user", "item", "rating", "ts", "seq", "split"),
    "co_interacted": ("src", "dst", "weight"),
}


#: Scripts with a CREATE twin for the first load of a dataset: with no review edge of the dataset in the
#: graph, the rows of one load (unique by user and seq, or by item pair) cannot collide, and CREATE skips
#: MERGE's look-up of existing relationships between the two nodes. A rerun finds edges and merges.
CREATE_SCRIPTS = frozenset({"interactions", "co_interacted"})
#: Scripts whose batches may run as concurrent transactions (``load.writers``): each row creates one
#: relationship between existing nodes, so batches never race to create the same node.
CONCURRENT_SCRIPTS = frozenset({"interactions", "co_interacted"})


def _tsv(batch: list[Mapping[str, Any]], columns: tuple[str, ...]) -> str:
    return "\n".join("\t".join("" if row[c] is None else str(row[c]) for c in columns) for row in batch)


@dataclass
class TypeCounts:
    """Per node label / relationship type: created, merged onto existing (updated), rejected."""

    created: int = 0
    updated: int = 0
    rejected: int = 0


@dataclass
class LoadSummary:
    """What a load did; ``rows()`` gives a printable table."""

    dataset: str
    source: str
    format: str
    split: str
    fingerprint: str
    users: int = 0
    items: int = 0
    interactions: int = 0
    split_counts: dict[str, int] = field(default_factory=dict)
    short_users: int = 0
    filtered: int = 0  # interactions dropped by k-core
    meta_skipped: int = 0  # metadata records of items without (kept) interactions
    types: dict[str, TypeCounts] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    rejects_file: Path | None = None
    seconds: float = 0.0

    def type_counts(self, name: str) -> TypeCounts:
        return self.types.setdefault(name, TypeCounts())

    @property
    def rejected(self) -> int:
        return sum(self.rejects.values())

    def rows(self) -> list[dict[str, Any]]:
        return [{"type": k, "created": v.created, "updated": v.updated, "rejected": v.rejected}
                for k, v in self.types.items()]


T = TypeVar("T")


def _batches(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Writer:
    """Sends rows to one load script in batches (one transaction each) and tallies the counters."""

    def __init__(self, graph: Graph, dataset: str, summary: LoadSummary, batch_size: int, progress: bool,
                 writers: int = 1, lock: DatasetLock | None = None) -> None:
        self.graph = graph
        self.lock = lock
        self.dataset = dataset
        self.summary = summary
        self.batch_size = batch_size
        self.progress = progress
        self.writers = writers

    def write(self, script: str, rows: Iterable[Mapping[str, Any]], total: int | None = None,
              create: bool = False) -> int:
        """Send ``rows`` to ``load/<script>.cypher``; ``create`` uses ``load/<script>_create.cypher``
        (plain CREATE) for relationships that cannot exist yet (see :data:`CREATE_SCRIPTS`)."""
        label, rel, unit = SCRIPTS[script]
        query = statement(f"load/{script}_create.cypher" if create and script in CREATE_SCRIPTS
                          else f"load/{script}.cypher")
        sent = 0
        columns = TEXT_COLUMNS.get(script)
        payloads = ((len(batch), {"data": _tsv(batch, columns)} if columns else {"rows": batch})
                    for batch in _batches(rows, self.batch_size))

        def send(payload: dict[str, Any]) -> dict[str, int]:
            if self.lock is not None:
                self.lock.check()  # a loader that lost its lock must not keep writing
            return self.graph.execute_counters(query, {**payload, "dataset": self.dataset})

        with tqdm(total=total, desc=f"{self.dataset}: {script}", unit="row", disable=not self.progress,
                  leave=False) as bar:
            for n, c in self._run(script, payloads, send):
                sent += n
                bar.update(n)
                if label:
                    tc = self.summary.type_counts(label)
                    tc.created += c["nodes_created"]
                    if unit == "node":
                        tc.updated += n - c["nodes_created"]
                if rel:
                    tc = self.summary.type_counts(rel)
                    tc.created += c["relationships_created"]
                    tc.updated += n - c["relationships_created"]
        return sent

    def _run(self, script: str, payloads: Iterator[tuple[int, dict[str, Any]]],
             send: Callable[[dict[str, Any]], dict[str, int]]) -> Iterator[tuple[int, dict[str, int]]]:
        """Yield (rows, counters) per batch; relationship scripts keep ``writers`` transactions in flight.

        Why in flight: one Cypher transaction runs on one server core, so a single writer leaves the
        other cores idle. Only scripts whose batches touch disjoint rows run concurrently; a lock
        conflict between two batches is a transient error that the driver's managed transaction retries.
        """
        if self.writers <= 1 or script not in CONCURRENT_SCRIPTS:
            for n, payload in payloads:
                yield n, send(payload)
            return
        with ThreadPoolExecutor(self.writers, thread_name_prefix=f"load-{script}") as pool:
            pending: deque[tuple[int, Future[dict[str, int]]]] = deque()
            for n, payload in payloads:
                pending.append((n, pool.submit(send, payload)))
                if len(pending) >= 2 * self.writers:  # bounded: at most a few batches in memory
                    m, fut = pending.popleft()
                    yield m, fut.result()
            while pending:
                m, fut = pending.popleft()
                yield m, fut.result()


def _key(dataset: str, raw: str) -> str:
    return f"{dataset}:{raw}"


def _element_ids(graph: Graph, dataset: str) -> tuple[dict[str, str], dict[str, str]]:
    """``User.id`` -> elementId and ``Item.id`` -> elementId of the dataset's nodes, read once after they
    are written: the relationship scripts look their end nodes up by elementId, not by the id index."""
    users: dict[str, str] = {}
    items: dict[str, str] = {}
    for row in graph.stream(statement("load/dataset_element_ids.cypher"), {"dataset": dataset}):
        (users if row["label"] == "User" else items)[row["id"]] = row["eid"]
    return users, items


def _write_items(writer: _Writer, records: Iterator[ItemRecord], dataset: str, keep: set[str] | None,
                 links: dict[str, list[dict[str, str]]], summary: LoadSummary) -> int:
    """Stream metadata records: item nodes + features per batch; links are kept for after the items."""
    written = 0
    for chunk in _batches(records, writer.batch_size):
        recs = [r for r in chunk if keep is None or r.raw_id in keep]
        summary.meta_skipped += len(chunk) - len(recs)
        if not recs:
            continue
        writer.write("items", ({"id": _key(dataset, r.raw_id), "raw_id": r.raw_id, "kind": r.kind,
                                "title": r.title, "year": r.year, "description": r.description} for r in recs))
        for script, attr in (("categories", "categories"), ("brands", "brands"), ("authors", "authors"),
                             ("genres", "genres")):
            rows = [{"item": _key(dataset, r.raw_id), "name": n} for r in recs for n in getattr(r, attr)]
            if rows:
                writer.write(script, rows)
        rows = [{"item": _key(dataset, r.raw_id), "id": _key(dataset, a), "raw_id": a}
                for r in recs for a in r.attributes]
        if rows:
            writer.write("attributes", rows)
        for script in ("also_bought", "also_viewed", "bought_together"):
            links[script].extend({"src": _key(dataset, r.raw_id), "dst": _key(dataset, d)}
                                 for r in recs for d in getattr(r, script)
                                 if d != r.raw_id and (keep is None or d in keep))
        written += len(recs)
    return written


def load_dataset(graph: Graph, settings: Settings, source: str, paths: list[Path], dataset: str | None = None,
                 split: str = "loo", *, kcore_k: int | None = None, fmt: str | None = None,
                 kind: str | None = None, rejects_path: Path | None = None, replace: bool = False,
                 batch_size: int | None = None, progress: bool = True) -> LoadSummary:
    """Load one dataset (``source`` = ``amazon`` | ``movielens`` | ``sequences``) into the graph.

    Idempotent: loading the same input twice changes no counts, and a load that stopped half-way
    ends, when rerun, with the counts of a clean load. ``replace`` first removes what an earlier load
    of ``dataset`` wrote (needed when the input or options changed, e.g. another ``kcore_k``).
    Implements the KG construction of the paper's "personalized information extraction" stage
    (arXiv 2604.06928, Sec. 3) with the evaluation protocol of docs/protocol.md.
    """
    t0 = time.monotonic()
    size = batch_size or settings.load.batch_size
    with Rejects(rejects_path) as rejects, ExitStack() as stack:
        data: SourceData = read_source(source, paths, rejects, fmt, kind)
        name = dataset or data.default_dataset
        interactions = data.interactions
        before = len(interactions)
        if kcore_k:
            interactions = kcore(interactions, kcore_k)
        sp: Split = make_split(interactions, split)
        summary = LoadSummary(name, data.source, data.format, sp.strategy, sp.fingerprint,
                              filtered=before - len(interactions), short_users=len(sp.short_users),
                              rejects_file=rejects_path)
        # the split holds every row from here on: drop the raw records (half the memory of a big load)
        item_ids = {x.item for x in interactions}
        has_interactions = bool(interactions)
        del interactions
        data.interactions = []
        log.info("%s: %d interactions of %d users read (%d filtered by k-core) in %.1f s", name, len(sp),
                 len(sp.histories), summary.filtered, time.monotonic() - t0)
        # Everything below writes the dataset: under its load lock, so a second loader of the same dataset
        # refuses instead of also taking the CREATE path (which doubled the graph), and a rerun after a
        # crash reads "fresh" only once no other loader can be adding edges.
        lock = stack.enter_context(DatasetLock(graph, name))
        if replace:
            graph.run_script_autocommit("load/dataset_delete.cypher", {"dataset": name, "owner": lock.owner})
        fresh = not graph.read("load/dataset_has_edges.cypher", {"dataset": name})[0]["has_edges"]
        start = {"dataset": name, "source": data.source, "format": data.format, "split": sp.strategy}
        previous = graph.write("load/dataset_start.cypher", start)[0]["previous"]
        writer = _Writer(graph, name, summary, size, progress, settings.load.writers, lock)
        links: dict[str, list[dict[str, str]]] = {"also_bought": [], "also_viewed": [], "bought_together": []}
        # Without interactions (a metadata-only load) every item is kept.
        _write_items(writer, data.items(), name, item_ids if has_interactions else None, links, summary)
        users = sorted(sp.histories)
        writer.write("users", ({"id": _key(name, u), "raw_id": u} for u in users), total=len(users))
        writer.write("interaction_items", ({"id": _key(name, i), "raw_id": i, "kind": data.kind}
                                           for i in sorted(item_ids)), total=len(item_ids))
        users_eid, items_eid = _element_ids(graph, name)
        writer.write("interactions", ({"user": users_eid[_key(name, r.user)], "item": items_eid[_key(name, r.item)],
                                       "rating": r.rating, "ts": r.ts, "seq": r.seq, "split": r.split}
                                      for r in sp.rows()),
                     total=len(sp), create=fresh)
        for script, rows in links.items():
            if rows:
                writer.write(script, rows)
        pairs = co_interactions(sp)
        if previous is not None and previous != sp.fingerprint:
            # another split of this dataset was loaded before: its train pairs must not linger
            log.info("%s: split changed (%s -> %s), rebuilding CO_INTERACTED", name, previous, sp.fingerprint)
            graph.execute_autocommit(statement("load/co_interacted_delete.cypher"), {"dataset": name})
        writer.write("co_interacted", ({"src": items_eid[_key(name, a)], "dst": items_eid[_key(name, b)], "weight": w}
                                       for (a, b), w in pairs.items()), total=len(pairs), create=fresh)
        counts = sp.counts
        n_items = graph.read("load/dataset_item_count.cypher", {"dataset": name})[0]["items"]
        graph.write("load/dataset_finish.cypher", {
            "dataset": name, "split": sp.strategy, "fingerprint": sp.fingerprint, "users": len(users),
            "items": n_items, "interactions": len(sp), "train": counts["train"], "valid": counts["valid"],
            "test": counts["test"]})
        summary.users, summary.items, summary.interactions, summary.split_counts = (len(users), n_items, len(sp),
                                                                                   counts)
        summary.rejects = dict(rejects.by_reason)
        summary.type_counts("INTERACTED").rejected += rejects.by_kind.get("interaction", 0)
        summary.type_counts("Item").rejected += rejects.by_kind.get("item", 0)
    summary.seconds = time.monotonic() - t0
    log.info("%s loaded in %.1f s: %d users, %d items, %d interactions, fingerprint %s", name, summary.seconds,
             summary.users, summary.items, summary.interactions, summary.fingerprint)
    return summary
