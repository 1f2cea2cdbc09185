"""The environment of consecutive runs, remembered: `envcapture run` in an unchanged environment reuses the
sections it collected last time instead of running every probe again (freeze costs about a second; a run
of a short command should not).

An entry is used only when everything the cached sections were read from is as it was: the whole environment
of the child (variables), the interpreter, and the files the package managers keep their state in (the
interpreter's site-packages folders as recorded, dpkg/rpm/apk databases, conda-meta, os-release, the NVIDIA
driver's version file, the kernel release). A pip, apt or conda change touches one of them. Sections that
depend on the moment are always collected again: the project's files (``filesystem``) and git state
(``code``, taken before the command starts).

What is stored is the environment as the write gate left it, and only when the gate changed nothing in it
(no secret replaced, no value repaired): a run that reuses it passes ``sealed=REUSED`` to the gate, which
scans the whole record for secrets again but conforms and validates only the sections collected for this
run (the gate's most expensive part on a short command). The entry carries the SHA-256 of its sections,
checked on load, and is used only when it is a regular file owned by this user and writable by no one else.

The cache lives in ``$XDG_CACHE_HOME/envcapture/run-env/`` (one small JSON file per environment), written
atomically, mode 0600; one that cannot be read or written costs only the time it would have saved.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path

from envcapture import __version__
from envcapture.manifest.shared import SECTIONS

FORMAT = 2  # 2: the sections as the gate left them, with their digest
MAX_ENTRY_BYTES = 64 * 1024 * 1024
# Variables that change between shells or terminals and that no probe reads: kept out of the key.
VOLATILE = {"PWD", "OLDPWD", "SHLVL", "_", "TERM_SESSION_ID", "SSH_AUTH_SOCK", "SSH_CLIENT", "SSH_CONNECTION",
            "SSH_TTY", "WINDOWID", "COLUMNS", "LINES", "XDG_SESSION_ID", "GPG_TTY"}
STATE_FILES = ("/var/lib/dpkg/status", "/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages", "/lib/apk/db/installed",
               "/etc/os-release", "/usr/lib/os-release", "/proc/driver/nvidia/version", "/etc/apt/sources.list",
               "/etc/apt/sources.list.d")
REUSED = SECTIONS  # the environment: what a folder of run records can share (manifest/shared.py)
FRESH_SOURCES = ("filesystem", "git")  # warnings of the sections collected again


def _stamp(path: str):
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_mtime_ns, info.st_size, info.st_ino]


def key(python: str | None, env: dict, project: Path) -> str:
    """What the environment was read from, apart from the site-packages folders (checked on use)."""
    state = {
        "format": FORMAT, "envcapture": __version__, "python": python,
        "python_stamp": _stamp(os.path.realpath(python)) if python else None,
        "env": sorted((k, v) for k, v in env.items() if k not in VOLATILE),
        "project": str(project), "kernel": platform.release(),
        "files": {path: _stamp(path) for path in STATE_FILES},
        "conda": _stamp(os.path.join(env["CONDA_PREFIX"], "conda-meta")) if env.get("CONDA_PREFIX") else None,
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode("utf-8")).hexdigest()


def folder(env: dict) -> Path:
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "envcapture" / "run-env"


def _site_stamps(sections: dict) -> dict:
    home = os.path.expanduser("~")
    paths = [p.replace("~", home, 1) if p.startswith("~") else p
             for p in (sections.get("python") or {}).get("site_packages") or []]
    return {path: _stamp(path) for path in paths}


def digest(sections: dict) -> str:
    return hashlib.sha256(json.dumps(sections, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def load(entry_key: str, env: dict) -> dict | None:
    """The cached sections and warnings for ``entry_key``, or None (no entry, or the environment changed)."""
    import stat

    path = folder(env) / f"{entry_key}.json"
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid()
                    or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
                return None
            raw = handle.read(MAX_ENTRY_BYTES + 1)
        if len(raw) > MAX_ENTRY_BYTES:
            return None
        entry = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT or not isinstance(entry.get("sections"), dict):
        return None
    sections = entry["sections"]
    if set(sections) != set(REUSED) or entry.get("digest") != digest(sections):
        return None  # not as it was stored
    if entry.get("site_stamps") != _site_stamps(sections):
        return None  # a package installed, removed or upgraded since
    return entry


def store(entry_key: str, env: dict, sealed: dict, warnings: list) -> None:
    """``sealed``: the record as the write gate returned it, whose environment sections the gate left as they
    were collected; ``warnings``: the environment's own, as collected (not the gate's notes on this run)."""
    sections = {name: sealed.get(name) for name in REUSED}
    warnings = [w for w in warnings if w.get("source") not in FRESH_SOURCES]
    entry = {"format": FORMAT, "sections": sections, "digest": digest(sections), "warnings": warnings,
             "site_stamps": _site_stamps(sections)}
    target = folder(env)
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        from envcapture.manifest.file import write_atomically

        write_atomically(target / f"{entry_key}.json", json.dumps(entry), mode=0o600)
    except OSError:
        pass  # only time is lost
