"""`envcapture export`: a manifest as CycloneDX 1.6, SPDX 2.3 or an RO-Crate."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from envcapture.manifest import file as manifest_io
from envcapture.errors import BadInput, ToolFailed

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
    manifest = manifest_io.load(path)
    if args.format == "ro-crate":
        _library("rocrate", "rocrate")
        if not args.output or args.output == "-":
            raise BadInput("an RO-Crate is a folder or a .zip: give one with -o")
        from envcapture.export import rocrate

        out = Path(args.output)
        if out.exists() and (out.is_file() or any(out.iterdir())):
            raise BadInput(f"{out} already exists; give a new folder or .zip name")
        rocrate.write(manifest, path, out, as_zip=out.suffix == ".zip")
        print(f"envcapture: wrote the RO-Crate to {out}", file=sys.stderr)
        return 0
    _library("cyclonedx" if args.format == "cyclonedx" else "spdx_tools",
             "cyclonedx-python-lib" if args.format == "cyclonedx" else "spdx-tools")
    from envcapture.export import cyclonedx, spdx
    from envcapture.export.components import all_components

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    module = cyclonedx if args.format == "cyclonedx" else spdx
    text = module.document(manifest, all_components(manifest), digest)
    if not args.output or args.output == "-":
        sys.stdout.write(text)
    else:
        manifest_io.write_atomically(Path(args.output), text)
        print(f"envcapture: wrote the {args.format} document to {args.output}", file=sys.stderr)
    return 0
