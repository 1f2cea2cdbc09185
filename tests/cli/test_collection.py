"""The README's test command must collect every test folder: pytest's default `norecursedirs` skips folders
named `build`, which once hid all of tests/build/ from CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO_ROOT = TESTS.parent


def _folders_with_test_files() -> set[str]:
    return {path.parent.relative_to(REPO_ROOT).as_posix() for path in TESTS.rglob("test_*.py")
            if not {"fixtures", "golden"} & set(path.relative_to(TESTS).parts)}


def test_the_readme_command_collects_every_test_folder():
    # The README's command, run from the repository root with no paths: pyproject's testpaths and
    # norecursedirs decide what is collected, exactly as in CI.
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly",
                           "-p", "no:cacheprovider"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    collected = {line.split("::", 1)[0].rsplit("/", 1)[0] for line in proc.stdout.splitlines() if "::" in line}
    expected = _folders_with_test_files()
    assert "tests/build" in expected and "tests/capture" in expected
    assert expected <= collected, f"test folders pytest does not collect: {sorted(expected - collected)}"
