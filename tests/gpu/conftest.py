"""GPU tests: make gpu_fixtures importable (pytest runs in importlib mode) and share the H100 capture."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_fixtures import fixture_text  # noqa: E402


@pytest.fixture(scope="session")
def h100_freeze() -> dict:
    return json.loads(fixture_text("h100/freeze.json"))


@pytest.fixture(scope="session")
def h100_pip_versions() -> dict:
    versions = {}
    for line in fixture_text("h100/pip-list.txt").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", line.strip())
        if match:
            versions[match.group(1).lower()] = match.group(2)
    return versions
