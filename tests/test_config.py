from pathlib import Path

import pytest

from personarec.config import load_settings
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
