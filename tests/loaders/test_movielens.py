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
