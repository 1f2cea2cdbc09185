"""RPM packages (Fedora, RHEL and its rebuilds, openSUSE, Amazon Linux) from the rpm database.

The sqlite rpmdb (rpm >= 4.16: Fedora 33+, RHEL 9) is read with the stdlib ``sqlite3`` module and its header
blobs are parsed here; older Berkeley DB (``Packages``) and ndb (``Packages.db``) databases go through
``rpm -qa --dbpath`` when an rpm binary is present. rpm keeps no record of what was installed by hand, so
``manual`` is null.
"""

from __future__ import annotations

import struct
from pathlib import Path

from envcapture.manifest import grammar
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning, ToolError, run_tool

SOURCE = "rpm"
# Fedora 36+ keeps the database in /usr/lib/sysimage/rpm (/var/lib/rpm is a symlink to it).
DB_DIRS = ("/usr/lib/sysimage/rpm", "/var/lib/rpm")
DB_FILES = ("rpmdb.sqlite", "Packages", "Packages.db")

TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_ARCH = 1000, 1001, 1002, 1003, 1022
TYPE_INT32, TYPE_STRING = 4, 6
QUERY_FORMAT = "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n"
# Public keys imported with `rpm --import` show up as packages; they are not software.
PSEUDO_PACKAGES = ("gpg-pubkey", "gpg-pubkey-release")


def find_db(ctx: ProbeContext) -> tuple[Path, str] | None:
    """(database folder, file name) of the first rpm database found under ``ctx.root``."""
    for folder in DB_DIRS:
        for name in DB_FILES:
            if ctx.path(folder).joinpath(name).is_file():
                return ctx.path(folder), name
    return None


def present(ctx: ProbeContext) -> bool:
    return find_db(ctx) is not None


def header_fields(blob: bytes) -> dict[int, object]:
    """NAME, VERSION, RELEASE, EPOCH and ARCH of one rpm header blob (the layout of rpm's headerImport:
    big-endian entry count and data size, 16-byte index entries (tag, type, offset, count), then data)."""
    count, size = struct.unpack_from(">II", blob, 0)
    data_start = 8 + 16 * count
    if count > 100_000 or data_start + size > len(blob):
        raise ValueError("header blob shorter than its index says")
    wanted = (TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_ARCH)
    fields: dict[int, object] = {}
    for index in range(count):
        tag, kind, offset, _ = struct.unpack_from(">IIiI", blob, 8 + 16 * index)
        if tag not in wanted or not 0 <= offset < size:
            continue
        where = data_start + offset
        if kind == TYPE_STRING:
            end = blob.index(b"\0", where)
            fields[tag] = blob[where:end].decode("utf-8", "replace")
        elif kind == TYPE_INT32:
            fields[tag] = struct.unpack_from(">i", blob, where)[0]
    return fields


def evr(epoch, version: str, release: str | None) -> str:
    text = f"{version}-{release}" if release else version
    return f"{epoch}:{text}" if epoch not in (None, 0, "0", "", "(none)") else text


def read_sqlite(path: Path) -> list[tuple[str, str, str | None]]:
    import sqlite3

    # Read-only, and immutable when the folder is not ours to write (sqlite would create -shm/-wal files).
    errors = []
    for mode in ("ro", "ro&immutable=1"):
        try:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True)
            try:
                rows = connection.execute("SELECT blob FROM Packages").fetchall()
            finally:
                connection.close()
            break
        except sqlite3.Error as exc:
            errors.append(str(exc))
    else:
        raise ValueError(f"sqlite: {errors[-1]}")
    packages = []
    for (blob,) in rows:
        fields = header_fields(bytes(blob))
        name, version = fields.get(TAG_NAME), fields.get(TAG_VERSION)
        if not name or not version:
            continue
        packages.append((name, evr(fields.get(TAG_EPOCH), version, fields.get(TAG_RELEASE)), fields.get(TAG_ARCH)))
    return packages


def read_with_rpm(folder: Path, timeout: float) -> list[tuple[str, str, str | None]]:
    out = run_tool(["rpm", "-qa", "--dbpath", str(folder), "--qf", QUERY_FORMAT], timeout=timeout)
    packages = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        name, epoch, version, release, arch = parts
        packages.append((name, evr(epoch, version, release), None if arch == "(none)" else arch))
    return packages


def read_packages(ctx: ProbeContext, warnings: list[ProbeWarning]) -> list[dict]:
    found = find_db(ctx)
    if found is None:
        return []
    folder, name = found
    raw = None
    if name == "rpmdb.sqlite":
        try:
            raw = read_sqlite(folder / name)
        except (ValueError, struct.error, OSError) as exc:
            warnings.append(ProbeWarning(SOURCE, f"could not read {name} directly ({exc}); asking rpm"))
    if raw is None:
        try:
            raw = read_with_rpm(folder, ctx.timeout)
        except ToolError as exc:
            warnings.append(ProbeWarning(SOURCE, f"rpm database in {folder.name} not read: {exc}"))
            return []
    packages, refused = [], []
    for pkg_name, version, arch in raw:
        if pkg_name in PSEUDO_PACKAGES:
            continue
        if not (grammar.is_package_token(pkg_name) and grammar.is_deb_version(version)
                and (arch is None or grammar.is_arch(arch))):
            refused.append(pkg_name)
            continue
        packages.append({"name": pkg_name, "version": version, "architecture": arch, "manual": None})
    if refused:
        warnings.append(ProbeWarning(SOURCE, f"{len(refused)} rpm package(s) with an unusual name or version "
                                             f"left out: {grammar.quote_for_message(', '.join(refused[:5]))}"))
    packages.sort(key=lambda p: (p["name"], p["architecture"] or "", p["version"]))
    return packages


def collect(ctx: ProbeContext) -> ProbeResult:
    warnings: list[ProbeWarning] = []
    packages = read_packages(ctx, warnings)
    return ProbeResult({"manager": "rpm", "packages": packages, "sources": []}, warnings)
