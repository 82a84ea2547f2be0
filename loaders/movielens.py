"""MovieLens 100K (``u.data``, ``u.item``) and 1M (``ratings.dat``, ``movies.dat``) readers.

Both releases are latin-1 text. ``u.item`` rows are ``id|title (year)|release date|video date|IMDb
url|19 genre flags``; ``movies.dat`` rows are ``id::title (year)::Genre|Genre``. Titles keep the
source's wording ("Shawshank Redemption, The"); the trailing "(year)" becomes ``year``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

from personarec.loaders.common import (
    Interaction,
    ItemRecord,
    Reject,
    Rejects,
    SourceError,
    check_rating,
    check_ts,
    duplicate_item,
    iter_lines,
)

ENCODING = "latin-1"

#: ML-100K genre order of the 19 flags (also in ``u.genre``). "unknown" is a flag, not a genre:
#: it is not turned into a Genre node, so it cannot tie unrelated films together in the KG.
GENRES_100K = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
               "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
               "War", "Western")
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)(?:\s*\([^()]*\))?\s*$")


def split_title(raw: str) -> tuple[str | None, int | None]:
    """``"Toy Story (1995)"`` -> ``("Toy Story", 1995)``; no year -> ``(title, None)``; empty -> None."""
    raw = raw.strip()
    m = _TITLE_YEAR.match(raw)
    if m:
        return (m.group("title").strip() or None), int(m.group("year"))
    return (raw or None), None


def detect_release(path: Path) -> str:
    """``"100k"`` or ``"1m"`` for a MovieLens folder (or a file inside one)."""
    folder = path if path.is_dir() else path.parent
    if (folder / "u.data").is_file():
        return "100k"
    if (folder / "ratings.dat").is_file():
        return "1m"
    raise SourceError(f"{path} is not a MovieLens 100K (u.data) or 1M (ratings.dat) folder.")


def _files(path: Path) -> tuple[Path, Path, str]:
    folder = path if path.is_dir() else path.parent
    release = detect_release(path)
    if release == "100k":
        return folder / "u.data", folder / "u.item", release
    return folder / "ratings.dat", folder / "movies.dat", release


def files(path: Path) -> tuple[Path, Path, str]:
    """``(ratings file, items file, release)`` of a MovieLens folder (or a file inside it)."""
    return _files(path)


def parse_rating(line: str, release: str) -> tuple[str, str, float | None, int]:
    """``(user, item, rating, ts)`` of one ratings line of ``release``, or :class:`Reject`. The per-line rule
    of :func:`read_ratings`, also run by the Spark loader."""
    parts = line.split("\t" if release == "100k" else "::")
    if len(parts) != 4:
        raise Reject(f"wrong field count: {len(parts)} instead of 4")
    user, item = parts[0].strip(), parts[1].strip()
    if not user.isdigit() or not item.isdigit():
        raise Reject("bad id: user and item ids must be integers")
    return user, item, check_rating(parts[2].strip(), 0.5, 5.0), check_ts(parts[3])


def read_ratings(path: str | Path, rejects: Rejects | None = None) -> Iterator[Interaction]:
    """Ratings of a MovieLens folder in source order (``u.data`` tab- or ``ratings.dat`` ``::``-separated)."""
    ratings, _, release = _files(Path(path))
    rejects = rejects if rejects is not None else Rejects()
    for line_no, line in iter_lines(ratings, ENCODING, rejects, "interaction"):
        try:
            user, item, rating, ts = parse_rating(line, release)
        except Reject as exc:
            rejects.add(ratings, line_no, str(exc), line, "interaction")
            continue
        yield Interaction(sys.intern(user), sys.intern(item), rating, ts, line_no)


def read_items(path: str | Path, rejects: Rejects | None = None) -> Iterator[ItemRecord]:
    """Films of a MovieLens folder (or ``u.item``/``movies.dat`` path): raw_id, title, year, genres,
    kind="film". Reused by the DBpedia linker."""
    path = Path(path)
    if path.is_file() and path.name in ("u.item", "movies.dat"):
        items, release = path, ("100k" if path.name == "u.item" else "1m")
    else:
        _, items, release = _files(path)
    rejects = rejects if rejects is not None else Rejects()
    seen: set[str] = set()
    for line_no, line in iter_lines(items, ENCODING, rejects, "item"):
        try:
            record = parse_item(line, release)
            if record.raw_id in seen:
                raise Reject(duplicate_item(record.raw_id))
        except Reject as exc:
            rejects.add(items, line_no, str(exc), line, "item")
            continue
        seen.add(record.raw_id)
        yield record


def parse_item(line: str, release: str) -> ItemRecord:
    """The film of one ``u.item`` / ``movies.dat`` line of ``release``, or :class:`Reject`. The per-line rule
    of :func:`read_items` (which also rejects a repeated id), also run by the Spark loader."""
    if release == "100k":
        parts = line.split("|")
        if len(parts) != 5 + len(GENRES_100K):
            raise Reject(f"wrong field count: {len(parts)} instead of {5 + len(GENRES_100K)}")
        flags = parts[5:]
        if any(f not in ("0", "1") for f in flags):
            raise Reject("bad genre flags: expected 0/1")
        genres = [g for g, f in zip(GENRES_100K, flags, strict=True) if f == "1" and g != "unknown"]
    else:
        parts = line.split("::")
        if len(parts) != 3:
            raise Reject(f"wrong field count: {len(parts)} instead of 3")
        genres = [g for g in parts[2].split("|") if g and g != "(no genres listed)"]
    raw_id = parts[0].strip()
    if not raw_id.isdigit():
        raise Reject("bad id: movie id must be an integer")
    title, year = split_title(parts[1])
    if title is not None and title.lower() == "unknown":
        title = None
    return ItemRecord(raw_id=raw_id, kind="film", title=title, year=year, genres=genres)
