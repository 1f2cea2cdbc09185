"""One comparison for `check` (live environment vs manifest) and `diff` (manifests vs manifests).

Each manifest is flattened into *facts*, keyed by (section, item, field): ``("python_packages", "six",
"version") -> "1.16.0"``. A fact that differs between manifests becomes a graded difference: ``error`` for
what changes results (a package version, the Python minor version, the CUDA major, ...), ``warning`` for
what usually does not (kernel release, CPU model, memory size, ...). The first manifest is the reference
("expected"); with three or more, differences form a matrix of values per manifest.

What is never compared: paths (executable, prefixes, mounts), timestamps, the envcapture version, who
installed a package (pip or uv) and whether it was requested, host identity, and freeze warnings.
The JSON view's shape is documented in docs/compare-json.md and is stable.
"""

from envcapture.compare.commands import (check_command, check_python_env, diff_command, live_manifest,
                                         manifest_labels)
from envcapture.compare.facts import Facts, extract
from envcapture.compare.grading import Comparison, Difference, compare, sections_not_collected
from envcapture.compare.image import image_manifest, manifest_from_image_report, run_in_image
from envcapture.compare.rules import ERROR, JSON_FORMAT_VERSION, RULES, SECTIONS, WARNING, Rule
from envcapture.compare.emit import emit
from envcapture.compare.views import render_markdown, render_text, verdict_line

__all__ = ["ERROR", "JSON_FORMAT_VERSION", "RULES", "SECTIONS", "WARNING", "Comparison", "Difference", "Facts",
           "Rule", "check_command", "check_python_env", "compare", "diff_command", "emit", "extract",
           "image_manifest", "live_manifest", "manifest_from_image_report", "manifest_labels", "render_markdown",
           "render_text", "run_in_image", "sections_not_collected", "verdict_line"]
