"""The manifest most compare tests start from (a real node's freeze), and edited copies of it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from envcapture.manifest import file as manifest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compare"


@pytest.fixture(scope="module")
def base() -> dict:
    return manifest.load(FIXTURES / "node-1.json")


def edited(base: dict, edit, valid: bool = True) -> dict:
    """A copy of ``base`` changed by ``edit``; still a valid manifest unless ``valid`` is False (a live
    environment's facts are not validated: check compares them as found)."""
    other = copy.deepcopy(base)
    edit(other)
    if valid:
        assert manifest.problems(other) == [], "the edited test manifest must stay valid"
    return other
