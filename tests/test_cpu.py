"""What the CPU probes report, and that ``auto`` picks bfloat16 only where it measured faster."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from personarec import cpu


def _cpuinfo_field(key: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.split(":", 1)[0].strip() == key]


def _cpuinfo_flags() -> set[str]:
    text = Path("/proc/cpuinfo").read_text()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


def test_auto_bf16_on_this_machine() -> None:
    vendor = cpu.cpu_vendor()
    assert cpu.auto_bf16("cpu") == (cpu.cpu_bf16_native() and (cpu.cpu_amx() or vendor == "AuthenticAMD"))
    assert cpu.auto_bf16("cuda") is False and cpu.auto_bf16("cuda:1") is False
    assert not cpu.cpu_amx() or cpu.cpu_bf16_native()  # AMX implies native bfloat16
    if Path("/proc/cpuinfo").exists():
        assert vendor == next(iter(_cpuinfo_field("vendor_id")), None)


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs /proc/cpuinfo")
def test_probes_agree_with_proc_cpuinfo_and_fall_back_to_it(monkeypatch: pytest.MonkeyPatch) -> None:
    flags = _cpuinfo_flags()
    assert cpu.cpu_avx512() == ("avx512f" in flags)
    assert cpu.cpu_amx() == (cpu.cpu_bf16_native() and "amx_tile" in flags)
    # a torch without its own probes: the same answers from /proc/cpuinfo
    monkeypatch.delattr(torch.cpu, "_is_avx512_supported", raising=False)
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    assert cpu.cpu_avx512() == ("avx512f" in flags)
    assert cpu.cpu_amx() == (cpu.cpu_bf16_native() and "amx_tile" in flags)


@pytest.mark.parametrize(("native", "amx", "vendor", "expected"), [
    (True, True, "GenuineIntel", True),     # Xeon with AMX
    (True, False, "AuthenticAMD", True),    # EPYC with AVX512-BF16
    (True, False, "GenuineIntel", False),   # Xeon whose AMX the hypervisor hides: float32 measured faster
    (True, False, None, False),             # nothing known about the vendor: float32
    (False, False, "AuthenticAMD", False),  # no native bfloat16 (AVX2 only)
])
def test_auto_bf16_picks_bfloat16_only_where_it_measured_faster(monkeypatch: pytest.MonkeyPatch, native: bool,
                                                                amx: bool, vendor: str | None,
                                                                expected: bool) -> None:
    monkeypatch.setattr(cpu, "cpu_bf16_native", lambda: native)
    monkeypatch.setattr(cpu, "cpu_amx", lambda: amx)
    monkeypatch.setattr(cpu, "cpu_vendor", lambda: vendor)
    assert cpu.auto_bf16("cpu") is expected
    assert cpu.auto_bf16("cuda") is False


def test_either_probe_finds_a_feature(monkeypatch: pytest.MonkeyPatch) -> None:
    # torch's probe says no, the kernel's flags say yes (and the other way round): the feature is there
    monkeypatch.setattr(cpu, "cpu_bf16_native", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(cpu, "cpuinfo", lambda key: "fpu avx512f amx_tile amx_bf16" if key == "flags" else None)
    assert cpu.cpu_amx() is True
    monkeypatch.setattr(cpu, "cpuinfo", lambda key: "fpu avx2" if key == "flags" else None)
    assert cpu.cpu_amx() is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert cpu.cpu_amx() is True
