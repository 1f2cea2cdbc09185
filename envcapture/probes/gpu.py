"""The ``gpu`` section: driver, devices, CUDA toolkits, cuDNN copies, CUDA wheels, frameworks, verdict.

Order of the driver sources: NVML in-process (no process start), libcuda's cuDriverGetVersion for the
driver's CUDA version, then nvidia-smi (``--query-gpu`` CSV, ``-q -x`` XML) only when NVML could not be
used. Every driver call and subprocess has a short timeout (``DRIVER_TIMEOUT``): a sick driver makes
nvidia-smi hang for minutes and freeze must still finish. With no driver at all the probe costs a few
failed dlopen calls and a PATH lookup.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envcapture.manifest.grammar import canonical_name
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning, ToolError, home_relative, run_tool
from envcapture.probes import gpu_cuda, gpu_nvidia_smi, gpu_nvml, gpu_python
from envcapture.probes.gpu_nvidia_smi import ParseError
from envcapture.probes.gpu_verdict import verdict

DRIVER_TIMEOUT = 3.0
TOOL_TIMEOUT = 3.0
SOURCE = "gpu"


class Collector:
    """One run of the probe: the facts found so far and the warnings about the ones that were not."""

    def __init__(self, ctx: ProbeContext):
        self.ctx = ctx
        self.warnings: list[ProbeWarning] = []
        self.live = _is_live_root(ctx.root)

    def warn(self, message: str) -> None:
        self.warnings.append(ProbeWarning(SOURCE, message))

    def path(self, absolute: str) -> Path:
        return self.ctx.path(absolute)

    def shown(self, path: str | os.PathLike) -> str | None:
        """A path as the manifest writes it: home as ~, forward slashes, or None if the grammar refuses it."""
        from envcapture.manifest import grammar

        text = home_relative(str(path), self.ctx.home).replace("\\", "/")
        return text if grammar.check("path", text) else None

    def which(self, program: str) -> str | None:
        if not self.live:
            return None
        return shutil.which(program, path=self.ctx.env.get("PATH", os.defpath))

    def tool(self, argv: list[str]) -> str:
        return run_tool(argv, timeout=TOOL_TIMEOUT, env=self.ctx.env)


def _is_live_root(root: Path) -> bool:
    try:
        return Path(root).resolve() == Path("/").resolve()
    except OSError:
        return False


# --- driver and devices ---------------------------------------------------------------------------------

def read_driver(c: Collector) -> tuple[dict | None, list[dict], list[str]]:
    """(driver record, devices, reasons the driver could not be read)."""
    if not c.live:
        return None, [], ["the inspected root is not this machine's, so no driver was queried"]
    reasons: list[str] = []
    try:
        found = gpu_nvml.read_nvml(DRIVER_TIMEOUT, with_uuid=c.ctx.include_host)
        driver = {"version": found["driver_version"], "cuda_version": found["cuda_version"], "source": "nvml"}
        if not driver["cuda_version"]:
            driver.update(_libcuda_version(c, reasons))
        return driver, found["devices"], reasons
    except gpu_nvml.DriverQueryError as exc:
        reasons.append(f"NVML: {exc}")
        nvml_hung = "did not answer" in str(exc)
    except OSError as exc:
        reasons.append(f"NVML: {exc}")
        nvml_hung = False
    smi = c.which("nvidia-smi")
    if smi is None:
        reasons.append("nvidia-smi: not on PATH")
        libcuda = _libcuda_version(c, reasons)
        driver = {"version": None, **libcuda} if libcuda else None
        return driver, [], reasons
    if nvml_hung:
        reasons.append("nvidia-smi: not run, because NVML already hung (it would hang the same way)")
        return None, [], reasons
    driver, devices = _driver_from_smi(c, smi, reasons)
    if driver is not None and not driver.get("cuda_version"):
        driver.update(_libcuda_version(c, reasons))
    return driver, devices, reasons


def _libcuda_version(c: Collector, reasons: list[str]) -> dict:
    try:
        return {"cuda_version": gpu_nvml.read_libcuda_version(DRIVER_TIMEOUT), "source_cuda": "libcuda"}
    except (gpu_nvml.DriverQueryError, OSError, AttributeError) as exc:
        reasons.append(f"libcuda: {exc}")
        return {}


def _driver_from_smi(c: Collector, smi: str, reasons: list[str]) -> tuple[dict | None, list[dict]]:
    fields = gpu_nvidia_smi.QUERY_FIELDS
    driver: dict | None = None
    devices: list[dict] = []
    try:
        text = c.tool([smi, f"--query-gpu={','.join(fields)}", "--format=csv,noheader"])
        rows = gpu_nvidia_smi.parse_query_gpu_csv(text, fields)
        devices = gpu_nvidia_smi.devices_from_query_rows(rows)
        version = next((row.get("driver_version") for row in rows if row.get("driver_version")), None)
        driver = {"version": version, "cuda_version": None, "source": "nvidia-smi"}
    except ToolError as exc:
        reasons.append(f"nvidia-smi --query-gpu: {exc}")
        if "did not answer" in str(exc):
            return None, []  # a hung nvidia-smi hangs for -q -x too
    except ParseError as exc:
        reasons.append(f"nvidia-smi --query-gpu: {exc}")
    # -q -x carries the driver's CUDA version (no --query-gpu field has it), architectures and MIG devices.
    try:
        parsed = gpu_nvidia_smi.parse_smi_xml(c.tool([smi, "-q", "-x"]))
        driver = {"version": (driver or {}).get("version") or parsed["driver_version"],
                  "cuda_version": parsed["cuda_version"], "source": "nvidia-smi"}
        devices = _merge_xml_devices(devices, parsed["devices"])
    except (ToolError, ParseError) as exc:
        reasons.append(f"nvidia-smi -q -x: {exc}")
    if any(device.get("mig_mode") == "Enabled" for device in devices):
        _add_mig_profiles(c, smi, devices, reasons)
    if not c.ctx.include_host:
        for device in devices:
            device["uuid"] = None
    return driver, devices


def _add_mig_profiles(c: Collector, smi: str, devices: list[dict], reasons: list[str]) -> None:
    """MIG profile names (3g.40gb) are only in ``nvidia-smi -L``; -q -x gives sizes alone."""
    try:
        listed = {gpu["index"]: gpu["mig"] for gpu in gpu_nvidia_smi.parse_list_gpus(c.tool([smi, "-L"]))}
    except ToolError as exc:
        reasons.append(f"nvidia-smi -L: {exc}")
        return
    for device in devices:
        migs = listed.get(device["index"]) or []
        known = {mig["index"]: mig for mig in device.get("mig_devices") or []}
        device["mig_devices"] = [{"index": mig["index"], "profile": mig["profile"],
                                  "memory_total_mib": (known.get(mig["index"]) or {}).get("memory_total_mib")}
                                 for mig in migs] or device.get("mig_devices") or []


def _merge_xml_devices(from_csv: list[dict], from_xml: list[dict]) -> list[dict]:
    if not from_csv:
        return from_xml
    by_bus = {device["pci_bus_id"]: device for device in from_xml if device.get("pci_bus_id")}
    for device in from_csv:
        other = by_bus.get(device.get("pci_bus_id"))
        if other is None:
            continue
        device["architecture"] = device.get("architecture") or other.get("architecture")
        device["mig_devices"] = device.get("mig_devices") or other.get("mig_devices") or []
        device["uuid"] = device.get("uuid") or other.get("uuid")
    return from_csv


def finish_driver(driver: dict | None) -> dict | None:
    if driver is None:
        return None
    source = driver.get("source") or driver.pop("source_cuda", None)
    driver.pop("source_cuda", None)
    return {"version": driver.get("version"), "cuda_version": driver.get("cuda_version"), "source": source}


# --- toolkits -------------------------------------------------------------------------------------------

def read_toolkits(c: Collector, pool: ThreadPoolExecutor) -> list[dict]:
    nvcc_on_path = c.which("nvcc")
    seen: dict[str, dict] = {}
    for candidate in gpu_cuda.toolkit_candidates(c.path, c.ctx.env, _real_nvcc(nvcc_on_path)):
        if not looks_like_toolkit(c.path(str(candidate))):
            continue
        real = gpu_cuda.real_toolkit_root(c.path, candidate)
        if real in seen:
            continue
        seen[real] = {"root": real}
    futures = {real: pool.submit(_toolkit_record, c, real) for real in seen}
    records = [future.result() for future in futures.values()]
    return [record for record in records if record is not None]


def _real_nvcc(which: str | None) -> str | None:
    """nvcc on PATH may be a wrapper script (/usr/local/bin/nvcc): follow it to a toolkit when we can."""
    if which is None:
        return None
    real = Path(os.path.realpath(which))
    if looks_like_toolkit(real.parent.parent):
        return str(real)
    try:
        text = gpu_cuda.read_text(real, 4096)
    except OSError:
        return None
    match = re.search(r"(/[^\s\"']+)/bin/nvcc\b", text)
    return f"{match.group(1)}/bin/nvcc" if match else None


def looks_like_toolkit(folder: Path) -> bool:
    return any((folder / marker).exists() for marker in ("version.json", "version.txt", "include/cuda.h",
                                                         "include/cuda_runtime_api.h", "nvvm"))


def _toolkit_record(c: Collector, root: str) -> dict | None:
    base = c.path(root)
    version = nvcc_version = source = None
    try:
        if (base / "version.json").is_file():
            version, nvcc_version = gpu_cuda.parse_version_json(gpu_cuda.read_text(base / "version.json"))
            source = "version.json" if version else None
        elif (base / "version.txt").is_file():
            version, source = gpu_cuda.parse_version_txt(gpu_cuda.read_text(base / "version.txt")), "version.txt"
    except (OSError, ParseError) as exc:
        c.warn(f"CUDA toolkit {root}: version file unreadable: {exc}")
    nvcc = base / "bin" / ("nvcc.exe" if sys.platform.startswith("win") else "nvcc")
    if nvcc_version is None and c.live and nvcc.is_file():
        try:
            release, nvcc_version = gpu_cuda.parse_nvcc_version(c.tool([str(nvcc), "--version"]))
            if version is None:
                version, source = release, "nvcc"
        except (ToolError, ParseError) as exc:
            c.warn(f"CUDA toolkit {root}: nvcc --version failed: {exc}")
    if version is None:
        try:
            version = gpu_cuda.parse_cuda_h_version(gpu_cuda.read_text(base / "include" / "cuda.h"))
            source = "header" if version else None
        except OSError:
            pass
    if version is None and nvcc_version is None:
        c.warn(f"CUDA toolkit {root}: no version.json, version.txt, nvcc or include/cuda.h gave its version")
    shown = c.shown(root)
    if shown is None:
        c.warn(f"CUDA toolkit at a path the manifest grammar refuses was left out: {root!r}")
        return None
    return {"path": shown, "version": version, "nvcc_version": nvcc_version, "source": source}


# --- cuDNN ----------------------------------------------------------------------------------------------

def read_cudnn(c: Collector, toolkits: list[dict], ldconfig_text: str | None) -> list[dict]:
    copies: list[dict] = []

    def add(version: str | None, path: str | None, source: str, package: str | None = None) -> None:
        if not version:
            return
        shown = c.shown(path) if path else None
        record = {"version": version, "path": shown, "source": source, "package": package}
        if record not in copies:
            copies.append(record)

    roots = [record["path"] for record in toolkits]
    include_dirs = [f"{root}/include" for root in roots] + ["/usr/include", "/usr/local/include"]
    include_dirs += _multiarch(c, "/usr/include")
    library_dirs = [f"{root}/{lib}" for root in roots for lib in ("lib64", "lib")]
    prefix = _conda_prefix(c)
    if prefix:
        include_dirs.append(f"{prefix}/include")
        library_dirs.append(f"{prefix}/lib")
    for folder in include_dirs:
        for header in gpu_cuda.cudnn_headers_in(c.path(_expand(folder, c))):
            try:
                add(gpu_cuda.parse_cudnn_header(gpu_cuda.read_text(header)), _unroot(header, c), "header")
            except (OSError, ParseError) as exc:
                c.warn(f"cuDNN header {_unroot(header, c)}: {exc}")
    libraries: dict[str, str] = {}
    for folder in library_dirs:
        for library in gpu_cuda.cudnn_libraries_in(c.path(_expand(folder, c))):
            _add_library(libraries, str(library), c)
    for soname, path in gpu_cuda.parse_ldconfig(ldconfig_text or ""):
        if gpu_cuda.cudnn_version_from_library(soname):
            _add_library(libraries, str(c.path(path)), c)
    for real, version in sorted(libraries.items()):
        add(version, _unroot(Path(real), c), "library")
    for dist in c.ctx.target.get("distributions") or []:
        name = canonical_name(dist.get("name") or "")
        if re.match(r"^nvidia-cudnn-cu[0-9]+$", name) and dist.get("version"):
            add(dist["version"], _wheel_folder(dist, "cudnn"), "wheel", name)
    if prefix:
        for record in _conda_records(c, prefix, "cudnn"):
            add(record.get("version"), f"{prefix}/conda-meta", "conda", "cudnn")
    return copies


def _add_library(libraries: dict[str, str], path: str, c: Collector) -> None:
    """One record per real file: libcudnn.so.9 -> libcudnn.so.9.1.0, whose name holds the full version."""
    real = os.path.realpath(path)
    version = gpu_cuda.cudnn_version_from_library(os.path.basename(real)) \
        or gpu_cuda.cudnn_version_from_library(os.path.basename(path))
    if version and len(version) >= len(libraries.get(real, "")):
        libraries[real] = version


def _multiarch(c: Collector, folder: str) -> list[str]:
    try:
        return [f"{folder}/{name}" for name in sorted(os.listdir(c.path(folder))) if name.endswith("-linux-gnu")]
    except OSError:
        return []


def _expand(folder: str, c: Collector) -> str:
    return c.ctx.home + folder[1:] if folder.startswith("~") else folder


def _unroot(path: Path, c: Collector) -> str:
    root = str(c.ctx.root).rstrip("/")
    text = str(path)
    return text[len(root):] if root and text.startswith(root + "/") else text


def _wheel_folder(dist: dict, library: str) -> str | None:
    dist_info = dist.get("path")
    if not dist_info:
        return None
    folder = Path(dist_info).parent / "nvidia" / library
    return str(folder) if folder.is_dir() else str(Path(dist_info).parent)


def _conda_prefix(c: Collector) -> str | None:
    for candidate in (c.ctx.target.get("prefix"), c.ctx.env.get("CONDA_PREFIX")):
        if candidate and c.path(candidate).joinpath("conda-meta").is_dir():
            return candidate
    return None


def _conda_records(c: Collector, prefix: str, name: str) -> list[dict]:
    import json

    records = []
    folder = c.path(prefix) / "conda-meta"
    try:
        files = sorted(folder.glob(f"{name}-*.json"))
    except OSError:
        return []
    for file in files:
        try:
            record = json.loads(gpu_cuda.read_text(file))
        except (OSError, ValueError) as exc:
            c.warn(f"conda record {file.name}: {exc}")
            continue
        if isinstance(record, dict) and record.get("name") == name and isinstance(record.get("version"), str):
            records.append(record)
    return records


def read_ldconfig(c: Collector) -> str | None:
    if not c.live or not sys.platform.startswith("linux"):
        return None
    ldconfig = shutil.which("ldconfig") or shutil.which("ldconfig", path="/sbin:/usr/sbin")
    if ldconfig is None:
        c.warn("ldconfig not found: cuDNN libraries on the loader path were not listed")
        return None
    try:
        return c.tool([ldconfig, "-p"])
    except ToolError as exc:
        c.warn(f"cuDNN libraries on the loader path were not listed: {exc}")
        return None


# --- ROCm and Apple -------------------------------------------------------------------------------------

def read_rocm(c: Collector) -> dict | None:
    root = c.ctx.env.get("ROCM_PATH") or "/opt/rocm"
    folder = c.path(root)
    if not folder.is_dir():
        return None
    version = None
    try:
        text = gpu_cuda.read_text(folder / ".info" / "version", 200).strip()
        match = re.match(r"^([0-9]+(?:\.[0-9]+)*)", text)
        version = match.group(1) if match else None
        if version is None:
            c.warn(f"ROCm at {root}: .info/version does not start with a version: {text[:40]!r}")
    except OSError as exc:
        c.warn(f"ROCm at {root}: .info/version unreadable: {exc.strerror or exc}")
    return {"version": version, "path": c.shown(gpu_cuda.real_toolkit_root(c.path, Path(root)))}


def apple_mps(c: Collector) -> bool | None:
    if not c.live:
        return None
    return sys.platform == "darwin" and platform.machine() == "arm64"


# --- the section ----------------------------------------------------------------------------------------

def collect(ctx: ProbeContext) -> ProbeResult:
    c = Collector(ctx)
    with ThreadPoolExecutor(max_workers=4) as pool:
        ldconfig_future = pool.submit(read_ldconfig, c)
        driver_future = pool.submit(read_driver, c)
        toolkits = read_toolkits(c, pool)
        ldconfig_text = ldconfig_future.result()
        driver, devices, reasons = driver_future.result()
    # the target's facts read last: freeze starts this probe beside the target probe (capture/freeze.py)
    distributions = ctx.target.get("distributions") or []
    section = {
        "vendor": None,
        "driver": finish_driver(driver),
        "devices": devices,
        "toolkits": toolkits,
        "cudnn": read_cudnn(c, toolkits, ldconfig_text),
        "cuda_wheels": _valid_versions(c, gpu_python.cuda_wheels(distributions)),
        "frameworks": _valid_versions(c, gpu_python.frameworks(distributions)),
        "rocm": read_rocm(c),
        "mps": apple_mps(c),
        "verdict": [],
    }
    gpu_python.merge_runtime(section["frameworks"], ctx.target.get("deep"))
    _warn_driver(c, section, reasons)
    section["vendor"] = _vendor(section)
    section["verdict"] = verdict(section)
    return ProbeResult(section, c.warnings)


def _valid_versions(c: Collector, records: list[dict]) -> list[dict]:
    """Keep what the manifest grammar accepts; a distribution with a non-PEP 440 version is named, not kept."""
    from envcapture.manifest import grammar

    kept = []
    for record in records:
        if grammar.check("dist-name", record["name"]) and grammar.check("pep440-version", record["version"]):
            kept.append(record)
        else:
            c.warn(f"{record['name']!r} {record['version']!r} left out of the gpu section: not a PEP 440 version")
    return kept


def _cuda_evidence(section: dict) -> bool:
    return bool(section["toolkits"] or section["cuda_wheels"]
                or any(record.get("cuda") for record in section["frameworks"]))


def _warn_driver(c: Collector, section: dict, reasons: list[str]) -> None:
    """Say why driver facts are missing; a machine with no CUDA software at all gets no noise."""
    driver = section["driver"]
    if driver is None:
        if _cuda_evidence(section) or any("did not answer" in reason for reason in reasons):
            c.warn("no NVIDIA driver found, so the driver version, its CUDA version and the GPUs are not "
                   "recorded: " + "; ".join(reasons))
        return
    if not driver.get("version"):
        c.warn("NVIDIA driver version unknown: " + "; ".join(reasons))
    if not driver.get("cuda_version"):
        c.warn("the driver's CUDA version is unknown: " + "; ".join(reasons))
    elif driver.get("source") != "nvml" and reasons:
        c.warn("NVML could not be used, facts come from fallbacks: " + "; ".join(reasons))
    for device in section["devices"]:
        if not device.get("compute_capability"):
            c.warn(f"GPU {device['index']} ({device['name']}): compute capability not reported by "
                   f"{device.get('source')}")


def _vendor(section: dict) -> str | None:
    if section["driver"] is not None and (section["driver"].get("version") or section["devices"]):
        return "nvidia"
    if section["rocm"] is not None:
        return "amd"
    if section["mps"]:
        return "apple"
    return None
