""""Why this item": the knowledge-graph paths that connect a user to a (recommended) item, ranked.

:func:`explain_item` looks at two kinds of evidence and scores every path with one simple rule:

- **Content paths** from the user's ``recent`` most recent distinct train items (by their latest
  ``seq``): a feature or DBpedia entity both items point at with the same relationship type
  (``item -HAS_GENRE-> Drama <-HAS_GENRE- item``, ``-DIRECTED_BY-> entity``, ``-SAME_AS->`` …) scores
  ``KIND_WEIGHT[kind] / ln(1 + degree)``, where ``degree`` is how many relationships point at the
  shared node: a director of three films counts far more than "Drama". A direct item-item link
  (``CO_INTERACTED {weight}``, ``ALSO_BOUGHT``, ``ALSO_VIEWED``, ``BOUGHT_TOGETHER``) scores
  ``KIND_WEIGHT['link'] * w / (1 + w)`` with ``w`` its weight (1 when it has none).
- **Persona neighbours**: of the ``k`` users with the closest personas (vector index ``user_persona``),
  each who took the item in train is one path scoring ``KIND_WEIGHT['neighbour'] * similarity``.

Paths are ranked by score (ties: the more recent item first) and the top ``limit`` are returned with a
one-sentence summary built from all of them. All Cypher is in ``cypher/queries/why_*.cypher``; the
same picture for Neo4j Browser is ``cypher/browser/why_this_item.cypher``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from personarec.graph import Graph
from personarec.jobs.batch import JobError

log = logging.getLogger(__name__)

#: Weight per path kind; the specificity (features, entities), link strength or persona similarity
#: multiplies it. Neighbours weigh half: one similar user is weaker evidence than a shared director.
KIND_WEIGHT: dict[str, float] = {"entity": 1.0, "feature": 1.0, "link": 1.0, "neighbour": 0.5}

#: How the summary names a shared node, by the relationship type that reaches it.
_SHARED_NAME: dict[str, str] = {
    "DIRECTED_BY": "director", "STARRING": "actor", "WRITTEN_BY": "writer", "PRODUCED_BY": "producer",
    "AUTHORED_BY": "author", "PUBLISHED_BY": "publisher", "IN_SERIES": "series", "HAS_SUBJECT": "subject",
    "DBPEDIA_GENRE": "DBpedia genre", "DISTRIBUTED_BY": "distributor", "CINEMATOGRAPHY_BY": "cinematographer",
    "SAME_AS": "DBpedia entity", "HAS_GENRE": "genre", "IN_CATEGORY": "category", "BY_BRAND": "brand",
    "BY_AUTHOR": "author", "HAS_ATTRIBUTE": "attribute",
}
_LINK_NAME: dict[str, str] = {"ALSO_BOUGHT": "also bought with it", "ALSO_VIEWED": "also viewed with it",
                              "BOUGHT_TOGETHER": "bought together with it"}
_VERB: dict[str, str] = {"film": "watched", "book": "read", "product": "bought"}


class ExplainError(JobError):
    """The user, item or run to explain is not in the graph, or an argument is out of range."""


def qualify(raw: str, dataset: str | None) -> str:
    """A node id from ``raw``: prefixed with ``<dataset>:`` when a dataset is given and it is not yet."""
    return raw if not dataset or raw.startswith(f"{dataset}:") else f"{dataset}:{raw}"


class _Row:
    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class WhyPath(_Row):
    """One path from the user to the item.

    ``kind``: ``feature``/``entity``/``link`` (from the recent train item ``item``) or ``neighbour``
    (``shared`` is then the neighbour's id and ``weight`` its persona similarity); ``via``: the
    relationship type that makes the connection; ``degree``: relationships into the shared node.
    """

    score: float
    kind: str
    via: str
    item: str | None
    title: str | None
    seq: int | None
    shared: str | None
    shared_kind: str | None
    degree: int | None
    weight: float | None
    path: str


@dataclass(frozen=True)
class RunPlacement(_Row):
    """Where the item stands in one recommendation run for the user (``rank`` None: not recommended)."""

    run: str
    recommended: bool
    rank: int | None
    score: float | None


@dataclass(frozen=True)
class Explanation(_Row):
    """Why ``item`` suits ``user``: the top paths, what was looked at, and a one-sentence summary."""

    user: str
    item: str
    title: str | None
    summary: str
    recent: int
    recent_looked: int
    has_persona: bool
    neighbours_looked: int
    neighbours_took: list[str]
    taken: list[str]
    run: RunPlacement | None
    total_paths: int
    paths: list[WhyPath] = field(default_factory=list)


def explain_item(graph: Graph, user: str, item: str, *, recent: int = 20, k: int = 10, limit: int = 10,
                 run: str | None = None) -> Explanation:
    """The ranked KG paths linking ``user`` to ``item`` (``User.id``/``Item.id``), top ``limit``.

    ``recent``: most recent distinct train items looked at; ``k``: persona neighbours looked at (none
    when the user has no persona, which the summary says); ``run``: also report the item's rank and
    score in that RecommendationRun. :class:`ExplainError` for a missing user, item or run.
    """
    for name, value in (("recent", recent), ("k", k), ("limit", limit)):
        if value < 1:
            raise ExplainError(f"{name} must be at least 1, got {value}.")
    ctx = graph.read("queries/why_context.cypher", {"user": user, "item": item, "run": run})[0]
    if not ctx["user_found"]:
        raise ExplainError(f"user {user} is not in the graph.")
    if not ctx["item_found"]:
        raise ExplainError(f"item {item} is not in the graph.")
    if ctx["user_dataset"] != ctx["item_dataset"]:
        raise ExplainError(f"user {user} is of dataset {ctx['user_dataset']} but item {item} is of dataset "
                           f"{ctx['item_dataset']}.")
    if run is not None and not ctx["run_found"]:
        raise ExplainError(f"there is no recommendation run {run!r} (see `personarec recommend --list`).")
    title = ctx["title"]
    looked = graph.read("queries/why_recent_count.cypher", {"user": user, "recent": recent})
    recent_looked = looked[0]["looked"] if looked else 0
    paths = [_content_path(user, title, r)
             for r in graph.read("queries/why_item_paths.cypher", {"user": user, "item": item, "recent": recent})]
    neighbours: list[dict[str, Any]] = []
    if ctx["has_persona"]:
        neighbours = graph.read("queries/why_item_neighbours.cypher", {"user": user, "item": item, "k": k})
    took = [n for n in neighbours if n["took"]]
    paths += [_neighbour_path(user, title, n) for n in took]
    paths.sort(key=lambda p: (-p.score, -(p.seq if p.seq is not None else -1), p.item or "", p.via,
                              p.shared or ""))
    log.debug("why %s -> %s: %d paths from %d recent items, %d of %d neighbours took it", user, item,
              len(paths), recent_looked, len(took), len(neighbours))
    placement = None
    if run is not None:
        placement = RunPlacement(run=run, recommended=ctx["rank"] is not None, rank=ctx["rank"], score=ctx["score"])
    summary = _summary(user, ctx, paths, recent_looked, len(took), len(neighbours))
    return Explanation(user=user, item=item, title=title, summary=summary, recent=recent,
                       recent_looked=recent_looked, has_persona=bool(ctx["has_persona"]),
                       neighbours_looked=len(neighbours), neighbours_took=[n["user"] for n in took],
                       taken=sorted(set(ctx["taken"])), run=placement, total_paths=len(paths), paths=paths[:limit])


def specificity(degree: int | None) -> float:
    """``1 / ln(1 + degree)``: 0.91 for a node only the two items share, 0.14 for one of 1000 items."""
    return 1.0 / math.log(1 + max(degree or 2, 2))


def _content_path(user: str, target: str | None, row: dict[str, Any]) -> WhyPath:
    start = f"{user} -[INTERACTED]-> {row['title']}"
    if row["kind"] == "link":
        weight = float(row["weight"]) if row["weight"] is not None else None
        w = weight if weight is not None and weight > 0 else 1.0
        score = KIND_WEIGHT["link"] * w / (1.0 + w)
        label = f"{row['via']} {{weight: {weight:g}}}" if weight is not None else row["via"]
        text = f"{start} -[{label}]- {target}"
    else:
        weight = None
        score = KIND_WEIGHT[row["kind"]] * specificity(row["degree"])
        text = (f"{start} -[{row['via']}]-> {_short(row['shared'])} ({row['shared_kind']}, {row['degree']} items)"
                f" <-[{row['via']}]- {target}")
    return WhyPath(score=score, kind=row["kind"], via=row["via"], item=row["item"], title=row["title"],
                   seq=row["seq"], shared=row["shared"], shared_kind=row["shared_kind"], degree=row["degree"],
                   weight=weight, path=text)


def _neighbour_path(user: str, target: str | None, row: dict[str, Any]) -> WhyPath:
    sim = float(row["score"])
    return WhyPath(score=KIND_WEIGHT["neighbour"] * sim, kind="neighbour", via="PERSONA_NEIGHBOUR", item=None,
                   title=None, seq=None, shared=row["user"], shared_kind="User", degree=None, weight=sim,
                   path=f"{user} ~[persona {sim:.3f}]~ {row['user']} -[INTERACTED]-> {target}")


def _short(name: str | None) -> str:
    """A DBpedia URI without a label reads better as its last segment."""
    if name and name.startswith("http") and "/" in name:
        return name.rstrip("/").rsplit("/", 1)[-1].replace("_", " ")
    return name or "?"


def _reason(path: WhyPath) -> str:
    if path.kind == "link":
        if path.via == "CO_INTERACTED":
            n = int(path.weight or 1)
            return f"next to it in {n} train histor{'y' if n == 1 else 'ies'}"
        return _LINK_NAME.get(path.via, path.via)
    return f"same {_SHARED_NAME.get(path.via, path.via.lower())}: {_short(path.shared)}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _summary(user: str, ctx: dict[str, Any], paths: list[WhyPath], recent_looked: int, took: int,
             neighbours: int) -> str:
    """One sentence: the best recent items with their best reasons, then the neighbours (or why not)."""
    title = ctx["title"]
    by_item: dict[str, list[WhyPath]] = {}
    for p in paths:  # paths are ranked, so items come in the order of their best path
        if p.kind != "neighbour":
            by_item.setdefault(p.title or p.item or "?", []).append(p)
    if ctx["has_persona"]:
        hood = (f"none of your {neighbours} persona neighbours took it" if took == 0
                else f"{took} of your {neighbours} persona neighbours took it")
    else:
        hood = f"{user} has no persona yet, so persona neighbours are not part of this explanation"
    if by_item:
        shown = list(by_item)[:3]
        phrases = [f"{t} ({'; '.join(dict.fromkeys(_reason(p) for p in by_item[t][:2]))})" for t in shown]
        if len(by_item) > len(shown):
            phrases.append(f"{len(by_item) - len(shown)} more of your recent items")
        verb = _VERB.get(ctx["kind"] or "", "took")
        text = f"Recommended because you {verb} {_join(phrases)}"
        text += f", and {hood}." if ctx["has_persona"] else f"; {hood}."
    else:
        text = (f"None of your {recent_looked} most recent train items links to {title} in the knowledge graph; "
                f"{hood}.")
    if ctx["taken"]:
        text += f" Note: you already took it ({', '.join(sorted(set(ctx['taken'])))})."
    return text
