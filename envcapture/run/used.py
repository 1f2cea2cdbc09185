"""`generate --only-used RUN.json`: the run record's manifest cut down to the Python packages the run imported,
plus everything they require (with the extras asked for, markers evaluated for the recorded interpreter), and,
when the run recorded them, to the system packages that own the shared objects mapped into the run (the kit's
"system packages the environment needs" then start from those, not from every library the environment's
packages link against)."""

from __future__ import annotations

from envcapture.errors import BadInput
from envcapture.manifest.grammar import canonical_name


def used_names(manifest: dict, where: str) -> list[str]:
    used = ((manifest.get("run") or {}).get("used")) or {}
    names = used.get("python_packages")
    if not manifest.get("run"):
        raise BadInput(f"{where}: not a run record (make one with envcapture run -o RUN.json -- COMMAND)")
    if not used.get("recorded") or names is None:
        raise BadInput(f"{where}: the run record does not say which packages the run used (the in-process hook "
                       "did not record it: not a Python command, python -E/-I/-S, or the process was killed)")
    return names


def closure(packages: list[dict], names: list[str], markers: dict) -> set[str]:
    """Canonical names of ``names`` and of every installed distribution they require, transitively."""
    from packaging.requirements import InvalidRequirement, Requirement

    by_name = {canonical_name(p["name"]): p for p in packages}
    keep: dict[str, set[str]] = {}  # name -> the extras already followed
    todo = [(canonical_name(name), frozenset()) for name in names]
    while todo:
        name, extras = todo.pop()
        package = by_name.get(name)
        if package is None:
            continue
        if name in keep:
            pending = set(extras) - keep[name]
            if not pending:
                continue
            keep[name] |= pending
            evaluate_for = sorted(pending)
        else:
            keep[name] = set(extras)
            evaluate_for = [""] + sorted(extras)
        for text in package.get("requires") or []:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            if requirement.marker is None or any(requirement.marker.evaluate({**markers, "extra": extra})
                                                 for extra in evaluate_for):
                todo.append((canonical_name(requirement.name), frozenset(requirement.extras)))
    return set(keep)


def only_used(manifest: dict, where: str) -> dict:
    """A copy of ``manifest`` whose python_packages are those the run used, with their requirements."""
    names = used_names(manifest, where)
    markers = dict((manifest.get("python") or {}).get("markers") or {})
    packages = manifest.get("python_packages") or []
    keep = closure(packages, names, markers)
    reduced = dict(manifest)
    reduced["python_packages"] = [p for p in packages if canonical_name(p["name"]) in keep]
    reduced["warnings"] = list(manifest.get("warnings") or []) + [{
        "source": "run", "message": f"generate --only-used: {len(reduced['python_packages'])} of {len(packages)} "
                                    "Python packages kept (imported by the run, and what they require)"}]
    system = system_libraries(manifest)
    if system is not None:
        reduced["shared_libraries"] = system
        reduced["warnings"].append({
            "source": "run", "message": f"generate --only-used: the system packages needed are the "
                                        f"{len(system['packages'])} that own the shared objects the run mapped"})
    return reduced


def system_libraries(manifest: dict) -> dict | None:
    """The ``shared_libraries`` section made of what the run mapped (None: the run did not record it). A
    package the environment needs only for its interpreter stays marked so (the kit's Python brings it)."""
    import os

    used = (manifest.get("run") or {}).get("used") or {}
    recorded = manifest.get("shared_libraries")
    if used.get("system_packages") is None or not isinstance(recorded, dict):
        return None
    libraries = recorded.get("libraries") or []
    for_interpreter = ({lib.get("package") for lib in libraries if lib.get("via") == "interpreter"}
                       - {lib.get("package") for lib in libraries if lib.get("via") != "interpreter"})
    mapped = [{"name": os.path.basename(item["path"]), "package": item["package"],
               "via": "interpreter" if item["package"] in for_interpreter else "run", "users": []}
              for item in used.get("shared_objects") or [] if item.get("package")]
    return {**recorded, "libraries": mapped, "packages": sorted({lib["package"] for lib in mapped})}
