"""What the benchmarks record about the CPU they ran on: its model name and the flags its speed depends on."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from personarec.cpu import cpuinfo

#: /proc/cpuinfo flags that decide the products' speed: the vector width of float32 (AVX2/FMA, AVX-512)
#: and whether bfloat16 is native (AVX512-BF16, AMX), which picks the scan's and the logits' precision
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8")


def cpu_features() -> list[str]:
    """The CPU's :data:`SPEED_FLAGS` from /proc/cpuinfo; [] where it has none."""
    flags = cpuinfo("flags")
    return [] if flags is None else sorted(f for f in flags.split() if f in SPEED_FLAGS)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo; ``platform.processor()`` (or the machine) where it has none."""
    return cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_times() -> dict[str, float] | None:
    """Seconds the whole box's CPUs have spent busy, idle (I/O wait included) and stolen by the hypervisor
    since boot, from /proc/stat's first line; ``None`` where there is no /proc/stat.

    Differences of two readings say whether a stretch of work was bound by the cores (idle ≈ 0) or waited
    on something else, and how much of the box a shared host took away (steal)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: already counted in user and nice]
    ticks = [int(x) for x in fields[1:9]] + [0] * max(0, 9 - len(fields))
    user, nice, system, idle, iowait, irq, softirq, steal = ticks[:8]
    hz = os.sysconf("SC_CLK_TCK")
    return {"busy": (user + nice + system + irq + softirq) / hz, "idle": (idle + iowait) / hz, "steal": steal / hz}
