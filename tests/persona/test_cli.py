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
            "PERSONAREC_PERSONA__MODEL_DIR": str(tmp_path / "models"), "PERSONAREC_PERSONA__MAX_NEIGHBORS": "16",
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
