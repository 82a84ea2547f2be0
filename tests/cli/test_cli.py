"""The CLI end to end against the session's real Neo4j."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from personarec.cli import COMMANDS, main
from personarec.config import Settings


@pytest.fixture
def cli_env(neo4j_settings: Settings, graph) -> dict[str, str]:
    assert neo4j_settings.neo4j.password is not None
    return {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value()}


def _walk(group, prefix=()):
    import click

    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _walk(cmd, (*prefix, name))


def test_every_command_has_help() -> None:
    runner = CliRunner()
    paths = list(_walk(main))
    assert {p[0] for p in paths} == set(COMMANDS)
    for path in paths:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output


def test_db_init_status_and_query(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["db", "init"], env=cli_env)
    assert result.exit_code == 0 and "constraints" in result.output
    result = runner.invoke(main, ["neo4j", "status"], env=cli_env)
    assert result.exit_code == 0 and "5.26" in result.output and "/browser/" in result.output
    result = runner.invoke(main, ["query", "SHOW CONSTRAINTS YIELD name RETURN name ORDER BY name", "--json"],
                           env=cli_env)
    names = [json.loads(line)["name"] for line in result.output.splitlines()]
    assert "user_id" in names and "item_id" in names


def test_query_params_table_and_read_only(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["query", "RETURN $n + 1 AS n, $s AS s", "-p", "n=41", "-p", "s=it's"], env=cli_env)
    assert result.exit_code == 0
    assert "42" in result.output and "it's" in result.output and "(1 row)" in result.output
    result = runner.invoke(main, ["query", "CREATE (n:Oops) RETURN n"], env=cli_env)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "error:" in result.output and "read access mode" in result.output
    result = runner.invoke(main, ["query", "RETURN 1", "-p", "novalue"], env=cli_env)
    assert result.exit_code == 2


def test_reset_needs_yes(cli_env: dict[str, str], graph) -> None:
    graph.execute("CREATE (:User {id: 'keep'})")
    runner = CliRunner()
    result = runner.invoke(main, ["db", "reset"], env=cli_env)
    assert result.exit_code != 0
    assert graph.execute("MATCH (u:User) RETURN count(u) AS n")[0]["n"] == 1
    result = runner.invoke(main, ["db", "reset", "--yes"], env=cli_env)
    assert result.exit_code == 0
    assert graph.execute("MATCH (u:User) RETURN count(u) AS n")[0]["n"] == 0


def test_wrong_password_prints_one_line(neo4j_settings: Settings) -> None:
    env = {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_USER": "intruder2", "NEO4J_PASSWORD": "nope-nope"}
    result = CliRunner().invoke(main, ["neo4j", "status"], env=env)
    assert result.exit_code == 1
    assert result.output.strip().startswith("error:") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_neo4j_start_refuses_external_uri(neo4j_settings: Settings) -> None:
    env = {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_PASSWORD": "x-x-x-x-x"}
    result = CliRunner().invoke(main, ["neo4j", "start"], env=env)
    assert result.exit_code == 1 and "NEO4J_URI is set" in result.output


def test_bulk_load_refuses_an_external_server(neo4j_settings: Settings, tmp_path) -> None:
    (tmp_path / "u.data").write_text("1\t1\t5\t881250949\n")
    (tmp_path / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n")
    env = {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_PASSWORD": "x-x-x-x-x"}
    result = CliRunner().invoke(main, ["load", "movielens", str(tmp_path), "--bulk"], env=env)
    assert result.exit_code == 1 and "managed local server" in result.output
