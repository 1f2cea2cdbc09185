"""The GPU part of ``envcapture show``: the manifest's ``gpu`` section as rows a CUDA user reads at a glance.

``gpu_summary_rows`` is pure (section in, (label, value) rows out) so tests check the wording without a
terminal; ``render_gpu`` prints them with rich, as plain text (manifest values are never rich markup).
"""

from __future__ import annotations


def _join(*parts) -> str:
    return " · ".join(str(part) for part in parts if part not in (None, "", []))


def driver_row(section: dict) -> tuple[str, str] | None:
    driver = section.get("driver")
    if not driver:
        return ("Driver", "no NVIDIA driver found") if section.get("toolkits") or section.get("cuda_wheels") \
            else None
    cuda = f"supports CUDA {driver['cuda_version']}" if driver.get("cuda_version") else "CUDA version unknown"
    return "Driver", _join(driver.get("version") or "version unknown", cuda, _source(driver))


def _source(record: dict) -> str | None:
    return f"from {record['source']}" if record.get("source") else None


def device_rows(section: dict) -> list[tuple[str, str]]:
    rows = []
    for device in section.get("devices") or []:
        memory = f"{device['memory_total_mib'] / 1024:.0f} GiB" if device.get("memory_total_mib") else None
        capability = f"compute {device['compute_capability']}" if device.get("compute_capability") else None
        mig = None
        if device.get("mig_mode") == "Enabled":
            profiles = [m.get("profile") or f"{m.get('memory_total_mib')} MiB" for m in device.get("mig_devices") or []]
            mig = f"MIG: {', '.join(profiles)}" if profiles else "MIG enabled"
        rows.append((f"GPU {device['index']}", _join(device["name"], memory, device.get("architecture"), capability,
                                                     mig, device.get("pci_bus_id"))))
    return rows


def toolkit_rows(section: dict) -> list[tuple[str, str]]:
    rows = []
    for toolkit in section.get("toolkits") or []:
        nvcc = f"nvcc {toolkit['nvcc_version']}" if toolkit.get("nvcc_version") else None
        rows.append(("CUDA toolkit", _join(toolkit.get("version") or "version unknown", toolkit["path"], nvcc)))
    return rows


def cudnn_rows(section: dict) -> list[tuple[str, str]]:
    rows = []
    for copy in section.get("cudnn") or []:
        rows.append(("cuDNN", _join(copy["version"], copy.get("package") or copy["source"], copy.get("path"))))
    return rows


def wheel_row(section: dict) -> tuple[str, str] | None:
    wheels = section.get("cuda_wheels") or []
    if not wheels:
        return None
    majors: dict[str, int] = {}
    for wheel in wheels:
        key = f"CUDA {wheel['cuda_major']}" if wheel.get("cuda_major") else "CUDA major not in name"
        majors[key] = majors.get(key, 0) + 1
    counted = ", ".join(f"{count} {key}" for key, count in sorted(majors.items()))
    return "CUDA wheels", f"{len(wheels)} ({counted})"


def framework_rows(section: dict) -> list[tuple[str, str]]:
    from envcapture.probes.gpu_verdict import runtime_cudnn

    rows = []
    for record in section.get("frameworks") or []:
        built = None
        if record.get("cuda"):
            built = f"built for CUDA {record['cuda']}"
        elif record.get("rocm"):
            built = f"built for ROCm {record['rocm']}"
        cudnn = f"cuDNN {record['cudnn']}" if record.get("cudnn") else None
        runtime = record.get("runtime") if isinstance(record.get("runtime"), dict) else None
        seen = None
        if runtime is not None:
            if runtime.get("cuda_available") is not None:
                available = "CUDA available" if runtime["cuda_available"] else "CUDA NOT available"
                seen = _join(f"at run time: {runtime.get('version') or ''}".strip(), available,
                             f"{runtime.get('device_count')} device(s)" if runtime.get("device_count") is not None
                             else None, runtime_cudnn(record) and f"cuDNN {runtime_cudnn(record)}")
            elif runtime.get("backend"):
                seen = f"at run time: backend {runtime['backend']}"
        rows.append((record["name"], _join(record["version"], built, cudnn, seen)))
    return rows


def gpu_summary_rows(section: dict | None) -> list[tuple[str, str]]:
    """(label, value) rows for the GPU table; an empty list when the manifest has no GPU section."""
    if not section:
        return []
    rows: list[tuple[str, str]] = []
    driver = driver_row(section)
    if driver:
        rows.append(driver)
    rows += device_rows(section)
    rows += toolkit_rows(section)
    rows += cudnn_rows(section)
    wheels = wheel_row(section)
    if wheels:
        rows.append(wheels)
    rows += framework_rows(section)
    if section.get("rocm"):
        rocm = section["rocm"]
        rows.append(("ROCm", _join(rocm.get("version") or "version unknown", rocm.get("path"))))
    if section.get("mps"):
        rows.append(("Apple MPS", "available"))
    if not rows:
        rows.append(("GPU", "none found"))
    return rows


def render_gpu(section: dict | None, console) -> None:
    """Print the GPU table and the verdict with rich; values go in as Text, never parsed as markup."""
    from rich.table import Table
    from rich.text import Text

    from envcapture.text import printable  # control characters and bidi marks shown escaped, never obeyed

    if not section:
        return
    table = Table(title="GPU", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for label, value in gpu_summary_rows(section):
        table.add_row(Text(printable(label)), Text(printable(value)))
    console.print(table)
    for sentence in section.get("verdict") or []:
        console.print(Text("  • " + printable(sentence)))
