"""Turn a source name plus its paths into interactions and a stream of item records.

Interactions are read completely before anything is written, because each user's ``seq`` and split
need the whole history; item metadata is streamed (metadata files are the large ones).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from personarec.loaders import amazon, movielens, sequences
from personarec.loaders.common import ITEM_KINDS, Interaction, ItemRecord, Rejects, SourceError

log = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("amazon", "movielens", "sequences")


@dataclass
class SourceData:
    """What one source gives the loader."""

    source: str
    format: str
    default_dataset: str
    kind: str  # item kind for items known only from interactions
    interactions: list[Interaction]
    items: Callable[[], Iterator[ItemRecord]]  # streamed metadata (may yield nothing)


def _check_paths(paths: list[Path]) -> list[Path]:
    if not paths:
        raise SourceError("no input path given.")
    for p in paths:
        if not p.exists():
            raise SourceError(f"input path {p} does not exist.")
    return paths


@dataclass
class SourceFiles:
    """Which files a source reads, in the order the loader reads them, and what is known before reading.

    The plan both engines follow: :func:`read_source` (one process) and ``personarec.spark.load`` (Spark).
    """

    source: str
    format: str
    default_dataset: str
    kind: str  # item kind for items known only from interactions
    #: (file, format): amazon 2014|2018|2023, movielens 100k|1m, or "sequences"
    interactions: list[tuple[Path, str]]
    #: (file, format): amazon 2014|2018|2023, movielens 100k|1m, or "attributes" (item -> attributes JSON)
    metadata: list[tuple[Path, str]]
    meta_kind: str | None = None  # item kind of metadata records: --kind, else decided per file/record


def plan_amazon(paths: list[Path], fmt: str | None = None, kind: str | None = None) -> SourceFiles:
    """Reviews and metadata files in any order; each file's role (and format unless given) is sniffed."""
    fmt_ = amazon.check_format(fmt)
    reviews: list[tuple[Path, str]] = []
    metas: list[tuple[Path, str]] = []
    for path in _check_paths(paths):
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for f in files:
            role, sniffed = amazon.sniff(f)
            (reviews if role == "reviews" else metas).append((f, fmt_ or sniffed))
    name_from = reviews[0][0] if reviews else metas[0][0]
    item_kind = kind or next((k for f, _ in reviews + metas if (k := amazon.kind_from_name(f))), None) or "product"
    formats = sorted({f for _, f in reviews + metas})
    return SourceFiles("amazon", ",".join(formats), amazon.dataset_name(name_from), item_kind, reviews, metas, kind)


def plan_movielens(paths: list[Path], kind: str | None = None) -> SourceFiles:
    """A MovieLens 100K/1M folder (or any file inside it)."""
    _check_paths(paths)
    folders = {p if p.is_dir() else p.parent for p in paths}
    if len(folders) != 1:
        raise SourceError("give one MovieLens folder (u.data/u.item or ratings.dat/movies.dat).")
    ratings, items, release = movielens.files(folders.pop())
    return SourceFiles("movielens", release, f"ml-{release}", kind or "film", [(ratings, release)],
                       [(items, release)], kind)


def plan_sequences(paths: list[Path], kind: str | None = None) -> SourceFiles:
    """One ``user item item …`` file plus an optional ``.json`` item -> attributes file."""
    _check_paths(paths)
    seq_files = [p for p in paths if p.suffix.lower() != ".json"]
    attr_files = [p for p in paths if p.suffix.lower() == ".json"]
    if len(seq_files) != 1 or len(attr_files) > 1:
        raise SourceError("give one sequence file and at most one item -> attributes .json file.")
    name = seq_files[0].name.split(".")[0].lower()
    return SourceFiles("sequences", "sequences", name, kind or "product", [(seq_files[0], "sequences")],
                       [(f, "attributes") for f in attr_files], kind)


def plan_source(source: str, paths: list[Path], fmt: str | None = None, kind: str | None = None) -> SourceFiles:
    """Check the arguments and list the files of ``source`` (``amazon``, ``movielens``, ``sequences``)."""
    if kind is not None and kind not in ITEM_KINDS:
        raise SourceError(f"unknown item kind {kind!r}; use one of {', '.join(ITEM_KINDS)}.")
    paths = [Path(p) for p in paths]
    if source == "amazon":
        return plan_amazon(paths, fmt, kind)
    if fmt is not None:
        raise SourceError("--format applies to Amazon files only.")
    if source == "movielens":
        return plan_movielens(paths, kind)
    if source == "sequences":
        return plan_sequences(paths, kind)
    raise SourceError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}.")


def read_amazon(plan: SourceFiles, rejects: Rejects) -> SourceData:
    """All reviews (one running order across files, so ties keep the given file order); metadata streamed."""
    interactions: list[Interaction] = []
    order = 0
    for f, f_fmt in plan.interactions:
        for x in amazon.read_reviews(f, f_fmt, rejects):  # type: ignore[arg-type]
            x.order = order
            order += 1
            interactions.append(x)

    def items() -> Iterator[ItemRecord]:
        for f, f_fmt in plan.metadata:
            yield from amazon.read_meta(f, f_fmt, plan.meta_kind, rejects)  # type: ignore[arg-type]

    return SourceData(plan.source, plan.format, plan.default_dataset, plan.kind, interactions, items)


def read_movielens(plan: SourceFiles, rejects: Rejects) -> SourceData:
    """Ratings, then the films streamed."""
    (ratings, _), (items_file, _) = plan.interactions[0], plan.metadata[0]
    interactions = list(movielens.read_ratings(ratings, rejects))
    return SourceData(plan.source, plan.format, plan.default_dataset, plan.kind, interactions,
                      lambda: movielens.read_items(items_file, rejects))


def read_sequences(plan: SourceFiles, rejects: Rejects) -> SourceData:
    """The sequences, then the item -> attributes pairs streamed."""
    interactions = list(sequences.read_sequences(plan.interactions[0][0], rejects))

    def items() -> Iterator[ItemRecord]:
        for f, _ in plan.metadata:
            for raw_id, attrs in sequences.read_attributes(f, rejects):
                yield ItemRecord(raw_id=raw_id, kind=plan.kind, attributes=attrs)

    return SourceData(plan.source, plan.format, plan.default_dataset, plan.kind, interactions, items)


def read_source(source: str, paths: list[Path], rejects: Rejects, fmt: str | None = None,
                kind: str | None = None) -> SourceData:
    """Dispatch on the source name (``amazon``, ``movielens``, ``sequences``)."""
    plan = plan_source(source, paths, fmt, kind)
    reader = {"amazon": read_amazon, "movielens": read_movielens, "sequences": read_sequences}[plan.source]
    return reader(plan, rejects)
