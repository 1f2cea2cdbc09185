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
    if args.image:
        live, skip = image_manifest(args.image, python=args.python or "python3")
        label, source = "image", f"image:{args.image}"
    else:
        live, skip = live_manifest(args.python)
        label, source = "live", "live:" + ((live.get("python") or {}).get("executable") or "python")
    result = compare([expected, live], [Path(args.manifest).name, label], sources=[args.manifest, source],
                     skip=skip, strict=args.strict)
    emit(result, "check", args.format)
    return 0 if result.ok else 1


def live_manifest(python: str | None) -> tuple[dict, dict]:
    from envcapture.freeze import build_manifest

    return build_manifest(python=python), {}


def check_python_env(expected: dict, python: str, strict: bool = False) -> Comparison:
    """What `restore` runs: the Python sections of a live interpreter against the manifest."""
    live, _ = live_manifest(python)
    skip = {s: "restore recreates only the Python packages; run `envcapture check` for the rest"
            for s in SECTIONS if s not in ("python", "python_packages")}
    return compare([expected, live], ["manifest", "restored"], skip=skip, strict=strict)
