"""Print a comparison in the format asked for: text (rich), JSON, Markdown or HTML.

It sits above every view (views.py, html.py), so no view needs another's module.
"""

from __future__ import annotations

import json
import sys

from envcapture.compare.grading import Comparison
from envcapture.compare.html import render_html
from envcapture.compare.views import render_markdown, render_text, terminal_safe_json


def emit(result: Comparison, command: str, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(terminal_safe_json(json.dumps(result.to_json(command), indent=2, ensure_ascii=False)) + "\n")
    elif fmt == "markdown":
        sys.stdout.write(render_markdown(result, command))
    elif fmt == "html":
        sys.stdout.write(render_html(result, command))
    else:
        render_text(result, command)
