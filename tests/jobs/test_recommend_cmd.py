"""``personarec recommend`` and ``personarec export recbole`` end to end against the real Neo4j."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from personarec.cli import main
from personarec.config import Settings
from personarec.graph import Graph
from personarec.jobs import read_run


@pytest.fixture
def cli_env(neo4j_settings: Settings, graph: Graph) -> dict[str, str]:
    assert neo4j_settings.neo4j.password is not None
    return {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value()}


def _run(args: list[str], env: dict[str, str]) -> str:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_recommend_cli_cycle(cli_env: dict[str, str], tiny: dict[str, list[str]], tmp_path: Path) -> None:
    out = json.loads(_run(["recommend", "--model", "popular", "--k", "3", "--run", "a", "--json"], cli_env))
    assert (out["written"], out["edges"], out["throughput"] > 0) == (40, 120, True)
    users = tmp_path / "users.txt"
    users.write_text("1\n# a comment\n2\n")
    out = _run(["recommend", "--model", "popular", "--k", "3", "--run", "b", "--users", str(users),
                "--parquet", str(tmp_path / "b")], cli_env)
    assert "2 users written" in out and "users/s" in out
    assert len(read_run(tmp_path / "b")) == 6
    again = _run(["recommend", "--model", "popular", "--k", "3", "--run", "b", "--users", str(users)], cli_env)
    assert "0 users written, 2 already done" in again
    listed = [json.loads(line) for line in _run(["recommend", "--list", "--json"], cli_env).splitlines()]
    assert {(r["run"], r["edges"], r["status"]) for r in listed} == {("a", 120, "done"), ("b", 6, "done")}
    cmp = json.loads(_run(["recommend", "--compare", "a", "b", "--json"], cli_env))
    assert (cmp["users_both"], cmp["users_only_a"], cmp["jaccard"]) == (2, 38, 1.0)
    sessions = tmp_path / "sessions.txt"
    sessions.write_text("1 2 3\n4,5\n")
    out = json.loads(_run(["recommend", "--model", "popular", "--sessions", str(sessions), "--run", "s",
                           "--parquet", str(tmp_path / "s"), "--no-neo4j", "--json"], cli_env))
    assert (out["kind"], out["written"]) == ("sessions", 2)
    assert sorted({r["session"] for r in read_run(tmp_path / "s").to_pylist()}) == ["session-1", "session-2"]
    assert "removed run a: 120 edges" in _run(["recommend", "--remove", "a"], cli_env)
    bad = CliRunner().invoke(main, ["recommend", "--remove", "a"], env=cli_env)
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "no recommendation run 'a'" in bad.output


def test_export_recbole_cli(cli_env: dict[str, str], tiny: dict[str, list[str]], tmp_path: Path) -> None:
    out = json.loads(_run(["export", "recbole", "--out", str(tmp_path), "--json"], cli_env))
    assert out["users"] == 40 and out["name"] == "tiny"
    for suffix in (".inter", ".train.inter", ".valid.inter", ".test.inter", ".item", ".kg", ".link", ".yaml"):
        assert (tmp_path / "tiny" / f"tiny{suffix}").is_file()
