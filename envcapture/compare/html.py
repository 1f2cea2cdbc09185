"""`diff --format html`: one self-contained page for a cluster admin, the differences as a heat map.

A manifest is untrusted: every value, label and note reaches the page through Jinja2's autoescaping (text and
attribute values alike) after grammar.printable (control characters and bidi marks shown escaped, as in the
other views); the page loads nothing from anywhere (inline CSS, no script).
"""

from __future__ import annotations

from envcapture.compare.grading import Comparison, _shown
from envcapture.compare.views import SECTION_TITLES, _by_reason, group_line, heading, spread_cells, verdict_line
from envcapture.text import printable

MAX_HEAT_ROWS = 500  # a page with 500 columns by 500 rows is still quick to open


def heat_row(difference, labels: list[str]) -> dict:
    (majority, _), _ = difference.spread(labels)
    most, others = spread_cells(difference, labels)
    cells = []
    for label, value in zip(labels, difference.values):
        if value == majority:
            css = "cell-same"
        elif value is None:
            css = "cell-missing"
        else:
            css = f"cell-{difference.grade}"
        cells.append({"css": css, "title": printable(f"{label}: {_shown(value)}")})
    return {"section": SECTION_TITLES.get(difference.section, difference.section), "grade": difference.grade,
            "what": printable(difference.what), "most": printable(most), "others": printable(others),
            "cells": cells}


def render_html(result: Comparison, command: str) -> str:
    import jinja2

    from envcapture.render.common import TEMPLATES

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    differences = result.differences[:MAX_HEAT_ROWS]
    notes = [printable(f"not compared: {', '.join(sections)} ({reason})") for reason, sections in
             _by_reason(result.not_compared).items()]
    if len(result.differences) > MAX_HEAT_ROWS:
        notes.append(f"{len(result.differences) - MAX_HEAT_ROWS} more differences: --format json lists every one")
    same = result.same if command == "diff" else result.ok
    return env.get_template("diff.html.j2").render(
        command=command, heading=printable(heading(result.labels)), verdict=printable(verdict_line(result, command)),
        verdict_class="same" if same else "different", labels=[printable(label) for label in result.labels],
        rows=[heat_row(d, result.labels) for d in differences],
        groups=[printable(group_line(g)) for g in result.groups] if len(result.groups) > 1 else [], notes=notes)
