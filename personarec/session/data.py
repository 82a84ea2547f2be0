"""User sequences for the session models, read from Neo4j (or built in memory).

Implements the leave-one-out protocol of ``docs/protocol.md``: each user's interactions
ordered by ``INTERACTED.seq`` (time, ties in source order), split stored on the relationship
(``train``/``valid``/``test``). The validation input is the train history; the test input is
train + validation. A *session* is the most recent ``max_len`` interactions of that input,
optionally cut at the last inactivity gap longer than ``gap_s`` (arXiv 2604.06928, §3: the session
encoder sees the user's recent behaviour, the persona carries the long-term profile).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from personarec.errors import PersonarecError
from personarec.protocol import (
    Stage,
    history_mask,
    mean_item_vectors,
    node_sort_key,
    raw_id,
    split_fingerprint,
    stage_code,
)

if TYPE_CHECKING:  # imported for annotations only: keeps this module free of the driver
    from personarec.graph import Graph
    from personarec.load.splits import Split

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


class DataError(PersonarecError):
    """The interactions in the graph do not fit the evaluation protocol."""


@dataclass
class SequenceData:
    """Per-user time-ordered item sequences with the stored split and dense index maps.

    Item index 0 is padding; real items are ``1..n_items``. User index ``u`` is the position in
    :attr:`user_ids`.

    Attributes:
        dataset: dataset name (the ``dataset`` property of the nodes).
        user_ids: node ids of the users, in index order.
        item_ids: node ids of the items; ``item_ids[k - 1]`` is item index ``k``.
        items: per user, the item indices of all interactions in ``seq`` order.
        splits: per user, the split code of each interaction (0 train, 1 valid, 2 test).
        ts: per user, the timestamps (seconds) of each interaction, or ``None`` when unknown.
    """

    dataset: str
    user_ids: list[str]
    item_ids: list[str]
    items: list[np.ndarray]
    splits: list[np.ndarray]
    ts: list[np.ndarray | None]
    _item_index: dict[str, int] = field(default_factory=dict, repr=False)
    _user_index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._item_index = {iid: k + 1 for k, iid in enumerate(self.item_ids)}
        self._user_index = {uid: u for u, uid in enumerate(self.user_ids)}

    # ------------------------------------------------------------------ sizes and maps
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of real items (the score vectors have ``n_items + 1`` columns, column 0 = padding)."""
        return len(self.item_ids)

    def item_index(self, item_id: str) -> int:
        """Dense index (1-based) of an item node id; 0 when unknown."""
        return self._item_index.get(item_id, 0)

    def user_index(self, user_id: str) -> int:
        """Dense index of a user node id; -1 when unknown."""
        return self._user_index.get(user_id, -1)

    # ------------------------------------------------------------------ protocol views
    def train_sequence(self, u: int) -> np.ndarray:
        """The train items of user ``u`` in time order (what the models learn from)."""
        return self.items[u][self.splits[u] == 0]

    def target(self, u: int, stage: Stage) -> int:
        """The held-out item of user ``u`` for ``stage`` (0 when the user has none)."""
        hit = np.flatnonzero(self.splits[u] == stage_code(stage))
        return int(self.items[u][hit[0]]) if hit.size else 0

    def history(self, u: int, stage: Stage) -> np.ndarray:
        """Everything the user did before the ``stage`` target: train (valid) or train + valid (test)."""
        return self.items[u][history_mask(self.splits[u], stage)]

    def session(self, u: int, stage: Stage, max_len: int, gap_s: float | None = None) -> np.ndarray:
        """The model input for ``stage``: the last ``max_len`` history items, cut at an inactivity gap.

        With ``gap_s``, only the interactions after the last pause longer than ``gap_s`` seconds are
        kept (the current session); without timestamps the option is ignored.
        """
        allowed = history_mask(self.splits[u], stage)
        items = self.items[u][allowed]
        ts = self.ts[u]
        if gap_s is not None and ts is not None and items.size > 1:
            t = ts[allowed]
            breaks = np.flatnonzero(np.diff(t) > gap_s)
            if breaks.size:
                items = items[breaks[-1] + 1:]
        return items[-max_len:]

    def eval_users(self, stage: Stage) -> np.ndarray:
        """Users that have a ``stage`` target and at least one history item."""
        code = stage_code(stage)
        return np.array([u for u in range(self.n_users)
                         if (self.splits[u] == code).any() and (self.splits[u] < code).any()], dtype=np.int64)

    def train_counts(self) -> np.ndarray:
        """True train interaction counts per item index (length ``n_items + 1``; index 0 is 0)."""
        counts = np.zeros(self.n_items + 1, dtype=np.int64)
        for u in range(self.n_users):
            np.add.at(counts, self.train_sequence(u), 1)
        counts[0] = 0
        return counts

    def validate(self) -> None:
        """Check the stored split against the protocol: per user train < valid < test in time, one each."""
        for u in range(self.n_users):
            s = self.splits[u]
            if s.size and np.any(np.diff(s) < 0):
                raise DataError(f"user {self.user_ids[u]} has a train interaction after a held-out one; "
                                "the split does not follow time order.")
            if (s == 1).sum() > 1 or (s == 2).sum() > 1:
                raise DataError(f"user {self.user_ids[u]} has more than one validation or test interaction; "
                                "the protocol is leave-one-out.")

    def raw_id(self, node_id: str) -> str:
        """The source's own id of a node id ``<dataset>:<raw>``."""
        return raw_id(self.dataset, node_id)

    def fingerprint(self) -> str:
        """The split fingerprint of docs/protocol.md (:func:`personarec.protocol.split_fingerprint`)."""
        held_out: dict[str, tuple[list[str], list[str]]] = {}
        for u in range(self.n_users):
            v, t = self.target(u, "valid"), self.target(u, "test")
            held_out[self.raw_id(self.user_ids[u])] = ([self.raw_id(self.item_ids[v - 1])] if v else [],
                                                       [self.raw_id(self.item_ids[t - 1])] if t else [])
        return split_fingerprint(held_out)

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_rows(cls, dataset: str, rows: Iterable[Mapping[str, Any]]) -> SequenceData:
        """Build from rows ``{user, item, seq, split, ts}`` ordered by user then seq (the Cypher result)."""
        per_user: dict[str, list[tuple[int, str, int, float | None]]] = {}
        for row in rows:
            per_user.setdefault(str(row["user"]), []).append(
                (int(row["seq"]), str(row["item"]), SPLITS.index(str(row["split"])),
                 None if row.get("ts") is None else float(row["ts"])))
        if not per_user:
            raise DataError(f"dataset {dataset!r} has no interactions in the graph; load it first "
                            "(`personarec load ...`).")
        item_ids = sorted({it for evs in per_user.values() for _, it, _, _ in evs}, key=node_sort_key)
        index = {iid: k + 1 for k, iid in enumerate(item_ids)}
        user_ids = sorted(per_user, key=node_sort_key)
        items, splits, ts = [], [], []
        for uid in user_ids:
            evs = sorted(per_user[uid], key=lambda e: e[0])  # order by seq: time, ties in source order
            items.append(np.array([index[e[1]] for e in evs], dtype=np.int64))
            splits.append(np.array([e[2] for e in evs], dtype=np.int8))
            stamps = [e[3] for e in evs]
            ts.append(None if any(x is None for x in stamps) else np.array(stamps, dtype=np.float64))
        data = cls(dataset, user_ids, item_ids, items, splits, ts)
        data.validate()
        return data

    @classmethod
    def leave_one_out(cls, dataset: str, sequences: Mapping[str, Sequence[str]],
                      timestamps: Mapping[str, Sequence[float]] | None = None) -> SequenceData:
        """Build from in-memory time-ordered sequences: last item test, second-last validation, rest train.

        Users with fewer than 3 interactions keep them all in train (no held-out items), as RecBole does
        not evaluate them either.
        """
        rows = []
        for uid, seq in sequences.items():
            n = len(seq)
            for k, item in enumerate(seq):
                split = "train" if n < 3 or k < n - 2 else ("valid" if k == n - 2 else "test")
                ts = timestamps[uid][k] if timestamps else None
                rows.append({"user": uid, "item": item, "seq": k, "split": split, "ts": ts})
        return cls.from_rows(dataset, rows)


def load_sequences(graph: Graph, dataset: str) -> SequenceData:
    """Read every user's interactions of ``dataset`` from Neo4j (``cypher/queries/session_sequences.cypher``)."""
    rows = graph.read("queries/session_sequences.cypher", {"dataset": dataset})
    data = SequenceData.from_rows(dataset, rows)
    log.info("sequences of %s: %d users, %d items, %d interactions", dataset, data.n_users, data.n_items,
             sum(len(s) for s in data.items))
    return data


def align_vectors(keys: Sequence[str], vectors: np.ndarray, ids: Sequence[str], what: str) -> np.ndarray | None:
    """Rows of ``vectors`` (one per key) placed at the positions of ``ids``; missing rows are zero."""
    if len(keys) == 0:
        return None
    out = np.zeros((len(ids), vectors.shape[1]), dtype=np.float32)
    pos = {k: n for n, k in enumerate(ids)}
    found = 0
    for key, vec in zip(keys, vectors):
        n = pos.get(key)
        if n is not None:
            out[n] = vec
            found += 1
    log.info("%s: %d of %d rows have a vector (dim %d)", what, found, len(ids), vectors.shape[1])
    return out


def load_vectors(graph: Graph, query: str, dataset: str, ids: Sequence[str]) -> np.ndarray | None:
    """Vectors from ``query`` aligned to ``ids`` (rows without a vector are zero); ``None`` if none exist."""
    rows = graph.read(query, {"dataset": dataset})
    vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    return align_vectors([r["id"] for r in rows], vectors, ids, query)


def load_personas(graph: Graph, data: SequenceData) -> np.ndarray | None:
    """``User.persona`` per user index (n_users × d), or ``None`` when no persona is stored.

    Read through :func:`personarec.persona.train.read_personas`, one consistent snapshot, so a
    persona write-back running meanwhile is seen whole or not at all.
    """
    from personarec.persona.train import read_personas

    keys, vectors, _ = read_personas(graph, data.dataset)
    return align_vectors(keys, vectors, data.user_ids, "User.persona")


def load_item_embeddings(graph: Graph, data: SequenceData) -> np.ndarray | None:
    """``Item.embedding`` per item index ((n_items + 1) × d, row 0 = padding), or ``None`` when absent."""
    vecs = load_vectors(graph, "queries/session_item_embeddings.cypher", data.dataset, data.item_ids)
    if vecs is None:
        return None
    return np.vstack([np.zeros((1, vecs.shape[1]), dtype=np.float32), vecs])


def history_vectors(data: SequenceData, item_vectors: np.ndarray) -> np.ndarray:
    """The paper's baseline user vector: mean LLM embedding of each user's train items.

    Uses train interactions only, the same information a persona is learned from (arXiv 2604.06928
    compares personas against this "user embedding derived from session history");
    :func:`personarec.protocol.mean_item_vectors` per user index.
    """
    return mean_item_vectors([data.train_sequence(u) for u in range(data.n_users)], item_vectors)


def from_split(dataset: str, split: Split) -> SequenceData:
    """Build from a loader split (:class:`personarec.load.splits.Split`) without Neo4j (benchmarks).

    Node ids follow the graph contract ``<dataset>:<raw id>``, so the indices match :func:`load_sequences`.
    """
    rows = ({"user": f"{dataset}:{r.user}", "item": f"{dataset}:{r.item}", "seq": r.seq, "split": r.split,
             "ts": r.ts} for r in split.rows())
    return SequenceData.from_rows(dataset, rows)
