"""The main job's own logic: choice of the DBpedia endpoint and the stage clock (the stages themselves are
tested in their packages)."""

from pathlib import Path

import pytest

from personarec.config import load_settings
from personarec.errors import PersonarecError
from personarec.pipeline import STAGES, StageClock, dbpedia_endpoint


def _endpoint(mode: str, **env: str) -> str | None:
    with dbpedia_endpoint(load_settings(env=env), mode, echo=lambda _: None) as source:  # type: ignore[arg-type]
        return source.endpoint()


def test_off_gives_no_endpoint() -> None:
    assert _endpoint("off") is None


def test_configured_endpoint_wins_in_auto_mode(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/sparql"
    assert _endpoint("auto", PERSONAREC_DBPEDIA__ENDPOINT=url) == url
    assert _endpoint("endpoint", PERSONAREC_DBPEDIA__ENDPOINT=url) == url


def test_endpoint_mode_defaults_to_public_dbpedia() -> None:
    assert _endpoint("endpoint") == "https://dbpedia.org/sparql"


def test_mirror_mode_without_dumps_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(PersonarecError, match="no DBpedia dumps"):
        _endpoint("mirror", PERSONAREC_DATA_DIR=str(tmp_path))


class _Time:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stage_clock_numbers_stages_and_scales_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _Time()
    monkeypatch.setattr("personarec.pipeline.time.monotonic", fake)
    lines: list[str] = []
    stages = (("a", 10.0), ("b", 20.0), ("c", 30.0))
    clock = StageClock(lines.append, stages)
    clock.stage("a")
    assert lines[-1] == "== [1/3] a  (0:00 so far, about 1:00 left)"  # nothing measured yet: reference times
    fake.now += 20.0  # stage a took twice its reference
    clock.stage("b")
    assert lines[-1] == "== [2/3] b  (0:20 so far, about 1:40 left)"  # (20 + 30) * 2
    fake.now += 10.0  # b was fast: 30 s for 30 s of reference so far
    clock.stage("c")
    assert lines[-1] == "== [3/3] c  (0:30 so far, about 0:30 left)"


def test_stage_names_match_the_pipeline() -> None:
    import inspect

    from personarec import pipeline

    source = inspect.getsource(pipeline._stages) + inspect.getsource(pipeline.run_pipeline)
    for name, _ in STAGES:
        assert f'stage("{name}")' in source
