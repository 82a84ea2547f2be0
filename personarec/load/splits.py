"""Leakage-free train/validation/test splits of interaction histories, and the split fingerprint.

The protocol is defined in ``docs/protocol.md``: each user's history is ordered by time, ties in time
keep the order of the rows in the source (a stable sort); ``seq`` is the 0-based position in that
order. Leave-one-out: the last interaction is the test target, the second-last the validation target,
the rest train; users with fewer than 3 interactions keep everything in train (and are reported).
The fingerprint is the md5 of the lines
``user\\tvalidation_item\\ttest_item\\n`` with the source's ids, sorted by user id as a number
(:func:`personarec.protocol.split_fingerprint`).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from personarec.errors import PersonarecError
from personarec.loaders.common import Interaction
from personarec.protocol import raw_sort_key, split_fingerprint

log = logging.getLogger(__name__)

Strategy = Literal["loo", "temporal"]
STRATEGIES: tuple[str, ...] = ("loo", "temporal")
TRAIN, VALID, TEST = "train", "valid", "test"


class SplitError(PersonarecError):
    """The interactions cannot be split as asked (e.g. a temporal split without timestamps)."""


@dataclass(slots=True)
class SplitRow:
    """One interaction with its position in the user's history and its split."""

    user: str
    item: str
    rating: float | None
    ts: int | None
    seq: int
    split: str


@dataclass
class Split:
    """Histories (user -> rows in ``seq`` order) with their strategy, fingerprint and counts."""

    strategy: str
    histories: dict[str, list[SplitRow]]
    fingerprint: str
    short_users: list[str] = field(default_factory=list)
    cutoffs: tuple[int, int] | None = None

    def rows(self) -> Iterator[SplitRow]:
        for rows in self.histories.values():
            yield from rows

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(r.split for r in self.rows())
        return {s: c.get(s, 0) for s in (TRAIN, VALID, TEST)}

    def __len__(self) -> int:
        return sum(len(v) for v in self.histories.values())


def order_histories(interactions: Iterable[Interaction]) -> dict[str, list[Interaction]]:
    """Group by user and order each history by time; Python's sort is stable, so equal times keep the
    order in which the source gave them (interactions without a time keep source order)."""
    by_user: dict[str, list[Interaction]] = {}
    for x in interactions:
        by_user.setdefault(x.user, []).append(x)
    for hist in by_user.values():
        if any(x.ts is not None for x in hist):
            hist.sort(key=lambda x: x.ts if x.ts is not None else -1)
    return by_user


def fingerprint(histories: dict[str, list[SplitRow]]) -> str:
    """The split fingerprint of ``histories`` (docs/protocol.md; :func:`personarec.protocol.split_fingerprint`).

    Users without a held-out interaction are left out; when a temporal split holds out several items
    of a user, they are joined by commas in ``seq`` order.
    """
    return split_fingerprint({user: ([r.item for r in rows if r.split == VALID],
                                     [r.item for r in rows if r.split == TEST])
                              for user, rows in histories.items()})


def leave_one_out(interactions: Iterable[Interaction]) -> Split:
    """Per-user leave-one-out split: last = test, second-last = valid, the rest train."""
    histories: dict[str, list[SplitRow]] = {}
    short: list[str] = []
    for user, hist in order_histories(interactions).items():
        n = len(hist)
        if n < 3:
            short.append(user)
        rows = []
        for seq, x in enumerate(hist):
            split = TRAIN if n < 3 or seq < n - 2 else (VALID if seq == n - 2 else TEST)
            rows.append(SplitRow(user, x.item, x.rating, x.ts, seq, split))
        histories[user] = rows
    if short:
        log.info("%d users have fewer than 3 interactions: all of theirs are train", len(short))
    return Split("loo", histories, fingerprint(histories), sorted(short, key=raw_sort_key))


#: Why a temporal split refused its input.
NEEDS_TIMESTAMPS = "a temporal split needs a timestamp on every interaction; use --split loo for sequence files."


def temporal_cutoff_ranks(total: int, valid_frac: float = 0.1, test_frac: float = 0.1) -> tuple[int, int]:
    """0-based positions, among all ``total`` interaction times sorted, of the two cutoffs of
    :func:`temporal` (also used by the Spark loader, which sorts the times itself)."""
    if not (0 <= valid_frac < 1 and 0 <= test_frac < 1 and valid_frac + test_frac < 1):
        raise SplitError("temporal split fractions must be in [0, 1) and sum to less than 1.")
    return (max(math.ceil(total * (1 - valid_frac - test_frac)) - 1, 0),
            max(math.ceil(total * (1 - test_frac)) - 1, 0))


def temporal(interactions: Iterable[Interaction], valid_frac: float = 0.1, test_frac: float = 0.1) -> Split:
    """Global temporal split: two time cutoffs at the (1 - valid - test) and (1 - test) quantiles of
    all interaction times; train is at or before the first, test after the second. Equal times fall on
    the same side, so nothing from the future of a cutoff reaches train."""
    ordered = order_histories(interactions)
    times = sorted(x.ts for hist in ordered.values() for x in hist if x.ts is not None)
    total = sum(len(h) for h in ordered.values())
    ranks = temporal_cutoff_ranks(total, valid_frac, test_frac)
    if total == 0:
        return Split("temporal", {}, fingerprint({}), [], None)
    if len(times) != total:
        raise SplitError(NEEDS_TIMESTAMPS)
    first, second = times[ranks[0]], times[ranks[1]]
    histories: dict[str, list[SplitRow]] = {}
    for user, hist in ordered.items():
        histories[user] = [
            SplitRow(user, x.item, x.rating, x.ts, seq,
                     TRAIN if x.ts <= first else (VALID if x.ts <= second else TEST))  # type: ignore[operator]
            for seq, x in enumerate(hist)
        ]
    return Split("temporal", histories, fingerprint(histories), [], (first, second))


def make_split(interactions: Iterable[Interaction], strategy: str = "loo") -> Split:
    """Split by strategy name (``loo`` or ``temporal``)."""
    if strategy == "loo":
        return leave_one_out(interactions)
    if strategy == "temporal":
        return temporal(interactions)
    raise SplitError(f"unknown split strategy {strategy!r}; use one of {', '.join(STRATEGIES)}.")


def co_interactions(split: Split) -> Counter[tuple[str, str]]:
    """Weights of ``CO_INTERACTED``: how often item b directly follows item a among one user's
    consecutive *train* interactions (held-out rows never contribute; self-pairs are skipped)."""
    pairs: Counter[tuple[str, str]] = Counter()
    for rows in split.histories.values():
        train = [r.item for r in rows if r.split == TRAIN]
        for a, b in zip(train, train[1:]):
            if a != b:
                pairs[(a, b)] += 1
    return pairs


def kcore(interactions: list[Interaction], k: int) -> list[Interaction]:
    """Keep interactions whose user and item both have at least ``k`` interactions, iterated until
    stable (the usual k-core of the user–item graph, e.g. the Amazon 5-core)."""
    if k <= 1:
        return interactions
    current = interactions
    while True:
        users = Counter(x.user for x in current)
        items = Counter(x.item for x in current)
        kept = [x for x in current if users[x.user] >= k and items[x.item] >= k]
        if len(kept) == len(current):
            return kept
        current = kept
