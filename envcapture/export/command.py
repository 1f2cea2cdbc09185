"""`envcapture export`: a manifest as CycloneDX 1.6, SPDX 2.3 or an RO-Crate."""

from __future__ import annotations

import hashlib
import sys
from datetime import datetime
from pathlib import Path

from envcapture.errors import BadInput, ToolFailed
from envcapture.manifest import file as manifest_io
from envcapture.manifest.gate import for_publication
from envcapture.manifest.grammar import parse_iso_datetime
from envcapture.report.output import check_target, write_output
from envcapture.text import printable

FORMATS = ("cyclonedx", "spdx", "ro-crate")


def _library(module: str, package: str):
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ToolFailed(f"export needs the Python package {package!r}: "
                         "python -m pip install 'envcapture[export]'") from exc


def export_command(args) -> int:
    path = Path(args.manifest)
    force = getattr(args, "force", False)
    out = Path(args.output) if args.output and args.output != "-" else None
    if args.format == "ro-crate":
        if out is None:
            raise BadInput("an RO-Crate is a folder or a .zip: give one with -o")
        _check_crate_target(out, force)
    elif out is not None:
        check_target(out, force)
    kit_archive = getattr(args, "kit_archive", None)
    if kit_archive and args.format != "ro-crate":
        raise BadInput("--kit-archive: only an RO-Crate carries the kit archive (--format ro-crate)")
    # What an export quotes passes the gate's secret scan (a stranger's manifest may hold what freeze never wrote).
    manifest = for_publication(manifest_io.load(path))[0]
    created = _created(manifest)
    if args.format == "ro-crate":
        _library("rocrate", "rocrate")
        from envcapture.export import rocrate

        carried = rocrate.read_kit_archive(Path(kit_archive), manifest) if kit_archive else None
        if out.suffix == ".zip":
            try:
                rocrate.write_zip(manifest, path, out, created, carried)
            except OSError as exc:
                raise BadInput(manifest_io.write_error(exc, out)) from None
        else:
            rocrate.write_folder(manifest, path, out, created, carried)
        print(f"envcapture: wrote the RO-Crate to {printable(out)}", file=sys.stderr)
        return 0
    _library("cyclonedx" if args.format == "cyclonedx" else "spdx_tools",
             "cyclonedx-python-lib" if args.format == "cyclonedx" else "spdx-tools")
    from envcapture.export import cyclonedx, spdx
    from envcapture.export.components import all_components

    digest = hashlib.sha256(manifest_io.dumps(manifest).encode("utf-8")).hexdigest()
    module = cyclonedx if args.format == "cyclonedx" else spdx
    text = module.document(manifest, all_components(manifest), digest, created)
    if out is None:
        sys.stdout.write(text)
    else:
        write_output(out, text, force)
        print(f"envcapture: wrote the {args.format} document to {printable(out)}", file=sys.stderr)
    return 0


def _created(manifest: dict) -> datetime:
    """The capture time, parsed by the grammar's parser (what validate accepts): a date no calendar has, should
    one get this far, is one line."""
    created = parse_iso_datetime(manifest["created"])
    if created is None:
        raise BadInput(f"created: {printable(manifest['created'])} is not a real date and time")
    return created


def _check_crate_target(out: Path, force: bool) -> None:
    if out.suffix == ".zip":
        check_target(out, force, what=".zip file")
        return
    shown = printable(out)
    if out.is_symlink():
        raise BadInput(f"{shown}: is a symbolic link; name a new folder or .zip")
    if out.exists() and not out.is_dir():
        raise BadInput(f"{shown}: exists and is not a folder; give a new folder or .zip name")
    if out.is_dir() and any(out.iterdir()):
        raise BadInput(f"{shown}: already exists and is not empty; give a new folder or .zip name")
    if not out.parent.is_dir():
        raise BadInput(f"{shown}: the folder {printable(out.parent)} does not exist (create it first)")
