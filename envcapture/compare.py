"""One comparison for `check` (live environment vs manifest) and `diff` (manifests vs manifests).

Each manifest is flattened into *facts*, keyed by (section, item, field): ``("python_packages", "six",
"version") -> "1.16.0"``. A fact that differs between manifests becomes a graded difference: ``error`` for
what changes results (a package version, the Python minor version, the CUDA major, ...), ``warning`` for
what usually does not (kernel release, CPU model, memory size, ...). The first manifest is the reference
("expected"); with three or more, differences form a matrix of values per manifest.

What is never compared: paths (executable, prefixes, mounts), timestamps, the envcapture version, who
installed a package (pip or uv) and whether it was requested, host identity, and freeze warnings.
The JSON view's shape is documented in docs/compare-json.md and is stable.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from envcapture.errors import BadInput, ToolFailed
from envcapture.grammar import canonical_name

JSON_FORMAT_VERSION = 1
ERROR, WARNING = "error", "warning"
SECTIONS = ("python", "python_packages", "conda", "os", "system_packages", "hardware", "gpu", "determinism",
            "code")
# CPU flags that change numerics or speed; other flags (e.g. 'ht', 'pni') are noise between CPU models.
NUMERIC_FLAGS = re.compile(r"^(sse4_2|avx|avx2|fma|f16c|avx512.*|amx.*|neon|asimd|sve.*)$")
ABSENT = None


# ---------------------------------------------------------------------------------------------- rules

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

# Fact groups whose items live in another manifest section (the section a user reads them under).
SECTION_OF = {"conda_packages": "conda", "system_package": "system_packages", "gpu_framework": "gpu"}


# ----------------------------------------------------------------------------------------- facts

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


EXTRACTORS = {"python": _python_facts, "python_packages": _python_package_facts, "conda": _conda_facts,
              "os": _os_facts, "system_packages": _system_package_facts, "hardware": _hardware_facts,
              "gpu": _gpu_facts, "determinism": _determinism_facts, "code": _code_facts}


def extract(manifest: dict, sections: Iterable[str] = SECTIONS) -> Facts:
    out = Facts()
    for section in sections:
        EXTRACTORS[section](manifest, out)
    return out


# ------------------------------------------------------------------------------------ comparison

@dataclass
class Difference:
    section: str
    item: str
    field: str
    what: str
    grade: str
    change: str  # missing | extra | changed, seen from the first manifest
    values: list  # one display value per manifest; None where absent or not known

    def message(self, labels: list[str]) -> str:
        if len(self.values) == 2:
            a, b = self.values
            if self.change == "missing":
                return f"{self.what}: {a} in {labels[0]}, missing in {labels[1]}"
            if self.change == "extra":
                return f"{self.what}: not in {labels[0]}, {b} in {labels[1]}"
            return f"{self.what}: {a} in {labels[0]}, {b} in {labels[1]}"
        groups: dict = {}
        for label, value in zip(labels, self.values):
            groups.setdefault(value if value is not None else "(missing)", []).append(label)
        return f"{self.what}: " + "; ".join(f"{v} on {', '.join(ls)}" for v, ls in groups.items())

    def to_json(self, labels: list[str]) -> dict:
        return {"section": self.section, "item": self.item or None, "field": self.field, "what": self.what,
                "grade": self.grade, "change": self.change, "values": self.values,
                "message": self.message(labels)}


@dataclass
class Comparison:
    labels: list[str]
    sources: list[str]
    differences: list[Difference]
    not_compared: dict  # section -> reason
    groups: list[list[str]]
    strict: bool = False

    def count(self, grade: str) -> int:
        return sum(1 for d in self.differences if d.grade == grade)

    @property
    def same(self) -> bool:
        return not self.differences

    @property
    def ok(self) -> bool:
        return self.count(ERROR) == 0

    def to_json(self, command: str) -> dict:
        return {
            "envcapture_compare": JSON_FORMAT_VERSION,
            "command": command,
            "manifests": [{"label": label, "source": source} for label, source in zip(self.labels, self.sources)],
            "strict": self.strict,
            "same": self.same,
            "ok": self.ok,
            "counts": {ERROR: self.count(ERROR), WARNING: self.count(WARNING)},
            "not_compared": [{"section": s, "reason": r} for s, r in self.not_compared.items()],
            "groups": self.groups,
            "differences": [d.to_json(self.labels) for d in self.differences],
        }


def _what(group: str, item: str, name: str, rule: Rule) -> str:
    if group == "determinism":
        return item
    if item:
        if rule.primary:
            return item
        return f"{item} {rule.label or name}" if group != "python_packages" else f"{item} (source)"
    return rule.label or name.replace("_", " ")


def _grade(rule: Rule, values: list, directional: bool) -> str:
    if directional:
        return rule.grade(values[0], values[1])
    distinct = list({rule.key(v) if v is not None else None: v for v in values}.values())
    for i, a in enumerate(distinct):
        for j, b in enumerate(distinct):
            if i != j and rule.grade(a, b) == ERROR:
                return ERROR
    return WARNING


def _change(present: list[bool], keys: list) -> str:
    if not present[0]:
        return "extra"
    if all(keys[i] == keys[0] for i in range(len(keys)) if present[i]):
        return "missing"
    return "changed"


def sections_not_collected(manifest: dict) -> set[str]:
    """Sections whose probe failed at freeze time (freeze says so in its warnings): nothing to compare."""
    from envcapture.freeze import sections_not_collected as from_messages

    return from_messages(warning.get("message", "") for warning in manifest.get("warnings") or [])


def compare(manifests: list[dict], labels: list[str], sources: list[str] | None = None,
            skip: dict | None = None, strict: bool = False) -> Comparison:
    """Compare ``manifests`` (the first is the reference) and grade every difference.

    ``skip`` maps a section, or a ``section.field`` fact, to the reason it is not compared (e.g. facts an
    image cannot tell); sections that a freeze could not collect are skipped the same way.
    """
    if len(manifests) < 2:
        raise BadInput("compare needs at least two manifests")
    not_compared = dict(skip or {})
    for label, m in zip(labels, manifests):
        for section in sorted(sections_not_collected(m)):
            if section in SECTIONS and section not in not_compared:
                not_compared[section] = f"not collected in {label}"
    sections = [s for s in SECTIONS if s not in not_compared]
    tables = [extract(m, sections) for m in manifests]
    keys = sorted(set().union(*(t.values for t in tables)),
                  key=lambda k: (SECTIONS.index(SECTION_OF.get(k[0], k[0])), k[0], k[1], k[2]))
    directional = len(manifests) == 2
    differences = []
    for key in keys:
        group, item, name = key
        section = SECTION_OF.get(group, group)
        if f"{section}.{name}" in not_compared:
            continue
        rule = RULES[(group, name)]
        raw = [t.values.get(key) for t in tables]
        if item and group != "determinism":
            present = [(group, item) in t.items for t in tables]
            if not rule.primary:
                # A secondary field of an item missing somewhere: the primary field already reports it.
                if not all(present):
                    continue
            present = [p and v is not None for p, v in zip(present, raw)]
        elif rule.none_counts:
            present = [True] * len(raw)
        else:
            present = [v is not None for v in raw]
            if not all(present):
                continue  # not known on one side: nothing to say
        value_keys = [rule.key(v) if p else None for v, p in zip(raw, present)]
        if len(set(value_keys)) <= 1:
            continue
        values = [v if p else None for v, p in zip(raw, present)]
        grade = _grade(rule, values, directional)
        if strict:
            grade = ERROR
        differences.append(Difference(
            section=section, item=item, field=name, what=_what(group, item, name, rule), grade=grade,
            change=_change(present, value_keys), values=[rule.show(v) for v in values]))
    return Comparison(labels=labels, sources=sources or list(labels), differences=differences,
                      not_compared=not_compared, groups=_groups(labels, tables, sections), strict=strict)


def _groups(labels: list[str], tables: list[Facts], sections: list[str]) -> list[list[str]]:
    """Manifests that agree on every compared fact, so a heterogeneous cluster is seen at a glance."""
    groups: dict = {}
    for label, table in zip(labels, tables):
        signature = _key(sorted((list(k), v) for k, v in table.values.items()))
        groups.setdefault(signature, []).append(label)
    return list(groups.values())


# ------------------------------------------------------------------------------------------ views

GRADE_STYLE = {ERROR: "bold red", WARNING: "yellow"}
SECTION_TITLES = {"python": "Python", "python_packages": "Python packages", "conda": "conda", "os": "Operating system",
                  "system_packages": "System packages", "hardware": "Hardware", "gpu": "GPU",
                  "determinism": "Determinism settings", "code": "Code"}


def _console():
    from rich.console import Console

    # Not a terminal (a CI log, a pipe): wide enough that a version is never wrapped in two.
    out = Console()
    return out if out.is_terminal else Console(width=200, no_color=True)


def verdict_line(result: Comparison, command: str) -> str:
    errors, warnings = result.count(ERROR), result.count(WARNING)
    counts = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    if command == "diff":
        if result.same:
            return f"same: the {len(result.labels)} manifests agree on every compared fact"
        return f"different: {counts}"
    if result.ok:
        note = f" ({counts})" if warnings else ""
        return f"OK: {result.labels[1]} satisfies {result.labels[0]}{note}"
    return f"DRIFT: {result.labels[1]} does not satisfy {result.labels[0]}: {counts}"


def render_text(result: Comparison, command: str, console=None) -> None:
    from rich.table import Table
    from rich.text import Text

    console = console or _console()
    n = len(result.labels)
    heading = " vs ".join(f"{label}" for label in result.labels)
    console.print(Text(f"Comparing {heading}", style="bold"))
    by_section: dict = {}
    for difference in result.differences:
        by_section.setdefault(difference.section, []).append(difference)
    if n > 2 and result.differences:
        # One matrix for a cluster: a row per differing fact, a column per manifest, odd values highlighted.
        by_section = {"matrix": result.differences}
    for section, differences in by_section.items():
        title = "What differs, and where" if section == "matrix" else SECTION_TITLES.get(section, section)
        table = Table(title=title, title_justify="left", show_lines=False)
        if section == "matrix":
            table.add_column("section")
        table.add_column("grade")
        table.add_column("what")
        for label in result.labels:
            table.add_column(label, overflow="fold")
        shown, hidden = shown_rows(differences)
        for difference in shown:
            cells = [Text(v if v is not None else "-", style=_cell_style(difference, i)) for i, v in
                     enumerate(difference.values)]
            first = [SECTION_TITLES.get(difference.section, difference.section)] if section == "matrix" else []
            table.add_row(*first, Text(difference.grade, style=GRADE_STYLE[difference.grade]), difference.what,
                          *cells)
        console.print(table)
        if hidden:
            console.print(Text(hidden_note(hidden), style="dim"))
    if n > 2 and len(result.groups) > 1:
        console.print(Text("Groups of identical manifests:", style="bold"))
        for group in result.groups:
            console.print(f"  {', '.join(group)}")
    for reason, sections in _by_reason(result.not_compared).items():
        console.print(Text(f"not compared: {', '.join(sections)} ({reason})", style="dim"))
    ok = result.same if command == "diff" else result.ok
    console.print(Text(verdict_line(result, command), style="bold green" if ok else "bold red"))


MAX_ROWS = 40


def shown_rows(differences: list[Difference], limit: int = MAX_ROWS) -> tuple[list, list]:
    """At most ``limit`` rows of a table, errors first: a dev machine against a slim image differs in
    hundreds of system packages, and the few installed by hand are what matter."""
    if len(differences) <= limit:
        return differences, []
    ranked = sorted(differences, key=lambda d: d.grade != ERROR)
    keep = {id(d) for d in ranked[:limit]}
    return [d for d in differences if id(d) in keep], [d for d in differences if id(d) not in keep]


def hidden_note(hidden: list[Difference]) -> str:
    errors = sum(1 for d in hidden if d.grade == ERROR)
    return (f"... and {len(hidden)} more ({errors} errors, {len(hidden) - errors} warnings): "
            "--format json lists every difference")


def _by_reason(not_compared: dict) -> dict:
    grouped: dict = {}
    for section, reason in not_compared.items():
        grouped.setdefault(reason, []).append(section)
    return grouped


def _majority(values: list):
    counts = Counter(v for v in values)
    return counts.most_common(1)[0][0] if counts else None


def _cell_style(difference: Difference, index: int) -> str:
    """Values that differ from the most common one stand out (the odd node in a cluster)."""
    if len(difference.values) == 2:
        return "" if index == 0 else GRADE_STYLE[difference.grade]
    return GRADE_STYLE[difference.grade] if difference.values[index] != _majority(difference.values) else "dim"


def _md_cell(value) -> str:
    text = "-" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")


def render_markdown(result: Comparison, command: str) -> str:
    lines = [f"## envcapture {command}: {' vs '.join(_md_cell(l) for l in result.labels)}", ""]
    lines.append(f"**{_md_cell(verdict_line(result, command))}**")
    lines.append("")
    if result.differences:
        lines.append("| section | grade | what | " + " | ".join(_md_cell(l) for l in result.labels) + " |")
        lines.append("|---|---|---|" + "---|" * len(result.labels))
        shown, hidden = shown_rows(result.differences, limit=100)
        for d in shown:
            values = []
            for i, value in enumerate(d.values):
                cell = _md_cell(value)
                odd = (i > 0 and value != d.values[0]) if len(d.values) == 2 else value != _majority(d.values)
                values.append(f"**{cell}**" if odd else cell)
            lines.append(f"| {SECTION_TITLES.get(d.section, d.section)} | {d.grade} | {_md_cell(d.what)} | "
                         + " | ".join(values) + " |")
        lines.append("")
        if hidden:
            lines += [hidden_note(hidden), ""]
    if len(result.labels) > 2 and len(result.groups) > 1:
        lines.append("Groups of identical manifests: " + "; ".join(
            "{" + ", ".join(_md_cell(l) for l in g) + "}" for g in result.groups))
        lines.append("")
    for reason, sections in _by_reason(result.not_compared).items():
        lines.append(f"- not compared: {', '.join(sections)} ({_md_cell(reason)})")
    return "\n".join(lines).rstrip("\n") + "\n"


def emit(result: Comparison, command: str, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(result.to_json(command), indent=2, ensure_ascii=False) + "\n")
    elif fmt == "markdown":
        sys.stdout.write(render_markdown(result, command))
    else:
        render_text(result, command)


# --------------------------------------------------------------------------------------- commands

def manifest_labels(paths: list[str]) -> list[str]:
    """Short names for the columns: the file stem (node-3), the path where stems repeat."""
    stems = [Path(p).stem for p in paths]
    return [stem if stems.count(stem) == 1 else str(p) for stem, p in zip(stems, paths)]


def diff_command(args) -> int:
    from envcapture import manifest as manifest_io

    paths = list(args.manifests)
    if len(paths) < 2:
        raise BadInput("diff needs at least two manifests (envcapture diff A B [C ...])")
    manifests = [manifest_io.load(p) for p in paths]
    result = compare(manifests, manifest_labels(paths), sources=paths)
    emit(result, "diff", args.format)
    return 0 if result.same else 1


def check_command(args) -> int:
    from envcapture import manifest as manifest_io

    expected = manifest_io.load(args.manifest)
    if args.image:
        live, skip = image_manifest(args.image, python=args.python or "python3")
        label, source = "image", f"image:{args.image}"
    else:
        live, skip = live_manifest(args.python)
        label, source = "live", "live:" + ((live.get("python") or {}).get("executable") or "python")
    result = compare([expected, live], [Path(args.manifest).name, label], sources=[args.manifest, source],
                     skip=skip, strict=args.strict)
    emit(result, "check", args.format)
    return 0 if result.ok else 1


def live_manifest(python: str | None) -> tuple[dict, dict]:
    from envcapture.freeze import build_manifest

    return build_manifest(python=python), {}


def check_python_env(expected: dict, python: str, strict: bool = False) -> Comparison:
    """What `restore` runs: the Python sections of a live interpreter against the manifest."""
    live, _ = live_manifest(python)
    skip = {s: "restore recreates only the Python packages; run `envcapture check` for the rest"
            for s in SECTIONS if s not in ("python", "python_packages")}
    return compare([expected, live], ["manifest", "restored"], skip=skip, strict=strict)


# ------------------------------------------------------------------------------------ check --image

IMAGE_FILES = ("/etc/os-release", "/usr/lib/os-release", "/var/lib/dpkg/status", "/var/lib/apt/extended_states",
               "/etc/apt/sources.list", "/lib/apk/db/installed", "/etc/alpine-release", "/etc/debian_version")
IMAGE_TIMEOUT = 120

# Runs inside the image with its own python: the target probe plus the few files the system probes read.
_IMAGE_SCRIPT = """\
import base64, json, os, sys, zlib
ns = {"__name__": "envcapture_target"}
exec(compile(zlib.decompress(base64.b64decode(%(probe)r)).decode("utf-8"), "target.py", "exec"), ns)
files = {}
for path in %(files)r:
    try:
        with open(path, "rb") as handle:
            files[path] = handle.read(64 << 20).decode("utf-8", "replace")
    except (OSError, IOError):
        pass
if os.path.isdir("/etc/apt/sources.list.d"):
    for name in sorted(os.listdir("/etc/apt/sources.list.d")):
        path = os.path.join("/etc/apt/sources.list.d", name)
        try:
            with open(path, "rb") as handle:
                files[path] = handle.read(1 << 20).decode("utf-8", "replace")
        except (OSError, IOError):
            pass
sys.stdout.write(json.dumps({"target": ns["collect"](False), "files": files}))
"""


def image_script() -> str:
    import base64
    import zlib

    from envcapture.probes import interpreter

    source = interpreter.TARGET_SCRIPT.read_bytes()
    probe = base64.b64encode(zlib.compress(source, 9)).decode("ascii")
    return _IMAGE_SCRIPT % {"probe": probe, "files": IMAGE_FILES}


def docker_client():
    """A reachable engine, or one clear line saying there is none."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise ToolFailed("the docker Python SDK is not installed (pip install docker)") from None
    try:
        client = docker.from_env(timeout=IMAGE_TIMEOUT)
        client.ping()
    except DockerException as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ToolFailed(f"no Docker engine reachable: start dockerd or set DOCKER_HOST ({reason})") from None
    except Exception as exc:  # requests' connection errors when the socket exists but nobody answers
        raise ToolFailed(f"no Docker engine reachable: start dockerd or set DOCKER_HOST ({type(exc).__name__})") \
            from None
    return client


def run_in_image(image: str, python: str) -> dict:
    """Run the stdlib-only probe inside ``image`` with its own ``python``; return its report."""
    from docker.errors import APIError, ImageNotFound

    client = docker_client()
    try:
        client.images.get(image)
    except ImageNotFound:
        raise BadInput(f"image {image} is not available to the Docker engine (build or pull it first)") from None
    except APIError as exc:
        raise ToolFailed(f"docker: {exc.explanation or exc}") from None
    container = None
    try:
        container = client.containers.create(image, entrypoint=[python], command=["-c", image_script()],
                                             network_disabled=True, user="0", working_dir="/")
        container.start()
        status = container.wait(timeout=IMAGE_TIMEOUT)
        stdout = container.logs(stdout=True, stderr=False)
        stderr = container.logs(stdout=False, stderr=True)
    except APIError as exc:
        text = str(exc.explanation or exc)
        if "executable file not found" in text or "no such file or directory" in text:
            raise BadInput(f"image {image} has no {python} (pass --python PATH of the interpreter inside the "
                           "image)") from None
        raise ToolFailed(f"docker: {text.splitlines()[0][:300]}") from None
    except Exception as exc:  # the engine went away, or the wait timed out
        raise ToolFailed(f"docker: running the probe in {image} failed: {type(exc).__name__}: {exc}") from None
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except Exception:
                pass
    from envcapture.probes.interpreter import parse_probe_output

    code = status.get("StatusCode", 1) if isinstance(status, dict) else 1
    if code == 127:
        raise BadInput(f"image {image} has no {python} (pass --python PATH of the interpreter inside the image)")
    if code:
        parse_probe_output(code, stdout, stderr, f"{python} in {image}")  # raises with the probe's last line
    try:
        report = json.loads(stdout.decode("utf-8"))
    except ValueError:
        raise ToolFailed(f"{python} in {image}: the inspection probe printed something that is not JSON") from None
    if not isinstance(report, dict) or not isinstance(report.get("target"), dict) \
            or report["target"].get("probe_version") != 1:
        raise ToolFailed(f"{python} in {image}: unexpected answer from the inspection probe")
    return report


def image_manifest(image: str, python: str = "python3") -> tuple[dict, dict]:
    """The sections an image can tell about itself, and the reasons for the ones it cannot."""
    report = run_in_image(image, python)
    return manifest_from_image_report(report, image)


def manifest_from_image_report(report: dict, image: str) -> tuple[dict, dict]:
    import tempfile

    from envcapture.freeze import run_probe
    from envcapture.probes import ProbeContext, python_env

    target = report["target"]
    skip = {section: "an image cannot tell" for section in ("hardware", "gpu", "determinism", "code")}
    skip["conda"] = "not read from images"
    skip["os.kernel"] = "an image has no kernel of its own"
    skip["os.container"] = "always a container"
    skip["os.wsl"] = "an image has no WSL"
    with tempfile.TemporaryDirectory(prefix="envcapture-image-") as root:
        for path, text in (report.get("files") or {}).items():
            if not isinstance(path, str) or not path.startswith("/") or ".." in path.split("/"):
                continue
            destination = Path(root) / path.lstrip("/")
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(text if isinstance(text, str) else "", encoding="utf-8")
        ctx = ProbeContext(root=Path(root), env={}, home="/root", target=target, project=Path(root))
        python = python_env.collect(ctx).data
        os_result = run_probe("os", "os_info", ctx)
        packages_result = run_probe("system_packages", "system_packages", ctx)
    os_section = dict(os_result.data or {})
    markers = target.get("markers") or {}
    os_section["machine"] = markers.get("platform_machine") or os_section.get("machine")
    os_section["libc"] = target.get("libc") or os_section.get("libc")
    from envcapture.freeze import sections_not_collected as from_messages

    if from_messages(w.message for w in os_result.warnings):
        skip["os"] = "the image's os-release could not be read"
    if from_messages(w.message for w in packages_result.warnings) \
            or not (packages_result.data or {}).get("manager"):
        skip["system_packages"] = "no package database found in the image"
    live = {"python": python["python"], "python_packages": python["python_packages"], "os": os_section,
            "system_packages": packages_result.data, "warnings": []}
    return live, skip
