"""Amazon review and metadata readers for the 2014, 2018 and 2023 releases.

- 2014 (McAuley et al., SIGIR 2015): reviews are JSON lines (``reviewerID``, ``asin``, ``overall``,
  ``unixReviewTime``); metadata lines are *Python dict literals* (single quotes), parsed with
  :func:`ast.literal_eval` (never ``eval``); ``categories`` is a list of lists; links live under
  ``related`` (``also_bought``, ``also_viewed``, ``bought_together``).
- 2018 (Ni et al., EMNLP 2019): JSON lines; metadata has ``also_buy``, ``also_view``, ``category``,
  ``description`` (a list), ``brand``, ``main_cat``; titles can carry HTML; products can repeat.
- 2023 (Hou et al., 2024): JSON lines keyed by ``parent_asin`` (used as the item id, not ``asin``);
  ``user_id``; review ``timestamp`` in milliseconds; metadata has ``main_category``, ``categories``,
  ``store``, ``author`` (books), ``features``, ``description``, ``details``, ``bought_together``.

The format is detected from the first record unless given. Reviews and metadata files are told apart
by content (a review has a user id).
"""

from __future__ import annotations

import ast
import html
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from personarec.loaders.common import (
    ITEM_KINDS,
    Interaction,
    ItemRecord,
    Reject,
    Rejects,
    SourceError,
    check_rating,
    check_ts,
    duplicate_item,
    iter_lines,
    parse_json_line,
    reject_reason,
    require_id,
    str_list,
)

Format = Literal["2014", "2018", "2023"]
Role = Literal["reviews", "meta"]
FORMATS: tuple[str, ...] = ("2014", "2018", "2023")

_BLOCK_TAG = re.compile(r"</?(p|br|div|li|ul|ol|tr|td|h\d)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
# 2018 metadata sometimes holds scraped page script instead of a title.
_JUNK = ("var aPageStart", "getTime()", "function(", "window.")
_MAX_TITLE = 1000

# Main categories that say what kind of item a record is.
_FILM_CATS = {"movies & tv", "prime video", "amazon instant video", "movies"}
_BOOK_CATS = {"books"}


def clean_text(value: Any, limit: int | None = None) -> str | None:
    """Text without HTML tags or entities and with collapsed whitespace; lists are joined by newlines."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        parts = [clean_text(v) for v in value]
        text = "\n".join(p for p in parts if p)
        return text or None
    if not isinstance(value, str):
        return None
    text = _SPACE.sub(" ", html.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", value)))).strip()
    if not text:
        return None
    return text[:limit] if limit else text


def clean_title(value: Any) -> str | None:
    """A title with HTML removed; scraped script or absurdly long text becomes None."""
    text = clean_text(value)
    if text is None or any(j in text for j in _JUNK) or len(text) > _MAX_TITLE:
        return None
    return text


def clean_person(value: Any) -> str | None:
    """A brand/author name: "Visit Amazon's Stephen King Page" -> "Stephen King"; "Unknown" -> None."""
    text = clean_text(value)
    if not text:
        return None
    m = re.match(r"^Visit Amazon's (.+?) Page$", text)
    if m:
        text = m.group(1)
    text = re.sub(r"^by\s+", "", text, flags=re.I)
    text = re.sub(r"\s*\((Author|Editor|Illustrator|Contributor|Narrator|Translator)\)$", "", text)
    if text.lower() in ("unknown", "n/a", "na", "none", "."):
        return None
    return text[:300]


def kind_from_name(path: str | Path) -> str | None:
    """``film``/``book`` from a file name such as ``Movies_and_TV_5.json.gz`` or ``meta_Books.jsonl``."""
    name = Path(path).name.lower()
    if "movie" in name or re.search(r"(^|[_\-])tv([_\-.]|$)", name) or "video" in name:
        return "film"
    if "book" in name:
        return "book"
    return None


def kind_from_category(main: Any) -> str | None:
    if not isinstance(main, str):
        return None
    main = html.unescape(main).strip().lower()
    if main in _FILM_CATS:
        return "film"
    if main in _BOOK_CATS:
        return "book"
    return None


def parse_meta_line(line: str) -> dict[str, Any]:
    """A metadata record: JSON, else a Python dict literal (2014) via ``ast.literal_eval``."""
    stripped = line.strip()
    if stripped.startswith("{\""):
        return parse_json_line(stripped)
    try:
        obj = ast.literal_eval(stripped)
    except (RecursionError, MemoryError):
        # the Python parser's stack overflowed (e.g. 200,000 unary minus signs): this record only
        raise Reject(reject_reason(RecursionError())) from None
    except (ValueError, SyntaxError):
        try:
            return parse_json_line(stripped)
        except Reject as exc:
            if str(exc).startswith("too deeply nested"):
                raise
            raise Reject("bad record: neither JSON nor a Python dict literal") from None
    if not isinstance(obj, dict):
        raise Reject("not a dict record")
    return obj


def sniff(path: str | Path) -> tuple[Role, Format]:
    """(role, format) of an Amazon file from its first parseable record (up to 20 lines looked at)."""
    for n, (_, line) in enumerate(iter_lines(path)):
        if n >= 20:
            break
        try:
            obj = parse_meta_line(line)
        except Reject:
            continue
        if "user_id" in obj or ("parent_asin" in obj and "timestamp" in obj):
            return "reviews", "2023"
        if "reviewerID" in obj:
            return "reviews", ("2014" if "helpful" in obj else "2018")
        if "parent_asin" in obj or "main_category" in obj:
            return "meta", "2023"
        if any(k in obj for k in ("also_buy", "also_view", "main_cat", "category", "feature")):
            return "meta", "2018"
        if any(k in obj for k in ("related", "categories", "salesRank", "imUrl")) or "asin" in obj:
            return "meta", "2014"
    raise SourceError(f"cannot tell which Amazon file {path} is: no review or metadata record in its first lines.")


def _review(obj: dict[str, Any], fmt: Format) -> tuple[str, str, float | None, int]:
    if fmt == "2023":
        user = require_id(obj, "user_id")
        item = require_id(obj, "parent_asin")
        return user, item, check_rating(obj.get("rating"), 0.0, 5.0), check_ts(obj.get("timestamp"), millis=True)
    user = require_id(obj, "reviewerID")
    item = require_id(obj, "asin")
    return user, item, check_rating(obj.get("overall"), 0.0, 5.0), check_ts(obj.get("unixReviewTime"))


def parse_review(line: str, fmt: Format) -> tuple[str, str, float | None, int]:
    """``(user, item, rating, ts)`` of one review line; raises :class:`Reject` (or ``RecursionError``, see
    :func:`reject_reason`). The per-line rule of :func:`read_reviews`, also run by the Spark loader."""
    return _review(parse_json_line(line), fmt)


def read_reviews(path: str | Path, fmt: Format | None = None,
                 rejects: Rejects | None = None) -> Iterator[Interaction]:
    """Interactions (user, item, rating, ts in epoch seconds) in file order; bad lines are rejected."""
    path = Path(path)
    if fmt is None:
        role, fmt = sniff(path)
        if role != "reviews":
            raise SourceError(f"{path} looks like an Amazon metadata file, not a reviews file.")
    rejects = rejects if rejects is not None else Rejects()
    for line_no, line in iter_lines(path, rejects=rejects, kind="interaction"):
        try:
            user, item, rating, ts = parse_review(line, fmt)
        except (Reject, RecursionError) as exc:
            rejects.add(path, line_no, reject_reason(exc), line, "interaction")
            continue
        # interned: a user's or item's id is one string object however many reviews repeat it
        yield Interaction(sys.intern(user), sys.intern(item), rating, ts, line_no)


def _year(obj: dict[str, Any], fmt: Format) -> int | None:
    candidates: list[Any] = []
    if fmt == "2018":
        candidates.append(obj.get("date"))
    elif fmt == "2023":
        details = obj.get("details")
        if isinstance(details, dict):
            candidates += [v for k, v in details.items() if "date" in str(k).lower() or k == "Publisher"]
    for value in candidates:
        if isinstance(value, str):
            m = _YEAR.search(value)
            if m:
                return int(m.group(1))
    return None


def _links(obj: dict[str, Any], fmt: Format) -> tuple[list[str], list[str], list[str]]:
    if fmt == "2014":
        related = obj.get("related") or {}
        if not isinstance(related, dict):
            raise Reject("wrong type: related is not a dict")
        return (str_list(related.get("also_bought")), str_list(related.get("also_viewed")),
                str_list(related.get("bought_together")))
    if fmt == "2018":
        return str_list(obj.get("also_buy")), str_list(obj.get("also_view")), []
    return [], [], str_list(obj.get("bought_together"))


def _meta(obj: dict[str, Any], fmt: Format, file_kind: str | None) -> ItemRecord:
    raw_id = require_id(obj, "parent_asin" if fmt == "2023" else "asin")
    main = obj.get("main_category" if fmt == "2023" else "main_cat")
    kind = file_kind or kind_from_category(main) or "product"
    for key in ("title", "brand", "store"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise Reject(f"wrong type: {key} is {type(obj[key]).__name__}")
    cats_key = {"2014": "categories", "2018": "category", "2023": "categories"}[fmt]
    cats = obj.get(cats_key)
    if cats is not None and not isinstance(cats, (list, str)):
        raise Reject(f"wrong type: {cats_key} is {type(cats).__name__}")
    categories = [c for c in (clean_text(c, 200) for c in str_list(cats)) if c]
    names = [clean_person(obj.get("brand")), clean_person(obj.get("store"))]
    author = obj.get("author")
    authors = [clean_person(author.get("name"))] if isinstance(author, dict) else []
    if kind == "book":
        # Book "brands" and "stores" in these files are the authors' names.
        authors = authors + names
        brands: list[str] = []
    else:
        brands = [n for n in names if n]
    description = clean_text(obj.get("description"), 20000)
    if description is None and fmt == "2023":
        description = clean_text(obj.get("features"), 20000)
    also_bought, also_viewed, together = _links(obj, fmt)
    return ItemRecord(raw_id=raw_id, kind=kind, title=clean_title(obj.get("title")), year=_year(obj, fmt),
                      description=description, categories=list(dict.fromkeys(categories)),
                      brands=list(dict.fromkeys(brands)), authors=list(dict.fromkeys(a for a in authors if a)),
                      also_bought=also_bought, also_viewed=also_viewed, bought_together=together)


def parse_meta(line: str, fmt: Format, file_kind: str | None) -> ItemRecord:
    """The item record of one metadata line (``file_kind``: ``--kind`` or the file name's kind); raises
    :class:`Reject` or ``RecursionError``. The per-line rule of :func:`read_meta` (which also rejects a
    repeated item), also run by the Spark loader."""
    # RecursionError: a record that parsed but is nested too deep for the text cleaners
    return _meta(parse_meta_line(line) if fmt == "2014" else parse_json_line(line), fmt, file_kind)


def read_meta(path: str | Path, fmt: Format | None = None, kind: str | None = None,
              rejects: Rejects | None = None) -> Iterator[ItemRecord]:
    """Items with text, features and links; a repeated product keeps its first record (the rest are
    rejected as duplicates). ``kind`` forces the item kind; else the file name, else the main category."""
    path = Path(path)
    if kind is not None and kind not in ITEM_KINDS:
        raise SourceError(f"unknown item kind {kind!r}; use one of {', '.join(ITEM_KINDS)}.")
    if fmt is None:
        role, fmt = sniff(path)
        if role != "meta":
            raise SourceError(f"{path} looks like an Amazon reviews file, not a metadata file.")
    file_kind = kind or kind_from_name(path)
    rejects = rejects if rejects is not None else Rejects()
    seen: set[str] = set()
    for line_no, line in iter_lines(path, rejects=rejects, kind="item"):
        try:
            record = parse_meta(line, fmt, file_kind)
            if record.raw_id in seen:
                raise Reject(duplicate_item(record.raw_id))
        except (Reject, RecursionError) as exc:
            rejects.add(path, line_no, reject_reason(exc), line, "item")
            continue
        seen.add(record.raw_id)
        yield record


def dataset_name(path: str | Path) -> str:
    """A default dataset name from a file name: ``reviews_Movies_and_TV_5.json.gz`` -> ``amazon-movies-and-tv``."""
    name = Path(path).name.lower()
    for suffix in (".gz", ".jsonl", ".json", ".txt"):
        name = name.removesuffix(suffix)
    name = re.sub(r"^(reviews_|meta_)", "", name)
    name = re.sub(r"(_5|-head|_head)$", "", name)
    slug = re.sub(r"[^a-z0-9]+", "-", name).strip("-") or "reviews"
    return f"amazon-{slug}"


def check_format(fmt: str | None) -> Format | None:
    if fmt is not None and fmt not in FORMATS:
        raise SourceError(f"unknown Amazon format {fmt!r}; use one of {', '.join(FORMATS)}.")
    return fmt  # type: ignore[return-value]

