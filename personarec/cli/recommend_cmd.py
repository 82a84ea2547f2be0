"""``personarec recommend``: batch recommendation runs, and listing, comparing and removing them;
``personarec why``: why an item is (or would be) recommended to a user.

``why`` is its own top-level command rather than ``recommend explain``: ``recommend`` is a single
command whose options start, list, compare and remove runs, and turning it into a group would change
how those options parse (a group stops at the first bare word), so existing invocations stay as they are.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from personarec.cli.common import AppContext, pass_app, print_rows
from personarec.db import resolve_dataset

if TYPE_CHECKING:
    from personarec.graph import Graph

log = logging.getLogger(__name__)


@click.command()
@click.option("--dataset", default=None, help="Dataset (default: the only one in the graph).")
@click.option("--k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Items per user.")
@click.option("--run", "run_id", default=None, help="Run id (default: <model>-<dataset>-<UTC time>). "
              "Rerunning an id resumes it; a finished run is left as it is.")
@click.option("--users", "users_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="File of user ids, one a line (raw or <dataset>:<raw>); default: every user.")
@click.option("--sessions", "sessions_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Anonymous sessions, one a line (item ids); results go to --parquet.")
@click.option("--parquet", type=click.Path(file_okay=False), default=None,
              help="Also write the run to this folder as Parquet parts.")
@click.option("--no-neo4j", is_flag=True, help="Do not write to Neo4j (needs --parquet).")
@click.option("--model", type=click.Choice(["auto", "popular", "two-stage"]), default="auto", show_default=True,
              help="auto: two-stage when --model-dir is given, else most-popular.")
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="Trained model set (TrainedModels.save); two-stage without a saved set there trains and saves.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Users per batch (one transaction each).")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              help="local: this process; spark: Apache Spark with the Neo4j connector (needs a saved --model-dir; "
              "every user or --users; Neo4j output).")
@click.option("--master", default=None, help="Spark master URL with --engine spark (default: spark.master, local[*]).")
@click.option("--list", "list_", is_flag=True, help="List the recommendation runs and exit.")
@click.option("--compare", nargs=2, metavar="RUN_A RUN_B", default=None,
              help="Overlap of two runs (Jaccard and overlap@k per user, averaged) and exit.")
@click.option("--remove", "remove", metavar="RUN", default=None, help="Delete a run's edges and node, and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_app
def recommend(app: AppContext, dataset: str | None, k: int, run_id: str | None, users_file: str | None,
              sessions_file: str | None, parquet: str | None, no_neo4j: bool, model: str, model_dir: str | None,
              batch_size: int, list_: bool, compare: tuple[str, str] | None, remove: str | None,
              as_json: bool, engine: str = "local", master: str | None = None) -> None:
    """Top-k recommendations for every user (or a list, or anonymous sessions) into Neo4j and/or Parquet."""
    from personarec import jobs

    graph = app.graph()
    if list_:
        print_rows(jobs.list_runs(graph), as_json)
        return
    if compare:
        res = jobs.compare_runs(graph, *compare).as_dict()
        if as_json:
            click.echo(json.dumps(res))
        else:
            click.echo(f"{compare[0]} vs {compare[1]}: {res['users_both']} users in both "
                       f"({res['users_only_a']} only in the first, {res['users_only_b']} only in the second); "
                       f"mean Jaccard {res['jaccard']:.4f}, mean overlap@k {res['overlap_at_k']:.4f}, "
                       f"same top-1 {res['same_top1']:.4f}")
        return
    if remove:
        n = jobs.remove_run(graph, remove)
        click.echo(json.dumps({"removed": remove, "edges": n}) if as_json else f"removed run {remove}: {n} edges")
        return
    if users_file and sessions_file:
        raise click.UsageError("give --users or --sessions, not both.")
    if no_neo4j and not parquet:
        raise click.UsageError("--no-neo4j needs --parquet PATH.")
    ds = resolve_dataset(graph, app.check_dataset(dataset))
    if not no_neo4j:
        graph = app.graph(write=True)
    if engine == "spark":
        _recommend_spark(app, graph, ds, k, run_id, users_file, sessions_file, parquet, no_neo4j, model, model_dir,
                         batch_size, master, as_json)
        return
    if master:
        raise click.UsageError("--master goes with --engine spark.")
    recommender = jobs.build_recommender(graph, app.settings, ds, model, model_dir)
    if sessions_file:
        if not parquet:
            raise click.UsageError("anonymous-session results go to Parquet: give --parquet PATH.")
        summary = jobs.recommend_sessions(graph, app.settings, recommender, jobs.read_sessions_file(sessions_file),
                                          run_id, dataset=ds, k=k, parquet=Path(parquet), neo4j=not no_neo4j,
                                          infer_persona=_persona_inferrer(app, ds, recommender),
                                          batch_size=batch_size)
    else:
        users = jobs.read_id_file(users_file) if users_file else None
        summary = jobs.recommend(graph, app.settings, recommender, run_id, dataset=ds, users=users, k=k,
                                 parquet=Path(parquet) if parquet else None, neo4j=not no_neo4j,
                                 batch_size=batch_size)
    click.echo(json.dumps(summary.as_dict()) if as_json else summary.line())


def _recommend_spark(app: AppContext, graph: Graph, dataset: str, k: int, run_id: str | None,
                     users_file: str | None, sessions_file: str | None, parquet: str | None, no_neo4j: bool,
                     model: str, model_dir: str | None, batch_size: int, master: str | None, as_json: bool) -> None:
    """``--engine spark`` (personarec.spark.recommend): users' top-k scored on Spark, written to Neo4j."""
    from personarec import jobs
    from personarec.spark.recommend import recommend_spark

    if sessions_file or parquet or no_neo4j:
        raise click.UsageError("--engine spark writes users' RECOMMENDED edges to Neo4j: --sessions, --parquet "
                               "and --no-neo4j go with --engine local.")
    if model == "popular" or not model_dir:
        raise click.UsageError("--engine spark scores with a saved two-stage model set: give --model-dir DIR "
                               "(train one with --model two-stage --model-dir DIR).")
    users = jobs.read_id_file(users_file) if users_file else None
    summary = recommend_spark(graph, app.settings, model_dir, run_id, dataset=dataset, users=users, k=k,
                              batch_size=batch_size, master=master)
    click.echo(json.dumps(summary.as_dict()) if as_json else summary.line())


def _persona_inferrer(app: AppContext, dataset: str, recommender: object):
    """Cold-start personas for sessions when the model uses personas and a persona run exists."""
    if getattr(getattr(recommender, "models", None), "persona", None) is None:
        return None
    from personarec.errors import PersonarecError
    from personarec.persona.infer import infer_persona

    graph = app.graph()

    def infer(items: list[str]) -> list[float] | None:
        try:
            return infer_persona(graph, app.settings, items, dataset=dataset).tolist()
        except PersonarecError as exc:  # no persona run, or no known item: plain SASRec candidates
            log.warning("no persona for a session (%s)", exc)
            return None

    return infer


@click.command()
@click.argument("user")
@click.argument("item")
@click.option("--dataset", "-d", default=None, help="Dataset name; lets you give raw ids (1 instead of ml-100k:1).")
@click.option("--run", "run_id", default=None, help="Also report the item's rank and score in this recommendation run.")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Paths to show.")
@click.option("--recent", type=click.IntRange(min=1), default=20, show_default=True,
              help="Most recent train items of the user to look at.")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="Persona neighbours to look at.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as one JSON object.")
@pass_app
def why(app: AppContext, user: str, item: str, dataset: str | None, run_id: str | None, limit: int, recent: int,
        k: int, as_json: bool) -> None:
    """Why ITEM suits USER: ranked KG paths from their recent items and persona neighbours, with a summary."""
    from personarec.jobs.explain import explain_item, qualify

    dataset = app.check_dataset(dataset)
    res = explain_item(app.graph(), qualify(user, dataset), qualify(item, dataset), recent=recent, k=k, limit=limit,
                       run=run_id)
    if as_json:
        click.echo(json.dumps(res.as_dict()))
        return
    click.echo(f"{res.user} -> {res.item} ({res.title})")
    click.echo(res.summary)
    if res.run is not None:
        click.echo(f"run {res.run.run}: rank {res.run.rank}, score {res.run.score:.4g}" if res.run.recommended
                   else f"run {res.run.run}: not recommended to {res.user}")
    hood = (f"{res.neighbours_looked} persona neighbours" if res.has_persona
            else "no persona neighbours (no persona)")
    click.echo(f"looked at: {res.recent_looked} most recent train items (at most {res.recent}), {hood}; "
               f"{res.total_paths} paths, top {len(res.paths)}:")
    print_rows([{"rank": n, "score": p.score, "kind": p.kind, "path": p.path}
                for n, p in enumerate(res.paths, start=1)])
