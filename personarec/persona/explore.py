"""Exploring learned personas in the graph: a user's persona, its nearest personas, what dominates its
neighbourhood, and why two personas are close.

Each function runs one or two Cypher scripts of ``cypher/queries/persona_*.cypher`` and returns plain
dataclasses (``as_dict()`` gives the row the CLI prints). Users are given by ``User.id``;
:func:`user_key` turns a raw id plus a dataset into one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from personarec.graph import Graph
from personarec.persona.train import PersonaError


def user_key(raw: str, dataset: str | None) -> str:
    """A ``User.id`` from ``raw``: prefixed with ``<dataset>:`` when a dataset is given and it is not yet."""
    return raw if not dataset or raw.startswith(f"{dataset}:") else f"{dataset}:{raw}"


class _Row:
    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class PersonaInfo(_Row):
    """A user's persona: its run, version, size and norm, and the metapath attention of its run."""

    user: str
    run: str | None
    version: int | None
    dims: int | None
    norm: float
    train_items: int
    metapaths: list[str] | None
    attention: list[float] | None
    trained_at: str | None


@dataclass(frozen=True)
class SimilarUser(_Row):
    """A user whose persona is close to the one asked about (cosine score of the vector index)."""

    user: str
    score: float


@dataclass(frozen=True)
class NeighbourhoodItem(_Row):
    """A train item held by ``users`` of the persona neighbours; ``own``: the user holds it too."""

    item: str
    title: str | None
    users: int
    own: bool


@dataclass(frozen=True)
class NeighbourhoodFeature(_Row):
    """A category/genre/brand/person/DBpedia entity reached from the neighbours' train items."""

    via: str
    kind: str
    name: str | None
    users: int
    paths: int


@dataclass(frozen=True)
class Neighbourhood:
    """What dominates a persona's neighbourhood: its neighbours' items and their features."""

    user: str
    items: list[NeighbourhoodItem] = field(default_factory=list)
    features: list[NeighbourhoodFeature] = field(default_factory=list)


@dataclass(frozen=True)
class SharedPath(_Row):
    """Something two users share along a metapath, with the number of paths through it."""

    metapath: str
    kind: str
    shared: str
    paths: int


def show_persona(graph: Graph, user: str) -> PersonaInfo:
    """The persona of ``user``; :class:`PersonaError` when the user is missing or has no persona yet."""
    rows = graph.read("queries/persona_show.cypher", {"id": user})
    if not rows:
        raise PersonaError(f"user {user} is not in the graph.")
    if rows[0]["dims"] is None:
        raise PersonaError(f"user {user} has no persona yet; run `personarec personas train`.")
    return PersonaInfo(**rows[0])


def similar_users(graph: Graph, user: str, k: int = 10) -> list[SimilarUser]:
    """The ``k`` users of the same dataset with the closest personas (vector index ``user_persona``)."""
    _check_k(k)
    show_persona(graph, user)  # a clear error instead of an empty answer
    return [SimilarUser(**r) for r in graph.read("queries/persona_similar.cypher", {"id": user, "k": k})]


def similar_to_vector(graph: Graph, vector: list[float], k: int = 10,
                      dataset: str | None = None) -> list[SimilarUser]:
    """The ``k`` users (of ``dataset`` when given) whose personas are closest to ``vector``."""
    _check_k(k)
    rows = graph.read("queries/persona_similar_vector.cypher", {"vector": vector, "k": k, "dataset": dataset})
    return [SimilarUser(**r) for r in rows]


def neighbourhood(graph: Graph, user: str, k: int = 10, limit: int = 15) -> Neighbourhood:
    """The items and features that dominate the train histories of ``user``'s ``k`` persona neighbours."""
    _check_k(k)
    _check_limit(limit)
    show_persona(graph, user)
    params = {"id": user, "k": k, "limit": limit}
    return Neighbourhood(
        user=user,
        items=[NeighbourhoodItem(**r) for r in graph.read("queries/persona_neighbourhood_items.cypher", params)],
        features=[NeighbourhoodFeature(**r)
                  for r in graph.read("queries/persona_neighbourhood_features.cypher", params)])


def explain_pair(graph: Graph, user_a: str, user_b: str, limit: int = 20) -> list[SharedPath]:
    """What ``user_a`` and ``user_b`` share in the train graph along each metapath, most paths first.

    Needs no persona: it explains closeness from the graph the personas were learned on.
    """
    _check_limit(limit)
    for user in (user_a, user_b):
        if not graph.read("queries/persona_show.cypher", {"id": user}):
            raise PersonaError(f"user {user} is not in the graph.")
    rows = graph.read("queries/persona_explain.cypher", {"a": user_a, "b": user_b, "limit": limit})
    return [SharedPath(**r) for r in rows]


def persona_runs(graph: Graph, limit: int = 10) -> list[dict[str, Any]]:
    """Persona runs, newest first: id, version, dataset, users, epochs, loss, metapaths and attention."""
    _check_limit(limit)
    return graph.read("queries/persona_runs.cypher", {"limit": limit})


def _check_k(k: int) -> None:
    if k < 1:
        raise PersonaError(f"k must be at least 1, got {k}.")


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise PersonaError(f"limit must be at least 1, got {limit}.")
