"""Grades at their boundaries: an archive's hash, memory rounded to whole GiB."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from envcapture import compare
from envcapture.manifest import file as manifest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compare"
WHEEL = "https://example.org/six-1.16.0-py2.py3-none-any.whl"


@pytest.fixture
def node1() -> dict:
    return manifest.load(FIXTURES / "node-1.json")


def with_six_source(base: dict, **source) -> dict:
    other = copy.deepcopy(base)
    six = next(p for p in other["python_packages"] if p["name"] == "six")
    six["source"] = {"kind": "archive", "url": WHEEL, **source}
    assert manifest.problems(other) == []
    return other


def differences(a: dict, b: dict) -> list:
    return compare.compare([a, b], ["a", "b"]).differences


def test_another_hash_of_the_same_archive_url_is_an_error(node1):
    """Same URL, other bytes: what would be installed is not what was recorded."""
    recorded = with_six_source(node1, hash="sha256=" + "a" * 64)
    [difference] = differences(recorded, with_six_source(node1, hash="sha256=" + "b" * 64))
    assert (difference.item, difference.field, difference.grade) == ("six", "source", "error")
    assert differences(recorded, with_six_source(node1, hash="sha256=" + "a" * 64)) == []


def test_an_archive_without_a_recorded_hash_on_one_side_is_a_warning(node1):
    recorded = with_six_source(node1, hash="sha256=" + "a" * 64)
    [difference] = differences(recorded, with_six_source(node1))
    assert (difference.field, difference.grade) == ("source", "warning")


@pytest.mark.parametrize("below, above", [(16 * 2**30 - 10 * 2**20, 16 * 2**30 + 10 * 2**20),
                                          (2015 * 2**30 + 2**29 + 2**20, 2016 * 2**30 + 2**20)])
def test_memory_a_few_mib_apart_across_a_gib_boundary_is_the_same(node1, below, above):
    """Identical nodes report MemTotal a few MiB apart: rounded to the nearest GiB, not cut down."""
    a, b = copy.deepcopy(node1), copy.deepcopy(node1)
    a["hardware"]["memory_total"], b["hardware"]["memory_total"] = below, above
    assert differences(a, b) == []
    b["hardware"]["memory_total"] = above + 2**30
    [difference] = differences(a, b)
    assert difference.values == [f"{round(below / 2**30)} GiB", f"{round(below / 2**30) + 1} GiB"]
