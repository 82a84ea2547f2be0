"""Shared plumbing of the source loaders: opening gz/plain files as a line stream, typed records,
validation helpers, a rejects writer and counters.

Every loader streams its input line by line (never the whole file in memory), validates each record
and yields typed records; a bad record is skipped, counted and written to the rejects file with its
line number, so bad input never loses the good data around it.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import logging
import math
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from personarec.errors import PersonarecError

log = logging.getLogger(__name__)

#: Plausible interaction times (epoch seconds): 1990-01-01 .. 2100-01-01. Anything outside is
#: "absurd" (a millisecond value read as seconds, a negative number, a typo) and rejected.
MIN_TS = 631_152_000
MAX_TS = 4_102_444_800

ITEM_KINDS = ("film", "book", "product")


class SourceError(PersonarecError):
    """A source file cannot be read at all (missing, truncated gzip, unknown format)."""


class Reject(ValueError):
    """Raised by a record parser: the record is skipped and written to the rejects file."""


@dataclass(slots=True)
class Interaction:
    """One user–item event. ``order`` is its position in the source (ties in time keep it)."""

    user: str
    item: str
    rating: float | None
    ts: int | None
    order: int


@dataclass(slots=True)
class ItemRecord:
    """An item with its text fields, features and item–item links (raw ids of the same source)."""

    raw_id: str
    kind: str = "product"
    title: str | None = None
    year: int | None = None
    description: str | None = None
    categories: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    also_bought: list[str] = field(default_factory=list)
    also_viewed: list[str] = field(default_factory=list)
    bought_together: list[str] = field(default_factory=list)


class Rejects:
    """Counts rejected records by reason and writes them (tab-separated: file, line, reason, raw line)
    to ``path`` when one is given. Use as a context manager so the file is closed."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else None
        self.by_reason: Counter[str] = Counter()
        self.by_kind: Counter[str] = Counter()
        self._fh: IO[str] | None = None

    def __enter__(self) -> Rejects:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def add(self, source: str | Path, line_no: int, reason: str, raw: str, kind: str = "record") -> None:
        """Record one rejected line; ``kind`` says what it would have become (e.g. ``interaction``)."""
        self.by_reason[reason.split(":")[0]] += 1
        self.by_kind[kind] += 1
        log.debug("rejected %s:%d (%s)", source, line_no, reason)
        if self.path is None:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # backslashreplace: a raw line may hold lone surrogates (undecodable bytes kept apart)
            self._fh = open(self.path, "a", encoding="utf-8", errors="backslashreplace")
        one_line = raw.rstrip("\r\n").replace("\t", " ").replace("\n", "\\n")
        self._fh.write(f"{Path(source).name}\t{line_no}\t{reason}\t{one_line}\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a plain or gzip-compressed file for streaming binary reads."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"source file {path} does not exist.")
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def open_text(path: str | Path, encoding: str = "utf-8", errors: str = "strict") -> IO[str]:
    """Open a plain or gzip-compressed text file for streaming reads.

    ``errors="surrogateescape"`` keeps undecodable bytes as distinct lone surrogates (never merged into
    one replacement character), so a caller can find and reject them with :func:`undecodable`.
    """
    return io.TextIOWrapper(open_binary(path), encoding=encoding, errors=errors, newline="")


def undecodable(text: str) -> bool:
    """True when ``text`` holds bytes that ``surrogateescape`` decoding could not decode."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _codec_label(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return "UTF-8" if name.startswith("utf-8") else name


def decode_line(data: bytes, encoding: str = "utf-8") -> tuple[str, str | None]:
    """One line's bytes (newline already stripped) as ``(text, None)``, or ``(text, reason)`` when they are
    invalid in ``encoding``: the text is then decoded with backslash escapes, for the rejects file only.

    The per-line rule of :func:`iter_lines`, also applied line by line by the Spark loader
    (``personarec.spark.load``).
    """
    try:
        return data.decode(encoding), None
    except UnicodeDecodeError as exc:
        return (data.decode(encoding, "backslashreplace"),
                f"invalid {_codec_label(encoding)}: at byte {exc.start} (0x{data[exc.start]:02x})")


def iter_lines(path: str | Path, encoding: str = "utf-8", rejects: Rejects | None = None,
               kind: str = "record") -> Iterator[tuple[int, str]]:
    """Yield ``(line_no, line)`` (1-based, newline stripped) of the lines that hold a record.

    Each line is decoded on its own and strictly: a line with bytes invalid in ``encoding`` and a blank
    line are written to ``rejects`` (as ``kind``) with their line number, never decoded with
    replacement characters (which would merge ``U\\xff`` and ``U\\xfe`` into one id). Blank lines after
    the last record are file padding, not lost records, and are skipped silently. Without ``rejects``
    bad lines are just skipped.

    A truncated or corrupt gzip stream ends the iteration with one clear :class:`SourceError`;
    lines yielded before it are complete and valid to use.
    """
    path = Path(path)
    line_no = 0
    blank: list[int] = []  # reported once a record follows them
    try:
        with open_binary(path) as fh:
            for line_no, raw in enumerate(fh, start=1):
                line, bad = decode_line(raw.rstrip(b"\r\n"), encoding)
                if bad is None and not line.strip():
                    blank.append(line_no)
                    continue
                if rejects is not None:
                    for blank_no in blank:
                        rejects.add(path, blank_no, "blank line", "", kind)
                    if bad is not None:
                        rejects.add(path, line_no, bad, line, kind)
                blank.clear()
                if bad is None:
                    yield line_no, line
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise SourceError(f"{path} is truncated or corrupt after line {line_no} ({exc}); "
                          "fix or re-download it and rerun the load (already loaded rows are kept).") from exc


def reject_reason(exc: Reject | RecursionError) -> str:
    """The rejects-file reason for a record that failed to parse or convert."""
    if isinstance(exc, RecursionError):
        # A line nested deeper than the interpreter's stack (e.g. 200,000 "["): that record only.
        return "too deeply nested: more levels than the parser allows"
    return str(exc)


def duplicate_item(raw_id: str) -> str:
    """The reject reason of a repeated item record in one metadata file (its first record is kept)."""
    return f"duplicate item: {raw_id}"


def parse_json_line(line: str) -> dict[str, Any]:
    """A JSON object from one line, or :class:`Reject`."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise Reject(f"bad JSON: {getattr(exc, 'msg', exc)}") from None
    except (RecursionError, MemoryError):
        raise Reject(reject_reason(RecursionError())) from None
    if not isinstance(obj, dict):
        raise Reject("not a JSON object")
    return obj


def require_id(obj: dict[str, Any], *keys: str) -> str:
    """The first present id field as text (ints accepted), or :class:`Reject`."""
    for key in keys:
        value = obj.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise Reject(f"wrong type: {key} is {type(value).__name__}")
        text = str(value).strip()
        if not text:
            raise Reject(f"missing id: {key} is empty")
        if any(c in text for c in "\t\n\r"):
            raise Reject(f"bad id: {key} contains whitespace control characters")
        return text
    raise Reject(f"missing id: {'/'.join(keys)}")


def check_rating(value: Any, low: float = 0.0, high: float = 10.0) -> float | None:
    """A rating as float (None stays None), or :class:`Reject` for a non-number or one out of range."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Reject("wrong type: rating is bool")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise Reject(f"wrong type: rating {value!r}") from None
    if not isinstance(value, (int, float)) or math.isnan(value):
        raise Reject(f"wrong type: rating is {type(value).__name__}")
    if not low <= value <= high:
        raise Reject(f"bad rating: {value} outside [{low}, {high}]")
    return float(value)


def check_ts(value: Any, *, millis: bool = False) -> int:
    """Epoch seconds from a number (milliseconds when ``millis``), or :class:`Reject` if absurd."""
    if isinstance(value, bool) or value is None:
        raise Reject("missing timestamp" if value is None else "wrong type: timestamp is bool")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise Reject(f"wrong type: timestamp {value!r}") from None
    if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        raise Reject(f"wrong type: timestamp is {type(value).__name__}")
    ts = int(value // 1000) if millis else int(value)
    if not MIN_TS <= ts <= MAX_TS:
        raise Reject(f"absurd timestamp: {value}")
    return ts


def str_list(value: Any) -> list[str]:
    """A list of non-empty strings from a string, a list (nested lists flattened) or None; order kept,
    duplicates dropped."""
    out: list[str] = []
    stack = [value]
    while stack:
        cur = stack.pop()
        if cur is None:
            continue
        if isinstance(cur, (list, tuple)):
            stack.extend(reversed(cur))
        elif isinstance(cur, (str, int, float)) and not isinstance(cur, bool):
            text = str(cur).strip()
            if text and text not in out:
                out.append(text)
    return out
