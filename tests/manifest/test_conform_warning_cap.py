"""conform keeps the warnings within the schema's 10,000: at the cap nothing is summarized; past it, the last
kept warning says how many were left out, and the count is exact.

Found by bench/mutation.py: the count of dropped warnings (``len(warnings) - MAX_WARNINGS + 1``) changed
without any test noticing.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from envcapture.manifest import conform
from envcapture.manifest import file as manifest_io

FIXTURES = Path(__file__).parents[1] / "fixtures" / "manifests"


@pytest.fixture(scope="module")
def base() -> dict:
    return json.loads((FIXTURES / "plain-venv.json").read_text())


def with_warnings(base: dict, existing: int, unknown_keys: int) -> dict:
    """``existing`` warnings already there, and ``unknown_keys`` repairs to make (each adds one note)."""
    data = copy.deepcopy(base)
    data["warnings"] = [{"source": "freeze", "message": f"warning {n}"} for n in range(existing)]
    for n in range(unknown_keys):
        data["python"][f"x_unknown_{n}"] = n
    conform.conform(data)
    assert manifest_io.find_problems(data) == []
    return data


def test_the_repairs_are_noted_one_warning_each(base):
    data = with_warnings(base, 0, 3)
    assert [w["message"] for w in data["warnings"]] == [
        f"python: unknown key \"x_unknown_{n}\" left out" for n in range(3)]


def test_exactly_at_the_cap_every_warning_is_kept(base):
    data = with_warnings(base, 9_997, 3)
    assert len(data["warnings"]) == 10_000
    assert data["warnings"][-1]["message"] == 'python: unknown key "x_unknown_2" left out'


@pytest.mark.parametrize("existing, left_out", [(9_998, 2), (9_999, 3), (10_000, 4)])
def test_past_the_cap_the_last_warning_counts_those_left_out(base, existing, left_out):
    data = with_warnings(base, existing, 3)
    every = [f"warning {n}" for n in range(existing)] + [f'python: unknown key "x_unknown_{n}" left out'
                                                          for n in range(3)]
    assert len(data["warnings"]) == 10_000
    assert [w["message"] for w in data["warnings"][:-1]] == every[:9_999]  # the first ones, in order
    assert data["warnings"][-1] == {"source": "freeze", "message": f"{left_out} more warnings left out"}
