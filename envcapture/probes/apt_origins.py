"""Where each hand-installed Debian/Ubuntu package came from: apt's downloaded package lists.

For every configured ``deb`` source, apt keeps the index it downloaded in /var/lib/apt/lists under a name
derived from the source's URI and suite; its Release file names the archive (``Origin: Debian``). The lists
are scanned for just the hand-installed names (a byte-level scan, no apt-cache: apt's binary cache is often
absent and rebuilding it costs seconds). A package whose installed version no configured source offers
(a downloaded .deb, a removed or disabled repository) gets the origin null, so a kit can leave it out and
say why instead of failing to build.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import glob
import os
import re
import subprocess

from pathlib import Path

from envcapture.manifest import grammar
from envcapture.probes import ProbeContext, ProbeWarning

SOURCE = "dpkg"
LISTS = "/var/lib/apt/lists"
APT_HELPER = "/usr/lib/apt/apt-helper"  # decompresses what Python's stdlib cannot (lz4, zstd)
# Imported only when a list is compressed that way (freeze's import path stays lean).
_STDLIB_MODULES = {".gz": "gzip", ".xz": "lzma", ".bz2": "bz2"}
_PACKAGE = re.compile(rb"\nPackage: ([^\n]+)")
# Characters apt's URItoFileName quotes as %xx before turning / into _.
_APT_QUOTED = set('\\|{}[]<>"^~_=!@#$%^&*')


def list_prefix(uri: str, suite: str) -> str:
    """apt's file name prefix for a source (URItoFileName): no scheme or credentials, specials %xx, / -> _."""
    rest = uri.partition("://")[2] or uri
    host, slash, path = rest.partition("/")
    host = host.rpartition("@")[2]
    base = (host + slash + path).rstrip("/") + "/"
    full = base + suite if suite.endswith("/") else f"{base}dists/{suite}/"
    quoted = "".join(f"%{ord(c):02x}" if c in _APT_QUOTED or ord(c) <= 0x20 or ord(c) >= 0x7f else c
                     for c in full)
    return quoted.replace("/", "_")


def parse_source_line(line: str) -> tuple[str, str, str, list[str]] | None:
    """(type, uri, suite, components) of ``deb [options] URI suite [component...]``."""
    words = line.split()
    if not words:
        return None
    kind, rest = words[0], words[1:]
    if rest and rest[0].startswith("["):
        while rest and not rest[0].endswith("]"):
            rest = rest[1:]
        rest = rest[1:]
    if len(rest) < 2:
        return None
    return kind, rest[0], rest[1], rest[2:]


def release_fields(prefix_path: str) -> dict[str, str]:
    """Origin and Codename of a list's Release file (only the head of the file is read)."""
    for name in ("InRelease", "Release"):
        try:
            with open(prefix_path + name, "rb") as handle:
                head = handle.read(4096).decode("utf-8", "replace")
        except OSError:
            continue
        fields = {}
        for key in ("Origin", "Codename", "Suite"):
            found = re.search(rf"^{key}: *([^\n]*)$", head, re.M)
            if found:
                fields[key] = found.group(1).strip()
        return fields
    return {}


def read_list(path: str) -> bytes | None:
    """The uncompressed text of one Packages list, None when it cannot be read."""
    ext = os.path.splitext(path)[1]
    try:
        if ext in _STDLIB_MODULES:
            with open(path, "rb") as handle:
                return importlib.import_module(_STDLIB_MODULES[ext]).decompress(handle.read())
        if ext in (".lz4", ".zst"):
            done = subprocess.run([APT_HELPER, "cat-file", path], capture_output=True, timeout=30)
            return done.stdout if done.returncode == 0 else None
        with open(path, "rb") as handle:
            return handle.read()
    except Exception:  # noqa: BLE001 - a corrupt list (gzip, lzma and bz2 each raise their own errors) is unreadable
        return None


def versions_in_list(data: bytes, names: set[bytes]) -> dict[tuple[bytes, bytes], None]:
    """(name, version) pairs the list offers for the wanted names."""
    found: dict[tuple[bytes, bytes], None] = {}
    data = b"\n" + data
    for match in _PACKAGE.finditer(data):
        name = match.group(1).strip()
        if name not in names:
            continue
        end = data.find(b"\n\n", match.end())
        stanza = data[match.end():end if end >= 0 else len(data)]
        at = stanza.find(b"\nVersion: ")
        if at >= 0:
            line_end = stanza.find(b"\n", at + 10)
            found[(name, stanza[at + 10:line_end if line_end >= 0 else len(stanza)].strip())] = None
    return found


def find_origins(ctx: ProbeContext, packages: list[dict], sources: list[str],
                 warnings: list[ProbeWarning]) -> None:
    """Set ``origin`` on each hand-installed package (null: no configured source offers its version)."""
    manual = [p for p in packages if p.get("manual")]
    if not manual:
        return
    names = {p["name"].encode() for p in manual}
    lists_dir = str(ctx.path(LISTS))
    offered: dict[tuple[bytes, bytes], dict] = {}
    cache = ListCache(ctx, names)
    scanned = 0
    for line in sources:
        parsed = parse_source_line(line)
        if parsed is None or parsed[0] != "deb":
            continue
        _, uri, suite, components = parsed
        prefix = os.path.join(lists_dir, list_prefix(uri, suite))
        release = release_fields(prefix)
        for component in components or [""]:
            tail = f"{component}_binary-*_Packages*" if component else "Packages*"
            for path in sorted(glob.glob(glob.escape(prefix) + tail)):
                if path.endswith((".diff_Index", ".IndexDiff")) or "/partial/" in path:
                    continue
                found = cache.versions(path, lambda p=path: _scan(p, names))
                if found is None:
                    warnings.append(ProbeWarning(SOURCE, f"cannot read apt list {os.path.basename(path)}"))
                    continue
                scanned += 1
                origin = _origin(uri, release.get("Codename") or suite, component, release.get("Origin"))
                for key in found:
                    offered.setdefault(key, origin)
    cache.save()
    if not scanned:
        warnings.append(ProbeWarning(SOURCE, "apt's package lists are empty (apt-get update was not run, or they "
                                             "were removed): where hand-installed packages came from is unknown"))
        return
    for package in manual:
        package["origin"] = offered.get((package["name"].encode(), package["version"].encode()))


def _origin(uri: str, suite: str, component: str, archive: str | None) -> dict:
    return {"archive": archive if archive and grammar.is_text(archive) else None,
            "url": uri, "suite": suite, "component": component or None}


def _scan(path: str, names: set[bytes]):
    data = read_list(path)
    return None if data is None else list(versions_in_list(data, names))


class ListCache:
    """What each list offered for the wanted names, kept until apt replaces the list (size and mtime change)
    or the set of hand-installed names changes: scanning tens of MB of lists is the costly part of freeze,
    and they change only at `apt-get update`. Stored in $XDG_CACHE_HOME/envcapture (~/.cache/envcapture)."""

    VERSION = 1

    def __init__(self, ctx: ProbeContext, names: set[bytes]):
        base = ctx.env.get("XDG_CACHE_HOME") or os.path.join(ctx.home, ".cache")
        self.file = Path(base) / "envcapture" / "apt-lists.json"
        self.names = hashlib.sha256(b"\n".join(sorted(names))).hexdigest()
        self.old = self._load()
        self.new: dict[str, dict] = {}

    def _load(self) -> dict:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != self.VERSION or data.get("names") != self.names:
            return {}
        return data.get("lists") if isinstance(data.get("lists"), dict) else {}

    def versions(self, path: str, scan) -> list[tuple[bytes, bytes]] | None:
        try:
            info = os.stat(path)
        except OSError:
            return None
        stamp = [info.st_size, info.st_mtime_ns]
        entry = self.old.get(path)
        if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("found"), list):
            self.new[path] = entry
            return [(name.encode(), version.encode()) for name, version in entry["found"]]
        found = scan()
        if found is not None:
            self.new[path] = {"stamp": stamp, "found": [[n.decode(), v.decode()] for n, v in found]}
        return found

    def save(self) -> None:
        if self.new == self.old:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}")
            tmp.write_text(json.dumps({"version": self.VERSION, "names": self.names, "lists": self.new}),
                           encoding="utf-8")
            os.replace(tmp, self.file)
        except OSError:
            pass  # a read-only home only costs the next freeze a rescan
