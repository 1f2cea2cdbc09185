"""`envcapture export` in an install without the `export` extra's library that a format needs: one line naming that
library (the distribution to install), exit 3, nothing written."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from envcapture.export.command import FORMATS

ML = Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "ml-editable.json"


def _site_without(tmp_path: Path, missing: str) -> Path:
    """This venv's site-packages less one distribution (its import package and its .dist-info): an install of
    envcapture without that part of the `export` extra, made of the real installed packages."""
    import sysconfig
    from importlib.metadata import distribution

    site = Path(sysconfig.get_paths()["purelib"])
    files = distribution(missing).files or []
    left_out = {Path(str(f)).parts[0] for f in files}
    assert left_out, missing
    folder = tmp_path / f"site-without-{missing}"
    folder.mkdir()
    for entry in site.iterdir():
        if entry.name not in left_out and not entry.name.endswith(".pth") and "envcapture" not in entry.name:
            (folder / entry.name).symlink_to(entry)
    return folder


# The distribution each format needs (the `export` extra of pyproject.toml), written out here.
NEEDS = {"cyclonedx": "cyclonedx-python-lib", "spdx": "spdx-tools", "ro-crate": "rocrate"}


def test_every_format_is_tested():
    assert sorted(FORMATS) == sorted(NEEDS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_without_its_library_names_that_library(tmp_path, fmt):
    missing = NEEDS[fmt]
    site = _site_without(tmp_path, missing)
    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / ("crate.zip" if fmt == "ro-crate" else "sbom.json")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PYTHONPATH"] = os.pathsep.join([str(repo), str(site)])
    proc = subprocess.run([sys.executable, "-S", "-m", "envcapture", "export", str(ML), "--format", fmt,
                           "-o", str(out)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"the Python package {missing!r}" in proc.stderr and "envcapture[export]" in proc.stderr, proc.stderr
    assert not out.exists()
