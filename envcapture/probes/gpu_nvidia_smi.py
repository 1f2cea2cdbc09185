"""Parsers for nvidia-smi's outputs (``--query-gpu`` CSV, ``-q -x`` XML, ``-L``, the plain table) and the
architecture names derived from a compute capability.

nvidia-smi is the fallback when NVML cannot be loaded in-process; each parser takes text and returns plain
records, so the tests feed them outputs recorded on real machines.
"""

from __future__ import annotations

import re

# What the probe asks for (with --format=csv,noheader); ``compute_cap`` needs driver >= 510, older ones refuse
# the whole query and the probe falls back to -q -x. The UUID comes from -q -x, and only with --include-host.
QUERY_FIELDS = ("index", "name", "memory.total", "compute_cap", "driver_version", "pci.bus_id",
                "mig.mode.current")

_MISSING = {"", "n/a", "[n/a]", "[not supported]", "not supported", "[unknown error]", "unknown error",
            "[requested functionality has been deprecated]", "[insufficient permissions]"}

# Compute capability major (or exact major.minor) -> architecture, as NVIDIA names them.
_ARCH_BY_CC = {
    "1": "Tesla", "2": "Fermi", "3": "Kepler", "5": "Maxwell", "6": "Pascal", "7.0": "Volta", "7.2": "Volta",
    "7.5": "Turing", "8.0": "Ampere", "8.6": "Ampere", "8.7": "Ampere", "8.8": "Ampere", "8.9": "Ada",
    "9": "Hopper", "10": "Blackwell", "11": "Blackwell", "12": "Blackwell",
}


class ParseError(ValueError):
    """The text is not the nvidia-smi output the parser expected."""


def missing(value: str | None) -> bool:
    return value is None or value.strip().lower() in _MISSING


def clean(value: str | None) -> str | None:
    return None if missing(value) else value.strip()


def mib(value: str | None) -> int | None:
    """'81559 MiB', '81559' -> 81559; anything else -> None."""
    text = clean(value)
    if text is None:
        return None
    match = re.match(r"^([0-9]+)(?:\s*MiB)?$", text)
    return int(match.group(1)) if match else None


def architecture_for(compute_capability: str | None) -> str | None:
    if not compute_capability:
        return None
    major = compute_capability.split(".")[0]
    return _ARCH_BY_CC.get(compute_capability) or _ARCH_BY_CC.get(major)


def architecture_name(product_architecture: str | None) -> str | None:
    """nvidia-smi's 'Ada Lovelace' -> 'Ada' (an identifier, as NVML names it)."""
    text = clean(product_architecture)
    if text is None:
        return None
    if text.lower().startswith("ada"):
        return "Ada"
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-") or None


def mig_mode(value: str | None) -> str | None:
    text = clean(value)
    return text if text in ("Enabled", "Disabled") else None


def bus_id(value: str | None) -> str | None:
    text = clean(value)
    return text if text and re.match(r"^[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]$", text) else None


def _split_csv_line(line: str) -> list[str]:
    # nvidia-smi never quotes; its separator is ", " and no queried field we keep contains a comma.
    return [cell.strip() for cell in line.split(",")]


def _header_name(cell: str) -> str:
    return re.sub(r"\s*\[[^\]]*\]$", "", cell.strip())


def parse_query_gpu_csv(text: str, fields: tuple[str, ...] | None = None) -> list[dict]:
    """Rows of ``--query-gpu=... --format=csv[,noheader][,nounits]`` as {field: value or None}.

    ``fields`` names the columns of a ``noheader`` output; without it the first line is the header.
    """
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if fields is None:
        if not lines:
            raise ParseError("empty --query-gpu output")
        fields = tuple(_header_name(cell) for cell in _split_csv_line(lines[0]))
        lines = lines[1:]
    rows = []
    for line in lines:
        cells = _split_csv_line(line)
        if len(cells) != len(fields):
            raise ParseError(f"--query-gpu row has {len(cells)} cells, expected {len(fields)}: {line[:80]!r}")
        rows.append({name: clean(cell) for name, cell in zip(fields, cells)})
    return rows


def devices_from_query_rows(rows: list[dict]) -> list[dict]:
    devices = []
    for position, row in enumerate(rows):
        index = row.get("index")
        cc = row.get("compute_cap")
        devices.append({
            "index": int(index) if index and index.isdigit() else position,
            "name": row.get("name") or "unknown",
            "memory_total_mib": mib(row.get("memory.total")),
            "compute_capability": cc,
            "architecture": architecture_for(cc),
            "mig_mode": mig_mode(row.get("mig.mode.current")),
            "mig_devices": [],
            "pci_bus_id": bus_id(row.get("pci.bus_id")),
            "uuid": row.get("uuid"),
            "source": "nvidia-smi",
        })
    return devices


def _text(element, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    return clean(found.text) if found is not None and found.text is not None else None


def parse_smi_xml(text: str) -> dict:
    """``nvidia-smi -q -x`` -> {"driver_version", "cuda_version", "devices": [...]}.

    The XML has no GPU index: nvidia-smi lists GPUs in index order (PCI bus order), so the position is used.
    It has no compute capability either; architecture comes from ``product_architecture`` (driver >= 450).
    """
    import xml.etree.ElementTree as ET  # only on the nvidia-smi fallback path

    # The DOCTYPE names an external DTD; ElementTree never fetches it.
    try:
        root = ET.fromstring(text.encode("utf-8") if isinstance(text, str) else text)
    except ET.ParseError as exc:
        raise ParseError(f"nvidia-smi -q -x output is not XML: {exc}") from None
    if root.tag != "nvidia_smi_log":
        raise ParseError(f"nvidia-smi -q -x output starts with <{root.tag}>, not <nvidia_smi_log>")
    devices = []
    for position, gpu in enumerate(root.findall("gpu")):
        devices.append({
            "index": position,
            "name": _text(gpu, "product_name") or "unknown",
            "memory_total_mib": mib(_text(gpu, "fb_memory_usage/total")),
            "compute_capability": None,
            "architecture": architecture_name(_text(gpu, "product_architecture")),
            "mig_mode": mig_mode(_text(gpu, "mig_mode/current_mig")),
            "mig_devices": [{"index": int(_text(mig, "index") or n), "profile": None,
                             "memory_total_mib": mib(_text(mig, "fb_memory_usage/total"))}
                            for n, mig in enumerate(gpu.findall("mig_devices/mig_device"))],
            "pci_bus_id": bus_id(_text(gpu, "pci/pci_bus_id") or gpu.get("id")),
            "uuid": _text(gpu, "uuid"),
            "source": "nvidia-smi",
        })
    return {"driver_version": _text(root, "driver_version"), "cuda_version": _text(root, "cuda_version"),
            "devices": devices}


_LIST_GPU = re.compile(r"^GPU (\d+): (.+?) \(UUID: ([^)]+)\)\s*$")
_LIST_MIG = re.compile(r"^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: ([^)]+)\)\s*$")


def parse_list_gpus(text: str) -> list[dict]:
    """``nvidia-smi -L`` -> [{"index", "name", "uuid", "mig": [{"index", "profile", "uuid"}]}]."""
    gpus: list[dict] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        gpu = _LIST_GPU.match(line)
        if gpu:
            gpus.append({"index": int(gpu.group(1)), "name": gpu.group(2), "uuid": gpu.group(3), "mig": []})
            continue
        mig = _LIST_MIG.match(line)
        if mig and gpus:
            gpus[-1]["mig"].append({"index": int(mig.group(2)), "profile": mig.group(1), "uuid": mig.group(3)})
    return gpus


_TABLE_VERSIONS = re.compile(r"Driver Version:\s*([0-9.]+)\s.*?CUDA Version:\s*([0-9.]+)")
# '|   0  NVIDIA GH200 120GB             On  |   00000009:01:00.0 Off |                    0 |'
_TABLE_GPU = re.compile(r"^\|\s+(\d+)\s+(.+?)\s+(On|Off)\s+\|\s+([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])")
_TABLE_MEMORY = re.compile(r"\|\s+\d+MiB\s+/\s+(\d+)MiB\s+\|")


def parse_smi_table(text: str) -> dict:
    """The plain ``nvidia-smi`` table -> {"driver_version", "cuda_version", "devices"} (names may be cut)."""
    lines = text.replace("\r\n", "\n").split("\n")
    versions = next((_TABLE_VERSIONS.search(line) for line in lines if _TABLE_VERSIONS.search(line)), None)
    if versions is None:
        raise ParseError("no 'Driver Version: ... CUDA Version: ...' line in the nvidia-smi table")
    devices = []
    for number, line in enumerate(lines):
        gpu = _TABLE_GPU.match(line)
        if not gpu:
            continue
        memory = _TABLE_MEMORY.search(lines[number + 1]) if number + 1 < len(lines) else None
        devices.append({"index": int(gpu.group(1)), "name": gpu.group(2).strip(),
                        "memory_total_mib": int(memory.group(1)) if memory else None,
                        "pci_bus_id": gpu.group(4), "source": "nvidia-smi"})
    return {"driver_version": versions.group(1), "cuda_version": versions.group(2), "devices": devices}
