"""Flags and environment go through the one validated configuration; writing commands apply the schema.

Everything runs through click against the session's real Neo4j.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from personarec.cli import main
from personarec.cli.common import AppContext
from personarec.config import Settings, load_settings
from personarec.db import init_schema
from personarec.graph import Graph


@pytest.fixture
def cli_env(neo4j_settings: Settings, graph: Graph) -> dict[str, str]:
    assert neo4j_settings.neo4j.password is not None
    return {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value()}


def test_unknown_personarec_variables_do_not_break_commands(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "PERSONAREC_VENV": ".venv", "PERSONAREC_DBPEDIA_DIR": "/srv/dbpedia"}
    result = CliRunner().invoke(main, ["neo4j", "status"], env=env)
    assert result.exit_code == 0, result.output
    assert "running at" in result.output and "Extra inputs" not in result.output


def test_invalid_env_value_is_one_line_naming_the_variable() -> None:
    result = CliRunner().invoke(main, ["db", "counts"], env={"PERSONAREC_SERVER__BOLT_PORT": "not-a-port"})
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "PERSONAREC_SERVER__BOLT_PORT" in lines[0]


def test_evaluate_rejects_bad_flags_before_any_work(cli_env: dict[str, str], graph: Graph,
                                                    neo4j_settings: Settings, tmp_path: Path,
                                                    load_tiny_sequences: Callable[..., None]) -> None:
    load_tiny_sequences(graph, neo4j_settings, tmp_path)
    runner = CliRunner()
    for args, flag in ((["--time-limit", "-5"], "--time-limit"), (["--epochs", "0"], "--epochs")):
        t0 = time.monotonic()
        result = runner.invoke(main, ["evaluate", "--out", str(tmp_path / "r"), "--seeds", "1", *args], env=cli_env)
        assert result.exit_code == 2, result.output
        assert time.monotonic() - t0 < 10  # nothing read or trained
        assert flag in result.output and "greater than 0" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_named_dataset_must_exist(cli_env: dict[str, str], graph: Graph) -> None:
    graph.execute("CREATE (:Item {id: 't:1', dataset: 't', title: 'A film'}), "
                  "(:Item {id: 'u:1', dataset: 'u', title: 'A book'})")
    runner = CliRunner()
    result = runner.invoke(main, ["embed", "items", "--dataset", "nosuch"], env=cli_env)
    assert result.exit_code == 2
    assert "'nosuch' is not in the graph" in result.output and "t, u" in result.output
    assert graph.execute("MATCH (i:Item) WHERE i.embedding IS NOT NULL RETURN count(i) AS n")[0]["n"] == 0
    # never contacts the endpoint (port 9 would refuse)
    result = runner.invoke(main, ["enrich", "dbpedia", "--dataset", "nosuch", "--endpoint",
                                  "http://127.0.0.1:9/sparql", "--no-cache"], env=cli_env)
    assert result.exit_code == 2 and "'nosuch' is not in the graph" in result.output
    result = runner.invoke(main, ["enrich", "dbpedia", "--min-confidence", "2"], env=cli_env)
    assert result.exit_code == 2 and "--min-confidence" in result.output


def test_load_applies_the_schema_first(cli_env: dict[str, str], session_graph: Graph, graph: Graph,
                                       neo4j_settings: Settings, tmp_path: Path) -> None:
    for row in graph.execute("SHOW CONSTRAINTS YIELD name RETURN name"):
        graph.execute_autocommit(f"DROP CONSTRAINT `{row['name']}`")
    for row in graph.execute("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name"):
        graph.execute_autocommit(f"DROP INDEX `{row['name']}`")
    try:
        assert graph.execute("SHOW CONSTRAINTS YIELD name RETURN count(*) AS n")[0]["n"] == 0
        (tmp_path / "u.data").write_text("1\t1\t5\t881250949\n1\t2\t4\t881250950\n2\t1\t3\t881250951\n")
        (tmp_path / "u.item").write_text("".join(f"{i}|Film {i} (1995)|01-Jan-1995||http://x" + "|0" * 19 + "\n"
                                                 for i in (1, 2)))
        result = CliRunner().invoke(main, ["load", "movielens", str(tmp_path), "--dataset", "mini"], env=cli_env)
        assert result.exit_code == 0, result.output
        names = {r["name"] for r in graph.execute("SHOW CONSTRAINTS YIELD name RETURN name")}
        assert {"user_id", "item_id", "genre_name"} <= names
        indexes = {r["name"] for r in graph.execute("SHOW INDEXES YIELD name RETURN name")}
        assert {"item_embedding", "user_persona", "interacted_split"} <= indexes
    finally:
        init_schema(session_graph, neo4j_settings)  # the rest of the session needs it either way


def test_flags_beat_env_beat_file_and_are_validated(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text("[session]\nepochs = 11\nmax_len = 7\npatience = 3\n")
    app = AppContext(load_settings(cfg, env={"PERSONAREC_SESSION__EPOCHS": "22", "PERSONAREC_SESSION__MAX_LEN": "9"}))
    settings = app.apply_flags({"session.epochs": ("--epochs", 33), "session.time_limit_s": ("--time-limit", None)})
    assert (settings.session.epochs, settings.session.max_len, settings.session.patience) == (33, 9, 3)
    assert settings.session.time_limit_s is None and app.settings is settings
    import click

    with pytest.raises(click.BadParameter, match="greater than 0") as err:
        app.apply_flags({"session.max_len": ("--max-len", 0)})
    assert err.value.exit_code == 2 and "--max-len" in err.value.format_message()
    assert app.settings.session.max_len == 9  # a rejected flag changes nothing
