"""Synthetic Amazon-2018-format reviews for the load benchmark (issue 3 item 7).

Writes JSON lines with the fields of the real ``Movies_and_TV_5.json`` (``overall``, ``vote``,
``verified``, ``reviewTime``, ``reviewerID``, ``asin``, ``style``, ``reviewerName``, ``reviewText``,
``summary``, ``unixReviewTime``), with the skew of the real data:

- item popularity follows a Zipf-Mandelbrot law ``1 / (rank + q)^alpha`` (alpha 1, q 20: the top
  item gets ~0.5% of all reviews, the median item a handful, as in the Amazon 5-core files);
- user activity is heavy-tailed (lognormal, at least ``min_user`` reviews: the 5-core files);
- timestamps grow exponentially in volume from 2000 to 2018 (Amazon's review growth), at day
  granularity like the real ``unixReviewTime`` (so ties in time happen, as in the real files);
- ratings skew positive (Amazon's J-shaped distribution: ~55% five stars);
- no (user, item) pair repeats; lines are grouped by item, like the real 5-core files.

Usage: ``python -m bench.synth_amazon --reviews 5000000 --out /tmp/synth.json [--seed 2026]``
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

_WORDS = ("great film loved it the acting was superb story slow boring classic must watch family kids "
          "quality price disappointed excellent picture sound season episode fun gift recommend").split()
_SUMMARIES = ("Five Stars", "Four Stars", "Great movie", "Not bad", "Loved it", "Disappointing", "Classic",
              "Worth watching", "Three Stars", "Fun for the whole family")
_FORMATS = (" DVD", " Blu-ray", " Amazon Video", " VHS Tape", " Prime Video")
T0 = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
T1 = int(datetime(2018, 10, 1, tzinfo=UTC).timestamp())
DAY = 86_400


def sample_interactions(n_reviews: int, seed: int = 2026, users_per_review: float = 1 / 10,
                        items_per_review: float = 1 / 50, alpha: float = 1.0, q: float = 20.0,
                        min_user: int = 5) -> dict[str, np.ndarray]:
    """Arrays ``user``, ``item``, ``rating``, ``ts`` of ``~n_reviews`` distinct (user, item) events.

    Deterministic for a given seed. A few percent fewer than ``n_reviews`` can come out when the
    duplicate pairs drawn for the heaviest users are dropped.
    """
    rng = np.random.default_rng(seed)
    n_users = max(2, int(n_reviews * users_per_review))
    n_items = max(2, int(n_reviews * items_per_review))
    # User activity: lognormal, shifted to at least min_user, rescaled to sum to n_reviews.
    activity = rng.lognormal(mean=0.0, sigma=1.0, size=n_users)
    counts = np.maximum(min_user, np.round(activity / activity.sum() * n_reviews)).astype(np.int64)
    users = np.repeat(np.arange(n_users, dtype=np.int64), counts)
    # Ratios as in Movies_and_TV_5 (3.4M reviews, 297k users, 60k items).
    # Item popularity: Zipf-Mandelbrot over ranks, items shuffled so the id says nothing about popularity.
    weights = 1.0 / (np.arange(1, n_items + 1, dtype=np.float64) + q) ** alpha
    item_of_rank = rng.permutation(n_items)
    items = item_of_rank[rng.choice(n_items, size=users.size, p=weights / weights.sum())]
    # Distinct pairs only: an Amazon user reviews an item once.
    key = users * n_items + items
    _, first = np.unique(key, return_index=True)
    first.sort()
    users, items = users[first], items[first]
    # Review time: exponential growth over 2000-2018 (inverse CDF of e^(g t)), day granularity.
    growth = 4.0
    u = rng.random(users.size)
    frac = np.log1p(u * np.expm1(growth)) / growth
    ts = (T0 + frac * (T1 - T0)).astype(np.int64) // DAY * DAY
    rating = rng.choice(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), size=users.size,
                        p=[0.07, 0.05, 0.10, 0.23, 0.55])
    order = np.argsort(items, kind="stable")  # grouped by item, like the real files
    return {"user": users[order], "item": items[order], "rating": rating[order], "ts": ts[order],
            "n_users": np.int64(n_users), "n_items": np.int64(n_items)}


def user_key(u: int) -> str:
    """A reviewerID-looking key (A + 13 upper-case base-36 characters)."""
    return "A" + np.base_repr(u * 2_654_435_761 % 36**12 + 36**12, 36)[-13:]


def item_key(i: int) -> str:
    """An ASIN-looking key (B + 9 base-36 characters)."""
    return "B" + np.base_repr(i + 36**8, 36).rjust(9, "0")


def write_reviews(path: Path, data: dict[str, np.ndarray], seed: int = 2026) -> int:
    """Write the events as Amazon 2018 JSON lines; returns the number of lines."""
    rng = np.random.default_rng(seed + 1)
    n = data["user"].size
    text_words = rng.integers(0, len(_WORDS), size=(n, 12))
    text_len = rng.integers(3, 13, size=n)
    summary = rng.integers(0, len(_SUMMARIES), size=n)
    fmt = rng.integers(0, len(_FORMATS), size=n)
    votes = rng.geometric(0.3, size=n)
    has_vote = rng.random(n) < 0.2
    verified = rng.random(n) < 0.8
    user_keys: dict[int, str] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    dumps = json.dumps
    with path.open("w", encoding="utf-8") as out:
        for k in tqdm(range(n), desc="write reviews", unit="line", mininterval=2.0):
            u = int(data["user"][k])
            uid = user_keys.get(u)
            if uid is None:
                uid = user_keys[u] = user_key(u)
            ts = int(data["ts"][k])
            day = datetime.fromtimestamp(ts, UTC)
            rec = {"overall": float(data["rating"][k])}
            if has_vote[k]:
                rec["vote"] = str(int(votes[k]))
            rec.update({
                "verified": bool(verified[k]), "reviewTime": f"{day.month:02d} {day.day}, {day.year}",
                "reviewerID": uid, "asin": item_key(int(data["item"][k])),
                "style": {"Format:": _FORMATS[fmt[k]]}, "reviewerName": f"Reviewer {u}",
                "reviewText": " ".join(_WORDS[w] for w in text_words[k, : text_len[k]]),
                "summary": _SUMMARIES[summary[k]], "unixReviewTime": ts,
            })
            out.write(dumps(rec))
            out.write("\n")
    return n


def generate(path: str | Path, n_reviews: int, seed: int = 2026) -> dict[str, int]:
    """Sample and write a synthetic reviews file; returns its counts (lines, users, items)."""
    start = time.perf_counter()
    data = sample_interactions(n_reviews, seed)
    lines = write_reviews(Path(path), data, seed)
    stats = {"lines": lines, "users": int(np.unique(data["user"]).size),
             "items": int(np.unique(data["item"]).size), "seconds": round(time.perf_counter() - start, 1)}
    log.info("wrote %s: %s", path, stats)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=5_000_000, help="about how many reviews (default 5M)")
    parser.add_argument("--out", type=Path, required=True, help="output .json file (JSON lines)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(json.dumps(generate(args.out, args.reviews, args.seed)))


if __name__ == "__main__":
    main()
