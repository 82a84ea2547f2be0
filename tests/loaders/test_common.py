"""Validation helpers and the rejects writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from personarec.loaders.common import (
    Reject,
    Rejects,
    SourceError,
    check_rating,
    check_ts,
    iter_lines,
    parse_json_line,
    require_id,
    str_list,
)


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


def _rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def test_blank_and_undecodable_lines_are_rejects_not_merges(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    # two users whose ids differ only in an invalid byte: "replace" decoding made both "U\ufffd"
    src.write_bytes(b"good 1\n\nU\xff 2\n   \nU\xfe 3\nlast 4\n\n\n")
    out = tmp_path / "rejects.tsv"
    with Rejects(out) as rejects:
        lines = list(iter_lines(src, rejects=rejects, kind="interaction"))
    assert lines == [(1, "good 1"), (6, "last 4")]
    rows = _rows(out)
    assert [(int(r[1]), r[2]) for r in rows] == [(2, "blank line"), (3, "invalid UTF-8: at byte 1 (0xff)"),
                                                 (4, "blank line"), (5, "invalid UTF-8: at byte 1 (0xfe)")]
    # the raw bytes stay visible (and distinct) in the rejects file
    assert rows[1][3] == "U\\xff 2" and rows[3][3] == "U\\xfe 3"
    # padding after the last record is not a lost record
    assert rejects.by_reason == {"blank line": 2, "invalid UTF-8": 2} and rejects.by_kind == {"interaction": 4}


def test_lines_without_rejects_sink_are_skipped(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(b"a\n\nb\xff\nc\r\n")
    assert list(iter_lines(src)) == [(1, "a"), (4, "c")]


def test_deep_nesting_is_a_reject() -> None:
    for line in ("[" * 200_000, '{"a": ' + "[" * 200_000):
        with pytest.raises(Reject, match="too deeply nested"):
            parse_json_line(line)
    for line in ("[1, 2]", '"text"', "null", "3"):
        with pytest.raises(Reject, match="not a JSON object"):
            parse_json_line(line)


def test_rejects_file_takes_any_text(tmp_path: Path) -> None:
    out = tmp_path / "rejects.tsv"
    with Rejects(out) as rejects:
        rejects.add("x.json", 1, "wrong type: attributes must be a list of ids", '{"\udcff": 1}', "item")
    assert _rows(out) == [["x.json", "1", "wrong type: attributes must be a list of ids", '{"\\udcff": 1}']]
