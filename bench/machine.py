"""What the benchmarks record about the CPU they ran on: its model name and the flags its speed depends on."""

from __future__ import annotations

import platform
from pathlib import Path

#: /proc/cpuinfo flags that decide the products' speed: the vector width of float32 (AVX2/FMA, AVX-512)
#: and whether bfloat16 is native (AVX512-BF16, AMX), which picks the scan's and the logits' precision
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8")


def _cpuinfo(key: str) -> str | None:
    try:
        return next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith(key))
    except (OSError, StopIteration):
        return None


def cpu_features() -> list[str]:
    """The CPU's :data:`SPEED_FLAGS` from /proc/cpuinfo; [] where it has none."""
    flags = _cpuinfo("flags")
    return [] if flags is None else sorted(f for f in flags.split() if f in SPEED_FLAGS)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo; ``platform.processor()`` (or the machine) where it has none."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()
