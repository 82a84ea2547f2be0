"""Shared CLI plumbing: the context object that carries settings, validates flags and opens connections."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import click

from personarec.config import SettingError, Settings
from personarec.graph import Graph, connect


class AppContext:
    """Settings plus a lazily opened :class:`Graph` shared by one CLI invocation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._graph: Graph | None = None
        self._schema_applied = False

    def graph(self, write: bool = False) -> Graph:
        """The open graph; ``write=True`` first applies ``cypher/schema.cypher`` (idempotent, once).

        Writing commands ask for ``write=True`` so a fresh server never gets data without its
        constraints (duplicate keys) and indexes (slow MERGE look-ups).
        """
        if self._graph is None:
            self._graph = connect(self.settings)
            click.get_current_context().call_on_close(self._graph.close)
        if write and not self._schema_applied:
            from personarec.db import init_schema

            init_schema(self._graph, self.settings)
            self._schema_applied = True
        return self._graph

    def apply_flags(self, flags: Mapping[str, tuple[str, Any]]) -> Settings:
        """Validate flag values as settings and make them current; a bad one is a usage error (exit 2).

        ``flags`` maps a dotted setting to ``(flag, value)``, e.g. ``{"persona.epochs": ("--epochs", 0)}``;
        ``None`` values (flag not given) are skipped. Call it before any work, so nothing is written
        when a value is rejected.
        """
        given = {where: value for where, (_, value) in flags.items() if value is not None}
        if not given:
            return self.settings
        update: dict[str, Any] = {}
        for where, value in given.items():
            *sections, name = where.split(".")
            node = update
            for section in sections:
                node = node.setdefault(section, {})
            node[name] = value
        names = {where: flag for where, (flag, _) in flags.items()}
        try:
            self.settings = self.settings.with_overrides(update, names)
        except SettingError as exc:
            flag = names.get(exc.where)
            if flag is None:
                raise click.UsageError(str(exc)) from exc
            raise click.BadParameter(f"{exc.reason} (setting {exc.where}).", param_hint=f"'{flag}'") from exc
        return self.settings

    def check_dataset(self, dataset: str | None) -> str | None:
        """``dataset`` when the graph holds users or items of it; else a usage error listing the datasets.

        ``None`` (no ``--dataset``) passes through for the command's own default.
        """
        if dataset is None:
            return None
        graph = self.graph()
        if graph.read("admin/dataset_exists.cypher", {"dataset": dataset})[0]["found"]:
            return dataset
        found = sorted(r["dataset"] for r in graph.read("admin/datasets_any.cypher"))
        raise click.BadParameter(f"dataset {dataset!r} is not in the graph (datasets: {', '.join(found) or 'none'}).",
                                 param_hint="'--dataset'")


pass_app = click.make_pass_decorator(AppContext)


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """``k=v`` pairs into a dict; ``v`` is read as JSON when it parses (numbers, lists), else as text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--param")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def parse_seeds(seeds: str | None) -> list[int] | None:
    """``"1,2,3"`` into ``[1, 2, 3]`` (None when not given); anything else is a usage error on --seeds."""
    if not seeds:
        return None
    try:
        return [int(s) for s in seeds.split(",")]
    except ValueError:
        raise click.BadParameter(f"seeds must be integers separated by commas, got {seeds!r}",
                                 param_hint="'--seeds'") from None


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        text = json.dumps(value, default=str)
        return text if len(text) <= 60 else text[:57] + "..."
    return "" if value is None else str(value)


def print_rows(rows: Sequence[dict[str, Any]], as_json: bool = False) -> None:
    """Print rows as JSON lines or as an aligned text table."""
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str))
        return
    if not rows:
        click.echo("(no rows)")
        return
    cols = list(rows[0].keys())
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    click.echo("  ".join("-" * w for w in widths))
    for line in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)))
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
