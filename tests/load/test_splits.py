"""Splits and fingerprints, checked against the reference values of docs/protocol.md (no database needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from personarec.load.splits import SplitError, co_interactions, fingerprint, kcore, leave_one_out, make_split, temporal
from personarec.loaders import movielens, sequences
from personarec.loaders.common import Interaction

ML100K_FINGERPRINT = "8db20a8f58eff3f53c69381d62b3114c"
BEAUTY_FINGERPRINT = "28750bda8b349621d54e9f5865ebd135"


def _x(user: str, item: str, ts: int | None, order: int) -> Interaction:
    return Interaction(user, item, 1.0, ts, order)


def test_ml100k_fingerprint(shared_data: Path) -> None:
    split = leave_one_out(movielens.read_ratings(shared_data / "movielens-100k"))
    assert split.fingerprint == ML100K_FINGERPRINT
    assert split.counts == {"train": 100_000 - 2 * 943, "valid": 943, "test": 943}
    assert not split.short_users


def test_beauty_fingerprint(shared_data: Path) -> None:
    split = leave_one_out(sequences.read_sequences(shared_data / "amazon" / "s3rec-beauty" / "Beauty.txt"))
    assert split.fingerprint == BEAUTY_FINGERPRINT
    assert len(split) == 198_502 and len(split.histories) == 22_363


def test_ties_keep_source_order() -> None:
    # u1: the last two share a time: the one given later in the source is the test item
    rows = [_x("1", "a", 10, 0), _x("1", "c", 30, 1), _x("1", "b", 20, 2), _x("1", "d", 30, 3)]
    split = leave_one_out(rows)
    hist = split.histories["1"]
    assert [(r.item, r.seq, r.split) for r in hist] == [("a", 0, "train"), ("b", 1, "train"),
                                                        ("c", 2, "valid"), ("d", 3, "test")]
    assert split.fingerprint == fingerprint({"1": hist})


def test_short_users_are_all_train_and_reported() -> None:
    split = leave_one_out([_x("7", "a", 1, 0), _x("7", "b", 2, 1), _x("8", "a", 1, 2), _x("8", "b", 2, 3),
                           _x("8", "c", 3, 4)])
    assert split.short_users == ["7"]
    assert [r.split for r in split.histories["7"]] == ["train", "train"]
    assert split.counts == {"train": 3, "valid": 1, "test": 1}


def test_fingerprint_sorts_users_as_numbers() -> None:
    import hashlib

    rows = [_x(u, f"{u}{k}", k, k) for u in ("10", "9", "100") for k in range(3)]
    split = leave_one_out(rows)
    text = "9\t91\t92\n10\t101\t102\n100\t1001\t1002\n"
    assert split.fingerprint == hashlib.md5(text.encode()).hexdigest()


def test_temporal_split_has_no_future_in_train() -> None:
    rows = [_x(str(u), f"i{k}", 100 * k + u, len(range(u * 10 + k))) for u in range(5) for k in range(10)]
    split = temporal(rows, 0.1, 0.1)
    first, second = split.cutoffs  # type: ignore[misc]
    train_max = max(r.ts for r in split.rows() if r.split == "train")  # type: ignore[type-var]
    held_min = min(r.ts for r in split.rows() if r.split != "train")  # type: ignore[type-var]
    assert train_max <= first < held_min
    assert split.counts == {"train": 40, "valid": 5, "test": 5}
    with pytest.raises(SplitError, match="timestamp"):
        temporal([_x("1", "a", None, 0), _x("1", "b", 5, 1)])
    with pytest.raises(SplitError, match="unknown split"):
        make_split(rows, "random")


def test_co_interactions_use_train_only() -> None:
    rows = [_x("1", i, t, t) for t, i in enumerate(["a", "b", "b", "c", "d", "e"])]
    rows += [_x("2", i, t, 10 + t) for t, i in enumerate(["a", "b", "x", "y"])]
    pairs = co_interactions(leave_one_out(rows))
    # user 1 train: a b b c -> (a,b), (b,c) [self-pair skipped]; user 2 train: a b -> (a,b)
    assert pairs == {("a", "b"): 2, ("b", "c"): 1}


def test_kcore_iterates() -> None:
    rows = [_x("1", "a", 1, 0), _x("1", "b", 2, 1), _x("2", "a", 1, 2), _x("2", "b", 2, 3), _x("3", "a", 1, 4)]
    # k=2: user 3 has one interaction -> dropped; then item a has 2, b has 2 -> stable
    assert [(r.user, r.item) for r in kcore(rows, 2)] == [("1", "a"), ("1", "b"), ("2", "a"), ("2", "b")]
    assert kcore(rows, 3) == [] and kcore(rows, 1) == rows
