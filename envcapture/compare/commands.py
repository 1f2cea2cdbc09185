"""The two commands: `check` (a live environment or an image against a manifest) and `diff` (manifests)."""

from __future__ import annotations

import glob
import re
from pathlib import Path

from envcapture.compare.grading import Comparison, compare
from envcapture.compare.image import manifest_from_image_report, not_reproduced_in_report, run_in_image
from envcapture.compare.rules import SECTIONS
from envcapture.compare.emit import emit
from envcapture.errors import BadInput


def manifest_labels(paths: list[str]) -> list[str]:
    """Short names for the columns: the file stem (node-3), the path where stems repeat."""
    stems = [Path(p).stem for p in paths]
    return [stem if stems.count(stem) == 1 else str(p) for stem, p in zip(stems, paths)]


def _natural(text: str) -> list:
    """n2 before n10: node names sort the way a person counts."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def manifest_paths(arguments: list[str]) -> list[str]:
    """Files, folders (their *.json) and patterns the shell did not expand (quoted, or on Windows)."""
    paths: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = [str(p) for p in path.iterdir() if p.suffix == ".json" and not p.name.startswith(".")
                     and p.is_file()]
            if not found:
                raise BadInput(f"{argument}: a folder with no .json manifest in it")
            paths += sorted(found, key=_natural)
        elif not path.exists() and glob.has_magic(argument):
            found = [p for p in glob.glob(argument) if Path(p).is_file()]
            if not found:
                raise BadInput(f"{argument}: no file matches this pattern")
            paths += sorted(found, key=_natural)
        else:
            paths.append(argument)
    return paths  # a file named twice is read twice, but parsed sections are shared (ManifestSet)


def one_manifest_message(arguments: list[str], path: str) -> str:
    if len(arguments) == 1 and arguments[0] == path:
        return (f"diff needs at least two manifests, and got one: {path}. If you typed a pattern such as "
                "node-*.json, the shell found only this file: usually every task wrote the same file (srun fills "
                "%n only in its own --output; use envcapture freeze -o 'node-{node}.json') or srun ran one task "
                "(give --nodes=N, or run it inside the allocation)")
    return f"diff needs at least two manifests, and {' '.join(arguments)} holds only one: {path}"


def diff_command(args) -> int:
    from envcapture.compare.many import ManifestSet

    paths = manifest_paths(list(args.manifests))
    if len(paths) < 2:
        raise BadInput(one_manifest_message(list(args.manifests), paths[0]))
    manifests = ManifestSet()
    for path in paths:
        manifests.add(path)
    result = manifests.compare(manifest_labels(paths), sources=paths)
    emit(result, "diff", args.format)
    return 0 if result.same else 1


def check_command(args) -> int:
    from envcapture.manifest import file as manifest_io

    expected = manifest_io.load(args.manifest)
    if getattr(args, "data_only", False):
        return _check_data(expected, args, None)
    by_design: dict = {}
    if args.image:
        report = run_in_image(args.image, args.python or "python3")
        live, skip = manifest_from_image_report(report, args.image)
        by_design = not_reproduced_in_report(report)
        label, source = "image", f"image:{args.image}"
    else:
        live, skip = live_manifest(args.python)
        label, source = "live", "live:" + ((live.get("python") or {}).get("executable") or "python")
    result = compare([expected, live], [Path(args.manifest).name, label], sources=[args.manifest, source],
                     skip=skip, strict=args.strict, by_design=by_design)
    result.differences += unsatisfied_differences(live, args.strict)
    result.differences += seed_record_findings(expected, args.strict)
    recorded = expected.get("data") or {}
    if not (recorded.get("sets") or recorded.get("dvc") or getattr(args, "data", None)):
        emit(result, "check", args.format)
        return 0 if result.ok else 1
    return _check_data(expected, args, result)


def _check_data(expected: dict, args, result: Comparison | None) -> int:
    """The recorded data sets (envcapture/data/check.py), after the environment unless --data-only; with --image,
    the sets the image carries (generate --with-data) are checked in the image."""
    from envcapture.data import check as data_check

    if getattr(args, "image", None):
        from envcapture.compare.image_data import run as check_data_in_image

        reports = check_data_in_image(expected, Path(args.manifest), args.data, args.no_cache, args.image)
    else:
        reports = data_check.run(expected, Path(args.manifest), args.data, args.no_cache)
    if args.format == "json":
        import json

        from envcapture.compare.views import terminal_safe_json

        payload = result.to_json("check") if result is not None else {}
        payload["data"] = data_check.json_report(reports)
        print(terminal_safe_json(json.dumps(payload, indent=2, ensure_ascii=False)))
    else:
        if result is not None:
            emit(result, "check", args.format)
        print(data_check.text_report(reports), end="")
    ok = (result is None or result.ok) and all(report.ok for report in reports)
    return 0 if ok else 1


def seed_record_findings(expected: dict, strict: bool) -> list:
    """A run record's seed records: what the run could not make deterministic is a warning (an error with
    --strict) whatever the environment, since a rerun here meets the same gap."""
    from envcapture.compare.grading import Difference
    from envcapture.compare.rules import ERROR, WARNING

    run = expected.get("run") or {}
    found = []
    for record in run.get("seed_records") or []:
        for problem in record.get("not_set") or []:
            to_set = f" (set {problem['name']}={problem['value_to_set']})" if problem.get("value_to_set") else ""
            found.append(Difference(section="run", item=problem["name"], field="not_set",
                                    what=f"not set by the run: {problem['name']}{to_set}",
                                    grade=ERROR if strict else WARNING, change="missing",
                                    values=[problem.get("reason"), None]))
    if run.get("seed") is not None and run.get("seed_records") and not any(
            r.get("seeded") for r in run["seed_records"]):
        found.append(Difference(section="run", item="", field="seeded", what="--seed given, nothing was seeded",
                                grade=ERROR if strict else WARNING, change="missing", values=[None, None]))
    return found


def unsatisfied_differences(live: dict, strict: bool) -> list:
    """Requirements the checked environment does not satisfy, as `pip check` reports them: a warning (the
    environment may have been recorded broken, and then the kit reproduces it faithfully), an error with --strict."""
    from envcapture.compare.grading import Difference
    from envcapture.compare.rules import ERROR, WARNING
    from envcapture.probes.python_env import unsatisfied_requirements

    packages = [(p.get("name"), p.get("version"), p.get("requires") or []) for p in live.get("python_packages") or []
                if isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("version"), str)]
    markers = (live.get("python") or {}).get("markers") or {}
    return [Difference(section="python_packages", item=line.split(" ", 1)[0], field="requires", what=line,
                       grade=ERROR if strict else WARNING, change="unsatisfied", values=[None, None])
            for line in unsatisfied_requirements(packages, markers)]


def live_manifest(python: str | None) -> tuple[dict, dict]:
    from envcapture.capture.freeze import build_manifest

    return build_manifest(python=python), {}


def check_python_env(expected: dict, python: str, strict: bool = False) -> Comparison:
    """What `restore` runs: the Python sections of a live interpreter against the manifest."""
    live, _ = live_manifest(python)
    skip = {s: "restore recreates only the Python packages; run `envcapture check` for the rest"
            for s in SECTIONS if s not in ("python", "python_packages")}
    return compare([expected, live], ["manifest", "restored"], skip=skip, strict=strict)
