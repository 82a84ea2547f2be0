"""Amazon readers on the shared raw review heads and on fixtures written from the published schemas."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from personarec.loaders import amazon
from personarec.loaders.common import Rejects, SourceError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "amazon"


def test_sniff_roles_and_formats(shared_data: Path) -> None:
    raw = shared_data / "amazon" / "raw-samples"
    assert amazon.sniff(raw / "reviews-2014-movies_and_tv-head.json") == ("reviews", "2014")
    assert amazon.sniff(raw / "reviews-2018-movies_and_tv-head.json") == ("reviews", "2018")
    assert amazon.sniff(FIX / "Movies_and_TV-2023.jsonl") == ("reviews", "2023")
    assert amazon.sniff(FIX / "meta_Movies_and_TV-2014.json") == ("meta", "2014")
    assert amazon.sniff(FIX / "meta_Books-2018.json") == ("meta", "2018")
    assert amazon.sniff(FIX / "meta_Movies_and_TV-2023.jsonl") == ("meta", "2023")


@pytest.mark.parametrize("name, lines, users, items", [
    ("reviews-2014-movies_and_tv-head.json", 999, 934, 11),
    ("reviews-2018-movies_and_tv-head.json", 633, 626, 67),
])
def test_real_review_heads(shared_data: Path, name: str, lines: int, users: int, items: int) -> None:
    rejects = Rejects()
    rows = list(amazon.read_reviews(shared_data / "amazon" / "raw-samples" / name, rejects=rejects))
    assert len(rows) == lines and rejects.total == 0
    assert len({r.user for r in rows}) == users and len({r.item for r in rows}) == items
    assert all(1.0 <= r.rating <= 5.0 and 9e8 < r.ts < 2e9 for r in rows)  # type: ignore[operator]
    assert [r.order for r in rows] == sorted(r.order for r in rows)


def test_gzip_is_read_the_same(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "amazon" / "raw-samples" / "reviews-2014-movies_and_tv-head.json"
    gz = tmp_path / "reviews.json.gz"
    with open(src, "rb") as fi, gzip.open(gz, "wb") as fo:
        shutil.copyfileobj(fi, fo)
    assert list(amazon.read_reviews(gz)) == list(amazon.read_reviews(src))


def test_truncated_gzip_is_one_clear_error(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "amazon" / "raw-samples" / "reviews-2014-movies_and_tv-head.json"
    data = gzip.compress(src.read_bytes())
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(data[: len(data) // 2])
    seen = []
    with pytest.raises(SourceError, match="truncated or corrupt after line"):
        for row in amazon.read_reviews(cut, "2014"):
            seen.append(row)
    assert 0 < len(seen) < 999  # the complete lines before the cut were delivered


def test_2023_reviews_use_parent_asin_and_milliseconds() -> None:
    rejects = Rejects()
    rows = list(amazon.read_reviews(FIX / "Movies_and_TV-2023.jsonl", rejects=rejects))
    assert {r.item for r in rows} == {"B08PARENT1", "B08PARENT2", "B08PARENT3"}
    first = rows[0]
    assert (first.user, first.item, first.rating, first.ts) == ("AGUSER23A", "B08PARENT1", 4.0, 1_600_000_000)
    assert dict(rejects.by_reason) == {"missing id": 1, "absurd timestamp": 1}


def test_bad_lines_are_rejected_with_line_numbers(tmp_path: Path) -> None:
    out = tmp_path / "rejects.tsv"
    with Rejects(out) as rejects:
        rows = list(amazon.read_reviews(FIX / "reviews_bad_Movies_and_TV-2018.json", rejects=rejects))
    assert [r.item for r in rows] == ["B0BAD00001", "B0BAD00002", "B0BAD00003"]
    assert [r.order for r in rows] == [1, 11, 12]
    lines = [line.split("\t") for line in out.read_text().splitlines()]
    assert [int(f[1]) for f in lines] == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    reasons = [f[2].split(":")[0] for f in lines]
    assert reasons == ["bad JSON", "missing id", "missing id", "wrong type", "wrong type", "absurd timestamp",
                       "absurd timestamp", "bad rating", "not a JSON object"]
    assert lines[0][3].startswith('{"overall": 5.0') and lines[0][0] == "reviews_bad_Movies_and_TV-2018.json"
    assert rejects.by_kind == {"interaction": 9}


def test_2014_meta_python_literals() -> None:
    rejects = Rejects()
    items = {r.raw_id: r for r in amazon.read_meta(FIX / "meta_Movies_and_TV-2014.json", rejects=rejects)}
    assert set(items) == {"0005019281", "0005119367", "0310263662", "0307514161"}
    carol = items["0005019281"]
    assert carol.kind == "film"  # from the file name
    assert carol.categories == ["Movies & TV", "Movies", "TV", "Holiday"]
    assert carol.also_bought == ["0005119367", "B000EXAMPL"] and carol.also_viewed == ["0310263662"]
    assert carol.bought_together == ["0005119367"] and carol.brands == ["Studio A"]
    assert carol.description == "Henry Winkler's Scrooge, with \"quotes\" and a backslash \\ in text."
    assert items["0005119367"].title.startswith("Robert'); MATCH (n) DETACH DELETE n;")  # type: ignore[union-attr]
    assert dict(rejects.by_reason) == {"bad record": 1, "missing id": 1, "wrong type": 1}


def test_literal_eval_never_evaluates_code(tmp_path: Path) -> None:
    evil = tmp_path / "meta_evil.json"
    marker = tmp_path / "pwned"
    evil.write_text("{'asin': 'A1', 'title': 'ok'}\n"
                    f"{{'asin': __import__('pathlib').Path('{marker}').touch()}}\n")
    rejects = Rejects()
    assert [r.raw_id for r in amazon.read_meta(evil, "2014", rejects=rejects)] == ["A1"]
    assert not marker.exists() and rejects.total == 1


def test_2018_meta_html_duplicates_and_books() -> None:
    rejects = Rejects()
    items = {r.raw_id: r for r in amazon.read_meta(FIX / "meta_Books-2018.json", rejects=rejects)}
    first = items["B0000BK001"]
    assert first.kind == "book" and first.title == "The Long & Winding Road"
    assert first.description == "A gripping tale.\nSecond paragraph."
    assert first.categories == ["Books", "Literature & Fiction", "Mystery"]
    assert first.authors == ["Jane Doe"] and first.brands == []  # a book's "brand" is its author
    assert first.also_bought == ["B0000BK002", "B0000BK003", "B0000XXXXX"] and first.also_viewed == ["B0000BK004"]
    assert first.year == 2009
    assert items["B0000BK002"].title == "Second Book"  # the duplicate record is dropped
    assert items["B0000BK003"].title is None and items["B0000BK003"].authors == []  # script junk, "Unknown"
    assert items["B0000BK004"].authors == ["Jane Doe"] and items["B0000BK004"].year is None
    assert dict(rejects.by_reason) == {"duplicate item": 1, "wrong type": 1}


def test_2023_meta() -> None:
    items = {r.raw_id: r for r in amazon.read_meta(FIX / "meta_Movies_and_TV-2023.jsonl")}
    one = items["B08PARENT1"]
    assert one.kind == "film" and one.brands == ["Studio Z"] and one.bought_together == ["B08PARENT2"]
    assert one.description == "A film about parents." and one.year == 2011
    assert one.categories == ["Movies & TV", "Genre for Featured Categories", "Drama"]
    assert items["B08PARENT2"].description == "Region 1\nColor"  # features stand in for a missing description
    book = next(amazon.read_meta(FIX / "meta_Books-2023.jsonl"))
    assert book.kind == "book" and book.authors == ["Ann Author"] and book.year == 2005


def test_kind_rules(tmp_path: Path) -> None:
    assert amazon.kind_from_name("reviews_Movies_and_TV_5.json.gz") == "film"
    assert amazon.kind_from_name("meta_Books.json.gz") == "book"
    assert amazon.kind_from_name("Beauty_5.json") is None
    neutral = tmp_path / "meta_stuff.jsonl"
    neutral.write_text((FIX / "meta_Movies_and_TV-2023.jsonl").read_text())
    assert {r.kind for r in amazon.read_meta(neutral)} == {"film"}  # main_category decides
    assert {r.kind for r in amazon.read_meta(neutral, kind="product")} == {"product"}  # --kind wins
    with pytest.raises(SourceError, match="unknown item kind"):
        next(amazon.read_meta(neutral, kind="toaster"))


def test_dataset_name() -> None:
    assert amazon.dataset_name("reviews_Movies_and_TV_5.json.gz") == "amazon-movies-and-tv"
    assert amazon.dataset_name("Books.jsonl") == "amazon-books"


def _write_lines(path: Path, lines: list[bytes | str]) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))
    return path


def _reject_rows(path: Path) -> list[tuple[int, str]]:
    return [(int(f[1]), f[2].split(":")[0]) for f in (ln.split("\t") for ln in path.read_text().splitlines())]


_REVIEW = {  # one review line per format, with the user id to fill in
    "2014": '{{"reviewerID": "{u}", "asin": "A1", "overall": 4.0, "unixReviewTime": 1400000000, "helpful": [0, 0]}}',
    "2018": '{{"reviewerID": "{u}", "asin": "A1", "overall": 4.0, "unixReviewTime": 1400000000}}',
    "2023": '{{"user_id": "{u}", "parent_asin": "A1", "rating": 4.0, "timestamp": 1600000000000}}',
}


def fuzzed_review_lines(fmt: str) -> list[bytes | str]:
    """Hostile review lines of ``fmt`` around two good ones (users G1 at line 2, G2 at line 9); also the
    fuzzed sample of tests/spark/test_load.py."""
    review = _REVIEW[fmt]
    return [
        "[" * 200_000,                                   # 1: RecursionError in the JSON parser (also while sniffing)
        review.format(u="G1"),                           # 2
        "",                                              # 3: blank
        review.format(u="U\xff").encode("latin-1"),      # 4: invalid UTF-8 ...
        review.format(u="U\xfe").encode("latin-1"),      # 5: ... that "replace" decoding merged with line 4
        "[1, 2]",                                        # 6
        '{"reviewerID": ' + "[" * 200_000,               # 7
        '"a string"',                                    # 8
        review.format(u="G2"),                           # 9
    ]


@pytest.mark.parametrize("fmt", ["2014", "2018", "2023"])
def test_fuzzed_review_lines_are_rejected_and_the_load_goes_on(tmp_path: Path, fmt: str) -> None:
    src = _write_lines(tmp_path / "reviews.json", fuzzed_review_lines(fmt))
    out = tmp_path / "rejects.tsv"
    with Rejects(out) as rejects:
        rows = list(amazon.read_reviews(src, rejects=rejects))  # format sniffed past the bad first line
    assert [(r.user, r.order) for r in rows] == [("G1", 2), ("G2", 9)]
    assert _reject_rows(out) == [(1, "too deeply nested"), (3, "blank line"), (4, "invalid UTF-8"),
                                 (5, "invalid UTF-8"), (6, "not a JSON object"), (7, "too deeply nested"),
                                 (8, "not a JSON object")]
    assert rejects.by_kind == {"interaction": 7}


def test_fuzzed_2014_meta_lines(tmp_path: Path) -> None:
    src = _write_lines(tmp_path / "meta_things.json", [
        "[" * 200_000,                                            # 1: SyntaxError (literal) + RecursionError (JSON)
        "{'asin': 'M1', 'title': 'One'}",                         # 2
        "{'asin': " + "-" * 200_000 + "1}",                       # 3: MemoryError in the Python parser
        "",                                                       # 4
        "{'asin': 'M\xff'}".encode("latin-1"),                    # 5
        "{'asin': 'M\xfe'}".encode("latin-1"),                    # 6
        "[1, 2]",                                                 # 7
        '{"asin": "M9", "description": ' + "[" * 990 + "]" * 990 + "}",  # 8: deep enough to break a reader
        "{'asin': 'M2', 'description': " + "[" * 150 + "'deep'" + "]" * 150 + "}",  # 9: deep but fine
        "{'asin': 'M3',,}",                                       # 10: SyntaxError
    ])
    out = tmp_path / "rejects.tsv"
    with Rejects(out) as rejects:
        items = list(amazon.read_meta(src, rejects=rejects))
    assert [(i.raw_id, i.description) for i in items] == [("M1", None), ("M2", "deep")]
    assert _reject_rows(out) == [(1, "too deeply nested"), (3, "too deeply nested"), (4, "blank line"),
                                 (5, "invalid UTF-8"), (6, "invalid UTF-8"), (7, "not a dict record"),
                                 (8, "too deeply nested"), (10, "bad record")]


_GOOD_META = {  # one good metadata line per JSON format, with the item id to fill in
    "2018": '{{"asin": "{i}", "title": "T", "also_buy": []}}',
    "2023": '{{"parent_asin": "{i}", "title": "T", "main_category": "Movies & TV"}}',
}


def fuzzed_json_meta_lines(fmt: str) -> list[bytes | str]:
    """Hostile metadata lines of a JSON format (2018, 2023) around two good records (M1 at line 2, M2 at
    line 8); also the fuzzed sample of tests/spark/test_load.py."""
    good = _GOOD_META[fmt]
    key = "asin" if fmt == "2018" else "parent_asin"
    return [
        '{"a": ' * 100_000,                   # 1: RecursionError in the JSON parser
        good.format(i="M1"),
        "",
        good.format(i="M\xff").encode("latin-1"),
        good.format(i="M\xfe").encode("latin-1"),
        "null",
        f'{{"{key}": "M9", "description": ' + "[" * 990 + "]" * 990 + "}",
        good.format(i="M2"),
    ]


@pytest.mark.parametrize("fmt", ["2018", "2023"])
def test_fuzzed_json_meta_lines(tmp_path: Path, fmt: str) -> None:
    src = _write_lines(tmp_path / "meta_things.jsonl", fuzzed_json_meta_lines(fmt))
    out = tmp_path / "rejects.tsv"
    with Rejects(out) as rejects:
        items = list(amazon.read_meta(src, rejects=rejects))
    assert [i.raw_id for i in items] == ["M1", "M2"]
    assert _reject_rows(out) == [(1, "too deeply nested"), (3, "blank line"), (4, "invalid UTF-8"),
                                 (5, "invalid UTF-8"), (6, "not a JSON object"), (7, "too deeply nested")]
