"""The ``system_packages`` section: whichever of dpkg, apk or rpm keeps this system's packages.

A system can carry another manager's tools (Debian ships ``rpm``, Fedora ships ``dpkg``); the native one is
the first whose database exists and is not empty, in the order dpkg, apk, rpm.
"""

from __future__ import annotations

import importlib

from envcapture.probes import ProbeContext, ProbeResult

MANAGERS = ("dpkg", "apk", "rpm")
DATABASES = {"dpkg": ("/var/lib/dpkg/status",), "apk": ("/lib/apk/db/installed",),
             "rpm": tuple(f"{folder}/{name}" for folder in ("/usr/lib/sysimage/rpm", "/var/lib/rpm")
                          for name in ("rpmdb.sqlite", "Packages", "Packages.db"))}


def database_size(ctx: ProbeContext, manager: str) -> int | None:
    """Size of the manager's database file, None when it has none."""
    for path in DATABASES[manager]:
        try:
            return ctx.path(path).stat().st_size
        except OSError:
            continue
    return None


def pick_manager(ctx: ProbeContext) -> str | None:
    sizes = {manager: database_size(ctx, manager) for manager in MANAGERS}
    for manager in MANAGERS:
        if sizes[manager]:
            return manager
    return next((manager for manager in MANAGERS if sizes[manager] is not None), None)


def collect(ctx: ProbeContext) -> ProbeResult:
    manager = pick_manager(ctx)
    if manager is None:
        return ProbeResult({"manager": None, "packages": [], "sources": []})
    return importlib.import_module(f"envcapture.probes.{manager}").collect(ctx)
