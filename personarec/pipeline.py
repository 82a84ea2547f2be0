"""The main job: every stage in data-flow order on one dataset, ending with metrics and the Browser URL.

Stages (arXiv 2604.06928, Fig. 1): start Neo4j -> schema -> load MovieLens-100K (leave-one-out split)
-> DBpedia enrichment -> LLM item embeddings -> personas (persona.learner) -> evaluation (the paper's table)
-> batch recommendations written to Neo4j. Each stage is the same function its CLI command calls; the
evaluation's SASRec variants start training in worker processes as soon as their inputs are written
(:class:`personarec.eval.runner.EarlyVariants`), beside the stages that follow.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from personarec import db as dbops
from personarec.config import DBpediaConfig, Settings
from personarec.errors import PersonarecError
from personarec.graph import Graph, connect

if TYPE_CHECKING:
    from personarec.eval.report import EvalReport
    from personarec.server.virtuoso import ManagedVirtuoso
    from personarec.session.fit import VariantPool

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


class DBpediaSource:
    """The SPARQL endpoint the DBpedia stage reads, decided when the job starts.

    ``auto``: a configured endpoint wins; else a local mirror when ``<data_dir>/dbpedia`` holds
    ``*.nt.gz`` dumps (offline machines); else the public DBpedia endpoint. A local mirror starts in a
    background thread at once, so Virtuoso loads its dumps while Neo4j starts and the dataset loads
    (about 12 s of the main job's critical path); :meth:`endpoint` waits for it.
    """

    def __init__(self, settings: Settings, mode: DBpediaMode, echo: Echo) -> None:
        self._echo = echo
        self._url: str | None = None
        self._mirror: ManagedVirtuoso | None = None
        self._started = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if mode == "off":
            return
        from personarec.datasets import data_dirs

        configured = settings.dbpedia.endpoint != DBpediaConfig.model_fields["endpoint"].default
        dumps = next((d / "dbpedia" for d in data_dirs(settings) if any((d / "dbpedia").glob("*.nt.gz"))), None)
        if mode == "endpoint" or (mode == "auto" and (configured or dumps is None)):
            self._url = settings.dbpedia.endpoint
            return
        if dumps is None:
            raise PersonarecError("no DBpedia dumps (dbpedia/*.nt.gz) in the data folders; set PERSONAREC_DATA_DIR "
                                  "or use --dbpedia endpoint.")
        from personarec.server.virtuoso import ManagedVirtuoso

        self._mirror = ManagedVirtuoso.from_settings(settings)
        self._thread = threading.Thread(target=self._start, args=(self._mirror, dumps), name="dbpedia-mirror",
                                        daemon=True)
        self._thread.start()

    def _start(self, mirror: ManagedVirtuoso, dumps: Path) -> None:
        try:
            self._started = mirror.start(load=dumps)
            self._echo(f"DBpedia mirror {'started' if self._started else 'running'} with {dumps}: {mirror.endpoint}")
        except BaseException as exc:  # re-raised by endpoint(), in the stage that needs it
            self._error = exc

    def endpoint(self) -> str | None:
        """The endpoint URL (waiting for a local mirror to be ready), or None with ``--dbpedia off``."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._mirror.endpoint if self._mirror is not None else self._url

    def close(self) -> None:
        """Stop the local mirror if this job started it (idempotent)."""
        if self._thread is not None:
            self._thread.join()
        if self._mirror is not None and self._started:
            self._mirror.stop()
            self._started = False


@contextmanager
def dbpedia_endpoint(settings: Settings, mode: DBpediaMode, echo: Echo) -> Iterator[DBpediaSource]:
    """A :class:`DBpediaSource` for the job, its local mirror (if any) stopped on exit."""
    source = DBpediaSource(settings, mode, echo)
    try:
        yield source
    finally:
        source.close()


#: Stages of the main job and their seconds measured on the idle 2-core box with AMX (docs/operations.md,
#: "Main job"): the base of the time-left estimate, scaled by how fast the finished stages went.
STAGES: tuple[tuple[str, float], ...] = (
    ("start Neo4j", 18.0),
    ("load MovieLens-100K", 16.0),
    # these three share the cores with the first SASRec variants (EarlyVariants), hence slower than alone
    ("DBpedia enrichment", 28.0),
    ("LLM item embeddings", 43.0),
    ("personas", 49.0),
    ("evaluation (full ranking, history masked)", 268.0),
    ("batch recommendations", 4.0),
)


class StageClock:
    """Announces each stage with its number, the time so far and an estimate of the time left.

    The estimate is the reference seconds of the stages still to run (:data:`STAGES`) times the ratio of
    actual to reference time over the finished stages (clamped to [0.5, 5]): a slower machine or a busy
    one stretches the whole remainder, not only the current stage.
    """

    def __init__(self, echo: Echo, stages: tuple[tuple[str, float], ...] = STAGES) -> None:
        self.echo = echo
        self.stages = stages
        self.started = time.monotonic()
        self._done_ref = 0.0
        self._index = -1

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        """Estimated seconds from now to the end (the current stage counted whole)."""
        elapsed = self.elapsed()
        speed = min(5.0, max(0.5, elapsed / self._done_ref)) if self._done_ref > 0 else 1.0
        return speed * sum(ref for _, ref in self.stages[max(self._index, 0):])

    def stage(self, name: str) -> float:
        """Announce the next stage (``name`` must be the next in :data:`STAGES`); returns its start time."""
        if self._index >= 0:
            self._done_ref += self.stages[self._index][1]
        self._index = next((i for i, (n, _) in enumerate(self.stages) if n == name), self._index + 1)
        self.echo(f"== [{self._index + 1}/{len(self.stages)}] {name}  "
                  f"({_clock(self.elapsed())} so far, about {_clock(self.left())} left)")
        return time.monotonic()


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def run_stages(graph: Graph, settings: Settings, opts: PipelineOptions, echo: Echo,
               dbpedia: DBpediaSource | None = None, clock: StageClock | None = None) -> str:
    """Load, enrich, embed, personas, evaluate, recommend on an open graph; returns the metrics table.

    ``dbpedia``: where the enrichment reads from (default: decided now from ``opts.dbpedia``);
    ``clock``: announces the stages (default: a fresh one).
    """
    from personarec.eval.report import markdown_table
    from personarec.session.fit import VariantPool

    clock = clock or StageClock(echo)
    seeds = opts.seeds or settings.eval.seeds[:1]
    with contextlib.ExitStack() as training:
        # The evaluation's SASRec variants train in worker processes from the moment their inputs are in the
        # graph, beside the stages that follow (EarlyVariants); the evaluation adopts them.
        pool = training.enter_context(VariantPool(settings.eval.jobs)) \
            if settings.eval.jobs > 1 and len(seeds) == 1 else None
        report = _stages(graph, settings, opts, echo, dbpedia, clock, seeds, pool)
    table = markdown_table(report)
    return (f"{report.dataset}: test split, full ranking over {report.items} items, history masked; "
            f"mean ± std over seeds {report.seeds}\n{table}")


def _stages(graph: Graph, settings: Settings, opts: PipelineOptions, echo: Echo, dbpedia: DBpediaSource | None,
            clock: StageClock, seeds: list[int], pool: VariantPool | None) -> EvalReport:
    """:func:`run_stages`' stages from the load on, handing each SASRec variant to ``pool`` (when given) as
    soon as its inputs are written; returns the evaluation's report."""
    from personarec.datasets import resolve_movielens_100k
    from personarec.embed.items import embed_items
    from personarec.enrich.dbpedia import enrich_dbpedia
    from personarec.eval.runner import EarlyVariants, evaluate
    from personarec.jobs import build_recommender, recommend
    from personarec.load import load_dataset
    from personarec.persona.train import export_train_graph, train_personas

    t = clock.stage("load MovieLens-100K")
    folder = resolve_movielens_100k(opts.data, settings, download=opts.download)
    loaded = load_dataset(graph, settings, "movielens", [folder])
    dataset = loaded.dataset
    echo(f"{dataset}: {loaded.users} users, {loaded.items} items, {loaded.interactions} interactions "
         f"({', '.join(f'{k} {v}' for k, v in loaded.split_counts.items())}), split fingerprint "
         f"{loaded.fingerprint} [{time.monotonic() - t:.0f} s]")
    early = None
    if pool is not None:
        early = EarlyVariants(graph, settings, dataset, seeds[0], pool)
        echo(f"training {', '.join(early.queue('sasrec'))} in the background ({pool.jobs} worker processes)")

    t = clock.stage("DBpedia enrichment")
    with contextlib.ExitStack() as stack:
        source = dbpedia or stack.enter_context(dbpedia_endpoint(settings, opts.dbpedia, echo))
        try:
            endpoint = source.endpoint()
            if endpoint is None:
                echo("skipped (--dbpedia off)")
            else:
                enriched = enrich_dbpedia(graph, settings, dataset, endpoint)
                echo(f"{enriched.linked}/{enriched.items} items linked, {enriched.facts} facts, "
                     f"{enriched.unmatched} unmatched [{time.monotonic() - t:.0f} s]")
        except PersonarecError as exc:  # the KG is still useful without DBpedia facts
            echo(f"DBpedia enrichment skipped: {exc}")
        finally:
            source.close()  # the mirror's memory is better spent on the stages that follow

    t = clock.stage("LLM item embeddings")
    with _beside(pool):
        embedded = embed_items(graph, settings, dataset=dataset)
    echo(f"{embedded.encoded} items encoded, {embedded.unchanged} unchanged [{time.monotonic() - t:.0f} s]")
    if early is not None:
        echo(f"training {', '.join(early.queue('history'))} in the background")

    t = clock.stage("personas")
    with _beside(pool):
        # one train-split export for the stored personas and the evaluation's reference personas alike
        export = export_train_graph(graph, settings, dataset)
        echo(f"train-split graph exported [{time.monotonic() - t:.0f} s]")
        personas = train_personas(graph, settings, dataset, export=export)
    echo(f"{personas.users} {personas.learner} personas written, run {personas.run_id} "
         f"[{time.monotonic() - t:.0f} s]")
    if early is not None:
        echo(f"training {', '.join(early.queue('persona'))} in the background")

    t = clock.stage("evaluation (full ranking, history masked)")
    model_dir = opts.out_dir / "model"
    report = evaluate(graph, settings, dataset, opts.out_dir / "eval", seeds, save_models=model_dir, export=export,
                      pool=pool)
    if pool is not None:
        pool.close()  # its workers' memory is better spent on the recommendations
    echo(f"report in {opts.out_dir / 'eval'} [{time.monotonic() - t:.0f} s]")

    t = clock.stage("batch recommendations")
    recommender = build_recommender(graph, settings, dataset, "two-stage", model_dir)  # the evaluated models
    run = recommend(graph, settings, recommender, dataset=dataset, k=opts.k)
    echo(f"{run.line()} [{time.monotonic() - t:.0f} s]")
    return report


def _beside(pool: VariantPool | None) -> contextlib.AbstractContextManager[None]:
    """While ``pool``'s workers train: this process's torch threads limited to the cores they leave (at
    least one). More would only wait on each other: the MiniLM encoder took 11.3 s of wall and 13.4 s of
    CPU with two threads beside one training worker, 8.3 s of both with one (2-core box)."""
    if pool is None:
        return contextlib.nullcontext()
    import torch

    from personarec.cpu import torch_threads

    return torch_threads(max(1, torch.get_num_threads() - pool.jobs))


def run_pipeline(settings: Settings, echo: Echo = print, opts: PipelineOptions | None = None) -> None:
    """Run the whole pipeline and end with the metrics table and the Neo4j Browser URL."""
    opts = opts or PipelineOptions()
    clock = StageClock(echo)
    # The DBpedia mirror (when one is used) starts loading now, beside Neo4j's start and the dataset load.
    with dbpedia_endpoint(settings, opts.dbpedia, echo) as dbpedia:
        clock.stage("start Neo4j")
        ensure_server(settings, echo)
        with connect(settings) as graph:
            constraints = dbops.init_schema(graph, settings)
            echo(f"schema applied ({len(constraints)} constraints), Neo4j {graph.server_version()}")
            table = run_stages(graph, settings, opts, echo, dbpedia, clock)
    echo(f"\n{table}\n")
    echo(f"pipeline finished in {clock.elapsed():.0f} s")
    echo(f"Neo4j Browser: {settings.browser_url}")
