"""What this machine's CPU does natively, for choices that pay only where the hardware has them, and how
many torch threads a piece of work gets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

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


@cache
def cpuinfo(key: str) -> str | None:
    """The value of /proc/cpuinfo's first ``key`` line (``None`` where there is none), read once per key
    and process: ``auto`` asks on every encoder call, and the CPU does not change under a process."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.split(":", 1)[0].strip() == key), None)
    except OSError:
        return None


def _cpu_flag(probe: str, flag: str) -> bool:
    """True when torch's own CPU probe ``torch.cpu.<probe>`` (where this torch has it) or the kernel's
    /proc/cpuinfo ``flag`` says so: either alone may miss a feature the other sees (an older torch, a
    system without /proc), and a missed AMX would cost the AMX box its bfloat16."""
    check = getattr(torch.cpu, probe, None)
    if check is not None:
        try:
            if check():
                return True
        except RuntimeError:
            pass
    return flag in (cpuinfo("flags") or "").split()


def cpu_amx() -> bool:
    """True when this CPU has AMX tiles that multiply bfloat16 and the OS lets programs use them (Intel
    Xeon from Sapphire Rapids on; a hypervisor may hide them, and then this is False)."""
    return cpu_bf16_native() and _cpu_flag("_is_amx_tile_supported", "amx_tile")


def cpu_avx512() -> bool:
    """True when this CPU has AVX-512 (float32 products twice AVX2's width)."""
    return _cpu_flag("_is_avx512_supported", "avx512f")


def cpu_vendor() -> str | None:
    """/proc/cpuinfo's ``vendor_id`` (``GenuineIntel``, ``AuthenticAMD``; ``None`` where there is none)."""
    return cpuinfo("vendor_id")


def auto_bf16(device: torch.device | str) -> bool:
    """What ``precision = "auto"`` means everywhere (SASRec's logit products, the text encoder, the
    certifying scan): bfloat16 on the CPUs where it measured faster than float32, float32 elsewhere,
    CUDA included.

    Native bfloat16 (AVX512-BF16) is not enough by itself; torch 2.15, one thread, 2-core boxes:

    - Intel Xeon with AMX: bfloat16 products ~4× float32's, the MiniLM encoder 2.1× as fast: bfloat16.
    - AMD EPYC with AVX512-BF16: the encoder 2.1× as fast (the main job's embeddings 40 against 71 s),
      a Beauty loss step 82 against 134 ms: bfloat16.
    - Intel Xeon with AVX512-BF16 whose AMX the hypervisor hides: bfloat16 slower everywhere, the loss
      step 14.1 against 10.0 ms (MovieLens-100K) and 128 against 76 ms (Beauty), the encoder 13–16
      against 21–23 texts/s, the 1M-item scan 0.268 against 0.180 s per 256 users: float32.
    - CPUs without native bfloat16: float32.

    docs/operations.md, "Precision by CPU"."""
    if torch.device(device).type != "cpu" or not cpu_bf16_native():
        return False
    return cpu_amx() or cpu_vendor() == "AuthenticAMD"


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
