"""The ``personarec`` command line.

Subcommands live in their own modules and are imported lazily, so ``personarec --help`` does not
load torch. To add one, append ``name: "module:attribute"`` to :data:`COMMANDS`.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from personarec.cli.common import AppContext
from personarec.config import load_settings
from personarec.errors import PersonarecError

COMMANDS: dict[str, str] = {
    "neo4j": "personarec.cli.neo4j_cmd:neo4j",
    "db": "personarec.cli.db_cmd:db",
    "query": "personarec.cli.db_cmd:query",
    "run": "personarec.cli.run_cmd:run",
    "enrich": "personarec.cli.enrich_cmd:enrich",
    "dbpedia-mirror": "personarec.cli.enrich_cmd:dbpedia_mirror",
    "load": "personarec.cli.load_cmd:load",
    "embed": "personarec.cli.embed_cmd:embed",
    "personas": "personarec.cli.personas_cmd:personas",
    "evaluate": "personarec.cli.evaluate_cmd:evaluate",
    "recommend": "personarec.cli.recommend_cmd:recommend",
    "why": "personarec.cli.recommend_cmd:why",
    "export": "personarec.cli.export_cmd:export",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use and whose known errors print one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PersonarecError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="TOML config file (default: ./personarec.toml or $PERSONAREC_CONFIG).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="personarec")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """personarec: persona-driven session recommendation over a knowledge graph in Neo4j."""
    level = logging.WARNING - 10 * min(verbose + 1, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("neo4j").setLevel(logging.WARNING)
    try:
        settings = load_settings(config_path)
    except PersonarecError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    ctx.obj = AppContext(settings)


if __name__ == "__main__":  # pragma: no cover
    main()
