"""Grading rules: for each compared fact, how a difference is graded (error or warning) and shown."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

JSON_FORMAT_VERSION = 1
ERROR, WARNING = "error", "warning"
SECTIONS = ("python", "python_packages", "conda", "os", "system_packages", "hardware", "gpu", "determinism",
            "code")
# CPU flags that change numerics or speed; other flags (e.g. 'ht', 'pni') are noise between CPU models.
# diff compares these too; check does not (the data sets have their own check, and a live environment has no run).
DIFF_SECTIONS = SECTIONS + ("data", "run")
NUMERIC_FLAGS = re.compile(r"^(sse4_2|avx|avx2|fma|f16c|avx512.*|amx.*|neon|asimd|sve.*)$")
ABSENT = None


def _key(value):
    return json.dumps(value, sort_keys=True)


def _show(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "(none)"
    return str(value)


def always(grade: str) -> Callable[[Any, Any], str]:
    return lambda expected, actual: grade


def _version_tuple(text) -> tuple:
    return tuple(int(part) for part in re.findall(r"[0-9]+", str(text or "")))


def python_version_grade(expected, actual) -> str:
    """Another minor version (3.11 -> 3.12) changes results; another patch release (3.11.7 -> 3.11.9) rarely."""
    if expected is None or actual is None:
        return ERROR
    return ERROR if _version_tuple(expected)[:2] != _version_tuple(actual)[:2] else WARNING


def driver_grade(expected, actual) -> str:
    """A driver older than the recorded one may not run the recorded CUDA; a newer one is backward compatible."""
    if expected is None:
        return WARNING
    if actual is None:
        return ERROR
    return ERROR if _version_tuple(actual) < _version_tuple(expected) else WARNING


def _majors(value) -> set:
    values = value if isinstance(value, list) else ([] if value is None else [value])
    return {_version_tuple(v)[:1] for v in values}


def major_grade(expected, actual) -> str:
    """CUDA and cuDNN: another major version is an error, another minor version a warning."""
    return ERROR if _majors(expected) != _majors(actual) else WARNING


def source_grade(expected, actual) -> str:
    if expected is None or actual is None or expected.get("kind") != actual.get("kind"):
        return ERROR
    kind = expected["kind"]
    if kind == "vcs":
        same = expected.get("url") == actual.get("url") and expected.get("commit") == actual.get("commit") \
            and expected.get("subdirectory") == actual.get("subdirectory")
        return WARNING if same else ERROR
    if kind == "archive":
        hashes = expected.get("hash"), actual.get("hash")
        return ERROR if None not in hashes and hashes[0] != hashes[1] else WARNING
    if kind in ("directory", "editable"):
        commits = expected.get("commit"), actual.get("commit")
        if None not in commits and commits[0] != commits[1]:
            return ERROR
        return WARNING
    return ERROR  # index -> another index


def system_package_grade(expected, actual) -> str:
    """A package installed by hand is part of the recipe; a dependency or an extra package is a warning."""
    if expected is None:
        return WARNING
    return ERROR if expected.get("manual") else WARNING


def show_source(source) -> str | None:
    if source is None:
        return None
    kind = source.get("kind")
    parts = [kind]
    if source.get("url"):
        parts.append(source["url"])
    if source.get("commit"):
        parts[-1] = parts[-1] + "@" + source["commit"][:12]
    if source.get("subdirectory"):
        parts.append(f"subdirectory={source['subdirectory']}")
    if source.get("hash"):
        parts.append(source["hash"][:23])
    if source.get("dirty"):
        parts.append("(dirty)")
    return " ".join(parts)


def show_system_package(value) -> str | None:
    if value is None:
        return None
    return value["version"] + (" (manual)" if value.get("manual") else "")


def memory_gib(value) -> int:
    # Identical nodes report MemTotal a few MiB apart (firmware and kernel reservations): compare whole GiB.
    return round(value / 2**30)


def show_memory(value) -> str | None:
    return None if value is None else f"{memory_gib(value)} GiB"


@dataclass(frozen=True)
class Rule:
    grade: Callable[[Any, Any], str]
    show: Callable[[Any], str | None] = _show
    key: Callable[[Any], str] = _key
    # For an item field: the one reported when the whole item is missing on one side.
    primary: bool = False
    # For a single fact: None on one side counts as a difference (else it means "not known" and is skipped).
    none_counts: bool = False
    label: str = ""


RULES: dict[tuple[str, str], Rule] = {
    ("python", "implementation"): Rule(always(ERROR)),
    ("python", "version"): Rule(python_version_grade, label="Python version"),
    ("python", "origin"): Rule(always(WARNING), label="Python origin"),
    ("python_packages", "version"): Rule(always(ERROR), primary=True),
    ("python_packages", "source"): Rule(source_grade, show=show_source,
                                        key=lambda v: _key({k: v.get(k) for k in ("kind", "url", "commit",
                                                                                  "subdirectory", "hash")})),
    ("conda", "environment"): Rule(always(ERROR), none_counts=True, label="conda environment"),
    ("conda", "channels"): Rule(always(WARNING), label="conda channels"),
    ("conda_packages", "version"): Rule(always(ERROR), primary=True),
    ("os", "system"): Rule(always(ERROR), label="operating system"),
    ("os", "id"): Rule(always(ERROR), label="distribution"),
    ("os", "version_id"): Rule(always(ERROR), label="distribution version"),
    ("os", "machine"): Rule(always(ERROR), label="architecture"),
    ("os", "libc"): Rule(always(WARNING)),
    ("os", "kernel"): Rule(always(WARNING), label="kernel release"),
    ("os", "container"): Rule(always(WARNING), none_counts=True),
    ("os", "wsl"): Rule(always(WARNING), label="WSL"),
    ("system_packages", "manager"): Rule(always(ERROR), label="package manager"),
    ("system_packages", "sources"): Rule(always(WARNING), label="package sources"),
    ("system_package", "version"): Rule(system_package_grade, show=show_system_package,
                                        key=lambda v: _key(v["version"]), primary=True),
    ("hardware", "cpu_model"): Rule(always(WARNING), label="CPU model"),
    ("hardware", "vendor"): Rule(always(WARNING), label="CPU vendor"),
    ("hardware", "physical_cores"): Rule(always(WARNING), label="physical cores"),
    ("hardware", "logical_cores"): Rule(always(WARNING), label="logical cores"),
    ("hardware", "memory_total"): Rule(always(WARNING), show=show_memory,
                                          key=lambda v: _key(memory_gib(v)), label="memory"),
    ("hardware", "flags"): Rule(always(WARNING), label="CPU flags"),
    ("gpu", "vendor"): Rule(always(WARNING), label="GPU vendor"),
    ("gpu", "driver"): Rule(driver_grade, none_counts=True, label="driver"),
    ("gpu", "devices"): Rule(always(WARNING), label="GPUs"),
    ("gpu", "compute_capability"): Rule(always(WARNING), label="compute capability"),
    ("gpu", "cuda_toolkit"): Rule(major_grade, label="CUDA toolkit"),
    ("gpu", "cudnn"): Rule(major_grade, label="cuDNN"),
    ("gpu_framework", "cuda"): Rule(major_grade, label="CUDA"),
    ("gpu_framework", "cudnn"): Rule(major_grade, label="cuDNN"),
    ("determinism", "environment"): Rule(always(WARNING), none_counts=True),
    ("determinism", "threads"): Rule(always(WARNING)),
    ("code", "commit"): Rule(always(WARNING), label="code commit"),
    ("code", "dirty"): Rule(always(WARNING), label="code has uncommitted changes"),
}

# ---------------------------------------------------------------------------------------- data sets and runs

def show_data_set(value) -> str | None:
    if value is None:
        return None
    return f"{value['algorithm']} {value['root_hash'][:12]} ({value['file_count']} files, {value['total_bytes']} bytes)"


def _data_key(value) -> str:
    return _key([value.get("algorithm"), value.get("root_hash")])


def show_seconds(value) -> str | None:
    return None if value is None else f"{value:.2f} s"


RULES.update({
    ("data_set", "content"): Rule(always(ERROR), show=show_data_set, key=_data_key, primary=True),
    ("run", "command"): Rule(always(ERROR), none_counts=True, label="command"),
    ("run", "working_folder"): Rule(always(WARNING), label="working folder"),
    ("run", "status"): Rule(always(ERROR), label="run status"),
    ("run", "exit_code"): Rule(always(ERROR), label="exit code"),
    ("run", "signal"): Rule(always(ERROR), label="signal"),
    ("run", "duration"): Rule(always(WARNING), show=show_seconds, label="duration"),
    ("run", "seed"): Rule(always(ERROR), none_counts=True, label="seed"),
    ("run", "packages_used"): Rule(always(WARNING), label="packages used"),
    ("run", "system_packages_used"): Rule(always(WARNING), label="system packages used"),
    ("run", "files_read"): Rule(always(WARNING), label="files read"),
    ("run", "files_written"): Rule(always(WARNING), label="files written"),
    ("run_output", "content"): Rule(always(ERROR), show=show_data_set, key=_data_key, primary=True),
    ("run_seeded", "call"): Rule(always(ERROR), primary=True),
    ("run_switch", "value"): Rule(always(ERROR), primary=True),
})

# Fact groups whose items live in another manifest section (the section a user reads them under).
SECTION_OF = {"conda_packages": "conda", "system_package": "system_packages", "gpu_framework": "gpu",
              "data_set": "data", "run_output": "run", "run_seeded": "run", "run_switch": "run"}
