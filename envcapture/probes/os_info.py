"""The ``os`` section: distribution (os-release), kernel, architecture, libc, container and WSL."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field

from envcapture.manifest import grammar
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning, to_data

SOURCE = "os"
OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")


@dataclass
class Libc:
    name: str | None = None
    version: str | None = None


@dataclass
class OsInfo:
    system: str
    id: str | None
    version_id: str | None
    codename: str | None
    pretty_name: str | None
    id_like: list[str] = field(default_factory=list)
    kernel: str | None = None
    machine: str = "unknown"
    libc: Libc = field(default_factory=Libc)
    container: str | None = None
    wsl: bool = False


def parse_os_release(text: str) -> dict[str, str]:
    """os-release is a list of shell-style ``KEY=value`` assignments (os-release(5)); no shell is run."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        key = key.strip()
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            continue
        values[key] = _unquote(raw.strip())
    return values


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        inner = raw[1:-1]
        if raw[0] == '"':
            inner = re.sub(r'\\(["\\$`])', r"\1", inner)
        return inner
    return raw


def read_os_release(ctx: ProbeContext) -> tuple[dict[str, str], str | None]:
    """(values, the file they came from), or ({}, None) when there is none."""
    for name in OS_RELEASE_FILES:
        try:
            text = ctx.path(name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        return parse_os_release(text), name
    return {}, None


def as_identifier(value: str | None, what: str, warnings: list[ProbeWarning]) -> str | None:
    """Values must pass the ``identifier`` rule; an odd one is normalised (spaces to dashes) or dropped."""
    if not value:
        return None
    if grammar.is_identifier(value):
        return value
    fixed = re.sub(r"[^A-Za-z0-9._+-]+", "-", value.strip()).strip("-._+")
    if fixed and grammar.is_identifier(fixed):
        warnings.append(ProbeWarning(SOURCE, f"{what} {grammar.quote_for_message(value)} recorded as {fixed!r}"))
        return fixed
    warnings.append(ProbeWarning(SOURCE, f"{what} {grammar.quote_for_message(value)} is not a plain identifier; "
                                         "not recorded"))
    return None


def as_text(value: str | None, what: str, warnings: list[ProbeWarning]) -> str | None:
    if not value:
        return None
    if grammar.is_text(value):
        return value
    warnings.append(ProbeWarning(SOURCE, f"{what} holds control characters; not recorded"))
    return None


def distribution(values: dict[str, str], warnings: list[ProbeWarning]) -> dict:
    codename = values.get("VERSION_CODENAME") or values.get("UBUNTU_CODENAME")
    id_like = [as_identifier(word, "ID_LIKE entry", warnings) for word in values.get("ID_LIKE", "").split()]
    return {
        "id": as_identifier(values.get("ID"), "ID", warnings),
        "version_id": as_identifier(values.get("VERSION_ID"), "VERSION_ID", warnings),
        "codename": as_identifier(codename, "VERSION_CODENAME", warnings),
        "pretty_name": as_text(values.get("PRETTY_NAME") or values.get("NAME"), "PRETTY_NAME", warnings),
        "id_like": [word for word in id_like if word],
    }


def libc(ctx: ProbeContext) -> Libc:
    """glibc from the C library of this process; musl from its loader (``/lib/ld-musl-<arch>.so.1``)."""
    musl = musl_loader(ctx)
    if musl:
        return Libc("musl", musl_version(ctx))
    if str(ctx.root) != "/":
        return Libc()  # a recorded root filesystem: this process's libc says nothing about it
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        text = ""
    name, _, version = text.partition(" ")
    if name and version:
        return Libc(name, version)
    name, version = platform.libc_ver()
    return Libc(name or None, version or None)


def musl_loader(ctx: ProbeContext) -> bool:
    try:
        return any(entry.startswith("ld-musl-") for entry in os.listdir(ctx.path("/lib")))
    except OSError:
        return False


def musl_version(ctx: ProbeContext) -> str | None:
    """musl has no query for its version; on Alpine the apk database knows the musl package's version."""
    try:
        text = ctx.path("/lib/apk/db/installed").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"^P:musl\n(?:[^\n]+\n)*?V:([0-9][^\n-]*)", text, re.M)
    return match.group(1) if match and grammar.is_identifier(match.group(1)) else None


def container(ctx: ProbeContext) -> str | None:
    if ctx.env.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    if ctx.path("/run/.containerenv").exists():
        return "podman"
    if ctx.path("/.dockerenv").exists():
        return "docker"
    try:
        cgroup = ctx.path("/proc/1/cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        cgroup = ""
    for marker, kind in (("kubepods", "kubernetes"), ("libpod", "podman"), ("docker", "docker"), ("lxc", "lxc")):
        if marker in cgroup:
            return kind
    declared = ctx.env.get("container", "")  # set by systemd-nspawn, podman, lxc
    if declared:
        return {"docker": "docker", "podman": "podman", "lxc": "lxc", "oci": "other"}.get(declared, "other")
    return None


def wsl(ctx: ProbeContext) -> bool:
    try:
        version = ctx.path("/proc/version").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "microsoft" in version.lower() or "wsl" in version.lower()


def collect(ctx: ProbeContext) -> ProbeResult:
    warnings: list[ProbeWarning] = []
    values, _ = read_os_release(ctx)
    uname = platform.uname()
    system = as_identifier(uname.system, "system", warnings) or "unknown"
    if not values and system == "Linux":
        warnings.append(ProbeWarning(SOURCE, "no /etc/os-release or /usr/lib/os-release: distribution unknown"))
    machine = uname.machine if grammar.is_arch(uname.machine or "") else "unknown"
    info = OsInfo(system=system, **distribution(values, warnings),
                  kernel=as_text(uname.release, "kernel release", warnings), machine=machine,
                  libc=libc(ctx), container=container(ctx), wsl=wsl(ctx))
    if info.libc.version and not grammar.is_identifier(info.libc.version):
        info.libc.version = None
    return ProbeResult(to_data(info), warnings)
