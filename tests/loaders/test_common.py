"""Validation helpers and the rejects writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from personarec.loaders.common import Reject, Rejects, SourceError, check_rating, check_ts, iter_lines, require_id, str_list


def test_check_ts() -> None:
    assert check_ts(1_400_000_000) == 1_400_000_000
    assert check_ts("1400000000") == 1_400_000_000
    assert check_ts(1_600_000_000_123, millis=True) == 1_600_000_000
    for bad in (None, True, -5, 99_999_999_999, "soon", float("nan"), 1_600_000_000_123):
        with pytest.raises(Reject):
            check_ts(bad)


def test_check_rating_and_ids() -> None:
    assert check_rating(None) is None and check_rating("4") == 4.0
    for bad in ("five", True, 11, float("nan"), [1]):
        with pytest.raises(Reject):
            check_rating(bad)
    assert require_id({"a": 12}, "a") == "12"
    assert require_id({"b": " x "}, "a", "b") == "x"
    for obj in ({}, {"a": ""}, {"a": ["x"]}, {"a": "x\ty"}, {"a": False}):
        with pytest.raises(Reject):
            require_id(obj, "a")


def test_str_list() -> None:
    assert str_list([["a", "b"], ["a", "c"], None, " "]) == ["a", "b", "c"]
    assert str_list("x") == ["x"] and str_list(None) == []


def test_rejects_file(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "rejects.tsv"
    with Rejects(out) as rejects:
        rejects.add("data/x.json", 7, "bad JSON: Expecting value", "line\twith tab\n", "interaction")
        rejects.add("data/x.json", 9, "missing id: asin", "{}", "item")
    assert out.read_text().splitlines() == ["x.json\t7\tbad JSON: Expecting value\tline with tab",
                                            "x.json\t9\tmissing id: asin\t{}"]
    assert rejects.total == 2 and rejects.by_reason == {"bad JSON": 1, "missing id": 1}


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        list(iter_lines(tmp_path / "nope.json"))
