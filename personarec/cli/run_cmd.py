"""``personarec run``: the main job (the whole pipeline on a default dataset)."""

from __future__ import annotations

import click

from personarec.cli.common import AppContext, pass_app


@click.command()
@pass_app
def run(app: AppContext) -> None:
    """Run the pipeline end to end and print the metrics and the Neo4j Browser URL."""
    from personarec.pipeline import run_pipeline

    run_pipeline(app.settings, echo=click.echo)
