"""Evaluation inputs as one ``.npz`` file: train where Neo4j is not (a GPU box, a cluster node).

``personarec evaluate --save-inputs F`` reads from Neo4j exactly what the evaluation reads — the
sequences with their stored splits, ``User.persona``, the reference learner's personas (``eval.reference_learner``)
and ``Item.embedding`` — and writes it to ``F``;
``personarec evaluate --inputs F`` runs the same evaluation from that file without a database. The
file holds plain arrays only (no pickles), so loading one is safe, and the split fingerprint is
checked on load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from personarec.errors import PersonarecError
from personarec.session.data import SequenceData

FORMAT = "personarec-eval-inputs/1"


class InputsError(PersonarecError):
    """An evaluation inputs file is missing, damaged or of another format."""


@dataclass
class EvalInputs:
    """What :func:`personarec.eval.runner.evaluate_data` needs, plus notes on where it came from.

    ``personas`` are the stored ``User.persona`` (learner ``meta["persona_learner"]``); ``reference_personas``
    those of ``meta["reference_learner"]`` trained in memory on the same graph, or ``None``."""

    data: SequenceData
    personas: np.ndarray | None = None
    item_vectors: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    reference_personas: np.ndarray | None = None


def _ragged(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p in parts])
    flat = np.concatenate(parts) if parts else np.zeros(0)
    return flat, offsets


def save_inputs(path: Path, inputs: EvalInputs) -> Path:
    """Write ``inputs`` to ``path`` (``.npz``, compressed); returns the path written."""
    data = inputs.data
    items, offsets = _ragged(data.items)
    splits, _ = _ragged(data.splits)
    has_ts = all(t is not None for t in data.ts)
    ts, _ = _ragged([t for t in data.ts if t is not None]) if has_ts else (np.zeros(0), offsets)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT), "dataset": np.array(data.dataset),
        "user_ids": np.array(data.user_ids), "item_ids": np.array(data.item_ids),
        "items": items.astype(np.int64), "splits": splits.astype(np.int8), "offsets": offsets,
        "ts": ts.astype(np.float64), "has_ts": np.array(has_ts),
        "fingerprint": np.array(data.fingerprint()), "meta": np.array(json.dumps(inputs.meta)),
    }
    if inputs.personas is not None:
        arrays["personas"] = inputs.personas.astype(np.float32)
    if inputs.item_vectors is not None:
        arrays["item_vectors"] = inputs.item_vectors.astype(np.float32)
    if inputs.reference_personas is not None:
        arrays["reference_personas"] = inputs.reference_personas.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]  # numpy stubs type **kwds as allow_pickle
    tmp.replace(path)  # a crash mid-write never leaves a half file under the real name
    return path


def load_inputs(path: Path) -> EvalInputs:
    """Read a file written by :func:`save_inputs`; raises :class:`InputsError` with the reason."""
    if not path.is_file():
        raise InputsError(f"{path}: no such file; write one with `personarec evaluate --save-inputs {path}`.")
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputsError(f"{path}: not an evaluation inputs file ({e}).") from e
    with z:
        if "format" not in z.files or str(z["format"]) != FORMAT:
            raise InputsError(f"{path}: not a {FORMAT} file.")
        offsets = z["offsets"]
        cut = [slice(int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:])]
        items, splits, stamps = z["items"], z["splits"], z["ts"]  # each z[...] decompresses: read once
        ts = [stamps[c] for c in cut] if bool(z["has_ts"]) else [None] * len(cut)
        data = SequenceData(str(z["dataset"]), [str(u) for u in z["user_ids"]], [str(i) for i in z["item_ids"]],
                            [items[c] for c in cut], [splits[c] for c in cut], ts)
        data.validate()
        if data.fingerprint() != str(z["fingerprint"]):
            raise InputsError(f"{path}: the split fingerprint does not match its sequences; the file is damaged.")
        personas = z["personas"] if "personas" in z.files else None
        item_vectors = z["item_vectors"] if "item_vectors" in z.files else None
        reference = z["reference_personas"] if "reference_personas" in z.files else None
        meta = json.loads(str(z["meta"]))
    for name, vecs in (("personas", personas), ("reference personas", reference)):
        if vecs is not None and vecs.shape[0] != data.n_users:
            raise InputsError(f"{path}: {vecs.shape[0]} {name} for {data.n_users} users.")
    if item_vectors is not None and item_vectors.shape[0] != data.n_items + 1:
        raise InputsError(f"{path}: {item_vectors.shape[0]} item vectors for {data.n_items} items (+ padding).")
    return EvalInputs(data, personas, item_vectors, meta, reference)
