"""What peers record and envcapture used to miss, with pip as the oracle on a real venv made here:
a single-file .egg-info (pip inspect lists it) and requirements that nothing installed satisfies (pip check)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from envcapture.manifest import grammar

from clirun import cli_env, envcapture, freeze

# What Debian's criu package installs into dist-packages: distutils' install_egg_info writes PKG-INFO as a file.
CRIT_EGG_INFO = """Metadata-Version: 1.1
Name: crit
Version: 3.17.1
Summary: CRiu Image Tool
Home-page: https://criu.org
Author: CRIU team
License: GPLv2
Description: UNKNOWN
Platform: UNKNOWN
"""


def dist_info(site, name: str, version: str, requires=()):
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    (folder / "METADATA").write_text("\n".join(lines + [f"Requires-Dist: {r}" for r in requires]) + "\n\n")
    (folder / "INSTALLER").write_text("pip\n")
    (folder / "RECORD").write_text("")


@pytest.fixture(scope="module")
def broken_venv(tmp_path_factory):
    """A real venv (with its own pip, the oracle) holding a single-file .egg-info, Flask installed as with
    --no-deps (five requirements missing, one kept out by its marker), and a version conflict."""
    root = tmp_path_factory.mktemp("gaps")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "crit-3.17.1-py3.11.egg-info").write_text(CRIT_EGG_INFO)
    dist_info(site, "flask", "3.0.0", ["Werkzeug>=3.0.0", "Jinja2>=3.1.2", "itsdangerous>=2.1.2",
                                       "click>=8.1.3", "blinker>=1.6.2",
                                       'importlib-metadata>=3.6.0; python_version < "3.10"',
                                       'asgiref>=3.2; extra == "async"'])
    dist_info(site, "click", "7.0")
    dist_info(site, "mylib", "1.0", ["numpy (<2,>=1.20)", "click"])
    dist_info(site, "numpy", "2.1.0")
    out = root / "m.json"
    freeze("--python", venv / "bin" / "python", "-o", out, "--project", root)
    return {"venv": venv, "python": venv / "bin" / "python", "site": site, "manifest": out,
            "data": json.loads(out.read_text())}


def test_a_single_file_egg_info_is_recorded_like_pip_inspect_does(broken_venv):
    # the same environment variables as freeze ran with (PYTHONPATH included): the oracle sees the same sys.path
    inspect = subprocess.run([broken_venv["python"], "-m", "pip", "inspect"], capture_output=True,
                             text=True, check=True, env=cli_env())
    oracle = {(grammar.canonical_name(d["metadata"]["name"]), d["metadata"]["version"])
              for d in json.loads(inspect.stdout)["installed"]}
    ours = {(grammar.canonical_name(p["name"]), p["version"]) for p in broken_venv["data"]["python_packages"]}
    assert ("crit", "3.17.1") in oracle  # the oracle sees it ...
    assert ours == oracle  # ... and so does envcapture, with every other distribution


def pip_check_pairs(text: str) -> set[tuple[str, str]]:
    pairs = set()
    for line in text.splitlines():
        match = re.match(r"^(\S+) \S+ (?:requires|has requirement) ([A-Za-z0-9._-]+)", line)
        if match:
            pairs.add((grammar.canonical_name(match.group(1)), grammar.canonical_name(match.group(2))))
    return pairs


def test_unsatisfied_requirements_are_warnings_like_pip_check(broken_venv):
    check = subprocess.run([broken_venv["python"], "-m", "pip", "check"], capture_output=True, text=True,
                           env=cli_env())
    assert check.returncode == 1
    oracle = pip_check_pairs(check.stdout)
    assert ("flask", "werkzeug") in oracle and ("flask", "click") in oracle and ("mylib", "numpy") in oracle
    messages = [w["message"] for w in broken_venv["data"]["warnings"] if w["source"] == "python"]
    assert pip_check_pairs("\n".join(messages)) == oracle
    assert "flask 3.0.0 requires Werkzeug, which is not installed" in messages
    assert "flask 3.0.0 has requirement click>=8.1.3, but click 7.0 is installed" in messages


def test_check_reports_unsatisfied_requirements(broken_venv):
    proc = envcapture("check", broken_venv["manifest"], "--python", broken_venv["python"])
    assert proc.returncode == 0, proc.stdout + proc.stderr  # recorded broken, checked broken: warnings only
    assert "flask 3.0.0 requires Werkzeug, which is not installed" in proc.stdout
    assert "mylib 1.0 has requirement numpy (<2,>=1.20), but numpy 2.1.0 is installed" in proc.stdout
    strict = envcapture("check", broken_venv["manifest"], "--python", broken_venv["python"], "--strict")
    assert strict.returncode == 1
