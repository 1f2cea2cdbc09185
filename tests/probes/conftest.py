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

    from envcapture.manifest import grammar
    from envcapture.manifest.schema import build_schema

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


def run_git(repo: Path, *args: str) -> str:
    """git with a throwaway identity and no user or system config."""
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "Test",
           "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "Test",
           "GIT_COMMITTER_EMAIL": "test@example.com"}
    import subprocess

    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True,
                          timeout=60).stdout


@pytest.fixture
def git_repo(tool):
    """``git_repo(path, files)``: a real git repository at ``path`` with ``files`` committed on branch main."""
    tool("git")

    def make(path: Path, files: dict[str, str]) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        run_git(path, "init", "-q", "-b", "main")
        for name, content in files.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_text(content)
        run_git(path, "add", "-A")
        run_git(path, "commit", "-q", "-m", "first")
        return path

    make.git = run_git
    return make
