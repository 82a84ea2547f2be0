"""``personarec enrich dbpedia`` and ``personarec dbpedia-mirror start|stop|status|load``."""

from __future__ import annotations

import time
from pathlib import Path

import click

from personarec.cli.common import AppContext, pass_app


@click.group()
def enrich() -> None:
    """Enrich the knowledge graph from outside sources."""


@enrich.command("dbpedia")
@click.option("--dataset", default=None, help="Only this dataset's items (default: every item).")
@click.option("--endpoint", default=None, help="SPARQL endpoint (default: dbpedia.endpoint, the public DBpedia).")
@click.option("--mirror", is_flag=True, help="Use the managed local mirror (`personarec dbpedia-mirror start`).")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None,
              help="Accept links from this confidence on (default: dbpedia.min_confidence, 0.8).")
@click.option("--unmatched", "unmatched", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TSV report of unmatched items (default: ~/.local/share/personarec/reports/).")
@click.option("--no-cache", is_flag=True, help="Ask the endpoint again instead of reusing cached answers.")
@pass_app
def dbpedia(app: AppContext, dataset: str | None, endpoint: str | None, mirror: bool, min_confidence: float | None,
            unmatched: Path | None, no_cache: bool) -> None:
    """Link items to DBpedia resources and write their facts (SAME_AS, DIRECTED_BY, …, Item.abstract)."""
    from personarec.enrich.dbpedia import enrich_dbpedia
    from personarec.loaders.dbpedia.sparql import SparqlClient
    from personarec.server.virtuoso import ManagedVirtuoso

    if mirror and endpoint:
        raise click.UsageError("give --endpoint or --mirror, not both.")
    settings = app.apply_flags({"dbpedia.endpoint": ("--endpoint", endpoint),
                                "dbpedia.min_confidence": ("--min-confidence", min_confidence)})
    dataset = app.check_dataset(dataset)
    graph = app.graph(write=True)
    if mirror:
        endpoint = ManagedVirtuoso.from_settings(settings).endpoint
    client = SparqlClient.from_settings(settings, endpoint)
    if no_cache and client.cache is not None:
        client.cache.close()
        client.cache = None
    t0 = time.monotonic()
    with client:
        s = enrich_dbpedia(graph, settings, dataset, endpoint, unmatched_file=unmatched, client=client)
    methods = ", ".join(f"{k} {v}" for k, v in sorted(s.by_method.items())) or "none"
    click.echo(f"DBpedia enrichment from {s.endpoint} in {time.monotonic() - t0:.1f} s")
    click.echo(f"items {s.items}: linked {s.linked} ({methods}), unmatched {s.unmatched} -> {s.unmatched_file}")
    click.echo(f"facts written {s.facts}, abstracts {s.abstracts}; SPARQL requests {s.requests}, "
               f"cache hits {s.cache_hits}")


@click.group("dbpedia-mirror")
def dbpedia_mirror() -> None:
    """Manage a local Virtuoso DBpedia mirror (Debian's virtuoso-t, private ini, loopback ports)."""


def _mirror(app: AppContext):  # noqa: ANN202 - lazy import keeps `--help` light
    from personarec.server.virtuoso import ManagedVirtuoso

    return ManagedVirtuoso.from_settings(app.settings)


@dbpedia_mirror.command()
@click.option("--load", "load", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of *.nt.gz to load after start (idempotent; e.g. $PERSONAREC_DATA_DIR/dbpedia).")
@pass_app
def start(app: AppContext, load: Path | None) -> None:
    """Start the mirror in the background and wait until SPARQL answers (harmless if running)."""
    server = _mirror(app)
    t0 = time.monotonic()
    started = server.start(load=load)
    what = f"started in {time.monotonic() - t0:.1f} s" if started else "already running"
    click.echo(f"Virtuoso {what} (pid {server.pid()}): SPARQL at {server.endpoint}")
    if load is not None:
        click.echo(f"{server.triples()} triples in <http://dbpedia.org>")


@dbpedia_mirror.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pass_app
def load(app: AppContext, folder: Path) -> None:
    """Load FOLDER/*.nt.gz into the running mirror (files already loaded are skipped)."""
    server = _mirror(app)
    files = server.load(folder)
    click.echo(f"{len(files)} files loaded, {server.triples()} triples in <http://dbpedia.org>")


@dbpedia_mirror.command()
@pass_app
def stop(app: AppContext) -> None:
    """Stop the mirror by its PID."""
    click.echo("Virtuoso stopped" if _mirror(app).stop() else "Virtuoso was not running")


@dbpedia_mirror.command()
@pass_app
def status(app: AppContext) -> None:
    """Say whether the mirror runs, where, and what it holds (exit 3 when it is down)."""
    st = _mirror(app).status()
    if not st.running:
        click.echo(f"Virtuoso is not running (home {st.home}); start it with `personarec dbpedia-mirror start`.")
        raise SystemExit(3)
    click.echo(f"Virtuoso running (pid {st.pid}): SPARQL at {st.endpoint}, {st.triples} triples")
    for name in st.loaded_files:
        click.echo(f"  loaded {name}")
