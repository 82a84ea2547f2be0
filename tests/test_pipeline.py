"""Choice of the DBpedia endpoint in the main job (the stages themselves are tested in their packages)."""

from pathlib import Path

from personarec.config import load_settings
from personarec.pipeline import dbpedia_endpoint


def _endpoint(mode: str, **env: str) -> str | None:
    with dbpedia_endpoint(load_settings(env=env), mode, echo=lambda _: None) as url:  # type: ignore[arg-type]
        return url


def test_off_gives_no_endpoint() -> None:
    assert _endpoint("off") is None


def test_configured_endpoint_wins_in_auto_mode(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/sparql"
    assert _endpoint("auto", PERSONAREC_DBPEDIA__ENDPOINT=url) == url
    assert _endpoint("endpoint", PERSONAREC_DBPEDIA__ENDPOINT=url) == url


def test_endpoint_mode_defaults_to_public_dbpedia() -> None:
    assert _endpoint("endpoint") == "https://dbpedia.org/sparql"
