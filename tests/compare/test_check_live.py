"""`envcapture check` against real virtualenvs made here, with pinned packages from the index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envcapture.manifest import file as manifest
from envcapture.cli import main

pytestmark = pytest.mark.slow
PINS = ["six==1.16.0", "idna==3.7"]


def make_venv(path: Path, pins=PINS) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    pip(python, *pins)
    return python


def pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args], check=True,
                   timeout=300, capture_output=True)


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    """A venv with six 1.16.0 and idna 3.7, and its manifest written by `envcapture freeze`."""
    root = tmp_path_factory.mktemp("check-live")
    python = make_venv(root / "venv")
    path = root / "envcapture.json"
    assert main(["freeze", "--python", str(python), "-o", str(path)]) == 0
    return python, path


def test_check_same_environment_exits_0(frozen, capsys):
    python, path = frozen
    assert main(["check", str(path), "--python", str(python)]) == 0
    assert "OK: live satisfies envcapture.json" in capsys.readouterr().out


def test_check_after_another_pin_exits_1_naming_the_package_and_both_versions(frozen, capsys):
    python, path = frozen
    pip(python, "six==1.17.0")
    try:
        assert main(["check", str(path), "--python", str(python)]) == 1
        out = capsys.readouterr().out
        line = next(l for l in out.splitlines() if " six " in l)
        assert "1.16.0" in line and "1.17.0" in line and "error" in line
        assert "DRIFT" in out
        assert main(["check", str(path), "--python", str(python), "--format", "json"]) == 1
        data = json.loads(capsys.readouterr().out)
        assert data["ok"] is False and data["counts"]["error"] == 1
        (six,) = data["differences"]
        assert (six["item"], six["values"], six["change"]) == ("six", ["1.16.0", "1.17.0"], "changed")
    finally:
        pip(python, "six==1.16.0")


def test_check_patch_release_is_a_warning_until_strict(frozen, tmp_path, capsys):
    python, path = frozen
    data = json.loads(path.read_text())
    major, minor, patch = data["python"]["version"].split(".")
    data["python"]["version"] = f"{major}.{minor}.{int(patch) + 1}"
    other = tmp_path / "patch.json"
    manifest.save(data, other)
    assert main(["check", str(other), "--python", str(python)]) == 0
    assert "1 warning" in capsys.readouterr().out
    assert main(["check", str(other), "--python", str(python), "--strict"]) == 1


def test_check_bad_manifest_exits_2_with_one_line(frozen, tmp_path, capsys):
    python, _ = frozen
    bad = tmp_path / "hostile.json"
    bad.write_text(json.dumps({"schema_version": 7}))
    assert main(["check", str(bad), "--python", str(python)]) == 2
    err = capsys.readouterr().err
    assert "version 7" in err and "Traceback" not in err


def test_check_missing_interpreter_exits_2(frozen, capsys):
    _, path = frozen
    assert main(["check", str(path), "--python", "/nonexistent/bin/python"]) == 2
    assert "no such interpreter" in capsys.readouterr().err
