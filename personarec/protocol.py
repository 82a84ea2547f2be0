"""The evaluation protocol in code: the one place for what ``docs/protocol.md`` defines.

Everything that decides whether two numbers are comparable lives here, once: how ids are ordered
and mapped, the split fingerprint, which items are masked for a stage, how the target's rank is
counted (ties), the per-user metrics, and the mean item vector of a user. The loader, the RecBole
export, the session models, the evaluation and the batch job all call these functions; none keeps a
copy. This module sits below all of them in the import graph (it imports no other ``personarec``
module) and imports torch only inside the two functions that take tensors, so the loader can use the
fingerprint without loading torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # tensors only in annotations here; see the module docstring for why
    import torch

Stage = Literal["valid", "test"]

#: Split codes as :class:`personarec.session.data.SequenceData` stores them, in time order.
SPLIT_CODES = {"train": 0, "valid": 1, "test": 2}

#: Reference split fingerprints (docs/protocol.md, "Split fingerprint"), computed on raw ids.
REFERENCE_FINGERPRINTS = {"8db20a8f58eff3f53c69381d62b3114c": "MovieLens-100K",
                          "28750bda8b349621d54e9f5865ebd135": "Amazon Beauty (S3-Rec 5-core)"}

#: Metrics reported per user, in report order (docs/protocol.md, "Metrics"). MRR@10 is RecBole's
#: cut-off MRR; MRR is the mean reciprocal rank over the whole catalogue.
METRICS = ("HR@10", "HR@100", "NDCG@10", "MRR@10", "MRR")


# ---------------------------------------------------------------------------------------------- ids
def raw_sort_key(raw: str) -> tuple[int, int | str]:
    """Order of raw ids: all-digit ids as numbers first, any others after them as text.

    This is "sorted by user id as a number" of the fingerprint (docs/protocol.md), so ``9`` < ``10``.
    """
    return (0, int(raw)) if raw.isdigit() else (1, raw)


def node_sort_key(node_id: str) -> tuple[int, int | str]:
    """Order of node ids ``<dataset>:<raw>`` by their raw part (:func:`raw_sort_key`).

    This order defines the dense item indices of the evaluation, and so the tie rule of
    :func:`target_ranks`: among equal scores the item with the smaller id ranks first.
    """
    return raw_sort_key(node_id.rsplit(":", 1)[-1])


def node_id(dataset: str, raw: str) -> str:
    """The graph's id of a source id: ``<dataset>:<raw>`` (unchanged if it already carries the prefix)."""
    prefix = f"{dataset}:"
    return raw if raw.startswith(prefix) else prefix + raw


def node_ids(dataset: str, ids: Iterable[str]) -> list[str]:
    """:func:`node_id` of each of ``ids`` (raw ids or node ids, mixed)."""
    return [node_id(dataset, i) for i in ids]


def raw_id(dataset: str, node: str) -> str:
    """The source's own id of a node id ``<dataset>:<raw>`` (unchanged without the prefix)."""
    prefix = f"{dataset}:"
    return node[len(prefix):] if node.startswith(prefix) else node


# ------------------------------------------------------------------------------------- fingerprint
def split_fingerprint(held_out: Mapping[str, tuple[Sequence[str], Sequence[str]]]) -> str:
    """md5 of the lines ``user\\tvalidation_item\\ttest_item\\n`` (docs/protocol.md, "Split fingerprint").

    Args:
        held_out: raw user id -> (validation items, test items), raw item ids in time order. A user
            with neither is left out; several held-out items of one user (a temporal split) are joined
            by commas.

    Lines are sorted by user id as a number (:func:`raw_sort_key`).
    """
    return fingerprint_of_sorted((user, *held_out[user]) for user in sorted(held_out, key=raw_sort_key))


def fingerprint_of_sorted(rows: Iterable[tuple[str, Sequence[str], Sequence[str]]]) -> str:
    """:func:`split_fingerprint` of ``(user, validation items, test items)`` rows streamed in its order
    (users by :func:`raw_sort_key`, each once), for callers that sort elsewhere (the Spark loader)."""
    md5 = hashlib.md5()
    for user, valid, test in rows:
        if valid or test:
            md5.update(f"{user}\t{','.join(valid)}\t{','.join(test)}\n".encode())
    return md5.hexdigest()


# ---------------------------------------------------------------------------------------- masking
def stage_code(stage: str) -> int:
    """The split code of a stage's target: 1 for ``valid``, 2 for ``test``."""
    if stage not in ("valid", "test"):
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")
    return SPLIT_CODES[stage]


def history_mask(splits: np.ndarray, stage: str) -> np.ndarray:
    """Which interactions are the user's history for ``stage`` (docs/protocol.md, "Masking").

    Train for validation, train + validation for test: every split code below the target's.
    """
    return np.asarray(splits) < stage_code(stage)


def mask_history(scores: torch.Tensor, histories: Sequence[np.ndarray], targets: torch.Tensor) -> torch.Tensor:
    """Set the scores of each row's history items and of the padding column to -inf, keeping the target.

    Args:
        scores: (B, n_items + 1) scores, modified in place and returned.
        histories: per row, the item indices to mask (train for validation, train + valid for test).
        targets: (B,) target item indices, never masked even when the item also occurs in the history.
    """
    import torch

    keep = scores.gather(1, targets[:, None]).clone()
    rows = np.concatenate([np.full(len(h), b, dtype=np.int64) for b, h in enumerate(histories)]) \
        if histories else np.zeros(0, dtype=np.int64)
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) if histories else rows
    scores[torch.from_numpy(rows).to(scores.device), torch.from_numpy(cols).to(scores.device)] = float("-inf")
    scores[:, 0] = float("-inf")
    scores.scatter_(1, targets[:, None], keep)
    return scores


# ---------------------------------------------------------------------------------------- ranking
def target_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each row's target among all columns (docs/protocol.md, "Rank of the target").

    The rank is the number of columns scored strictly higher plus the columns with an equal score and
    a lower index: ties go to the lower index, i.e. the smaller item id (:func:`node_sort_key`). That
    is neither the optimistic nor the pessimistic rule, but it is deterministic and the order a stable
    descending sort gives, which the candidate lists use too.

    Works on any device. Exact ties are rare for float scores, so they are counted from the sparse
    positions of ``scores == t`` rather than with another dense pass over the matrix.
    """
    import torch

    targets = targets.to(scores.device)
    t = scores.gather(1, targets[:, None])
    higher = (scores > t).sum(1)
    rows, cols = torch.nonzero(scores == t, as_tuple=True)
    ties = torch.zeros_like(higher).index_add_(0, rows, (cols < targets[rows]).to(higher.dtype))
    return higher + ties


def popularity_order(counts: np.ndarray) -> np.ndarray:
    """Item indices of ``counts`` (index 0 = padding, skipped) from most to least counted, ties by index.

    The order :func:`target_ranks` gives a constant score vector: the position of item ``j`` here is
    its rank when nothing is masked.
    """
    return np.argsort(-np.asarray(counts[1:], dtype=np.float64), kind="stable") + 1


def metrics_from_ranks(ranks: np.ndarray) -> dict[str, np.ndarray]:
    """Per-user metric values from 0-based ranks: HR@k, NDCG@k (one relevant item), MRR@10, MRR."""
    r = np.asarray(ranks, dtype=np.float64)
    return {
        "HR@10": (r < 10).astype(np.float64),
        "HR@100": (r < 100).astype(np.float64),
        "NDCG@10": np.where(r < 10, 1.0 / np.log2(r + 2.0), 0.0),
        "MRR@10": np.where(r < 10, 1.0 / (r + 1.0), 0.0),
        "MRR": 1.0 / (r + 1.0),
    }


# ------------------------------------------------------------------------------------ user vectors
def mean_item_vectors(sequences: Sequence[np.ndarray], item_vectors: np.ndarray) -> np.ndarray:
    """Row ``u``: the mean of ``item_vectors`` over the item indices of ``sequences[u]``; zeros if empty.

    The paper's "user embedding derived from session history" (arXiv 2604.06928) and the user
    features of the persona graph; a repeated item counts each time. Returns float32 (n, d).
    """
    out = np.zeros((len(sequences), item_vectors.shape[1]), dtype=np.float32)
    for u, seq in enumerate(sequences):
        if len(seq):
            out[u] = item_vectors[np.asarray(seq, dtype=np.int64)].mean(axis=0)
    return out
