"""The main job: every stage in data-flow order on one dataset, ending with metrics and the Browser URL.

Stages (arXiv 2604.06928, Fig. 1): start Neo4j -> schema -> load MovieLens-100K (leave-one-out split)
-> DBpedia enrichment -> LLM item embeddings -> HDGI personas -> evaluation (five-row table)
-> batch recommendations written to Neo4j. Each stage is the same function its CLI command calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from personarec import db as dbops
from personarec.config import DBpediaConfig, Settings
from personarec.errors import PersonarecError
from personarec.graph import Graph, connect

log = logging.getLogger(__name__)

Echo = Callable[[str], None]
DBpediaMode = Literal["auto", "endpoint", "mirror", "off"]


@dataclass
class PipelineOptions:
    """Knobs of the main job (the CLI flags of ``personarec run``)."""

    data: Path | None = None  # MovieLens-100K folder; default: PERSONAREC_DATA_DIR, cache, or download
    download: bool = True  # fetch MovieLens-100K from GroupLens when it is nowhere local
    dbpedia: DBpediaMode = "auto"
    seeds: list[int] | None = None  # default: the first of settings.eval.seeds (`personarec evaluate` runs all)
    out_dir: Path = field(default_factory=lambda: Path("reports") / "main")
    k: int = 10


def ensure_server(settings: Settings, echo: Echo) -> None:
    """Start the managed server when no external URI is configured (harmless if it runs)."""
    if not settings.managed:
        echo(f"using Neo4j at {settings.neo4j.uri}")
        return
    from personarec.server import ManagedNeo4j

    password = settings.neo4j.password.get_secret_value() if settings.neo4j.password else None
    server = ManagedNeo4j(settings.server, password=password, user=settings.neo4j.user)
    t0 = time.monotonic()
    started = server.start()
    echo(f"Neo4j {'started in %.1f s' % (time.monotonic() - t0) if started else 'already running'}: "
         f"{server.bolt_uri}")


@contextmanager
def dbpedia_endpoint(settings: Settings, mode: DBpediaMode, echo: Echo) -> Iterator[str | None]:
    """The SPARQL endpoint to enrich from, starting (and afterwards stopping) a local mirror if needed.

    ``auto``: a configured endpoint wins; else a local mirror when ``<data_dir>/dbpedia`` holds
    ``*.nt.gz`` dumps (offline machines); else the public DBpedia endpoint.
    """
    if mode == "off":
        yield None
        return
    from personarec.datasets import data_dirs

    configured = settings.dbpedia.endpoint != DBpediaConfig.model_fields["endpoint"].default
    dumps = next((d / "dbpedia" for d in data_dirs(settings) if any((d / "dbpedia").glob("*.nt.gz"))), None)
    has_dumps = dumps is not None
    if mode == "endpoint" or (mode == "auto" and (configured or not has_dumps)):
        yield settings.dbpedia.endpoint
        return
    if not has_dumps:
        raise PersonarecError("no DBpedia dumps (dbpedia/*.nt.gz) in the data folders; set PERSONAREC_DATA_DIR "
                              "or use --dbpedia endpoint.")
    from personarec.server.virtuoso import ManagedVirtuoso

    mirror = ManagedVirtuoso.from_settings(settings)
    started = mirror.start(load=dumps)
    echo(f"DBpedia mirror {'started' if started else 'running'} with {dumps}: {mirror.endpoint}")
    try:
        yield mirror.endpoint
    finally:
        if started:
            mirror.stop()


def _stage(echo: Echo, name: str) -> float:
    echo(f"== {name}")
    return time.monotonic()


def run_stages(graph: Graph, settings: Settings, opts: PipelineOptions, echo: Echo) -> str:
    """Load, enrich, embed, personas, evaluate, recommend on an open graph; returns the metrics table."""
    from personarec.datasets import resolve_movielens_100k
    from personarec.embed.items import embed_items
    from personarec.enrich.dbpedia import enrich_dbpedia
    from personarec.eval.report import markdown_table
    from personarec.eval.runner import evaluate
    from personarec.jobs import build_recommender, recommend
    from personarec.load import load_dataset
    from personarec.persona.train import train_personas

    t = _stage(echo, "load MovieLens-100K")
    folder = resolve_movielens_100k(opts.data, settings, download=opts.download)
    loaded = load_dataset(graph, settings, "movielens", [folder])
    dataset = loaded.dataset
    echo(f"{dataset}: {loaded.users} users, {loaded.items} items, {loaded.interactions} interactions "
         f"({', '.join(f'{k} {v}' for k, v in loaded.split_counts.items())}), split fingerprint "
         f"{loaded.fingerprint} [{time.monotonic() - t:.0f} s]")

    t = _stage(echo, "DBpedia enrichment")
    try:
        with dbpedia_endpoint(settings, opts.dbpedia, echo) as endpoint:
            if endpoint is None:
                echo("skipped (--dbpedia off)")
            else:
                enriched = enrich_dbpedia(graph, settings, dataset, endpoint)
                echo(f"{enriched.linked}/{enriched.items} items linked, {enriched.facts} facts, "
                     f"{enriched.unmatched} unmatched [{time.monotonic() - t:.0f} s]")
    except PersonarecError as exc:  # the KG is still useful without DBpedia facts
        echo(f"DBpedia enrichment skipped: {exc}")

    t = _stage(echo, "LLM item embeddings")
    embedded = embed_items(graph, settings, dataset=dataset)
    echo(f"{embedded.encoded} items encoded, {embedded.unchanged} unchanged [{time.monotonic() - t:.0f} s]")

    t = _stage(echo, "HDGI personas")
    personas = train_personas(graph, settings, dataset)
    echo(f"{personas.users} personas written, run {personas.run_id} [{time.monotonic() - t:.0f} s]")

    t = _stage(echo, "evaluation (full ranking, history masked)")
    model_dir = opts.out_dir / "model"
    report = evaluate(graph, settings, dataset, opts.out_dir / "eval", opts.seeds or settings.eval.seeds[:1],
                      save_models=model_dir)
    echo(f"report in {opts.out_dir / 'eval'} [{time.monotonic() - t:.0f} s]")

    t = _stage(echo, "batch recommendations")
    recommender = build_recommender(graph, settings, dataset, "two-stage", model_dir)  # the evaluated models
    run = recommend(graph, settings, recommender, dataset=dataset, k=opts.k)
    echo(f"{run.line()} [{time.monotonic() - t:.0f} s]")

    table = markdown_table(report)
    return (f"{dataset}: test split, full ranking over {report.items} items, history masked; "
            f"mean ± std over seeds {report.seeds}\n{table}")


def run_pipeline(settings: Settings, echo: Echo = print, opts: PipelineOptions | None = None) -> None:
    """Run the whole pipeline and end with the metrics table and the Neo4j Browser URL."""
    opts = opts or PipelineOptions()
    started = time.monotonic()
    ensure_server(settings, echo)
    with connect(settings) as graph:
        constraints = dbops.init_schema(graph, settings)
        echo(f"schema applied ({len(constraints)} constraints), Neo4j {graph.server_version()}")
        table = run_stages(graph, settings, opts, echo)
    echo(f"\n{table}\n")
    echo(f"pipeline finished in {time.monotonic() - started:.0f} s")
    echo(f"Neo4j Browser: {settings.browser_url}")
