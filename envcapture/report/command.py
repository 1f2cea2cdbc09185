"""`envcapture report`: one or more manifests as a paper's "Computational environment" section."""

from __future__ import annotations

import sys
from pathlib import Path

from envcapture.manifest import file as manifest_io
from envcapture.manifest.gate import for_publication
from envcapture.report.output import check_target, write_output
from envcapture.text import printable


def report_command(args) -> int:
    from envcapture.report.facts import build_report
    from envcapture.report.views import RENDERERS

    paths = list(args.manifests) or ["envcapture.json"]
    if args.output not in (None, "-"):
        check_target(Path(args.output), getattr(args, "force", False))  # refused before any work
    # What a report quotes passes the gate's secret scan (a stranger's manifest may hold what freeze never wrote).
    manifests = [for_publication(manifest_io.load(path))[0] for path in paths]
    text = RENDERERS[args.format](build_report(manifests, paths), standalone=args.standalone)
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    write_output(out, text, force=getattr(args, "force", False))
    print(f"envcapture: wrote the {args.format} report to {printable(out)}", file=sys.stderr)
    return 0
