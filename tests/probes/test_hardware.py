"""The hardware probe on this machine, checked against psutil and /proc/cpuinfo."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from envcapture.probes import ProbeContext, hardware


def test_this_machine(section_problems):
    psutil = pytest.importorskip("psutil")
    result = hardware.collect(ProbeContext())
    data = result.data
    assert result.warnings == []
    assert section_problems("hardware", data) == []
    assert data["architecture"] == platform.machine()
    assert data["logical_cores"] == os.cpu_count()
    assert data["physical_cores"] == psutil.cpu_count(logical=False)
    assert data["memory_total"] == psutil.virtual_memory().total


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs /proc/cpuinfo (Linux)")
def test_flags_are_the_relevant_subset_of_cpuinfo():
    text = Path("/proc/cpuinfo").read_text()
    flags_line = next(line for line in text.splitlines() if line.startswith(("flags", "Features")))
    cpu_flags = set(flags_line.split(":", 1)[1].split())
    data = hardware.collect(ProbeContext()).data
    assert set(data["flags"]) <= cpu_flags
    assert data["flags"] == sorted(data["flags"])
    wanted = {"sse4_2", "avx", "avx2", "fma", "f16c", "asimd", "neon"} & cpu_flags
    assert wanted <= set(data["flags"])
    assert {flag for flag in cpu_flags if flag.startswith(("avx512", "amx"))} <= set(data["flags"])
    assert not {"fpu", "vme", "smep", "sse", "mmx"} & set(data["flags"])
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), None)
    assert data["cpu_model"] == (" ".join(model.split()) if model else None)


def test_relevant_flags_filter():
    assert hardware.relevant_flags(["fpu", "avx2", "avx512f", "avx512_bf16", "amx_tile", "smep", "sse4_2", "sve2",
                                    "asimddp", "avx_vnni", "evil;flag"]) == \
        ["amx_tile", "asimddp", "avx2", "avx512_bf16", "avx512f", "avx_vnni", "sse4_2", "sve2"]


def test_no_proc_and_no_sysctl_still_gives_a_valid_section(tmp_path, monkeypatch, section_problems):
    """A system that is neither Linux nor macOS (or a locked-down one): nulls and warnings, no exception."""
    monkeypatch.setattr(hardware.platform, "system", lambda: "Darwin")
    monkeypatch.setenv("PATH", str(tmp_path))  # no sysctl
    result = hardware.collect(ProbeContext(root=tmp_path, timeout=2))
    assert section_problems("hardware", result.data) == []
    assert result.data["logical_cores"] == os.cpu_count()
    assert any("CPU model unknown" in w.message for w in result.warnings)


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs /proc/cpuinfo (Linux)")
def test_vendor_from_this_machines_cpuinfo():
    """The vendor is cpuinfo's vendor_id (x86) as it stands, not a value of an earlier line (processor: 0)."""
    text = Path("/proc/cpuinfo").read_text()
    facts = hardware.parse_cpuinfo(text)
    vendor = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("vendor_id")), None)
    if vendor is not None:
        assert facts["vendor"] == vendor
        assert hardware.collect(ProbeContext()).data["vendor"] == vendor


def test_neither_linux_nor_macos_asks_the_platform_not_sysctl(tmp_path, monkeypatch, section_problems):
    """Windows (no /proc, no sysctl): the CPU model comes from platform.processor(), and no sysctl is tried."""
    monkeypatch.setattr(hardware.platform, "system", lambda: "Windows")
    monkeypatch.setattr(hardware.platform, "processor", lambda: "Intel64 Family 6 Model 158 Stepping 10, GenuineIntel")
    monkeypatch.setenv("PATH", str(tmp_path))
    result = hardware.collect(ProbeContext(root=tmp_path, timeout=2))
    assert result.data["cpu_model"] == "Intel64 Family 6 Model 158 Stepping 10, GenuineIntel"
    assert not any("CPU model unknown" in w.message for w in result.warnings)
    assert section_problems("hardware", result.data) == []


# `sysctl` on an Intel Mac (Core i5-10400), as printed in a public macOS setup guide: the brand string, the
# features and leaf7_features lines; the vendor is the CPUID vendor string every Intel CPU reports.
INTEL_MAC_SYSCTL = {
    "machdep.cpu.brand_string": "Intel(R) Core(TM) i5-10400 CPU @ 2.90GHz",
    "machdep.cpu.vendor": "GenuineIntel",
    "machdep.cpu.features": "FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT PSE36 CLFSH DS ACPI "
                            "MMX FXSR SSE SSE2 SS HTT TM PBE SSE3 PCLMULQDQ DTES64 MON DSCPL VMX EST TM2 SSSE3 FMA "
                            "CX16 TPR PDCM SSE4.1 SSE4.2 x2APIC MOVBE POPCNT AES PCID XSAVE OSXSAVE SEGLIM64 TSCTMR "
                            "AVX1.0 RDRAND F16C",
    "machdep.cpu.leaf7_features": "RDWRFSGS TSC_THREAD_OFFSET SGX BMI1 AVX2 SMEP BMI2 ERMS INVPCID FPU_CSDS MPX "
                                  "RDSEED ADX SMAP CLFSOPT IPT PKU SGXLC MDCLEAR IBRS STIBP L1DF ACAPMSR SSBD",
}


def test_an_intel_mac_from_its_sysctl_answers(tmp_path, monkeypatch, section_problems):
    """macOS on Intel (no /proc): model, vendor and flags from sysctl -n (a stand-in printing the recorded
    answers, one line per name asked, as sysctl -n does); no Mac here."""
    sysctl = tmp_path / "bin" / "sysctl"
    sysctl.parent.mkdir()
    cases = "".join(f"    {name}) echo '{value}' ;;\n" for name, value in INTEL_MAC_SYSCTL.items())
    sysctl.write_text(f'#!/bin/sh\n[ "$1" = -n ] && shift\nfor name; do\n  case "$name" in\n{cases}'
                      '    *) echo "sysctl: unknown oid $name" >&2; exit 1 ;;\n  esac\ndone\n')
    sysctl.chmod(0o755)
    monkeypatch.setattr(hardware.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(hardware.platform, "machine", lambda: "x86_64")
    monkeypatch.setenv("PATH", str(sysctl.parent))
    result = hardware.collect(ProbeContext(root=tmp_path / "root", timeout=10))
    data = result.data
    assert (data["cpu_model"], data["vendor"]) == ("Intel(R) Core(TM) i5-10400 CPU @ 2.90GHz", "GenuineIntel")
    assert {"avx2", "fma", "f16c", "sse4_2"} <= set(data["flags"]) and "fpu" not in data["flags"]
    assert result.warnings == [] and section_problems("hardware", data) == []
