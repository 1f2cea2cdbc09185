"""The system packages a run used: the shared objects mapped into its process at exit (the hook reads
``/proc/self/maps``), each resolved to the package that owns it through the package manager's own file lists.

The lookup is probes/shared_libs.py's (``NeededCache.owners``: the dpkg/apk/rpm owner of a file name, cached
while the package database does not change). A name is only a name: with dpkg, an owner is kept only when its
file list holds the mapped path itself (or its other spelling under merged /usr), so a wheel's vendored
``torch/lib/libgomp.so.1`` is never taken for the system's ``libgomp1``.
"""

from __future__ import annotations

import os

MAX_OBJECTS = 5000
_DPKG_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf", "i686": "i386", "ppc64le": "ppc64el"}


def _spellings(path: str) -> set[str]:
    """A path as a file list may name it: /usr/lib/x.so is /lib/x.so under merged /usr, and the other way."""
    names = {path}
    if path.startswith("/usr/"):
        names.add(path[4:])
    else:
        names.add("/usr" + path)
    return names


def _dpkg_lists(ctx, package: str) -> list[str]:
    """The file lists of ``package``: NAME.list, or NAME:ARCH.list for a multi-arch package."""
    info = str(ctx.path("/var/lib/dpkg/info"))
    arch = _DPKG_ARCH.get(os.uname().machine, os.uname().machine)
    for name in (f"{package}.list", f"{package}:{arch}.list"):  # the usual two, without listing the folder
        if os.path.isfile(os.path.join(info, name)):
            return [os.path.join(info, name)]
    import glob

    return glob.glob(os.path.join(glob.escape(info), f"{glob.escape(package)}:*.list"))


def _listed(ctx, package: str, paths: set[str]) -> set[str]:
    """Which of ``paths`` (any spelling) the dpkg file list of ``package`` holds."""
    wanted = {spelling.encode(): path for path in paths for spelling in _spellings(path)}
    found = set()
    for list_path in _dpkg_lists(ctx, package):
        try:
            with open(list_path, "rb") as handle:
                for line in handle:
                    path = wanted.get(line.rstrip(b"\n"))
                    if path is not None:
                        found.add(path)
        except OSError:
            continue
    return found


def owners(paths: list[str], env: dict, home: str) -> tuple[dict[str, str | None], str | None]:
    """({mapped path: owning package or None}, the package manager) for the system's package database."""
    from envcapture.probes import ProbeContext
    from envcapture.probes.shared_libs import NeededCache, manager_of

    ctx = ProbeContext(env=env, home=home)
    manager = manager_of(ctx)
    paths = list(dict.fromkeys(p for p in paths if isinstance(p, str) and p.startswith("/")))[:MAX_OBJECTS]
    result: dict[str, str | None] = dict.fromkeys(paths)
    if manager is None or not paths:
        return result, manager
    cache = NeededCache(home)
    by_name = cache.owners(manager, ctx, {os.path.basename(p) for p in paths})
    cache.save()
    candidates: dict[str, set[str]] = {}
    for path in paths:
        package = by_name.get(os.path.basename(path))
        if package:
            candidates.setdefault(package, set()).add(path)
    for package, owned in candidates.items():
        confirmed = _listed(ctx, package, owned) if manager == "dpkg" else owned
        for path in confirmed:
            result[path] = package
    return result, manager
