"""``personarec enrich dbpedia``: link Neo4j items to DBpedia and write their facts (issue 3, item 4).

Items are read from Neo4j (``cypher/queries/dbpedia_items.cypher``), linked by
:func:`loaders.dbpedia.linking.link_items`, and written back with the ``cypher/load/dbpedia_*.cypher``
scripts: ``SAME_AS`` links, typed fact relationships to ``Entity`` nodes, and ``Item.abstract``.
Unmatched and low-confidence items go to a TSV report, never into the graph. A SPARQL failure (endpoint
down, an error or malformed answer) stops the run with one :class:`SparqlError` before anything is
removed: a failed answer is never read as "no match", so links and facts of an earlier run stay.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from personarec.config import Settings, default_home
from personarec.graph import Graph
from personarec.loaders.dbpedia.facts import entity_label, fetch_abstracts, fetch_facts
from personarec.loaders.dbpedia.linking import KIND_TYPES, ItemRef, Link, link_items
from personarec.loaders.dbpedia.sparql import SparqlClient, SparqlError

log = logging.getLogger(__name__)


@dataclass
class EnrichSummary:
    """What an enrichment run did."""

    dataset: str | None
    endpoint: str
    items: int = 0
    linked: int = 0
    unmatched: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    facts: int = 0
    abstracts: int = 0
    relinked: int = 0  # items whose earlier link (and its facts) this run replaced or removed
    requests: int = 0
    cache_hits: int = 0
    unmatched_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_unmatched_file(dataset: str | None) -> Path:
    """``~/.local/share/personarec/reports/dbpedia-unmatched-<dataset|all>.tsv``."""
    return default_home() / "reports" / f"dbpedia-unmatched-{dataset or 'all'}.tsv"


def write_unmatched(path: Path, links: list[Link]) -> int:
    """The unmatched items as TSV (item, title, best candidate label, confidence, reason); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [link for link in links if not link.linked]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, delimiter="\t", lineterminator="\n")
        out.writerow(["item", "title", "best_candidate", "confidence", "reason"])
        for link in rows:
            out.writerow([link.item_id, link.title, link.label or "", f"{link.confidence:.4f}", link.reason])
    return len(rows)


def read_items(graph: Graph, dataset: str | None = None) -> list[ItemRef]:
    """Items to link, from Neo4j."""
    rows = graph.read("queries/dbpedia_items.cypher", {"dataset": dataset})
    return [ItemRef(r["id"], r["title"], r["kind"], int(r["year"]) if r.get("year") is not None else None,
                    tuple(r.get("people") or ())) for r in rows]


def drop_stale(graph: Graph, links: list[Link], batch_size: int = 1000) -> int:
    """Remove links (and their facts, and the abstract) that this run no longer makes; returns the items touched."""
    rows = [{"item": link.item_id, "uri": link.uri} for link in links]
    touched = 0
    for start in range(0, len(rows), batch_size):
        result = graph.write("load/dbpedia_unlink.cypher", {"rows": rows[start:start + batch_size]})
        touched += int(result[0]["items"]) if result else 0
    return touched


def write_links(graph: Graph, items: list[ItemRef], links: list[Link], batch_size: int = 1000) -> int:
    """``SAME_AS`` links (and their ``Entity`` nodes) for the linked items."""
    kinds = {it.id: it.kind for it in items}
    rows = [{"item": link.item_id, "uri": link.uri, "label": link.label, "confidence": link.confidence,
             "method": link.method, "type": KIND_TYPES[kinds[link.item_id]][0]} for link in links if link.linked]
    return graph.write_batches("load/dbpedia_links.cypher", rows, batch_size=batch_size)


def enrich_dbpedia(graph: Graph, settings: Settings, dataset: str | None = None, endpoint: str | None = None, *,
                   min_confidence: float | None = None, unmatched_file: Path | None = None,
                   client: SparqlClient | None = None, progress: bool = True) -> EnrichSummary:
    """Link the items of ``dataset`` (all when None) to DBpedia and write links, facts and abstracts.

    ``endpoint`` overrides ``settings.dbpedia.endpoint``; ``client`` (e.g. with its own cache) overrides both.
    Idempotent: every write is a MERGE, and answers come from the SPARQL cache on a rerun.
    Raises :class:`SparqlError` when a query fails for good; links are only dropped after every linking
    answer came back valid, and facts are only ever added, so an aborted run loses nothing.
    """
    cfg = settings.dbpedia
    own_client = client is None
    client = client or SparqlClient.from_settings(settings, endpoint)
    threshold = cfg.min_confidence if min_confidence is None else min_confidence
    summary = EnrichSummary(dataset=dataset, endpoint=client.endpoint)
    stage = "before changing the graph"
    try:
        items = read_items(graph, dataset)
        summary.items = len(items)
        log.info("linking %d items to DBpedia at %s", len(items), client.endpoint)
        links = link_items(client, items, min_confidence=threshold, batch_size=cfg.link_batch, progress=progress)
        log.info("linked %d of %d items; writing links", sum(link.linked for link in links), len(links))
        # only now, with every linking answer valid, may a missing link mean "no longer linked"
        stage = "after updating the links (facts and abstracts already in the graph are kept)"
        summary.relinked = drop_stale(graph, links)
        write_links(graph, items, links)
        linked = [link for link in links if link.linked]
        summary.linked = len(linked)
        for link in linked:
            summary.by_method[link.method] = summary.by_method.get(link.method, 0) + 1
        path = Path(unmatched_file) if unmatched_file else default_unmatched_file(dataset)
        summary.unmatched = write_unmatched(path, links)
        summary.unmatched_file = str(path)

        # Several items may share one resource (duplicate catalogue entries): fetch once, hang on each.
        items_of: dict[str, list[str]] = defaultdict(list)
        for link in linked:
            items_of[link.uri].append(link.item_id)  # type: ignore[index]
        facts = fetch_facts(client, items_of, batch_size=cfg.fact_batch, progress=progress)
        log.info("writing %d facts of %d resources", len(facts), len(items_of))
        fact_rows = [{"item": item, "rel": f.rel, "uri": f.obj, "label": entity_label(f)}
                     for f in facts for item in items_of[f.resource]]
        summary.facts = graph.write_batches("load/dbpedia_facts.cypher", fact_rows, batch_size=2000)
        abstracts = fetch_abstracts(client, items_of, batch_size=cfg.fact_batch, progress=progress)
        abstract_rows = [{"item": item, "abstract": text} for uri, text in abstracts.items()
                         for item in items_of[uri]]
        summary.abstracts = graph.write_batches("load/dbpedia_abstracts.cypher", abstract_rows, batch_size=500)
    except SparqlError as exc:
        resume = "rerun to resume (the valid answers so far are cached)" if client.cache is not None else "rerun"
        raise SparqlError(f"{str(exc).rstrip('.')}; DBpedia enrichment stopped {stage}: {resume}.") from exc
    finally:
        summary.requests = client.requests
        summary.cache_hits = client.cache_hits
        if own_client:
            client.close()
    log.info("DBpedia enrichment: %s", summary)
    return summary
