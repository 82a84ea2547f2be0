"""``personarec export recbole``: the graph's split as RecBole atomic files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from personarec.cli.common import AppContext, pass_app


@click.group()
def export() -> None:
    """Export the graph for other tools."""


@export.command()
@click.option("--dataset", default=None, help="Dataset (default: the only one in the graph).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder; files go to OUT/<name>/ (RecBole's data_path/dataset layout).")
@click.option("--name", default=None, help="RecBole dataset name (default: the dataset name).")
@click.option("--max-len", type=click.IntRange(min=1), default=None,
              help="Items kept in the benchmark files' history lists (default: session.max_len).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def recbole(app: AppContext, dataset: str | None, out: str, name: str | None, max_len: int | None,
            as_json: bool) -> None:
    """Write .inter, .train/.valid/.test.inter, .item, .kg, .link and a .yaml config for RecBole."""
    from personarec.export import export_recbole

    settings = app.apply_flags({"session.max_len": ("--max-len", max_len)})
    s = export_recbole(app.graph(), Path(out), app.check_dataset(dataset), name=name,
                       max_len=settings.session.max_len)
    if as_json:
        click.echo(json.dumps(s.as_dict()))
        return
    click.echo(f"{s.dataset} -> {s.folder}: {s.users} users, {s.items} items, {s.interactions} interactions "
               f"(train {s.split_counts['train']}, valid {s.split_counts['valid']}, test {s.split_counts['test']}), "
               f"{s.kg_triples} KG triples, {s.linked_items} linked items; split fingerprint {s.fingerprint}")
