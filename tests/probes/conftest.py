"""Shared helpers for the probe tests: validating one manifest section against its part of the schema."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _section_problems(section: str, data) -> list[str]:
    """Schema problems of one section, with the same grammar-rule format checks as ``manifest.problems``."""
    import jsonschema

    from envcapture import grammar
    from envcapture.manifest_schema import build_schema

    schema = build_schema()
    sub = {**schema["properties"][section], "$defs": schema["$defs"]}
    checker = jsonschema.FormatChecker(formats=())
    for name, (rule, _) in grammar.RULES.items():
        checker.checks(name)(lambda value, rule=rule: not isinstance(value, str) or rule(value))
    validator = jsonschema.Draft202012Validator(sub, format_checker=checker)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}" for error in validator.iter_errors(data)]


@pytest.fixture
def section_problems():
    return _section_problems


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


def require_tool(name: str) -> str:
    """Path of a real tool; skip without it (fail under ENVCAPTURE_REQUIRE_TOOLS=1, as .ci/run sets)."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (apt-get install -y {name}, or run .ci/run)"
        if os.environ.get("ENVCAPTURE_REQUIRE_TOOLS", "") == "1":
            pytest.fail(f"ENVCAPTURE_REQUIRE_TOOLS=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def tool():
    """``tool("rpm")``: the path of a real tool, or skip (fail under ENVCAPTURE_REQUIRE_TOOLS=1)."""
    return require_tool
