"""The text an item is embedded from (paper §3.1: LLM embeddings initialise the item nodes).

Short, high-signal fields come first (title, year, kind, genres, categories, people), the long prose
(description or DBpedia abstract) last: all-MiniLM-L6-v2 reads at most 256 word pieces, so whatever
gets cut by the model should be the tail of a description, never the title. Each field is capped as
well so one huge category list or description cannot crowd out the rest.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# DBpedia fact relationship -> the label it gets in the text (README "Graph model").
FACT_LABELS: dict[str, str] = {
    "DIRECTED_BY": "Directed by",
    "STARRING": "Starring",
    "WRITTEN_BY": "Written by",
    "AUTHORED_BY": "Author",
    "PRODUCED_BY": "Produced by",
    "PUBLISHED_BY": "Publisher",
    "IN_SERIES": "Series",
    "DBPEDIA_GENRE": "Genres",
    "HAS_SUBJECT": "Subjects",
    "DISTRIBUTED_BY": "Distributed by",
    "CINEMATOGRAPHY_BY": "Cinematography",
}
# Order of the fact lines: people who define a work first, subjects (long, noisy) last.
_FACT_ORDER = list(FACT_LABELS)

MAX_LIST_ITEMS = 6       # names per list (e.g. the first six of a cast)
MAX_PROSE_CHARS = 700    # description / abstract: roughly 150 word pieces
MAX_TEXT_CHARS = 1500    # the whole text: beyond what a 256-piece model reads anyway

_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_CATEGORY_PREFIX = re.compile(r"^Category:", re.IGNORECASE)


def clean(value: Any) -> str:
    """Plain one-line text: HTML tags and entities removed (Amazon titles carry them), spaces collapsed."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value if v is not None)
    text = html.unescape(_TAGS.sub(" ", str(value)))
    return _SPACE.sub(" ", text).strip()


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters at a word boundary, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


def _local_name(value: str) -> str:
    """The last path segment of a URI (an Entity without a label falls back to its URI)."""
    return value.rstrip("/").rsplit("/", 1)[-1] if value.startswith(("http://", "https://")) else value


def _names(values: Iterable[Any], limit: int = MAX_LIST_ITEMS) -> list[str]:
    """Distinct cleaned names, sorted so the text never depends on storage order, at most ``limit``."""
    seen = sorted({clean(_CATEGORY_PREFIX.sub("", _local_name(str(v))).replace("_", " ")) for v in values if v})
    return [s for s in seen if s][:limit]


def build_item_text(item: Mapping[str, Any]) -> str:
    """Build the embedding text of one item row as read by ``cypher/queries/embed_items.cypher``.

    Keys used (all optional): ``title``, ``year``, ``kind``, ``genres``, ``categories``, ``brands``,
    ``authors``, ``facts`` (``[{rel, label}]``), ``description``, ``abstract``. Returns ``""`` when
    the item has no text at all (e.g. sequence-only datasets); such items are not embedded.
    """
    parts: list[str] = []
    title = clean(item.get("title"))
    year = item.get("year")
    if title:
        parts.append(f"{title} ({year})." if year and str(year) not in title else f"{title}.")
    elif year:
        parts.append(f"Released {year}.")
    kind = clean(item.get("kind"))
    if kind and parts:
        parts.append(f"A {kind}.")
    genres = _names(item.get("genres") or [])
    if genres:
        parts.append("Genres: " + ", ".join(genres) + ".")
    categories = _names(item.get("categories") or [])
    if categories:
        parts.append("Categories: " + ", ".join(categories) + ".")
    brands = _names(item.get("brands") or [], 2)
    if brands:
        parts.append("Brand: " + ", ".join(brands) + ".")
    authors = _names(item.get("authors") or [], 3)
    if authors:
        parts.append("By " + ", ".join(authors) + ".")
    by_rel: dict[str, list[str]] = {}
    for fact in item.get("facts") or []:
        rel, label = (fact.get("rel"), fact.get("label")) if isinstance(fact, Mapping) else fact
        if rel in FACT_LABELS and label:
            by_rel.setdefault(rel, []).append(label)
    for rel in _FACT_ORDER:
        names = _names(by_rel.get(rel, []))
        if names:
            parts.append(f"{FACT_LABELS[rel]}: " + ", ".join(names) + ".")
    prose = clean(item.get("description")) or clean(item.get("abstract"))
    if prose:
        parts.append(truncate(prose, MAX_PROSE_CHARS))
    return truncate(" ".join(parts), MAX_TEXT_CHARS)


def text_hash(text: str, model_id: str) -> str:
    """SHA-256 of model and text: an item is re-encoded exactly when either changes."""
    return hashlib.sha256(f"{model_id}\n{text}".encode()).hexdigest()


def batched(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    for start in range(0, len(items), size):
        yield items[start: start + size]
