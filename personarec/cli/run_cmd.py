"""``personarec run``: the main job (the whole pipeline on a default dataset)."""

from __future__ import annotations

from pathlib import Path

import click

from personarec.cli.common import AppContext, parse_seeds, pass_app


@click.command()
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="MovieLens-100K folder (default: $PERSONAREC_DATA_DIR/movielens-100k, the cache, or a download).")
@click.option("--no-download", is_flag=True, help="Never download the dataset; fail when it is not local.")
@click.option("--dbpedia", type=click.Choice(["auto", "endpoint", "mirror", "off"]), default="auto",
              show_default=True, help="auto: configured endpoint, else a local mirror of <data>/dbpedia/*.nt.gz, "
              "else the public DBpedia endpoint.")
@click.option("--seeds", default=None, help="Comma-separated evaluation seeds (default: the first of eval.seeds; "
              "`personarec evaluate` averages over all of them).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/main"),
              show_default=True, help="Folder for the evaluation report and the trained model.")
@click.option("--k", type=click.IntRange(min=1), default=10, show_default=True, help="Recommendations per user.")
@pass_app
def run(app: AppContext, data: Path | None, no_download: bool, dbpedia: str, seeds: str | None, out_dir: Path,
        k: int) -> None:
    """Run the pipeline end to end: start Neo4j, load, enrich, embed, personas, evaluate, recommend.

    Ends by printing the metrics table and the Neo4j Browser URL.
    """
    from personarec.pipeline import PipelineOptions, run_pipeline

    # The given seeds are the run's evaluation seeds (validated like eval.seeds); the schema is applied
    # by the pipeline itself before it loads anything.
    seed_list = parse_seeds(seeds)
    settings = app.apply_flags({"eval.seeds": ("--seeds", seed_list)})
    opts = PipelineOptions(data=data, download=not no_download, dbpedia=dbpedia,  # type: ignore[arg-type]
                           seeds=seed_list, out_dir=out_dir, k=k)
    run_pipeline(settings, echo=click.echo, opts=opts)
