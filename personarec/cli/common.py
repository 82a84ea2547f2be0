"""Shared CLI plumbing: the context object that carries settings and opens connections lazily."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from personarec.config import Settings
from personarec.graph import Graph, connect


class AppContext:
    """Settings plus a lazily opened :class:`Graph` shared by one CLI invocation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._graph: Graph | None = None

    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = connect(self.settings)
            click.get_current_context().call_on_close(self._graph.close)
        return self._graph


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
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
