"""Manifests in, one neutral report model out: what a paper's "Computational environment" section says.

The views (markdown.py, latex.py, html.py) only escape and lay out what this module decides, so the three
formats always say the same thing. Nothing here escapes: every value is plain text until a view writes it.
"""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from envcapture.show.summary import code_text, human_size, source_text
from envcapture.show.gpu import gpu_summary_rows


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    source: str


@dataclass(frozen=True)
class DataSet:
    name: str
    role: str
    files: str
    size: str
    algorithm: str
    root_hash: str


@dataclass
class Report:
    title: str
    manifests: list[str]
    environment: list[tuple[str, str]]
    gpu: list[tuple[str, str]]
    gpu_verdict: list[str]
    top_level: list[Package]
    packages: list[Package]
    determinism: list[tuple[str, str]]
    determinism_warnings: list[str]
    data: list[DataSet]
    commands: list[str]
    sources_chart: list[tuple[str, int]]
    # Only with several manifests: (fact, value per manifest) for each fact that is not the same everywhere.
    differences: list[tuple[str, list[str]]] = field(default_factory=list)


def environment_rows(m: dict) -> list[tuple[str, str]]:
    py, os_, hw = m["python"], m["os"], m["hardware"]
    libc = os_.get("libc") or {}
    rows = [
        ("Python", f"{py['implementation']} {py['version']} ({py['origin']}"
                   f"{', virtualenv' if py.get('is_virtualenv') else ''})"),
        ("Operating system", f"{os_.get('pretty_name') or os_['system']} ({os_['machine']}), "
                             f"kernel {os_.get('kernel') or 'unknown'}"),
        ("C library", f"{libc.get('name') or 'unknown'} {libc.get('version') or ''}".strip()),
        ("CPU", f"{hw.get('cpu_model') or 'unknown'}, {hw.get('physical_cores') or '?'} cores / "
                f"{hw.get('logical_cores') or '?'} threads"),
        ("Memory", human_size(hw.get("memory_total"))),
    ]
    if os_.get("container"):
        rows.append(("Container", os_["container"]))
    conda = m.get("conda")
    if conda:
        rows.append(("Conda", f"{len(conda['packages'])} packages from {', '.join(conda['channels']) or 'unknown'}"))
    system = m.get("system_packages") or {}
    if system.get("manager"):
        manual = sum(1 for p in system["packages"] if p.get("manual"))
        rows.append(("System packages", f"{len(system['packages'])} {system['manager']} packages, "
                                        f"{manual} installed by hand"))
    rows.append(("Python packages", f"{len(m['python_packages'])} installed, "
                                    f"{sum(1 for p in m['python_packages'] if p.get('top_level'))} top level"))
    rows.append(("Code", code_text(m.get("code"))))
    rows.append(("Captured", f"{m['created']} with envcapture {m['envcapture']['version']}"))
    return rows


def package_list(m: dict, top_level_only: bool = False) -> list[Package]:
    packages = [Package(p["name"], p["version"], source_text(p["source"]))
                for p in m["python_packages"] if p.get("top_level") or not top_level_only]
    return sorted(packages, key=lambda p: p.name.lower())


def determinism_rows(m: dict) -> list[tuple[str, str]]:
    det = m["determinism"]
    rows = [(name, "unset" if value is None else str(value)) for name, value in sorted(det["environment"].items())]
    rows += [(f"threads: {name}", str(value)) for name, value in sorted((det.get("threads") or {}).items())]
    for framework, facts in sorted((det.get("deep") or {}).items()):
        if not isinstance(facts, dict):
            continue
        for key in sorted(facts):
            # Only the switches that change results; the free-form rest stays in the manifest.
            if any(word in key for word in ("determin", "benchmark", "seed", "tf32")) and \
                    isinstance(facts[key], (bool, int, str)):
                rows.append((f"{framework}: {key}", str(facts[key])))
    return rows


def data_sets(m: dict) -> list[DataSet]:
    return [DataSet(name=d["name"], role=d["role"], files=str(d["file_count"]), size=human_size(d["total_bytes"]),
                    algorithm=d["algorithm"], root_hash=d["root_hash"])
            for d in (m.get("data") or {}).get("sets") or []]


def rebuild_commands(m: dict, manifest_name: str) -> list[str]:
    """The commands that rebuild the environment, every value shell-quoted (they are meant to be pasted)."""
    name = shlex.quote(manifest_name)
    commands = []
    code = m.get("code") or {}
    if code.get("remote") and code.get("commit"):
        commands.append(f"git clone {shlex.quote(code['remote'])} project && "
                        f"git -C project checkout {shlex.quote(code['commit'])}")
    commands += [
        f"envcapture generate docker -m {name} -o reproduce",
        f"envcapture build docker -m {name} -o reproduce",
        f"envcapture restore {name} --venv .venv",
        f"envcapture check {name}",
    ]
    return commands


def sources_chart(m: dict) -> list[tuple[str, int]]:
    counts = Counter(p["source"].get("kind", "index") for p in m["python_packages"])
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def differences(manifests: list[dict]) -> list[tuple[str, list[str]]]:
    """Facts whose value is not the same in every manifest: environment rows, then package versions."""
    rows: dict[str, list[str]] = {}
    for index, m in enumerate(manifests):
        facts = dict(environment_rows(m))
        facts.pop("Captured", None)
        for p in m["python_packages"]:
            facts[f"package {p['name']}"] = p["version"]
        for key, value in facts.items():
            rows.setdefault(key, ["absent"] * len(manifests))[index] = value
    return [(key, values) for key, values in rows.items() if len(set(values)) > 1]


def build_report(manifests: list[dict], names: list[str]) -> Report:
    first = manifests[0]
    gpu = first.get("gpu")
    report = Report(
        title="Computational environment",
        manifests=[Path(n).name for n in names],
        environment=environment_rows(first),
        gpu=gpu_summary_rows(gpu),
        gpu_verdict=list((gpu or {}).get("verdict") or []),
        top_level=package_list(first, top_level_only=True),
        packages=package_list(first),
        determinism=determinism_rows(first),
        determinism_warnings=list(first["determinism"].get("warnings") or []),
        data=data_sets(first),
        commands=rebuild_commands(first, Path(names[0]).name),
        sources_chart=sources_chart(first),
    )
    if len(manifests) > 1:
        report.differences = differences(manifests)
    return report
