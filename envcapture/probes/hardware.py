"""The ``hardware`` section: CPU model and vendor, cores, memory, and the instruction sets that change
numerics or speed (a wheel built for AVX-512 or AMX behaves differently on a machine without it).

On Linux everything comes from /proc (a few hundred microseconds); elsewhere psutil and, on macOS, sysctl.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field

from envcapture.manifest import grammar
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning, ToolError, run_tool, to_data

SOURCE = "hardware"
RELEVANT_FLAGS = {"sse4_2", "avx", "avx2", "fma", "f16c", "neon", "asimd", "sve", "sve2", "fp16", "bf16", "i8mm",
                  "sme", "sme2"}
RELEVANT_PREFIXES = ("avx512", "avx_vnni", "amx", "sve", "asimd")
# ARM's "CPU implementer" codes (arch/arm64/include/asm/cputype.h).
ARM_IMPLEMENTERS = {"0x41": "ARM", "0x42": "Broadcom", "0x43": "Cavium", "0x46": "Fujitsu", "0x48": "HiSilicon",
                    "0x4e": "NVIDIA", "0x50": "APM", "0x51": "Qualcomm", "0x53": "Samsung", "0x56": "Marvell",
                    "0x61": "Apple", "0x69": "Intel", "0x6d": "Microsoft", "0xc0": "Ampere"}


@dataclass
class Hardware:
    cpu_model: str | None = None
    vendor: str | None = None
    architecture: str = "unknown"
    physical_cores: int | None = None
    logical_cores: int | None = None
    flags: list[str] = field(default_factory=list)
    memory_total: int | None = None


def relevant_flags(flags) -> list[str]:
    return sorted({flag for flag in flags
                   if (flag in RELEVANT_FLAGS or flag.startswith(RELEVANT_PREFIXES)) and grammar.is_identifier(flag)})


def parse_cpuinfo(text: str) -> dict:
    """Model, vendor, flags (x86 ``flags``, ARM ``Features``) and physical cores from /proc/cpuinfo."""
    facts: dict = {"cores": set()}
    physical_id = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "model name" and "model" not in facts:
            facts["model"] = value
        elif key == "vendor_id" and "vendor" not in facts:
            facts["vendor"] = value
        elif key == "CPU implementer" and "vendor" not in facts:
            facts["vendor"] = ARM_IMPLEMENTERS.get(value.lower(), value)
        elif key in ("flags", "Features") and "flags" not in facts:
            facts["flags"] = value.split()
        elif key == "physical id":
            physical_id = value
        elif key == "core id":
            facts["cores"].add((physical_id, value))
        elif key == "Hardware" and "model" not in facts:
            facts["model"] = value
    return facts


def meminfo_total(text: str) -> int | None:
    match = re.search(r"^MemTotal:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) * 1024 if match else None


def linux_hardware(ctx: ProbeContext, info: Hardware, warnings: list[ProbeWarning]) -> None:
    try:
        cpuinfo = parse_cpuinfo(ctx.path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        warnings.append(ProbeWarning(SOURCE, f"cannot read /proc/cpuinfo: {exc.strerror}"))
        cpuinfo = {"cores": set()}
    info.cpu_model = cpuinfo.get("model")
    info.vendor = cpuinfo.get("vendor")
    info.flags = relevant_flags(cpuinfo.get("flags", []))
    info.physical_cores = len(cpuinfo["cores"]) or None
    try:
        info.memory_total = meminfo_total(ctx.path("/proc/meminfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        pass


def macos_hardware(ctx: ProbeContext, info: Hardware, warnings: list[ProbeWarning]) -> None:
    try:
        info.cpu_model = run_tool(["sysctl", "-n", "machdep.cpu.brand_string"], timeout=ctx.timeout).strip() or None
    except ToolError as exc:
        warnings.append(ProbeWarning(SOURCE, f"CPU model unknown: {exc}"))
    if info.architecture == "arm64":
        info.vendor = "Apple"
        info.flags = ["asimd", "neon"]  # every Apple Silicon core has Advanced SIMD
        return
    try:
        features = run_tool(["sysctl", "-n", "machdep.cpu.vendor", "machdep.cpu.features",
                             "machdep.cpu.leaf7_features"], timeout=ctx.timeout).split("\n")
    except ToolError:
        return
    info.vendor = features[0].strip() or None
    words = " ".join(features[1:]).lower().replace(".", "_").split()
    info.flags = relevant_flags(words + (["avx2"] if "avx2_0" in words else []))


def psutil_counts(info: Hardware, warnings: list[ProbeWarning]) -> None:
    """Cores and memory where /proc did not tell (macOS, Windows, ARM boards without ``core id``)."""
    try:
        import psutil
    except ImportError:
        warnings.append(ProbeWarning(SOURCE, "psutil is not installed: physical cores and memory unknown"))
        return
    try:
        if info.physical_cores is None:
            info.physical_cores = psutil.cpu_count(logical=False)
        if info.memory_total is None:
            info.memory_total = psutil.virtual_memory().total
    except (OSError, RuntimeError) as exc:
        warnings.append(ProbeWarning(SOURCE, f"psutil could not read cores or memory: {exc}"))


def clean_text(value: str | None) -> str | None:
    if not value:
        return None
    value = " ".join(value.split())
    return value if grammar.is_text(value) else None


def collect(ctx: ProbeContext) -> ProbeResult:
    warnings: list[ProbeWarning] = []
    machine = platform.machine()
    info = Hardware(architecture=machine if machine and grammar.is_arch(machine) else "unknown",
                    logical_cores=os.cpu_count())
    system = platform.system()
    if system == "Linux" or ctx.path("/proc/cpuinfo").exists():
        linux_hardware(ctx, info, warnings)
    elif system == "Darwin":
        macos_hardware(ctx, info, warnings)
    else:
        info.cpu_model = platform.processor() or None
    if info.physical_cores is None or info.memory_total is None:
        psutil_counts(info, warnings)
    info.cpu_model, info.vendor = clean_text(info.cpu_model), clean_text(info.vendor)
    return ProbeResult(to_data(info), warnings)
