"""Sequence files and the item -> attributes JSON (S3-Rec layout)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personarec.loaders import sequences
from personarec.loaders.common import Rejects, SourceError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "sequences"


def test_tiny_sequences() -> None:
    rejects = Rejects()
    rows = list(sequences.read_sequences(FIX / "Tiny.txt", rejects))
    assert [(r.user, r.item) for r in rows[:4]] == [("1", "10"), ("1", "11"), ("1", "12"), ("1", "13")]
    assert [r.order for r in rows] == list(range(len(rows))) and all(r.ts is None for r in rows)
    assert len(rows) == 4 + 3 + 2 + 5 and dict(rejects.by_reason) == {"empty sequence": 1}


def test_attributes_stream_matches_json_load(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = shared_data / "amazon" / "s3rec-beauty" / "Beauty_item2attributes.json"
    expected = [(k, [str(a) for a in v]) for k, v in json.loads(path.read_text()).items()]
    assert list(sequences.read_attributes(path)) == expected
    monkeypatch.setattr(sequences, "_CHUNK", 7)  # tokens split across every chunk boundary
    assert list(sequences.read_attributes(path)) == expected


def test_attributes_rejects_and_errors(tmp_path: Path) -> None:
    rejects = Rejects()
    pairs = dict(sequences.read_attributes(FIX / "Tiny_item2attributes.json", rejects))
    assert pairs == {"10": ["1", "2"], "11": ["2"], "12": ["3", "1"], "13": []}
    assert rejects.by_reason == {"wrong type": 1}
    bad = tmp_path / "bad.json"
    bad.write_text('{"1": [1, 2], "2": [3')
    with pytest.raises(SourceError, match="not a JSON object"):
        list(sequences.read_attributes(bad))
    bad.write_text('[1, 2]')
    with pytest.raises(SourceError, match="not a JSON object"):
        list(sequences.read_attributes(bad))
    empty = tmp_path / "empty.json"
    empty.write_text(" { } ")
    assert list(sequences.read_attributes(empty)) == []


def test_bad_sequence_lines_are_rejected_not_merged(tmp_path: Path) -> None:
    src = tmp_path / "Seq.txt"
    src.write_bytes(b"u1 10 11\n\nU\xff 12 13\nU\xfe 14\nu2 15\n")
    out = tmp_path / "rejects.tsv"
    with Rejects(out) as rejects:
        rows = list(sequences.read_sequences(src, rejects))
    assert [(r.user, r.item) for r in rows] == [("u1", "10"), ("u1", "11"), ("u2", "15")]
    assert [line.split("\t")[1:3] for line in out.read_text().splitlines()] == [
        ["2", "blank line"], ["3", "invalid UTF-8: at byte 1 (0xff)"], ["4", "invalid UTF-8: at byte 1 (0xfe)"]]


def test_attributes_with_deep_or_undecodable_values(tmp_path: Path) -> None:
    src = tmp_path / "attrs.json"
    deep = "[" * 200_000 + "]" * 200_000
    src.write_bytes(b'{"1": ["a"], "2": ' + deep.encode() + b', "3\xff": ["b"], "3\xfe": ["c"], '
                    b'"4": ["d\xff"], "5": ["x\\"]"]}')
    out = tmp_path / "rejects.tsv"
    with Rejects(out) as rejects:
        pairs = list(sequences.read_attributes(src, rejects))
    assert pairs == [("1", ["a"]), ("5", ['x"]'])]
    reasons = [line.split("\t")[2] for line in out.read_text().splitlines()]
    assert reasons == ["too deeply nested", "invalid UTF-8", "invalid UTF-8", "invalid UTF-8"]
