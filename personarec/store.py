"""A model store without pickles: each model is a folder of tensors (safetensors) plus plain-JSON metadata.

Layout of one model folder::

    tensors.safetensors   every tensor (weights, features, degrees, ...), read without executing code
    meta.json             hyper-parameters, ids, names, shapes: plain JSON types only
    sha256                the content hash of the two files above

Models live under ``settings.model_store`` at a *relative* key (``personas/<run id>``), so Neo4j can name
a model by ``(key, sha256)`` and a store copied to another machine, at another absolute path, still
resolves. The hash is checked on every load: against the caller's expected hash (e.g. the one on the
``PersonaRun`` node) when given, and always against the folder's own ``sha256`` file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from personarec.errors import PersonarecError

log = logging.getLogger(__name__)

TENSORS = "tensors.safetensors"
META = "meta.json"
HASH = "sha256"
FORMAT = "personarec-model-v1"

# One or more slash-separated segments that start with a letter or digit: no absolute paths, no `..`,
# no hidden segments, nothing a shell or another OS would read differently.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


class ModelStoreError(PersonarecError):
    """A model cannot be saved to or loaded from the model store."""


class ModelNotFoundError(ModelStoreError):
    """The store holds no model under the requested key."""


class ModelIntegrityError(ModelStoreError):
    """A stored model's files do not match their content hash (changed or corrupted)."""


@dataclass(frozen=True)
class ModelRef:
    """Where a model is (a key relative to the store root) and what it holds (its content hash)."""

    key: str
    sha256: str


def validate_key(key: str) -> str:
    """``key`` if it is a safe relative key (``personas/hdgi-1``), else a :class:`ModelStoreError`."""
    if not isinstance(key, str) or not _KEY.fullmatch(key) or ".." in key.split("/"):
        raise ModelStoreError(f"invalid model key {key!r}: use relative names of letters, digits, '.', '_', '-' "
                              "separated by '/' (no absolute paths, no '..').")
    return key


def model_dir(store_root: Path, key: str) -> Path:
    """The folder of model ``key`` under ``store_root``."""
    return Path(store_root).expanduser() / validate_key(key)


def exists(folder: Path) -> bool:
    """True when ``folder`` holds a stored model (all three files)."""
    return all((Path(folder) / name).is_file() for name in (TENSORS, META, HASH))


def content_hash(tensor_bytes: bytes, meta_bytes: bytes) -> str:
    """SHA-256 over both files, each length-prefixed so no two different pairs hash alike."""
    h = hashlib.sha256(FORMAT.encode() + b"\n")
    for part in (tensor_bytes, meta_bytes):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _encode(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> tuple[bytes, bytes]:
    # Clone: safetensors refuses tensors that share memory (views, tied weights) and needs them on the CPU.
    flat = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    try:
        meta_bytes = json.dumps(meta, sort_keys=True, indent=1).encode()
    except (TypeError, ValueError) as exc:
        raise ModelStoreError(f"model metadata must be plain JSON (str, int, float, bool, None, lists, "
                              f"dicts): {exc}") from exc
    return st_save(flat, metadata={"format": FORMAT}), meta_bytes


def write(folder: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> str:
    """Write a model into ``folder`` (replacing one already there); returns its content hash.

    The files are written to a sibling temporary folder that is then renamed into place, so a reader
    never sees a half-written model. A folder that also holds other files (a user's ``--model-dir``)
    only gets the three files replaced, the hash last: nothing else in it is ever removed.
    """
    folder = Path(folder).expanduser()
    tensor_bytes, meta_bytes = _encode(tensors, meta)
    digest = content_hash(tensor_bytes, meta_bytes)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{folder.name}-{uuid.uuid4().hex[:12]}")
    staging.mkdir()
    try:
        (staging / TENSORS).write_bytes(tensor_bytes)
        (staging / META).write_bytes(meta_bytes)
        (staging / HASH).write_text(digest + "\n")
        if folder.is_dir() and not {p.name for p in folder.iterdir()} <= {TENSORS, META, HASH}:
            for name in (TENSORS, META, HASH):
                os.replace(staging / name, folder / name)
        else:
            old = None
            if folder.exists():
                old = folder.with_name(f".{folder.name}-old-{uuid.uuid4().hex[:12]}")
                folder.rename(old)
            staging.rename(folder)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("saved model %s (%d tensors, sha256 %s)", folder, len(tensors), digest[:12])
    return digest


def read(folder: Path, expected_sha256: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors (on the CPU) and metadata of the model in ``folder``, after checking its content hash."""
    folder = Path(folder).expanduser()
    if not exists(folder):
        raise ModelNotFoundError(f"no stored model in {folder} (it needs {TENSORS}, {META} and {HASH}).")
    # Hash the very bytes that are then parsed: no window for the files to change in between.
    tensor_bytes, meta_bytes = (folder / TENSORS).read_bytes(), (folder / META).read_bytes()
    digest = content_hash(tensor_bytes, meta_bytes)
    recorded = (folder / HASH).read_text().strip()
    if digest != recorded or (expected_sha256 is not None and digest != expected_sha256):
        raise ModelIntegrityError(f"the stored model in {folder} does not match its content hash "
                                  "(changed or corrupted); save or train it again.")
    try:
        return st_load(tensor_bytes), json.loads(meta_bytes)
    except (SafetensorError, ValueError) as exc:
        raise ModelIntegrityError(f"the stored model in {folder} cannot be read: {exc}") from exc


def save(store_root: Path, key: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> ModelRef:
    """Save a model under ``store_root/key``; returns its :class:`ModelRef`."""
    return ModelRef(key, write(model_dir(store_root, key), tensors, meta))


def load(store_root: Path, key: str, expected_sha256: str | None = None
         ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of model ``key`` under ``store_root``, verified against ``expected_sha256``."""
    folder = model_dir(store_root, key)
    if not exists(folder):
        raise ModelNotFoundError(f"the model store {store_root} holds no model {key!r}; copy that model's folder "
                                 "into the store (settings.model_store) or train it again.")
    return read(folder, expected_sha256)
