"""Fact extraction: a manifest flattened into (group, item, field) -> value."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from envcapture.compare.rules import NUMERIC_FLAGS, SECTIONS
from envcapture.manifest.grammar import canonical_name


@dataclass
class Facts:
    """One manifest flattened: (group, item, field) -> value, plus which items exist."""

    values: dict = field(default_factory=dict)
    items: set = field(default_factory=set)

    def put(self, group: str, item: str, name: str, value) -> None:
        self.values[(group, item, name)] = value
        if item:
            self.items.add((group, item))


def _python_facts(m: dict, out: Facts) -> None:
    python = m.get("python") or {}
    for name in ("implementation", "version", "origin"):
        out.put("python", "", name, python.get(name))


def _package_source(source: dict) -> dict:
    source = source or {"kind": "index"}
    checkout = source.get("checkout") or {}
    commit = source.get("commit") or checkout.get("commit")
    return {"kind": source.get("kind"), "url": source.get("url"), "commit": commit,
            "subdirectory": source.get("subdirectory"), "hash": source.get("hash"),
            "dirty": bool(checkout.get("dirty"))}


def _python_package_facts(m: dict, out: Facts) -> None:
    for package in m.get("python_packages") or []:
        item = canonical_name(package["name"])
        out.put("python_packages", item, "version", package["version"])
        out.put("python_packages", item, "source", _package_source(package.get("source")))


def _conda_facts(m: dict, out: Facts) -> None:
    conda = m.get("conda")
    out.put("conda", "", "environment", None if conda is None else (conda.get("name") or "conda environment"))
    if conda is None:
        return
    out.put("conda", "", "channels", list(conda.get("channels") or []))
    for package in conda.get("packages") or []:
        out.put("conda_packages", package["name"], "version", f"{package['version']} {package['build']}")


def _os_facts(m: dict, out: Facts) -> None:
    os_ = m.get("os") or {}
    for name in ("system", "id", "version_id", "machine", "kernel", "container", "wsl"):
        out.put("os", "", name, os_.get(name))
    libc = os_.get("libc") or {}
    out.put("os", "", "libc", " ".join(v for v in (libc.get("name"), libc.get("version")) if v) or None)


def _system_package_facts(m: dict, out: Facts) -> None:
    section = m.get("system_packages") or {}
    out.put("system_packages", "", "manager", section.get("manager"))
    out.put("system_packages", "", "sources", sorted(section.get("sources") or []))
    packages = section.get("packages") or []
    arches = Counter(p["name"] for p in packages)
    for package in packages:
        # name:arch only where a package is installed for several architectures (multiarch).
        item = package["name"] if arches[package["name"]] == 1 else f"{package['name']}:{package.get('architecture')}"
        out.put("system_package", item, "version", {"version": package["version"],
                                                    "manual": bool(package.get("manual"))})


def _hardware_facts(m: dict, out: Facts) -> None:
    hardware = m.get("hardware") or {}
    for name in ("cpu_model", "vendor", "physical_cores", "logical_cores", "memory_total"):
        out.put("hardware", "", name, hardware.get(name))
    flags = hardware.get("flags")
    out.put("hardware", "", "flags", sorted(f for f in flags if NUMERIC_FLAGS.match(f)) if flags else None)


def _gpu_facts(m: dict, out: Facts) -> None:
    gpu = m.get("gpu") or {}
    out.put("gpu", "", "vendor", gpu.get("vendor"))
    out.put("gpu", "", "driver", (gpu.get("driver") or {}).get("version"))
    devices = gpu.get("devices") or []
    out.put("gpu", "", "devices", sorted(d["name"] for d in devices) if gpu else None)
    capabilities = sorted({d.get("compute_capability") for d in devices if d.get("compute_capability")})
    out.put("gpu", "", "compute_capability", capabilities or None)
    toolkits = sorted(t["version"] for t in gpu.get("toolkits") or [] if t.get("version"))
    out.put("gpu", "", "cuda_toolkit", toolkits if gpu else None)
    cudnn = sorted({c["version"] for c in gpu.get("cudnn") or [] if c.get("version")})
    out.put("gpu", "", "cudnn", cudnn if gpu else None)
    for framework in gpu.get("frameworks") or []:
        for name in ("cuda", "cudnn"):
            if framework.get(name):
                out.put("gpu_framework", canonical_name(framework["name"]), name, framework[name])


def _determinism_facts(m: dict, out: Facts) -> None:
    determinism = m.get("determinism") or {}
    for name, value in (determinism.get("environment") or {}).items():
        out.put("determinism", name, "environment", value)
    for name, value in (determinism.get("threads") or {}).items():
        out.put("determinism", name, "threads", value)


def _code_facts(m: dict, out: Facts) -> None:
    code = m.get("code") or {}
    out.put("code", "", "commit", code.get("commit"))
    out.put("code", "", "dirty", code.get("dirty") if code else None)


def _data_set_value(record: dict) -> dict:
    return {key: record.get(key) for key in ("algorithm", "root_hash", "file_count", "total_bytes")}


def _data_facts(m: dict, out: Facts) -> None:
    for record in (m.get("data") or {}).get("sets") or []:
        out.put("data_set", record["name"], "content", _data_set_value(record))


def _seed_facts(records: list, out: Facts) -> None:
    """What the run seeded and the switches it set, as the run set them (not a fresh interpreter's defaults)."""
    for record in records:
        for entry in record.get("seeded") or []:
            out.put("run_seeded", f"seeded {entry['name']}", "call", f"{entry['call']} ({entry['when']})")
        for name, value in (record.get("switches") or {}).items():
            out.put("run_switch", f"switch {name}", "value", value)
        for name, value in (record.get("environment") or {}).items():
            out.put("run_switch", f"switch {name}", "value", value)
        for problem in record.get("not_set") or []:
            out.put("run_switch", f"switch {problem['name']}", "value", "not set")


def _run_facts(m: dict, out: Facts) -> None:
    run = m.get("run")
    out.put("run", "", "command", None if run is None else list(run.get("argv") or []))
    if run is None:
        return
    for name in ("working_folder", "status", "exit_code", "signal", "seed"):
        out.put("run", "", name, run.get(name))
    out.put("run", "", "duration", run.get("duration_seconds"))
    used = run.get("used") or {}
    if used.get("recorded"):
        out.put("run", "", "packages_used", used.get("python_packages"))
        if used.get("system_packages") is not None:  # absent from older run records
            out.put("run", "", "system_packages_used", used.get("system_packages"))
        out.put("run", "", "files_read", list(used.get("files_read") or []))
        out.put("run", "", "files_written", list(used.get("files_written") or []))
    for record in run.get("outputs") or []:
        out.put("run_output", f"output {record['name']}", "content", _data_set_value(record))
    _seed_facts(run.get("seed_records") or [], out)


EXTRACTORS = {"python": _python_facts, "python_packages": _python_package_facts, "conda": _conda_facts,
              "os": _os_facts, "system_packages": _system_package_facts, "hardware": _hardware_facts,
              "gpu": _gpu_facts, "determinism": _determinism_facts, "code": _code_facts,
              "data": _data_facts, "run": _run_facts}


def extract(manifest: dict, sections: Iterable[str] = SECTIONS) -> Facts:
    out = Facts()
    for section in sections:
        EXTRACTORS[section](manifest, out)
    return out
