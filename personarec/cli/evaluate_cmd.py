"""``personarec evaluate``: the five-row table under the pinned protocol (full ranking, history masked)."""

from __future__ import annotations

from pathlib import Path

import click

from personarec.cli.common import AppContext, pass_app
from personarec.db import resolve_dataset


@click.command()
@click.option("--dataset", default=None, help="Dataset name (default: the only dataset in the graph).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder (default: ./reports/eval-<dataset>).")
@click.option("--seeds", default=None, help="Comma-separated seeds (default: eval.seeds, e.g. 2020,2021,2022).")
@click.option("--epochs", type=int, default=None, help="Maximum epochs per model (default: session.epochs).")
@click.option("--time-limit", type=float, default=None, help="Training seconds per model at most.")
@pass_app
def evaluate(app: AppContext, dataset: str | None, out_dir: Path | None, seeds: str | None,
             epochs: int | None, time_limit: float | None) -> None:
    """Train most-popular, SASRec, SASRec+history, persona-SASRec (+rerank) per seed and write a report."""
    from personarec.eval.report import markdown_table
    from personarec.eval.runner import evaluate as run_eval

    graph = app.graph()
    settings = app.settings
    dataset = resolve_dataset(graph, dataset)
    try:
        seed_list = [int(s) for s in seeds.split(",")] if seeds else None
    except ValueError:
        raise click.BadParameter(f"seeds must be integers separated by commas, got {seeds!r}", param_hint="--seeds")
    update = {k: v for k, v in {"epochs": epochs, "time_limit_s": time_limit}.items() if v is not None}
    if update:
        settings = settings.model_copy(update={"session": settings.session.model_copy(update=update)})
    out = out_dir or Path("reports") / f"eval-{dataset}"
    report = run_eval(graph, settings, dataset, out, seed_list)
    click.echo(f"{dataset}: test, full ranking, history masked; mean ± std over seeds {report.seeds}")
    click.echo(markdown_table(report))
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(f"report: {out}/report.md")
