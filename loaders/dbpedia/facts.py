"""Facts of linked DBpedia resources, fetched in batches (``VALUES ?res {…}``).

Each DBpedia property maps to one relationship type of the README's graph contract, hung on the item:
``(:Item)-[:DIRECTED_BY]->(:Entity {uri, label})`` and so on; the English abstract becomes ``Item.abstract``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from tqdm import tqdm

from personarec.loaders.dbpedia import queries
from personarec.loaders.dbpedia.sparql import SparqlClient, sparql_iri

DBO = "http://dbpedia.org/ontology/"
DCT = "http://purl.org/dc/terms/"
#: DBpedia property -> relationship type (README "Graph model").
PROPERTY_RELS: dict[str, str] = {
    DBO + "director": "DIRECTED_BY",
    DBO + "starring": "STARRING",
    DBO + "writer": "WRITTEN_BY",
    DBO + "producer": "PRODUCED_BY",
    DBO + "distributor": "DISTRIBUTED_BY",
    DBO + "cinematography": "CINEMATOGRAPHY_BY",
    DBO + "author": "AUTHORED_BY",
    DBO + "literaryGenre": "DBPEDIA_GENRE",
    DBO + "genre": "DBPEDIA_GENRE",
    DBO + "publisher": "PUBLISHED_BY",
    DBO + "series": "IN_SERIES",
    DCT + "subject": "HAS_SUBJECT",
}
RELATIONSHIPS: tuple[str, ...] = tuple(dict.fromkeys(PROPERTY_RELS.values()))


@dataclass(frozen=True)
class Fact:
    """One typed fact: ``(resource)-[rel]->(obj)``; ``label`` is the object's English label if any."""

    resource: str
    rel: str
    obj: str
    label: str | None


def _label_from_uri(uri: str) -> str:
    """Readable fallback label: the last path segment without ``Category:`` and underscores."""
    tail = uri.rstrip("/").rsplit("/", 1)[-1]
    return tail.removeprefix("Category:").replace("_", " ")


def _batches(seq: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(seq), size):
        yield seq[start:start + size]


def fetch_facts(client: SparqlClient, resources: Iterable[str], batch_size: int = 25,
                progress: bool = True) -> list[Fact]:
    """Typed facts (``PROPERTY_RELS``) of ``resources``, deduplicated, in a stable order."""
    uris = sorted(set(resources))
    props = " ".join(sparql_iri(p) for p in PROPERTY_RELS)
    seen: dict[tuple[str, str, str], Fact] = {}
    for batch in tqdm(list(_batches(uris, batch_size)), desc="DBpedia facts", unit="batch", disable=not progress):
        values = " ".join(sparql_iri(u) for u in batch)
        for row in client.select(queries.FACTS.format(values=values, props=props)):
            rel = PROPERTY_RELS.get(row.get("prop", ""))
            if rel is None or "obj" not in row:
                continue
            key = (row["res"], rel, row["obj"])
            label = row.get("objLabel")
            if key not in seen or (seen[key].label is None and label):
                seen[key] = Fact(row["res"], rel, row["obj"], label)
    return sorted(seen.values(), key=lambda f: (f.resource, f.rel, f.obj))


def fetch_abstracts(client: SparqlClient, resources: Iterable[str], batch_size: int = 25,
                    progress: bool = True) -> dict[str, str]:
    """English abstracts of ``resources`` (resources without one are absent)."""
    uris = sorted(set(resources))
    out: dict[str, str] = {}
    for batch in tqdm(list(_batches(uris, batch_size)), desc="DBpedia abstracts", unit="batch",
                      disable=not progress):
        values = " ".join(sparql_iri(u) for u in batch)
        for row in client.select(queries.ABSTRACTS.format(values=values)):
            if row.get("abstract"):
                out[row["res"]] = row["abstract"]
    return out


def entity_label(fact: Fact) -> str:
    """The object's label, or a readable one made from its URI."""
    return fact.label or _label_from_uri(fact.obj)
