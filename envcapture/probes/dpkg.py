"""Debian/Ubuntu packages: ``/var/lib/dpkg/status``, apt's manual marks and apt sources, read directly.

No subprocess: the status file of a desktop holds thousands of stanzas and a byte-level scan of it takes a
few milliseconds, where ``dpkg-query`` alone costs tens.
"""

from __future__ import annotations

import glob
import os
import re

from envcapture import grammar
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning
from envcapture.redact import strip_url_credentials

SOURCE = "dpkg"
STATUS = "/var/lib/dpkg/status"
EXTENDED_STATES = "/var/lib/apt/extended_states"
SOURCES_LIST = "/etc/apt/sources.list"
SOURCES_PARTS = "/etc/apt/sources.list.d"
# dpkg states that leave no installed version behind (dpkg-query(1): "not-installed", "config-files").
NOT_PRESENT = (" not-installed", " config-files")


# dpkg writes Package first in every stanza; continuation lines start with a space, so a newline followed by
# one of these keys is always a field of its own.
_FIELDS = re.compile(r"\n(Package|Status|Version|Architecture|Auto-Installed):[ \t]*([^\n]*)")
_SLOT = {"Status": 1, "Version": 2, "Architecture": 3, "Auto-Installed": 4}


def records(data: bytes) -> list[list]:
    """[Package, Status, Version, Architecture, Auto-Installed] of each stanza (None when absent)."""
    text = "\n" + data.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    found: list[list] = []
    current: list = [None] * 5
    for key, value in _FIELDS.findall(text):
        if key == "Package":
            current = [value, None, None, None, None]
            found.append(current)
        else:
            current[_SLOT[key]] = value
    return found


def parse_status(data: bytes) -> list[tuple[str, str, str | None]]:
    """(name, version, architecture) of every package dpkg has installed (any state with a version)."""
    return [(name, version, arch or None) for name, status, version, arch, _ in records(data)
            if version and not (status or "").endswith(NOT_PRESENT)]


def parse_auto_installed(data: bytes) -> set[tuple[str, str | None]]:
    """(name, architecture) of the packages apt marks ``Auto-Installed: 1`` (pulled in as dependencies)."""
    return {(name, arch or None) for name, _, _, arch, auto in records(data) if auto == "1"}


def is_manual(name: str, arch: str | None, auto: set[tuple[str, str | None]], auto_names: set[str]) -> bool:
    if (name, arch) in auto or (name, None) in auto:
        return False
    # apt files Architecture: all packages under the native architecture.
    return not (arch == "all" and name in auto_names)


def valid_package(name: str, version: str, arch: str | None) -> bool:
    return grammar.is_package_token(name) and grammar.is_deb_version(version) and \
        (arch is None or grammar.is_arch(arch))


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
    packages, refused = [], []
    for name, version, arch in parse_status(status):
        if not valid_package(name, version, arch):
            refused.append(name)
            continue
        manual = is_manual(name, arch, auto, auto_names) if manual_known else None
        packages.append({"name": name, "version": version, "architecture": arch, "manual": manual})
    if refused:
        warnings.append(ProbeWarning(SOURCE, f"{len(refused)} dpkg package(s) with an unusual name or version "
                                             f"left out: {grammar.quote_for_message(', '.join(refused[:5]))}"))
    packages.sort(key=lambda p: (p["name"], p["architecture"] or ""))
    return packages


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
