"""Debian/Ubuntu packages: ``/var/lib/dpkg/status``, apt's manual marks and apt sources, read directly.

No subprocess: the status file of a desktop holds thousands of stanzas and a byte-level scan of it takes a
few milliseconds, where ``dpkg-query`` alone costs tens.
"""

from __future__ import annotations

import glob
import os
import re
import stat

from envcapture.manifest import grammar
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning
from envcapture.manifest.redact import strip_url_credentials

SOURCE = "dpkg"
STATUS = "/var/lib/dpkg/status"
EXTENDED_STATES = "/var/lib/apt/extended_states"
SOURCES_LIST = "/etc/apt/sources.list"
SOURCES_PARTS = "/etc/apt/sources.list.d"
# dpkg states that leave no installed version behind (dpkg-query(1): "not-installed", "config-files").
NOT_PRESENT = (" not-installed", " config-files")


# dpkg writes Package first in every stanza; continuation lines start with a space, so a newline followed by
# one of these keys is always a field of its own.
_FIELDS = re.compile(r"\n(Package|Status|Version|Architecture|Auto-Installed|Essential|Priority|Pre-Depends|Depends"
                     r"|Provides):[ \t]*([^\n]*)")
_SLOT = {"Status": 1, "Version": 2, "Architecture": 3, "Auto-Installed": 4, "Essential": 5, "Priority": 6,
         "Pre-Depends": 7, "Depends": 8, "Provides": 9}


def records(data: bytes) -> list[list]:
    """[Package, Status, Version, Architecture, Auto-Installed, Essential, Priority, Pre-Depends, Depends,
    Provides] of each stanza (None when absent)."""
    text = "\n" + data.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    found: list[list] = []
    current: list = [None] * 10
    for key, value in _FIELDS.findall(text):
        if key == "Package":
            current = [value] + [None] * 9
            found.append(current)
        else:
            current[_SLOT[key]] = value
    return found


def _installed(data: bytes) -> list[list]:
    return [record for record in records(data) if record[2] and not (record[1] or "").endswith(NOT_PRESENT)]


def parse_status(data: bytes, installed: list[list] | None = None) -> list[tuple[str, str, str | None]]:
    """(name, version, architecture) of every package dpkg has installed (any state with a version)."""
    installed = _installed(data) if installed is None else installed
    return [(record[0], record[2], record[3] or None) for record in installed]


def parse_auto_installed(data: bytes) -> set[tuple[str, str | None]]:
    """(name, architecture) of the packages apt marks ``Auto-Installed: 1`` (pulled in as dependencies)."""
    return {(name, arch or None) for name, _, _, arch, auto, *_ in records(data) if auto == "1"}


# Version constraints, architecture restrictions, build profiles, ``:any`` qualifiers and blanks of relation
# fields (one field per line).
_RELATION_NOISE = re.compile(r"\([^)\n]*\)|\[[^\]\n]*\]|<[^>\n]*>|:[A-Za-z0-9-]+|[ \t]")


def _relation_groups(fields: list[str | None]) -> list[list[str]]:
    """``a (>= 1) | b:any, c`` -> ["a|b", "c"] for each field: its alternative groups, names only. One regex
    pass over all fields together: a desktop's status has thousands of them."""
    cleaned = _RELATION_NOISE.sub("", "\n".join(field or "" for field in fields)).split("\n")
    return [[group for group in line.split(",") if group.strip("|")] for line in cleaned]


def parse_base_marks(data: bytes, installed: list[list] | None = None) -> dict[str, dict]:
    """Per installed package name: ``essential`` (Essential: yes), ``priority`` (as dpkg records it, None when
    absent) and ``depends``: the installed packages that satisfy its Pre-Depends and Depends (for each
    alternative group the first alternative installed, or an installed package that provides it)."""
    installed = _installed(data) if installed is None else installed
    names = {record[0] for record in installed}
    providers: dict[str, str] = {}
    provided = _relation_groups([record[9] for record in installed])
    for record, groups in sorted(zip(installed, provided), key=lambda pair: pair[0][0]):
        for group in groups:
            providers.setdefault(group, record[0])  # Provides has no alternatives: each group is one name
    relations = _relation_groups([f"{record[7] or ''},{record[8] or ''}" for record in installed])
    satisfied: dict[str, str | None] = {}
    marks = {}
    for record, groups in zip(installed, relations):
        needed = set()
        for group in groups:
            if group not in satisfied:
                alternatives = [name for name in group.split("|") if name]
                satisfied[group] = next((n for n in alternatives if n in names), None) or \
                    next((providers[n] for n in alternatives if n in providers), None)
            needed.add(satisfied[group])
        needed.discard(None)
        needed.discard(record[0])
        marks[record[0]] = {"essential": record[5] == "yes", "priority": record[6] or None,
                            "depends": sorted(needed), "depends_exact": exact_dependencies(record, names)}
    return marks


# One relation of a Depends field that allows exactly one version: ``libpq5 (= 15.18-0+deb12u1)`` (an
# alternative group or another operator is not exact).
_EXACT = re.compile(r"(?:^|,)\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*\(\s*=\s*[^)|,]+\)\s*(?:\[[^\]]*\]\s*)?(?=,|$)")


def exact_dependencies(record: list, installed: set[str]) -> list[str]:
    """Installed packages this one depends on at exactly one version (``(= X)``): a kit that pins this one
    must pin those to the recorded versions too, or apt refuses the pair."""
    if "(=" not in (record[7] or "") + (record[8] or "") and "( =" not in (record[7] or "") + (record[8] or ""):
        return []
    found = set()
    for field in (record[7], record[8]):
        for name in _EXACT.findall(" ".join((field or "").split())):
            if name in installed and name != record[0]:
                found.add(name)
    return sorted(found)


def is_manual(name: str, arch: str | None, auto: set[tuple[str, str | None]], auto_names: set[str]) -> bool:
    if (name, arch) in auto or (name, None) in auto:
        return False
    # apt files Architecture: all packages under the native architecture.
    return not (arch == "all" and name in auto_names)


def valid_package(name: str, version: str, arch: str | None) -> bool:
    return grammar.is_package_token(name) and grammar.is_deb_version(version) and \
        (arch is None or grammar.is_arch(arch))


MAX_DEPENDS = 1000  # the schema's bound; no real package comes near it (a metapackage has a few hundred)


def valid_marks(marks: dict, accepted: set[str]) -> dict:
    """The base marks as the manifest holds them: an odd priority becomes unknown, and a dependency is one of
    the packages the manifest lists (names that passed the grammar)."""
    priority = marks["priority"]
    return {"essential": marks["essential"],
            "priority": priority if priority and grammar.is_identifier(priority) else None,
            "depends": [name for name in marks["depends"] if name in accepted][:MAX_DEPENDS],
            "depends_exact": [name for name in marks.get("depends_exact", ()) if name in accepted][:MAX_DEPENDS]}


def read_packages(ctx: ProbeContext, warnings: list[ProbeWarning]) -> list[dict]:
    try:
        status = ctx.path(STATUS).read_bytes()
    except OSError as exc:
        warnings.append(ProbeWarning(SOURCE, f"cannot read {STATUS}: {exc.strerror}"))
        return []
    auto = read_auto_installed(ctx, warnings)
    manual_known = auto is not None
    auto = auto or set()
    auto_names = {name for name, _ in auto}
    installed = _installed(status)
    marks = parse_base_marks(status, installed)
    listed, refused = [], []
    for name, version, arch in parse_status(status, installed):
        if valid_package(name, version, arch):
            listed.append((name, version, arch))
        else:
            refused.append(name)
    accepted = {name for name, _, _ in listed}
    packages = [{"name": name, "version": version, "architecture": arch,
                 "manual": is_manual(name, arch, auto, auto_names) if manual_known else None,
                 **valid_marks(marks[name], accepted)} for name, version, arch in listed]
    for package in packages:
        license = read_license(ctx, package["name"])
        if license:
            package["license"] = license
    if refused:
        warnings.append(ProbeWarning(SOURCE, f"{len(refused)} dpkg package(s) with an unusual name or version "
                                             f"left out: {grammar.quote_for_message(', '.join(refused[:5]))}"))
    packages.sort(key=lambda p: (p["name"], p["architecture"] or ""))
    return packages


COPYRIGHT = "/usr/share/doc/{}/copyright"
MAX_COPYRIGHT_BYTES = 256 * 1024  # the License lines of a long copyright file are read from its first 256 kB
_DEP5 = re.compile(rb"^Format:\s*\S*copyright-format", re.I)
_LICENSE_LINE = re.compile(rb"\nLicense:[ \t]*([^\n]+)")  # a literal prefix: the regex engine skips ahead


def license_names(text: bytes) -> list[str]:
    """The short license names of a machine-readable (DEP-5) debian/copyright file, in order, each once:
    what syft reports for a deb. A file in free form names no license this way: []."""
    if not _DEP5.match(text[:1024].lstrip()):
        return []
    names = []
    for match in _LICENSE_LINE.finditer(text):
        name = match.group(1).decode("utf-8", "replace").strip()
        if name and name not in names and grammar.is_text(name) and len(name) <= 100:
            names.append(name)
    return names


def read_license(ctx: ProbeContext, name: str) -> str | None:
    """The licenses /usr/share/doc/NAME/copyright declares (DEP-5), as ``A; B``; None when unknown.
    A regular file only (a FIFO or device there never blocks freeze), at most 256 kB read."""
    try:
        fd = os.open(ctx.path(COPYRIGHT.format(name)), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        text = os.read(fd, MAX_COPYRIGHT_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    kept = []
    for name in license_names(text):  # whole names only, within the schema's 400 characters
        if len("; ".join(kept + [name])) > 400:
            break
        kept.append(name)
    return "; ".join(kept) or None


def read_auto_installed(ctx: ProbeContext, warnings: list[ProbeWarning]) -> set | None:
    """None when apt keeps no extended_states (dpkg without apt): ``manual`` is then unknown."""
    try:
        data = ctx.path(EXTENDED_STATES).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        warnings.append(ProbeWarning(SOURCE, f"cannot read {EXTENDED_STATES}: {exc.strerror}; "
                                             "manual/automatic marks unknown"))
        return None
    return parse_auto_installed(data)


# ---- apt sources -------------------------------------------------------------------------------------------

def one_line_sources(text: str) -> list[str]:
    """``deb [opts] URI suite components`` lines of a sources.list file, comments dropped."""
    lines = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith(("deb ", "deb-src ", "deb\t", "deb-src\t")):
            lines.append(" ".join(line.split()))
    return lines


def deb822_stanzas(text: str) -> list[dict[str, str]]:
    """Fields of each stanza of a deb822 ``.sources`` file (continuation lines joined by newlines)."""
    result, current, last = [], {}, None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                result.append(current)
            current, last = {}, None
        elif line[0] in " \t" and last:
            current[last] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            last = key.strip().lower()
            current[last] = value.strip()
    return result


def deb822_sources(text: str) -> list[str]:
    """A ``.sources`` file written as one-line entries (one per type, URI and suite)."""
    lines = []
    for stanza in deb822_stanzas(text):
        if stanza.get("enabled", "yes").strip().lower() == "no":
            continue
        options = []
        if stanza.get("architectures"):
            options.append("arch=" + ",".join(stanza["architectures"].split()))
        signed_by = stanza.get("signed-by", "")
        if signed_by and "\n" not in signed_by:  # an inline key block is not worth a source line
            options.append("signed-by=" + ",".join(signed_by.split()))
        if stanza.get("trusted"):
            options.append("trusted=" + stanza["trusted"].strip())
        opts = f" [{' '.join(options)}]" if options else ""
        components = " ".join(stanza.get("components", "").split())
        for kind in stanza.get("types", "").split():
            for uri in stanza.get("uris", "").split():
                for suite in stanza.get("suites", "").split():
                    lines.append(" ".join(f"{kind}{opts} {uri} {suite} {components}".split()))
    return lines


def read_sources(ctx: ProbeContext, warnings: list[ProbeWarning]) -> list[str]:
    """Configured apt sources with credentials removed. ``auth.conf`` is never read."""
    files = [(SOURCES_LIST, one_line_sources)]
    parts = ctx.path(SOURCES_PARTS)
    for path in sorted(glob.glob(os.path.join(glob.escape(str(parts)), "*"))):
        if path.endswith(".list"):
            files.append((path, one_line_sources))
        elif path.endswith(".sources"):
            files.append((path, deb822_sources))
    sources: list[str] = []
    for path, parse in files:
        full = ctx.path(path) if path == SOURCES_LIST else path
        try:
            text = open(full, encoding="utf-8", errors="replace").read()
        except FileNotFoundError:
            continue
        except OSError as exc:
            warnings.append(ProbeWarning(SOURCE, f"cannot read apt sources {os.path.basename(path)}: "
                                                 f"{exc.strerror}"))
            continue
        for line in parse(text):
            clean = strip_url_credentials(line)
            if not grammar.is_apt_source(clean):
                warnings.append(ProbeWarning(SOURCE, f"apt source in {os.path.basename(path)} with shell "
                                                     "characters left out"))
            elif clean not in sources:
                sources.append(clean)
    return sources



def present(ctx: ProbeContext) -> bool:
    return ctx.path(STATUS).is_file()


def collect(ctx: ProbeContext) -> ProbeResult:
    warnings: list[ProbeWarning] = []
    packages = read_packages(ctx, warnings)
    sources = read_sources(ctx, warnings)
    from envcapture.probes.apt_origins import find_origins

    find_origins(ctx, packages, sources, warnings)
    return ProbeResult({"manager": "dpkg", "packages": packages, "sources": sources}, warnings)
