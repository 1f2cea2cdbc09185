"""Nothing envcapture prints can drive the terminal: ESC sequences, the 8-bit CSI, other C0/C1 controls and
bidirectional overrides in a value are shown escaped by show, diff, check and every error line.

Values reach the views from three places: validated manifests (the grammar refuses these characters, tested in
test_grammar_rules), live environments and images (`check --image` runs a probe in an image a stranger may have
built: its answers are not a validated manifest), and the user's own arguments (file names). The views are
therefore tested directly with unvalidated values, and the CLI with hostile file names and arguments.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from envcapture import compare
from envcapture.cli import main

REPO = Path(__file__).resolve().parents[2]
COMPARE = REPO / "tests" / "fixtures" / "compare"
MANIFESTS = REPO / "tests" / "fixtures" / "manifests"

# What a terminal obeys: C0 controls but tab and newline, DEL, C1 controls, bidi marks/overrides/isolates.
OBEYED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
HOSTILE = ["\x1b[2J\x1b[H", "\x1b]0;pwned\x07", "\x9b31m", "evil\u202etxt.exe", "\u2067rtl\u2069", "\r\x1b[Kfake OK"]


def _plain_console():
    from rich.console import Console

    buffer = io.StringIO()
    return Console(file=buffer, width=300, no_color=True, force_terminal=False), buffer


def _hostile_pair(value: str) -> tuple[dict, dict]:
    """A manifest and what a hostile image might report: the same, with a control sequence in many facts."""
    expected = json.loads((COMPARE / "node-1.json").read_text(encoding="utf-8"))
    actual = copy.deepcopy(expected)
    actual["os"]["pretty_name"] = f"Debian {value}"
    actual["os"]["kernel"] = f"6.1.0{value}"
    actual["hardware"]["cpu_model"] = f"CPU{value}"
    actual["python_packages"][0]["version"] = f"3.7{value}"
    actual["python_packages"].append(dict(actual["python_packages"][0], name=f"pkg{value}"))
    return expected, actual


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_check_views_escape_what_an_image_reports(value):
    expected, actual = _hostile_pair(value)
    result = compare.compare([expected, actual], ["envcapture.json", f"image{value}"])
    console, buffer = _plain_console()
    compare.render_text(result, "check", console)
    text = buffer.getvalue()
    assert "pkg" in text and "CPU" in text  # the hostile rows are there, escaped
    assert not OBEYED.search(text), repr(OBEYED.search(text).group())
    markdown = compare.render_markdown(result, "check")
    assert not OBEYED.search(markdown)


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_json_view_escapes_them_and_keeps_the_data(value, capsys):
    expected, actual = _hostile_pair(value)
    result = compare.compare([expected, actual], ["envcapture.json", "image"])
    compare.emit(result, "check", "json")
    out = capsys.readouterr().out
    assert not OBEYED.search(out)
    assert json.loads(out) == json.loads(json.dumps(result.to_json("check")))


def test_show_escapes_unvalidated_values():
    from envcapture.show.summary import render

    data = json.loads((MANIFESTS / "system-cuda.json").read_text(encoding="utf-8"))
    data["os"]["pretty_name"] = "Ubuntu \x1b[2J"
    data["python_packages"][0]["version"] = "1.0\x9b31m"
    data["determinism"]["warnings"] = ["\u202ewarning"]
    data["warnings"] = [{"source": "python\x1b[5m", "message": "bad \x1b]0;x\x07 value"}]
    data["gpu"]["verdict"] = ["GPU \x1b[31mred"]
    data["gpu"]["devices"][0]["name"] = "H100\u2066"
    console, buffer = _plain_console()
    render(data, console)
    text = buffer.getvalue()
    assert "\\x1b[2J" in text and "\\x9b31m" in text and "\\u202ewarning" in text and "\\u2066" in text
    assert not OBEYED.search(text)


def test_diff_escapes_a_hostile_file_name(tmp_path, capsys):
    hostile = tmp_path / "node\x1b]0;pwned\x07\u202e.json"
    shutil.copyfile(COMPARE / "node-1.json", hostile)
    other = json.loads((COMPARE / "node-1.json").read_text(encoding="utf-8"))
    other["python_packages"][0]["version"] = "3.8"
    (tmp_path / "b.json").write_text(json.dumps(other), encoding="utf-8")
    for fmt in ("text", "markdown", "json"):
        assert main(["diff", str(hostile), str(tmp_path / "b.json"), "--format", fmt]) == 1
        out, err = capsys.readouterr()
        assert "node" in out and not OBEYED.search(out + err), fmt


@pytest.mark.parametrize("argv", [
    ["show", "/nonexistent/\x1b[2Jmanifest.json"],
    ["freeze", "--project", "/nonexistent/\x9b31m\u202e", "-o", "/nonexistent/x.json"],
    ["generate", "docker", "-m", "/nonexistent/\x1b]0;pwned\x07.json", "-o", "/tmp/never"],
])
def test_error_lines_escape_hostile_arguments(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("envcapture: ") and "Traceback" not in err
    assert not OBEYED.search(err), repr(err)


def test_error_lines_escape_a_hostile_manifest_value(tmp_path, capsys):
    data = json.loads((MANIFESTS / "plain-venv.json").read_text(encoding="utf-8"))
    data["os"]["pretty_name"] = "Debian\x1b[2J\x9b31m\u202e"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "os.pretty_name" in err and not OBEYED.search(err)
