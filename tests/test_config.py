import logging
import re
from pathlib import Path

import pytest

from personarec.config import SettingError, load_settings
from personarec.errors import ConfigError


def test_defaults_use_managed_server() -> None:
    s = load_settings(env={})
    assert s.managed
    assert s.bolt_uri == "bolt://127.0.0.1:7687"
    assert s.browser_url == "http://127.0.0.1:7474/browser/"
    assert s.server.version.startswith("5.26.")


def test_precedence_file_then_env_then_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('[server]\nbolt_port = 7000\nhttp_port = 7001\n[embed]\nbatch_size = 8\n')
    s = load_settings(cfg, env={"PERSONAREC_SERVER__BOLT_PORT": "7100"}, overrides={"embed": {"batch_size": 16}})
    assert s.server.bolt_port == 7100  # env beats file
    assert s.server.http_port == 7001  # file beats default
    assert s.embed.batch_size == 16  # overrides beat everything


def test_standard_neo4j_env_names() -> None:
    s = load_settings(env={"NEO4J_URI": "neo4j://db.example:7687", "NEO4J_USERNAME": "alice",
                           "NEO4J_PASSWORD": "s3cret-pw", "NEO4J_DATABASE": "kg"})
    assert not s.managed
    assert s.neo4j.user == "alice" and s.neo4j.database == "kg"
    assert s.neo4j.password is not None and s.neo4j.password.get_secret_value() == "s3cret-pw"
    assert "s3cret-pw" not in repr(s)  # secrets never show up in logs
    assert s.browser_url == "http://db.example:7474/browser/"


def test_bad_values_give_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="server.bolt_port"):
        load_settings(env={"PERSONAREC_SERVER__BOLT_PORT": "not-a-port"})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(bad, env={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[server]\nbolt_prot = 1\n")
    with pytest.raises(ConfigError, match="bolt_prot"):
        load_settings(unknown, env={})


def test_list_values_from_env_as_json() -> None:
    s = load_settings(env={"PERSONAREC_EVAL__SEEDS": "[1, 2, 3]"})
    assert s.eval.seeds == [1, 2, 3]


def test_unknown_personarec_env_names_are_ignored_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    # run.sh exports PERSONAREC_VENV and docker-compose.yml PERSONAREC_DBPEDIA_DIR: not settings, not fatal.
    with caplog.at_level(logging.WARNING, logger="personarec.config"):
        s = load_settings(env={"PERSONAREC_VENV": ".venv", "PERSONAREC_DBPEDIA_DIR": "/data/dbpedia",
                               "PERSONAREC_SEED": "7"})
    assert s.seed == 7
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "PERSONAREC_DBPEDIA_DIR" in warnings[0].getMessage() and "PERSONAREC_VENV" in warnings[0].getMessage()


def test_invalid_env_value_is_one_sentence_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env={"PERSONAREC_PERSONA__EPOCHS": "0"})
    msg = str(err.value)
    assert "PERSONAREC_PERSONA__EPOCHS" in msg and "greater than 0" in msg
    assert "\n" not in msg and msg.endswith(".") and "validation error" not in msg
    with pytest.raises(ConfigError, match=r"environment variable PERSONAREC_EVAL \(eval.jobs\)"):
        load_settings(env={"PERSONAREC_EVAL": '{"jobs": 0}'})  # a whole section as one JSON table
    with pytest.raises(ConfigError) as err:
        load_settings(env={"PERSONAREC_EVAL__SEEDS": "1,2"})  # lists come as JSON
    assert "PERSONAREC_EVAL__SEEDS" in str(err.value) and "JSON" in str(err.value) and "\n" not in str(err.value)


def test_explicit_env_mapping_never_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONAREC_SEED", "7")
    monkeypatch.setenv("NEO4J_URI", "bolt://elsewhere:7687")
    monkeypatch.setenv("JAVA_HOME", "/opt/jdk")
    monkeypatch.delenv("PERSONAREC_CONFIG", raising=False)
    given = load_settings(env={})
    assert given.seed == 2026 and given.managed and given.server.java_home is None
    process = load_settings()
    assert process.seed == 7 and process.neo4j.uri == "bolt://elsewhere:7687"
    assert process.server.java_home == Path("/opt/jdk")  # JAVA_HOME is read here, used by the server manager


def test_data_dir_and_config_file_from_env(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("seed = 5\n[load]\nwriters = 3\n")
    s = load_settings(env={"PERSONAREC_DATA_DIR": str(tmp_path), "PERSONAREC_CONFIG": str(cfg)})
    assert s.data_dir == tmp_path and s.seed == 5 and s.load.writers == 3
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env={"PERSONAREC_CONFIG": str(tmp_path / "missing.toml")})


def test_unknown_key_in_the_file_is_one_sentence(tmp_path: Path) -> None:
    cfg = tmp_path / "typo.toml"
    cfg.write_text("[persona]\nepochz = 3\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    msg = str(err.value)
    assert "persona.epochz" in msg and str(cfg) in msg and "not a personarec setting" in msg and "\n" not in msg
    cfg.write_text("[persona]\nepochs = 0\n")
    with pytest.raises(ConfigError, match=r"persona.epochs in config file .*greater than 0"):
        load_settings(cfg, env={})


def test_file_then_env_then_flags_with_validation(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text("[persona]\nepochs = 11\npatience = 4\nlr = 0.01\n")
    s = load_settings(cfg, env={"PERSONAREC_PERSONA__EPOCHS": "22", "PERSONAREC_PERSONA__PATIENCE": "5"})
    flagged = s.with_overrides({"persona": {"epochs": 33}}, {"persona.epochs": "--epochs"})
    assert (flagged.persona.epochs, flagged.persona.patience, flagged.persona.lr) == (33, 5, 0.01)
    assert s.persona.epochs == 22  # the original is left as it was
    with pytest.raises(SettingError) as err:
        s.with_overrides({"persona": {"epochs": 0}}, {"persona.epochs": "--epochs"})
    assert err.value.where == "persona.epochs" and "--epochs" in str(err.value)
    assert "greater than 0" in err.value.reason


def test_only_config_reads_the_environment() -> None:
    # Reading or setting variables elsewhere would bypass the one validated configuration; passing the
    # whole environment on to a child process (server/manager.py) is fine.
    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"os\.environ(\.get|\.setdefault|\.pop|\[)|in os\.environ|getenv\(|putenv\(")
    config = root / "personarec" / "config.py"
    offenders = [f"{path.relative_to(root)}:{n}" for folder in ("personarec", "loaders")
                 for path in sorted((root / folder).rglob("*.py")) if path != config
                 for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_java_home_setting_picks_the_servers_java(tmp_path: Path) -> None:
    from personarec.server import ManagedNeo4j

    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    settings = load_settings(env={"JAVA_HOME": str(tmp_path / "jdk"), "PERSONAREC_SERVER__HOME": str(tmp_path)})
    assert ManagedNeo4j(settings.server)._tool(None, "java", "install java") == str(java)
    explicit = settings.server.model_copy(update={"java": "/opt/other/java"})
    assert ManagedNeo4j(explicit)._tool(explicit.java, "java", "install java") == "/opt/other/java"
