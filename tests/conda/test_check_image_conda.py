"""`check --image` reads a conda environment's records out of the image: the image script (the very code
`check --image` runs inside a container) is run here by the real environment's own python, so the test needs no
Docker. The records it reads are graded against the manifest: the same records are clean, a missing or
different package is an error, and a venv image of a conda manifest is named as lacking the environment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envcapture.compare import compare, image
from tests.conda.conftest import freeze_prefix


def _report(python: Path) -> dict:
    # From "/", as in the container (a -c script's sys.path starts with the working folder).
    done = subprocess.run([str(python), "-c", image.image_script()], capture_output=True, timeout=120, cwd="/",
                          env={"PATH": "/usr/bin:/bin"})  # no PYTHONPATH: an image has none of the test's
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _errors(manifest: dict, report: dict) -> list[str]:
    live, skip = image.manifest_from_image_report(report, "test-image")
    result = compare([manifest, live], ["m.json", "image"], skip=skip)
    assert "conda" not in result.not_compared
    return sorted(d.item or d.field for d in result.differences if d.grade == "error")


@pytest.fixture(scope="module")
def frozen(real_conda, tmp_path_factory):
    _, prefix = real_conda
    out = tmp_path_factory.mktemp("check") / "m.json"
    return prefix, freeze_prefix(prefix, out)


def test_the_environments_own_records_are_clean(frozen):
    prefix, manifest = frozen
    report = _report(prefix / "bin" / "python")
    assert any(path.endswith("conda-meta/hello-2.1-h0_1.json") for path in report["files"])
    assert not any("paths_data" in text for text in report["files"].values())
    assert _errors(manifest, report) == []


def test_a_missing_or_different_conda_package_is_an_error(frozen):
    prefix, manifest = frozen
    report = _report(prefix / "bin" / "python")
    files = report["files"]
    hello = next(path for path in files if path.endswith("conda-meta/hello-2.1-h0_1.json"))
    del files[hello]
    data = next(path for path in files if path.endswith("conda-meta/greeting-data-1.0-0.json"))
    record = json.loads(files[data])
    record["build"] = "1"
    files[data] = json.dumps(record)
    assert _errors(manifest, report) == ["greeting-data", "hello"]


def test_an_image_without_the_conda_environment_is_an_error(frozen, tmp_path):
    _, manifest = frozen
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert "environment" in _errors(manifest, _report(venv / "bin" / "python"))
