"""envcapture/report/views.py: the HTML report's bar chart (packages by source kind) read back from the page."""

import json
from html.parser import HTMLParser

from envcapture.report import views
from envcapture.report.facts import build_report

from .conftest import FIXTURES


class _Chart(HTMLParser):
    """The SVG chart as a browser reads it: the viewBox, each bar (rect) and each text with its position."""

    def __init__(self):
        super().__init__()
        self.view, self.rects, self.texts, self._text = None, [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg":
            self.view = [float(v) for v in attrs["viewbox"].split()]
        elif tag == "rect":
            self.rects.append({k: float(attrs[k]) for k in ("x", "y", "width", "height")})
        elif tag == "text":
            self._text = {"x": float(attrs["x"]), "y": float(attrs["y"])}

    def handle_data(self, data):
        if self._text is not None:
            self.texts.append({**self._text, "text": data})
            self._text = None


def test_the_chart_bars_are_in_proportion_and_inside_the_picture():
    """mixed-sources.json: 7 packages from the index, 1 each from an archive, a folder, an editable and VCS. The
    bars are in proportion to those counts and every bar and count ends inside the SVG's viewBox."""
    manifest = FIXTURES / "mixed-sources.json"
    chart = _Chart()
    chart.feed(views.html(build_report([json.loads(manifest.read_text())], [manifest.name])))
    _, _, width, height = chart.view
    counts = [int(t["text"]) for t in chart.texts if t["text"].isdigit()]
    labels = [t["text"] for t in chart.texts if not t["text"].isdigit()]
    assert labels == ["index", "archive", "directory", "editable", "vcs"] and counts == [7, 1, 1, 1, 1]
    widths = [r["width"] for r in chart.rects]
    assert all(abs(w / widths[0] - c / counts[0]) < 0.01 for w, c in zip(widths, counts)), widths
    assert widths[0] >= width / 2  # the longest bar uses the room there is
    for rect in chart.rects:
        assert rect["x"] + rect["width"] <= width and rect["y"] + rect["height"] <= height
    for text in chart.texts:  # a count is a few characters wide: it starts well inside the picture
        assert text["x"] + 8 * len(text["text"]) <= width and text["y"] <= height, text
