"""``personarec personas ...`` end to end through click, against the real Neo4j."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from personarec.cli import main
from personarec.config import Settings
from personarec.graph import Graph


def _env(settings: Settings, tmp_path) -> dict[str, str]:
    return {"NEO4J_URI": settings.bolt_uri, "NEO4J_PASSWORD": settings.neo4j.password.get_secret_value(),
            "PERSONAREC_MODEL_STORE": str(tmp_path / "models"), "PERSONAREC_PERSONA__MAX_NEIGHBORS": "16",
            "PERSONAREC_PERSONA__PATIENCE": "10"}


def test_personas_cli_train_show_similar_infer(graph: Graph, small_kg: dict[str, Any], neo4j_settings: Settings,
                                               tmp_path) -> None:
    runner = CliRunner()
    env = _env(neo4j_settings, tmp_path)
    res = runner.invoke(main, ["personas", "train", "--dataset", "toy", "--epochs", "40", "--json"], env=env)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["users"] == 60 and summary["version"] == 1

    res = runner.invoke(main, ["personas", "show", "u0", "--dataset", "toy", "--json"], env=env)
    assert res.exit_code == 0, res.output
    row = json.loads(res.output.strip().splitlines()[0])
    assert row["user"] == "toy:u0" and row["dims"] == 64 and row["run"] == summary["run_id"]

    res = runner.invoke(main, ["personas", "similar", "toy:u0", "-k", "3", "--json"], env=env)
    assert res.exit_code == 0, res.output
    assert len(res.output.strip().splitlines()) == 3

    res = runner.invoke(main, ["personas", "infer", "--items", "i0,i3,i6", "--dataset", "toy", "-k", "4", "--json"],
                        env=env)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert len(out["persona"]) == 64 and len(out["similar"]) == 4

    res = runner.invoke(main, ["personas", "explain", "u0", "u3", "--dataset", "toy"], env=env)
    assert res.exit_code == 0 and "U-I-Genre-I-U" in res.output

    res = runner.invoke(main, ["personas", "show", "nobody", "--dataset", "toy"], env=env)
    assert res.exit_code == 1 and "error: user toy:nobody is not in the graph" in res.output


def test_personas_train_rejects_bad_flags_and_writes_nothing(graph: Graph, small_kg: dict[str, Any],
                                                             neo4j_settings: Settings, tmp_path) -> None:
    stored = [0.125] * 64
    graph.execute("MATCH (u:User {id: 'toy:u0'}) SET u.persona = $p, u.persona_run = 'kept', u.persona_version = 1",
                  {"p": stored})
    runner = CliRunner()
    env = _env(neo4j_settings, tmp_path)
    for args, flag in ((["--epochs", "0"], "--epochs"), (["--metapath", "U-I-U", "--epochs", "-3"], "--epochs")):
        res = runner.invoke(main, ["personas", "train", "--dataset", "toy", *args], env=env)
        assert res.exit_code == 2, res.output
        assert flag in res.output and "greater than 0" in res.output and "Traceback" not in res.output
    row = graph.execute("MATCH (u:User {id: 'toy:u0'}) RETURN u.persona AS p, u.persona_run AS run")[0]
    assert row["p"] == stored and row["run"] == "kept"
    assert graph.execute("MATCH (u:User) WHERE u.persona IS NOT NULL RETURN count(u) AS n")[0]["n"] == 1
    assert graph.execute("MATCH (r:PersonaRun) RETURN count(r) AS n")[0]["n"] == 0
    res = runner.invoke(main, ["personas", "train", "--dataset", "nosuch", "--epochs", "5"], env=env)
    assert res.exit_code == 2 and "'nosuch' is not in the graph (datasets: toy)" in res.output


def test_personas_explore_commands_validate_and_report_missing_users(graph: Graph, small_kg: dict[str, Any],
                                                                     neo4j_settings: Settings, tmp_path) -> None:
    runner = CliRunner()
    env = _env(neo4j_settings, tmp_path)
    res = runner.invoke(main, ["personas", "similar", "u0", "--dataset", "toy", "-k", "0"], env=env)
    assert res.exit_code == 2
    res = runner.invoke(main, ["personas", "similar", "u0", "--dataset", "toy"], env=env)
    assert res.exit_code == 1 and "toy:u0 has no persona yet" in res.output
    res = runner.invoke(main, ["personas", "explain", "u0", "ghost", "--dataset", "toy"], env=env)
    assert res.exit_code == 1 and "toy:ghost is not in the graph" in res.output
