"""``personarec neo4j install|start|stop|status``: the managed local server."""

from __future__ import annotations

import time

import click

from personarec.cli.common import AppContext, pass_app
from personarec.errors import ServerError
from personarec.server import ManagedNeo4j


def managed_server(app: AppContext) -> ManagedNeo4j:
    settings = app.settings
    password = settings.neo4j.password.get_secret_value() if settings.neo4j.password else None
    return ManagedNeo4j(settings.server, password=password, user=settings.neo4j.user)


def _require_managed(app: AppContext) -> None:
    if not app.settings.managed:
        raise ServerError(f"NEO4J_URI is set ({app.settings.neo4j.uri}), so personarec does not manage that "
                          "server; unset NEO4J_URI to use the managed local one.")


@click.group()
def neo4j() -> None:
    """Manage the local Neo4j server (assembled from Maven Central; no Docker needed)."""


@neo4j.command()
@pass_app
def install(app: AppContext) -> None:
    """Fetch the Neo4j, Browser and APOC jars into the cache (done by `start` when needed)."""
    server = managed_server(app)
    click.echo(f"Neo4j {app.settings.server.version} jars in {server.install()}")


@neo4j.command()
@pass_app
def start(app: AppContext) -> None:
    """Start the server in the background and wait until Bolt answers (harmless if running)."""
    _require_managed(app)
    server = managed_server(app)
    t0 = time.monotonic()
    started = server.start()
    what = f"started in {time.monotonic() - t0:.1f} s" if started else "already running"
    click.echo(f"Neo4j {what} (pid {server.pid()}): {server.bolt_uri}")
    click.echo(f"Neo4j Browser: {server.browser_url} (user {server.user}, password in "
               f"{server.password_file if not app.settings.neo4j.password else 'NEO4J_PASSWORD'})")


@neo4j.command()
@pass_app
def stop(app: AppContext) -> None:
    """Stop the server by its PID."""
    _require_managed(app)
    server = managed_server(app)
    click.echo("Neo4j stopped" if server.stop() else "Neo4j was not running")


@neo4j.command()
@pass_app
def status(app: AppContext) -> None:
    """Say whether the server runs, its version, and where to reach it (exit 3 when it is down)."""
    settings = app.settings
    version = None
    if settings.managed:
        server = managed_server(app)
        if not server.running():
            click.echo(f"Neo4j is not running (home {server.home}); start it with `personarec neo4j start`.")
            raise SystemExit(3)
    version = app.graph().server_version()
    click.echo(f"Neo4j {version} running at {settings.bolt_uri}")
    if settings.managed:
        click.echo(f"pid {managed_server(app).pid()}, home {settings.server.home}")
    click.echo(f"Neo4j Browser: {settings.browser_url}")
