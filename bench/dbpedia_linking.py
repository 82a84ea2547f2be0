"""Entity-linking quality of ``personarec enrich dbpedia`` (issue 3 item 4): precision and recall.

The linker sees only catalogue data — MovieLens-100K ``u.item`` titles and years (read with
``loaders.movielens.read_items``) and LibraryThing book titles — and answers through a SPARQL
endpoint, by default a private Virtuoso started on free ports and loaded with
``<data>/dbpedia/*.nt.gz``. Its links are then compared with the ground truth
(``links-ml100k.csv``, ``links-librarything.tsv``), which is never its input:

* precision = correct links / links made (a link for an item the truth leaves unlinked is wrong);
* recall    = correct links / items the truth links.

Targets on MovieLens-100K: precision >= 0.95, recall >= 0.85. Note that the mirror holds exactly the
films the truth links (plus LibraryThing books), so candidates are fewer than on dbpedia.org.

Usage::

    .venv/bin/python -m bench.dbpedia_linking [--data ../shared/data] [--endpoint URL]
        [--books N] [--out bench/results/dbpedia_linking.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from personarec.loaders.dbpedia.linking import KIND_TYPES, ItemRef, Link, link_items
from personarec.loaders.dbpedia.sparql import SparqlClient, sparql_iri
from personarec.server.process import free_port

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]


def movielens_items(data: Path) -> tuple[list[ItemRef], dict[str, str | None]]:
    """ML-100K items (catalogue only) and the ground truth ``item id -> URI or None``."""
    from personarec.loaders.movielens import read_items

    items = [ItemRef(f"ml-100k:{r.raw_id}", r.title or "", r.kind, r.year)
             for r in read_items(data / "movielens-100k")]
    truth: dict[str, str | None] = {}
    with (data / "dbpedia" / "links-ml100k.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            truth[f"ml-100k:{row['item_id::string']}"] = row["URI::string"].strip() or None
    return items, truth


def librarything_items(data: Path, limit: int | None) -> tuple[list[ItemRef], dict[str, str | None]]:
    """LibraryThing works as books (title only) and their ground-truth URIs; first ``limit`` rows."""
    items: list[ItemRef] = []
    truth: dict[str, str | None] = {}
    with (data / "dbpedia" / "links-librarything.tsv").open(newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) < 3 or f"lt:{row[0]}" in truth:
                continue
            items.append(ItemRef(f"lt:{row[0]}", row[1], "book"))
            truth[f"lt:{row[0]}"] = row[2].strip() or None
            if limit is not None and len(items) >= limit:
                break
    return items, truth


_PRESENT = """SELECT DISTINCT ?res WHERE {{ VALUES ?res {{ {values} }} ?res a {type} }}"""


def present(client: SparqlClient, uris: set[str], rdf_type: str, batch: int = 200) -> set[str]:
    """The truth URIs the endpoint holds with the item's class: what a linker can reach at all."""
    valid = []
    for uri in sorted(uris):
        try:
            valid.append(sparql_iri(uri))
        except ValueError:
            continue
    found: set[str] = set()
    for start in range(0, len(valid), batch):
        query = _PRESENT.format(values=" ".join(valid[start:start + batch]), type=sparql_iri(rdf_type))
        found.update(row["res"] for row in client.select(query))
    return found


def measure(links: list[Link], truth: dict[str, str | None], reachable: set[str] | None = None
            ) -> dict[str, Any]:
    """Precision, recall and the errors of ``links`` against ``truth``."""
    made = [lk for lk in links if lk.linked]
    correct = [lk for lk in made if truth.get(lk.item_id) == lk.uri]
    wrong = [lk for lk in made if truth.get(lk.item_id) != lk.uri]
    positives = sum(1 for uri in truth.values() if uri)
    missed = [lk for lk in links if not lk.linked and truth.get(lk.item_id)]
    reach = sum(1 for uri in truth.values() if uri and uri in reachable) if reachable is not None else None
    return {
        "items": len(links), "truth_links": positives, "links_made": len(made), "correct": len(correct),
        "precision": round(len(correct) / len(made), 4) if made else 0.0,
        "recall": round(len(correct) / positives, 4) if positives else 0.0,
        # recall over the truth links whose resource the endpoint holds with the right class
        "truth_links_reachable": reach,
        "recall_reachable": round(len(correct) / reach, 4) if reach else None,
        "by_method": {m: sum(1 for lk in made if lk.method == m) for m in sorted({lk.method for lk in made})},
        "wrong": [{"item": lk.item_id, "title": lk.title, "linked": lk.uri, "truth": truth.get(lk.item_id),
                   "confidence": lk.confidence, "method": lk.method} for lk in wrong],
        "missed_examples": [{"item": lk.item_id, "title": lk.title, "truth": truth.get(lk.item_id),
                             "reason": lk.reason} for lk in missed[:25]],
    }


def run(endpoint: str, data: Path, books: int | None, min_confidence: float) -> dict[str, Any]:
    client = SparqlClient(endpoint, None, min_interval_s=0)
    out: dict[str, Any] = {}
    for name, (items, truth) in {"movielens-100k": movielens_items(data),
                                 "librarything": librarything_items(data, books)}.items():
        before = client.requests
        t0 = time.perf_counter()
        links = link_items(client, items, min_confidence=min_confidence)
        seconds = time.perf_counter() - t0
        requests = client.requests - before
        kind = items[0].kind
        reachable = present(client, {u for u in truth.values() if u}, KIND_TYPES[kind][0])
        result = measure(links, truth, reachable)
        result.update(seconds=round(seconds, 2), requests=requests,
                      items_per_s=round(len(items) / seconds, 1) if seconds else None)
        out[name] = result
        print(f"{name}: precision {result['precision']:.4f}, recall {result['recall']:.4f} "
              f"(recall over reachable truth {result['recall_reachable']}; {result['correct']} correct of "
              f"{result['links_made']} links, {result['truth_links']} in the truth; {len(items)} items in "
              f"{seconds:.1f} s, {result['requests']} requests)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="shared data folder")
    parser.add_argument("--endpoint", default=None, help="SPARQL endpoint (default: a private Virtuoso mirror)")
    parser.add_argument("--books", type=int, default=None, help="only the first N LibraryThing works")
    parser.add_argument("--min-confidence", type=float, default=0.8)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dbpedia_linking.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    server = None
    endpoint = args.endpoint
    t0 = time.perf_counter()
    home = None
    if endpoint is None:
        from personarec.server.virtuoso import ManagedVirtuoso

        home = tempfile.TemporaryDirectory(prefix="bench-virtuoso-")
        server = ManagedVirtuoso(Path(home.name), free_port(), free_port())
        server.start(load=args.data / "dbpedia")
        endpoint = server.endpoint
    mirror_s = time.perf_counter() - t0
    try:
        results = run(endpoint, args.data, args.books, args.min_confidence)
    finally:
        if server is not None:
            server.stop()
        if home is not None:
            home.cleanup()
    report = {
        "benchmark": "dbpedia_linking",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "endpoint": endpoint if args.endpoint else "private Virtuoso mirror of <data>/dbpedia/*.nt.gz",
        "mirror_start_and_load_s": round(mirror_s, 1) if server is not None else None,
        "min_confidence": args.min_confidence,
        "targets": {"movielens-100k": {"precision": 0.95, "recall": 0.85}},
        "results": results,
        "command": "python -m bench.dbpedia_linking" + (f" --books {args.books}" if args.books else ""),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
