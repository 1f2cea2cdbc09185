"""conform (envcapture/manifest/conform.py) on a real capture with the values a machine can hold put in each
kind of field: every repair is the smallest one, says where, and never quotes a value that may hold a secret."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from envcapture.manifest import conform
from envcapture.manifest import file as manifest_io

FIXTURES = Path(__file__).parents[1] / "fixtures" / "manifests"
TOKEN = "s3cr3t-t0ken-value"


@pytest.fixture(scope="module")
def base() -> dict:
    return json.loads((FIXTURES / "plain-venv.json").read_text())


def conformed(base, change) -> tuple[dict, list[str]]:
    data = copy.deepcopy(base)
    before = len(data["warnings"])
    change(data)
    conform.conform(data)
    assert manifest_io.find_problems(data) == []
    return data, [w["message"] for w in data["warnings"][before:]]


def test_a_url_that_fails_its_rule_is_left_out_and_never_quoted(base):
    def change(data):
        data["python_packages"][0]["index_url"] = f"https://user:{TOKEN}@example.org/simple"
        data["python"]["package_indexes"]["extra_index_urls"] = [f"https://x.example/{TOKEN}'$(id)"]
        data["system_packages"]["sources"] = [f"deb https://user:{TOKEN}@apt.example.org/ stable main"]
    data, notes = conformed(base, change)
    assert data["python_packages"][0]["index_url"] is None
    assert data["python"]["package_indexes"]["extra_index_urls"] == []
    assert data["system_packages"]["sources"] == []
    assert len(notes) == 3 and all("(value not shown)" in note for note in notes), notes
    assert TOKEN not in json.dumps(data)


def test_a_key_that_breaks_its_rule_for_names_is_left_out_not_its_object(base):
    def change(data):
        data["determinism"]["deep"] = {"numpy": {"k" * 201: 1, "version": "2.0"}, "torch": {"a\x1bb": 1, "cuda": "12"}}
        data["determinism"]["environment"] = {"BAD NAME$(id)": "x", "OMP_NUM_THREADS": "2"}
        data["python"]["markers"]["Not A Marker; $(id)"] = "x"
    data, notes = conformed(base, change)
    assert data["determinism"]["deep"] == {"numpy": {"version": "2.0"}, "torch": {"cuda": "12"}}
    assert data["determinism"]["environment"] == {"OMP_NUM_THREADS": "2"}
    assert data["python"]["markers"] == base["python"]["markers"]
    assert len(notes) == 4 and all(note.endswith("breaks a manifest rule; left out") for note in notes), notes
    assert 'determinism.environment: key "BAD NAME$(id)" breaks a manifest rule; left out' in notes


def test_text_with_control_characters_is_escaped_and_a_long_one_cut(base):
    def change(data):
        data["hardware"]["cpu_model"] = "EPYC\x1b[31m\u202e"
        data["os"]["pretty_name"] = "x" * 4097
    data, notes = conformed(base, change)
    assert data["hardware"]["cpu_model"] == "EPYC\\x1b[31m\\u202e"
    assert data["os"]["pretty_name"] == "x" * 4096
    assert any(note.startswith("hardware.cpu_model: ") for note in notes)
    assert any(note.startswith("os.pretty_name: ") for note in notes)


def test_a_record_missing_what_it_requires_is_dropped_and_the_rest_kept(base):
    def change(data):
        del data["python_packages"][1]["version"]
        data["python_packages"][2]["unknown_field"] = 1
    data, notes = conformed(base, change)
    names = [p["name"] for p in data["python_packages"]]
    assert names == [p["name"] for i, p in enumerate(base["python_packages"]) if i != 1]
    assert "unknown_field" not in data["python_packages"][1]
    assert any("cannot be repaired; python_packages[1] left out" in note for note in notes), notes
    assert any("unknown key" in note and "unknown_field" in note for note in notes), notes


def test_too_many_items_keeps_the_first_ones(base):
    def change(data):
        data["python"]["site_packages"] = [f"/p/{i}" for i in range(101)]
    data, notes = conformed(base, change)
    assert data["python"]["site_packages"] == [f"/p/{i}" for i in range(100)]
    assert notes == ["python.site_packages: 101 items, more than the 100 a manifest holds; kept the first 100"]


def test_a_valid_manifest_is_left_as_it_is(base):
    data, notes = conformed(base, lambda data: None)
    assert data == base and notes == []
