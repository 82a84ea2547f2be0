"""``personarec db init|reset|counts`` and ``personarec query``."""

from __future__ import annotations

import click

from personarec import db as dbops
from personarec.cli.common import AppContext, parse_params, pass_app, print_rows


@click.group()
def db() -> None:
    """Schema and maintenance of the graph database."""


@db.command()
@pass_app
def init(app: AppContext) -> None:
    """Apply cypher/schema.cypher (constraints, indexes, vector indexes); safe to repeat."""
    constraints = dbops.init_schema(app.graph(), app.settings)
    click.echo(f"schema applied: {len(constraints)} constraints")


@db.command()
@click.option("--yes", is_flag=True, help="Confirm: delete every node and relationship.")
@pass_app
def reset(app: AppContext, yes: bool) -> None:
    """Empty the graph, keep the schema."""
    if not yes:
        raise click.UsageError("this deletes the whole graph; repeat with --yes to confirm.")
    dbops.reset(app.graph())
    click.echo("graph emptied (schema kept)")


@db.command()
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@pass_app
def counts(app: AppContext, as_json: bool) -> None:
    """Node counts per label and relationship counts per type."""
    data = dbops.counts(app.graph())
    rows = [{"kind": k, "name": n, "count": c} for k, d in data.items() for n, c in d.items()]
    print_rows(rows, as_json)


@click.command()
@click.argument("cypher")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="Query parameter ($KEY); VALUE is JSON when it parses, else text. Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@pass_app
def query(app: AppContext, cypher: str, params: tuple[str, ...], as_json: bool) -> None:
    """Run a read-only Cypher query with parameters and print its rows.

    Example: personarec query 'MATCH (u:User {id: $id}) RETURN u.id' --param id='"42"'
    """
    rows = app.graph().execute(cypher, parse_params(params), read=True)
    print_rows(rows, as_json)
