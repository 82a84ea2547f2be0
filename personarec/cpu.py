"""What this machine's CPU does natively, for choices that pay only where the hardware has them, and how
many torch threads a piece of work gets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

#: Rows each side of a matrix product is padded to where its values must not depend on the batch: on the
#: 2-core box's AVX-512 BLAS a product with fewer than 12 rows on either side takes another kernel and can
#: round differently from a larger one (personarec.session.retrieval, SASRecNet.final).
MIN_PRODUCT_ROWS = 16


def cpu_bf16_native() -> bool:
    """True when this CPU multiplies bfloat16 natively (oneDNN reports AVX512-BF16 or AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # an older or slimmer torch build: no claim, no bfloat16
        return False


def auto_bf16(device: torch.device | str) -> bool:
    """What ``precision = "auto"`` means everywhere (SASRec's logit products, the text encoder): bfloat16
    on a CPU that multiplies it natively, float32 elsewhere, CUDA included."""
    return torch.device(device).type == "cpu" and cpu_bf16_native()


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` inside the block and restored after it (``None``: unchanged)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
