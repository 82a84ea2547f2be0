"""MovieLens 100K (shared data) and 1M (fixture) readers."""

from __future__ import annotations

from pathlib import Path

from personarec.loaders import movielens
from personarec.loaders.common import Rejects

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ml-1m"


def test_split_title() -> None:
    assert movielens.split_title("Toy Story (1995)") == ("Toy Story", 1995)
    assert movielens.split_title("Shawshank Redemption, The (1994)") == ("Shawshank Redemption, The", 1994)
    assert movielens.split_title("Land Before Time III (1995) (V)") == ("Land Before Time III", 1995)
    assert movielens.split_title("No Year") == ("No Year", None)
    assert movielens.split_title("  ") == (None, None)


def test_100k(shared_data: Path) -> None:
    folder = shared_data / "movielens-100k"
    rejects = Rejects()
    ratings = list(movielens.read_ratings(folder, rejects))
    assert len(ratings) == 100_000 and rejects.total == 0
    assert (ratings[0].user, ratings[0].item, ratings[0].rating, ratings[0].ts) == ("196", "242", 3.0, 881250949)
    items = list(movielens.read_items(folder / "u.item"))
    assert len(items) == 1682
    toy = items[0]
    assert (toy.raw_id, toy.title, toy.year, toy.kind) == ("1", "Toy Story", 1995, "film")
    assert toy.genres == ["Animation", "Children's", "Comedy"]
    assert items[266].title is None and items[266].genres == []  # "unknown" title and the unknown flag
    # latin-1 titles decode
    assert any("é" in (i.title or "") for i in items)


def test_1m_layout() -> None:
    rejects = Rejects()
    ratings = list(movielens.read_ratings(FIX, rejects))
    assert len(ratings) == 9 and dict(rejects.by_reason) == {"bad rating": 1, "bad id": 1}
    items = {i.raw_id: i for i in movielens.read_items(FIX, rejects)}
    assert set(items) == {"1", "2", "3"}
    assert items["2"].title == "Café au lait" and items["2"].genres == ["Comedy"]
    assert items["3"].genres == ["Adventure", "Sci-Fi"] and items["3"].year == 1995
    assert rejects.by_reason["wrong field count"] == 1


def test_blank_lines_in_ratings_and_movies_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "ratings.dat").write_bytes(b"1::1::5::978300760\n\n1::2::3::978302109\n  \n2::1::4::978301968\n")
    (tmp_path / "movies.dat").write_bytes(b"1::Toy Story (1995)::Animation\n\n2::Caf\xe9 (1995)::Comedy\n")
    out = tmp_path / "rejects.tsv"
    with Rejects(out) as rejects:
        ratings = list(movielens.read_ratings(tmp_path, rejects))
        items = list(movielens.read_items(tmp_path, rejects))
    assert [(r.user, r.item, r.order) for r in ratings] == [("1", "1", 1), ("1", "2", 3), ("2", "1", 5)]
    assert [(i.raw_id, i.title) for i in items] == [("1", "Toy Story"), ("2", "Café")]  # latin-1 never fails
    rows = [line.split("\t")[:3] for line in out.read_text().splitlines()]
    assert rows == [["ratings.dat", "2", "blank line"], ["ratings.dat", "4", "blank line"],
                    ["movies.dat", "2", "blank line"]]
    assert rejects.by_kind == {"interaction": 2, "item": 1}
