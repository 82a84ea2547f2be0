"""Entity linking: catalogue items -> DBpedia resources, with a confidence score.

Two batched stages (issue 3, item 4):

1. **Exact labels**: every item's title variants (articles moved back, alternative titles, the
   disambiguation suffixes "(film)", "(1995 film)", "(novel)" …) are looked up as ``rdfs:label`` values
   (or redirect labels) of resources of the right type, ``link_batch`` items per request.
2. **Free text** for the items stage 1 left without a confident link: ``bif:contains`` on the label
   words, a few items per request.

Every candidate is scored (:func:`score`): title agreement after normalisation × year agreement (from
the label's suffix or the abstract's first year) × people agreement (director/author when known).
The best candidate is accepted when its confidence reaches ``min_confidence`` and no other resource
scores within ``margin`` of it; everything else is reported as unmatched, never guessed.
"""

from __future__ import annotations

import difflib
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from personarec.loaders.dbpedia import queries
from personarec.loaders.dbpedia.sparql import SparqlClient, sparql_iri, sparql_literal
from personarec.loaders.dbpedia.text import (
    first_year,
    fold,
    normalize,
    split_label,
    suffix_kind,
    title_heads,
    title_variants,
    words,
)

log = logging.getLogger(__name__)

DBO = "http://dbpedia.org/ontology/"
#: The DBpedia class an item kind must link to, and the property that names its maker.
KIND_TYPES: dict[str, tuple[str, str]] = {
    "film": (DBO + "Film", DBO + "director"),
    "book": (DBO + "Book", DBO + "author"),
}
#: Suffixes DBpedia adds to disambiguate labels, per kind (``{y}`` = the item's year).
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "film": ("", " (film)", " ({y} film)", " ({y1} film)", " ({y2} film)"),
    "book": ("", " (novel)", " (book)"),
}
_STOP = {"the", "and", "of", "a", "an", "in", "on", "to", "for", "il", "la", "le", "les", "de", "des", "du", "el",
         "los", "las", "der", "die", "das", "with", "from", "at", "by", "is", "it"}
_MAX_VARIANTS = 4


@dataclass(frozen=True)
class ItemRef:
    """What the linker needs to know of an item."""

    id: str
    title: str
    kind: str
    year: int | None = None
    people: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A DBpedia resource that might be the item."""

    uri: str
    label: str
    abstract: str | None = None
    people: tuple[str, ...] = ()
    method: str = "label"


@dataclass(frozen=True)
class Link:
    """The linker's decision for one item: ``uri`` is None when unmatched (``reason`` says why)."""

    item_id: str
    title: str
    uri: str | None
    label: str | None
    confidence: float
    method: str
    reason: str = ""
    runner_up: str | None = None

    @property
    def linked(self) -> bool:
        return self.uri is not None


@dataclass
class LinkStats:
    """Counts for the summary."""

    items: int = 0
    linked: int = 0
    unmatched: int = 0
    by_method: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- scoring
def title_score(variants: Sequence[str], label: str, heads: Sequence[str] = ()) -> float:
    """How well a label's base (suffix removed) matches the best title variant, in [0, 1].

    ``heads`` (titles without their subtitle) count 0.9 when equal: a weaker sign than the full title.
    """
    base, _, _ = split_label(label)
    key = normalize(base)
    if not key:
        return 0.0
    best = 0.9 if any(normalize(h) == key for h in heads) else 0.0
    for v in variants:
        nv = normalize(v)
        if not nv:
            continue
        if nv == key:
            return 1.0
        # "The Fear" is not "Fear", "Boys" is not "Les Boys": an article difference alone never links.
        if normalize(v, drop_article=True) == normalize(base, drop_article=True):
            best = max(best, 0.75)
            continue
        # "Il Postino: The Postman" for "Postino, Il": the label's main title before a subtitle.
        if ":" in base and normalize(base.split(":", 1)[0]) == nv:
            best = max(best, 0.88)
            continue
        ratio = difflib.SequenceMatcher(None, nv, key).ratio()
        best = max(best, ratio if ratio >= 0.9 and _spelling_variant(nv, key) else ratio * 0.8)
    return best


def _spelling_variant(a: str, b: str) -> bool:
    """True when two keys differ only inside long words ("colors"/"colours"), never by a short word
    ("Story of O" is not "Story of B") nor by a word more or less."""
    ta, tb = a.split(), b.split()
    if len(ta) != len(tb):
        return False
    for x, y in zip(ta, tb, strict=True):
        if x != y and (min(len(x), len(y)) < 4 or difflib.SequenceMatcher(None, x, y).ratio() < 0.8):
            return False
    return True


def year_factor(item_year: int | None, cand_year: int | None) -> float:
    """Agreement of years: exact 1.0, off by one 0.97 (release vs festival year), unknown 0.9, far 0.6."""
    if item_year is None or cand_year is None:
        return 0.9
    gap = abs(item_year - cand_year)
    return {0: 1.0, 1: 0.97, 2: 0.85}.get(gap, 0.6)


def people_factor(item_people: Sequence[str], cand_people: Sequence[str]) -> float:
    """A shared director/author confirms (1.05), a disjoint known set weakens (0.85), no data is neutral."""
    if not item_people or not cand_people:
        return 1.0
    mine = {normalize(p) for p in item_people}
    theirs = {normalize(p) for p in cand_people}
    return 1.05 if mine & theirs else 0.85


def score(item: ItemRef, cand: Candidate) -> float:
    """Confidence that ``cand`` is ``item``: title × year × people, capped at 1."""
    base, tag, label_year = split_label(cand.label)
    kind = suffix_kind(tag)
    if kind is not None and kind != item.kind:
        return 0.0
    # The title itself may hold a year ("2001: A Space Odyssey is a 1968 film"): skip it in the abstract.
    abstract = cand.abstract.replace(base, " ") if cand.abstract else None
    cand_year = label_year if label_year is not None else first_year(abstract)
    value = (title_score(title_variants(item.title), cand.label, title_heads(item.title))
             * year_factor(item.year, cand_year))
    return round(min(1.0, value * people_factor(item.people, cand.people)), 4)


def decide(item: ItemRef, candidates: Iterable[Candidate], min_confidence: float, margin: float = 0.05) -> Link:
    """Pick the best candidate, or report why none is accepted (nothing, too weak, or ambiguous)."""
    best: dict[str, tuple[float, Candidate]] = {}
    for cand in candidates:
        s = score(item, cand)
        if cand.uri not in best or s > best[cand.uri][0]:
            best[cand.uri] = (s, cand)
    if not best:
        return Link(item.id, item.title, None, None, 0.0, "none", "no candidate of the right type")
    ranked = sorted(best.values(), key=lambda sc: (-sc[0], sc[1].uri))
    top_score, top = ranked[0]
    runner = ranked[1] if len(ranked) > 1 else None
    if top_score < min_confidence:
        return Link(item.id, item.title, None, top.label, top_score, top.method,
                    f"best candidate below {min_confidence}: {top.uri}", runner[1].uri if runner else None)
    if runner is not None and top_score - runner[0] < margin:
        return Link(item.id, item.title, None, top.label, top_score, top.method,
                    f"ambiguous: {top.uri} vs {runner[1].uri}", runner[1].uri)
    return Link(item.id, item.title, top.uri, top.label, top_score, top.method)


# ----------------------------------------------------------------------- retrieval
def _lookup_labels(item: ItemRef) -> list[str]:
    y = item.year
    labels: list[str] = []
    for v in [*title_variants(item.title)[:_MAX_VARIANTS], *title_heads(item.title)[:2]]:
        for suffix in _SUFFIXES.get(item.kind, ("",)):
            if "{y" in suffix and y is None:
                continue
            text = v + suffix.format(y=y, y1=(y or 0) - 1, y2=(y or 0) + 1)
            if text not in labels:
                labels.append(text)
    return labels


def _parse(rows: Iterable[dict[str, str]], method: str) -> dict[int, list[Candidate]]:
    out: dict[int, list[Candidate]] = defaultdict(list)
    for row in rows:
        try:
            key = int(row["key"])
        except (KeyError, ValueError):
            continue
        people = tuple(p for p in row.get("people", "").split("|") if p)
        out[key].append(Candidate(row["res"], row.get("label", ""), row.get("abstract"), people, method))
    return out


def label_candidates(client: SparqlClient, items: Sequence[ItemRef]) -> dict[int, list[Candidate]]:
    """Stage 1 for one batch of items of one kind: candidates keyed by the item's index in ``items``."""
    kind = items[0].kind
    rdf_type, people = KIND_TYPES[kind]
    owners: dict[str, list[int]] = defaultdict(list)  # one label may serve several items
    for i, item in enumerate(items):
        for label in _lookup_labels(item):
            if i not in owners[label]:
                owners[label].append(i)
    rows = "\n".join(f"    {sparql_literal(label, 'en')}" for label in owners)
    query = queries.LABEL_CANDIDATES.format(rows=rows, type=sparql_iri(rdf_type), people=sparql_iri(people))
    answer = client.select(query)
    keyed = [{**row, "key": str(i)} for row in answer for i in owners.get(row.get("lookup", ""), [])]
    return _parse(keyed, "label")


def _fulltext_expr(item: ItemRef) -> str | None:
    """``"usual" AND "suspects"`` from the main title (at most 4 distinctive words), or None."""
    main = title_variants(item.title)[0]
    picked = [w for w in words(main) if len(w) >= 3 and fold(w) not in _STOP]
    if not picked:
        return None
    picked = sorted(picked, key=len, reverse=True)[:4]
    return " AND ".join(f'"{w}"' for w in picked)


def fulltext_candidates(client: SparqlClient, items: Sequence[ItemRef], limit: int = 2000
                        ) -> dict[int, list[Candidate]]:
    """Stage 2 for one batch of items of one kind (free-text search on the label words)."""
    kind = items[0].kind
    rdf_type, people = KIND_TYPES[kind]
    branches = []
    for i, item in enumerate(items):
        expr = _fulltext_expr(item)
        if expr is not None:
            branches.append(queries.FULLTEXT_BRANCH.format(expr=sparql_literal(expr), type=sparql_iri(rdf_type),
                                                           key=i))
    if not branches:
        return {}
    query = queries.FULLTEXT_CANDIDATES.format(branches="\n  UNION\n".join(branches), people=sparql_iri(people),
                                               limit=int(limit))
    return _parse(client.select(query), "fulltext")


def _batches(seq: Sequence[ItemRef], size: int) -> Iterator[Sequence[ItemRef]]:
    for start in range(0, len(seq), size):
        yield seq[start:start + size]


def link_items(client: SparqlClient, items: Iterable[ItemRef], *, min_confidence: float = 0.8,
               batch_size: int = 40, fulltext_batch: int = 8, fulltext: bool = True,
               progress: bool = True) -> list[Link]:
    """Link ``items`` to DBpedia resources (both stages); one :class:`Link` per item, in input order.

    Items without a title or of a kind with no DBpedia class (``KIND_TYPES``) come back unmatched.
    """
    items = list(items)
    decided: dict[str, Link] = {}
    pending: dict[str, list[ItemRef]] = defaultdict(list)
    for item in items:
        if not item.title or not item.title.strip():
            decided[item.id] = Link(item.id, item.title or "", None, None, 0.0, "none", "no title")
        elif item.kind not in KIND_TYPES:
            decided[item.id] = Link(item.id, item.title, None, None, 0.0, "none",
                                    f"no DBpedia class for kind {item.kind!r}")
        else:
            pending[item.kind].append(item)
    candidates: dict[str, list[Candidate]] = defaultdict(list)
    for kind, group in pending.items():
        bar = tqdm(total=len(group), desc=f"link {kind}s: labels", unit="item", disable=not progress)
        for batch in _batches(group, batch_size):
            for idx, cands in label_candidates(client, batch).items():
                candidates[batch[idx].id].extend(cands)
            bar.update(len(batch))
        bar.close()
        first = {it.id: decide(it, candidates[it.id], min_confidence) for it in group}
        retry = [it for it in group if not first[it.id].linked] if fulltext else []
        retried = {it.id for it in retry}
        bar = tqdm(total=len(retry), desc=f"link {kind}s: free text", unit="item", disable=not progress)
        for batch in _batches(retry, fulltext_batch):
            for idx, cands in fulltext_candidates(client, batch).items():
                candidates[batch[idx].id].extend(cands)
            bar.update(len(batch))
        bar.close()
        for it in group:
            decided[it.id] = decide(it, candidates[it.id], min_confidence) if it.id in retried else first[it.id]
    return [decided[item.id] for item in items]


def summarize(links: Iterable[Link]) -> LinkStats:
    stats = LinkStats()
    for link in links:
        stats.items += 1
        if link.linked:
            stats.linked += 1
            stats.by_method[link.method] = stats.by_method.get(link.method, 0) + 1
        else:
            stats.unmatched += 1
    return stats
