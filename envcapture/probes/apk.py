"""Alpine packages from ``/lib/apk/db/installed``; ``manual`` means named in ``/etc/apk/world``."""

from __future__ import annotations

import re

from envcapture.manifest import grammar
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning
from envcapture.manifest.redact import strip_url_credentials

SOURCE = "apk"
INSTALLED = "/lib/apk/db/installed"
WORLD = "/etc/apk/world"
REPOSITORIES = "/etc/apk/repositories"
# A world entry is a name with an optional constraint or repository tag: ``py3-pip>=23``, ``foo@edge``.
_WORLD_NAME = re.compile(r"^[^=<>~@!\s]+")


def present(ctx: ProbeContext) -> bool:
    return ctx.path(INSTALLED).is_file()


def parse_installed(text: str) -> list[tuple[str, str, str | None]]:
    """(name, version, architecture) per package: stanzas of one-letter fields ``P:``, ``V:``, ``A:``."""
    packages = []
    for stanza in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.split("\n"):
            if line[1:2] == ":" and line[0] in "PVA" and line[0] not in fields:
                fields[line[0]] = line[2:].strip()
        if fields.get("P") and fields.get("V"):
            packages.append((fields["P"], fields["V"], fields.get("A") or None))
    return packages


def parse_world(text: str) -> set[str]:
    names = set()
    for word in text.split():
        match = _WORLD_NAME.match(word)
        if match:
            names.add(match.group(0))
    return names


def read_world(ctx: ProbeContext, warnings: list[ProbeWarning]) -> set[str] | None:
    try:
        return parse_world(ctx.path(WORLD).read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        warnings.append(ProbeWarning(SOURCE, f"cannot read {WORLD}: {exc.strerror}; manual marks unknown"))
        return None


def read_repositories(ctx: ProbeContext, warnings: list[ProbeWarning]) -> list[str]:
    """Repository lines of ``/etc/apk/repositories`` (``[@tag] URL``), credentials removed."""
    try:
        text = ctx.path(REPOSITORIES).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    sources = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        clean = " ".join(strip_url_credentials(line).split())
        if grammar.is_apt_source(clean):
            sources.append(clean)
        else:
            warnings.append(ProbeWarning(SOURCE, "apk repository line with shell characters left out"))
    return sources


def collect(ctx: ProbeContext) -> ProbeResult:
    warnings: list[ProbeWarning] = []
    try:
        text = ctx.path(INSTALLED).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        warnings.append(ProbeWarning(SOURCE, f"cannot read {INSTALLED}: {exc.strerror}"))
        text = ""
    world = read_world(ctx, warnings)
    packages, refused = [], []
    for name, version, arch in parse_installed(text):
        if not (grammar.is_package_token(name) and grammar.is_deb_version(version)
                and (arch is None or grammar.is_arch(arch))):
            refused.append(name)
            continue
        packages.append({"name": name, "version": version, "architecture": arch,
                         "manual": None if world is None else name in world})
    if refused:
        warnings.append(ProbeWarning(SOURCE, f"{len(refused)} apk package(s) with an unusual name or version "
                                             f"left out: {grammar.quote_for_message(', '.join(refused[:5]))}"))
    packages.sort(key=lambda p: (p["name"], p["architecture"] or ""))
    return ProbeResult({"manager": "apk", "packages": packages, "sources": read_repositories(ctx, warnings)},
                       warnings)
