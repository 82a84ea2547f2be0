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


def read_amazon(paths: list[Path], rejects: Rejects, fmt: str | None = None,
                kind: str | None = None) -> SourceData:
    """Reviews and metadata files in any order; each file's role (and format unless given) is sniffed."""
    fmt_ = amazon.check_format(fmt)
    reviews: list[tuple[Path, str]] = []
    metas: list[tuple[Path, str]] = []
    for path in _check_paths(paths):
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for f in files:
            role, sniffed = amazon.sniff(f)
            (reviews if role == "reviews" else metas).append((f, fmt_ or sniffed))
    interactions: list[Interaction] = []
    order = 0
    for f, f_fmt in reviews:
        for x in amazon.read_reviews(f, f_fmt, rejects):  # type: ignore[arg-type]
            x.order = order  # one running order across files, so ties keep the given file order
            order += 1
            interactions.append(x)
    name_from = reviews[0][0] if reviews else metas[0][0]
    item_kind = kind or next((k for f, _ in reviews + metas if (k := amazon.kind_from_name(f))), None) or "product"

    def items() -> Iterator[ItemRecord]:
        for f, f_fmt in metas:
            yield from amazon.read_meta(f, f_fmt, kind, rejects)  # type: ignore[arg-type]

    formats = sorted({f for _, f in reviews + metas})
    return SourceData("amazon", ",".join(formats), amazon.dataset_name(name_from), item_kind, interactions, items)


def read_movielens(paths: list[Path], rejects: Rejects, kind: str | None = None) -> SourceData:
    """A MovieLens 100K/1M folder (or any file inside it)."""
    _check_paths(paths)
    folders = {p if p.is_dir() else p.parent for p in paths}
    if len(folders) != 1:
        raise SourceError("give one MovieLens folder (u.data/u.item or ratings.dat/movies.dat).")
    folder = folders.pop()
    release = movielens.detect_release(folder)
    interactions = list(movielens.read_ratings(folder, rejects))
    return SourceData("movielens", release, f"ml-{release}", kind or "film", interactions,
                      lambda: movielens.read_items(folder, rejects))


def read_sequences(paths: list[Path], rejects: Rejects, kind: str | None = None) -> SourceData:
    """One ``user item item …`` file plus an optional ``.json`` item -> attributes file."""
    _check_paths(paths)
    seq_files = [p for p in paths if p.suffix.lower() != ".json"]
    attr_files = [p for p in paths if p.suffix.lower() == ".json"]
    if len(seq_files) != 1 or len(attr_files) > 1:
        raise SourceError("give one sequence file and at most one item -> attributes .json file.")
    interactions = list(sequences.read_sequences(seq_files[0], rejects))
    item_kind = kind or "product"

    def items() -> Iterator[ItemRecord]:
        for f in attr_files:
            for raw_id, attrs in sequences.read_attributes(f, rejects):
                yield ItemRecord(raw_id=raw_id, kind=item_kind, attributes=attrs)

    name = seq_files[0].name.split(".")[0].lower()
    return SourceData("sequences", "sequences", name, item_kind, interactions, items)


def read_source(source: str, paths: list[Path], rejects: Rejects, fmt: str | None = None,
                kind: str | None = None) -> SourceData:
    """Dispatch on the source name (``amazon``, ``movielens``, ``sequences``)."""
    if kind is not None and kind not in ITEM_KINDS:
        raise SourceError(f"unknown item kind {kind!r}; use one of {', '.join(ITEM_KINDS)}.")
    paths = [Path(p) for p in paths]
    if source == "amazon":
        return read_amazon(paths, rejects, fmt, kind)
    if fmt is not None:
        raise SourceError("--format applies to Amazon files only.")
    if source == "movielens":
        return read_movielens(paths, rejects, kind)
    if source == "sequences":
        return read_sequences(paths, rejects, kind)
    raise SourceError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}.")
