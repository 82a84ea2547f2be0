"""``personarec load amazon|movielens|sequences PATH…``: load a dataset into the graph."""

from __future__ import annotations

from pathlib import Path

import click

from personarec.cli.common import AppContext, pass_app, print_rows


@click.command()
@click.argument("source", type=click.Choice(["amazon", "movielens", "sequences"]))
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--dataset", default=None, help="Dataset name (node ids are '<dataset>:<raw id>'); default from the "
              "files, e.g. ml-100k, beauty, amazon-movies-and-tv.")
@click.option("--split", "split", type=click.Choice(["loo", "temporal"]), default="loo", show_default=True,
              help="Leave-one-out per user, or a global temporal split (80/10/10 by time).")
@click.option("--kcore", "kcore_k", type=click.IntRange(min=1), default=None,
              help="Keep only users and items with at least K interactions (iterated k-core).")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append rejected lines here (file, line number, reason, raw line).")
@click.option("--format", "fmt", type=click.Choice(["2014", "2018", "2023"]), default=None,
              help="Amazon release format (default: detected per file).")
@click.option("--kind", type=click.Choice(["film", "book", "product"]), default=None,
              help="Item kind (default: from the file name / main category; MovieLens: film).")
@click.option("--replace", is_flag=True, help="First remove what an earlier load of this dataset wrote.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Rows per UNWIND batch.")
@click.option("--bulk", is_flag=True, help="Build a large KG from scratch with neo4j-admin import (managed server, "
              "empty database only; the server restarts). Same graph as the online load.")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              help="local: this process; spark: Apache Spark reads, validates and splits, the Neo4j connector writes "
              "(same graph, fingerprint and rejects as local).")
@click.option("--master", default=None, help="Spark master URL with --engine spark (default: spark.master, local[*]).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON lines.")
@pass_app
def load(app: AppContext, source: str, paths: tuple[Path, ...], dataset: str | None, split: str,
         kcore_k: int | None, rejects_path: Path | None, fmt: str | None, kind: str | None, replace: bool,
         batch_size: int | None, bulk: bool, as_json: bool, engine: str = "local", master: str | None = None) -> None:
    """Load SOURCE files into Neo4j: users, items, features, INTERACTED with splits, item–item edges.

    \b
    personarec load movielens "$PERSONAREC_DATA_DIR/movielens-100k"
    personarec load sequences Beauty.txt Beauty_item2attributes.json --dataset beauty
    personarec load amazon reviews_Books_5.json.gz meta_Books.json.gz --kcore 5
    personarec load amazon reviews_Books.json.gz meta_Books.json.gz --bulk   # large KG from scratch
    personarec load amazon reviews_Books.json.gz meta_Books.json.gz --engine spark [--master URL]
    """
    from personarec.load import load_dataset

    settings = app.apply_flags({"load.batch_size": ("--batch-size", batch_size)})
    if master and engine != "spark":
        raise click.UsageError("--master goes with --engine spark.")
    if engine == "spark":
        from personarec.spark.load import load_spark

        if bulk:
            raise click.UsageError("--bulk is the neo4j-admin import, --engine spark the connector: choose one.")
        summary = load_spark(app.graph(write=True), settings, source, list(paths), dataset, split, kcore_k=kcore_k,
                             fmt=fmt, kind=kind, rejects_path=rejects_path, replace=replace, batch_size=batch_size,
                             master=master, progress=not as_json)
    elif bulk:
        from personarec.load.bulk import bulk_load

        if replace:
            raise click.UsageError("--bulk loads into an empty database; --replace does not apply.")
        # bulk_load applies the schema itself once the imported database is up.
        summary = bulk_load(settings, source, list(paths), dataset, split, kcore_k=kcore_k, fmt=fmt, kind=kind,
                            rejects_path=rejects_path, progress=not as_json)
    else:
        summary = load_dataset(app.graph(write=True), settings, source, list(paths), dataset, split,
                               kcore_k=kcore_k, fmt=fmt, kind=kind, rejects_path=rejects_path, replace=replace,
                               batch_size=batch_size, progress=not as_json)
    if as_json:
        import json

        click.echo(json.dumps({"dataset": summary.dataset, "source": summary.source, "format": summary.format,
                               "split": summary.split, "fingerprint": summary.fingerprint, "users": summary.users,
                               "items": summary.items, "interactions": summary.interactions,
                               "split_counts": summary.split_counts, "rejected": summary.rejects,
                               "seconds": round(summary.seconds, 2)}))
        print_rows(summary.rows(), as_json=True)
        return
    click.echo(f"dataset {summary.dataset} ({summary.source} {summary.format}): {summary.users} users, "
               f"{summary.items} items, {summary.interactions} interactions in {summary.seconds:.1f} s")
    sc = summary.split_counts
    click.echo(f"split {summary.split}: train {sc.get('train', 0)}, valid {sc.get('valid', 0)}, "
               f"test {sc.get('test', 0)}; fingerprint {summary.fingerprint}")
    if summary.short_users:
        click.echo(f"{summary.short_users} user(s) with fewer than 3 interactions: all of theirs are train")
    if summary.filtered:
        click.echo(f"{summary.filtered} interactions dropped by the {kcore_k}-core filter")
    if summary.rejected:
        where = f" (written to {summary.rejects_file})" if summary.rejects_file else ""
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary.rejects.items()))
        click.echo(f"{summary.rejected} lines rejected{where}: {reasons}")
    print_rows(summary.rows())
