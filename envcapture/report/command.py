"""`envcapture report`: one or more manifests as a paper's "Computational environment" section."""

from __future__ import annotations

import sys
from pathlib import Path

from envcapture.manifest import file as manifest_io
from envcapture.errors import BadInput


def report_command(args) -> int:
    from envcapture.report.facts import build_report
    from envcapture.report.views import RENDERERS

    paths = list(args.manifests) or ["envcapture.json"]
    manifests = [manifest_io.load(path) for path in paths]
    text = RENDERERS[args.format](build_report(manifests, paths), standalone=args.standalone)
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    if out.is_dir():
        raise BadInput(f"{out} is a folder; give a file name for the report")
    manifest_io.write_atomically(out, text)
    print(f"envcapture: wrote the {args.format} report to {out}", file=sys.stderr)
    return 0
