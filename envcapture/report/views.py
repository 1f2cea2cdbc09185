"""The three report formats. Each is one template; this module only prepares what a template cannot compute."""

from __future__ import annotations

from envcapture.report.escape import Code
from envcapture.report.facts import Report
from envcapture.report.templating import render

FORMATS = ("markdown", "latex", "html")


def markdown(report: Report, standalone: bool = False) -> str:
    return render("markdown", "report.md.j2", report=report, rebuild=Code(report.rebuild))


def latex(report: Report, standalone: bool = False) -> str:
    columns = max(1, len(report.labels))
    value_width = 0.66 / (columns + 0.5)  # the fact column gets half a value column more
    return render("latex", "report.tex.j2", report=report, standalone=standalone, chunks=chunks,
                  packages_line=[f"{p.name} {p.version}" for p in report.packages],
                  fact_width=f"{1 - value_width * columns:.3f}", value_width=f"{value_width:.3f}")


def chunks(rows: list, size: int = 24) -> list[list]:
    """A tabular cannot break across a column or page: long tables are set as several consecutive ones."""
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def html(report: Report, standalone: bool = True) -> str:
    return render("html", "report.html.j2", report=report, chart=bar_chart(report.sources_chart))


def bar_chart(counts: list[tuple[str, int]], width: int = 480, label_width: int = 90) -> dict:
    """Geometry of a horizontal bar chart in SVG user units (numbers only; labels stay text for the template)."""
    top = max((count for _, count in counts), default=0)
    room = width - label_width - 40
    bars = [{"label": label, "count": count, "y": 4 + index * 24,
             "width": max(1, round(room * count / top)) if top else 0}
            for index, (label, count) in enumerate(counts)]
    return {"bars": bars, "width": width, "height": 8 + 24 * len(bars), "label_width": label_width}


RENDERERS = {"markdown": markdown, "latex": latex, "html": html}
