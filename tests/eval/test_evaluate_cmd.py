"""``personarec evaluate`` end to end on the real Neo4j: a tiny dataset, one seed, a report folder."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from personarec.cli import main


def test_evaluate_command_writes_a_report(graph, neo4j_settings, tmp_path: Path, load_tiny_sequences) -> None:
    env = {"NEO4J_URI": neo4j_settings.bolt_uri,
           "NEO4J_PASSWORD": neo4j_settings.neo4j.password.get_secret_value(),  # type: ignore[union-attr]
           "PERSONAREC_SESSION__MAX_LEN": "8"}
    runner = CliRunner()
    empty = runner.invoke(main, ["evaluate"], env=env)
    assert empty.exit_code == 1 and "no users; load a dataset first" in empty.output
    load_tiny_sequences(graph, neo4j_settings, tmp_path)
    out = tmp_path / "report"
    result = runner.invoke(main, ["evaluate", "--out", str(out), "--seeds", "1", "--epochs", "2"], env=env)
    assert result.exit_code == 0, result.output
    assert "| SASRec |" in result.output and (out / "report.md").is_file() and (out / "results.json").is_file()
    bad = runner.invoke(main, ["evaluate", "--dataset", "tiny", "--seeds", "a,b"], env=env)
    assert bad.exit_code != 0 and "seeds must be integers" in bad.output
