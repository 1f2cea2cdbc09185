"""The two commands: `check` (a live environment or an image against a manifest) and `diff` (manifests)."""

from __future__ import annotations

from pathlib import Path

from envcapture.compare.grading import Comparison, compare
from envcapture.compare.image import image_manifest
from envcapture.compare.rules import SECTIONS
from envcapture.compare.views import emit
from envcapture.errors import BadInput


def manifest_labels(paths: list[str]) -> list[str]:
    """Short names for the columns: the file stem (node-3), the path where stems repeat."""
    stems = [Path(p).stem for p in paths]
    return [stem if stems.count(stem) == 1 else str(p) for stem, p in zip(stems, paths)]


def diff_command(args) -> int:
    from envcapture import manifest as manifest_io

    paths = list(args.manifests)
    if len(paths) < 2:
        raise BadInput("diff needs at least two manifests (envcapture diff A B [C ...])")
    manifests = [manifest_io.load(p) for p in paths]
    result = compare(manifests, manifest_labels(paths), sources=paths)
    emit(result, "diff", args.format)
    return 0 if result.same else 1


def check_command(args) -> int:
    from envcapture import manifest as manifest_io

    expected = manifest_io.load(args.manifest)
    if getattr(args, "data_only", False):
        return _check_data(expected, args, None)
    if args.image:
        live, skip = image_manifest(args.image, python=args.python or "python3")
        label, source = "image", f"image:{args.image}"
    else:
        live, skip = live_manifest(args.python)
        label, source = "live", "live:" + ((live.get("python") or {}).get("executable") or "python")
    result = compare([expected, live], [Path(args.manifest).name, label], sources=[args.manifest, source],
                     skip=skip, strict=args.strict)
    if not ((expected.get("data") or {}).get("sets") or getattr(args, "data", None)):
        emit(result, "check", args.format)
        return 0 if result.ok else 1
    return _check_data(expected, args, result)


def _check_data(expected: dict, args, result: Comparison | None) -> int:
    """The recorded data sets (envcapture/data_check.py), after the environment unless --data-only."""
    from envcapture import data_check

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


def live_manifest(python: str | None) -> tuple[dict, dict]:
    from envcapture.freeze import build_manifest

    return build_manifest(python=python), {}


def check_python_env(expected: dict, python: str, strict: bool = False) -> Comparison:
    """What `restore` runs: the Python sections of a live interpreter against the manifest."""
    live, _ = live_manifest(python)
    skip = {s: "restore recreates only the Python packages; run `envcapture check` for the rest"
            for s in SECTIONS if s not in ("python", "python_packages")}
    return compare([expected, live], ["manifest", "restored"], skip=skip, strict=strict)
