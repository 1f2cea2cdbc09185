"""generate --only-used: the packages a run imported, and what they require, no more."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from envcapture.errors import BadInput
from envcapture.manifest import file as manifest
from envcapture.run.used import closure, only_used

ROOT = Path(__file__).resolve().parents[2]
MARKERS = {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux",
           "implementation_name": "cpython", "platform_machine": "x86_64"}


def package(name, *requires):
    return {"name": name, "version": "1.0", "requires": list(requires)}


PACKAGES = [
    package("Scikit_Learn", "numpy>=1.19", "scipy", "joblib", "pytest; extra == 'tests'"),
    package("scipy", "numpy"),
    package("numpy"),
    package("joblib"),
    package("pytest", "pluggy"),
    package("pluggy"),
    package("requests", "urllib3", "pysocks; extra == 'socks'", "win-inet-pton; sys_platform == 'win32'"),
    package("urllib3"),
    package("pysocks"),
    package("win-inet-pton"),
    package("pandas", "numpy"),
]


RUN = {"argv": ["python", "train.py"], "working_folder": ".", "started": "2026-01-01T00:00:00.000000Z",
       "ended": "2026-01-01T00:00:01.000000Z", "duration_seconds": 1.0, "status": "succeeded", "exit_code": 0,
       "signal": None, "seed": None, "seed_records": [], "outputs": [], "warnings": [],
       "used": {"recorded": True, "python_packages": ["numpy", "six"], "shared_libraries": [],
                "files_read": [], "files_written": [], "files_not_listed": 0, "problems": []}}


def test_dependencies_are_followed_and_unused_packages_left_out():
    assert closure(PACKAGES, ["scikit-learn"], MARKERS) == {"scikit-learn", "scipy", "numpy", "joblib"}


def test_markers_are_evaluated_for_the_recorded_interpreter_and_extras_followed_when_asked():
    assert closure(PACKAGES, ["requests"], MARKERS) == {"requests", "urllib3"}
    with_socks = [package("app", "requests[socks]")] + PACKAGES
    assert closure(with_socks, ["app"], MARKERS) == {"app", "requests", "urllib3", "pysocks"}


def test_an_extra_asked_for_after_the_first_visit_is_still_followed():
    two_ways = [package("app", "requests", "other"), package("other", "requests[socks]")] + PACKAGES
    assert "pysocks" in closure(two_ways, ["app"], MARKERS)


def node_manifest() -> dict:
    return manifest.load(ROOT / "tests" / "fixtures" / "compare" / "node-1.json")


def test_a_plain_manifest_or_an_unrecorded_run_is_refused_in_one_line():
    with pytest.raises(BadInput, match="not a run record"):
        only_used(node_manifest(), "m.json")
    data = node_manifest()
    data["run"] = {"used": {"recorded": False, "python_packages": None}}
    with pytest.raises(BadInput, match="does not say which packages"):
        only_used(data, "m.json")


def test_generate_only_used_writes_a_kit_with_the_used_packages(tmp_path):
    data = node_manifest()
    data["run"] = copy.deepcopy(RUN)
    path = tmp_path / "run.json"
    manifest.save(data, path)
    done = subprocess.run([sys.executable, "-m", "envcapture", "generate", "docker", "--only-used", str(path),
                           "-o", str(tmp_path / "kit")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pins = [line.split("==")[0] for line in (tmp_path / "kit" / "requirements.lock").read_text().splitlines()
            if line and not line.startswith("#")]
    assert sorted(pins) == ["numpy", "six"]
    kit_manifest = json.loads((tmp_path / "kit" / "envcapture.json").read_text())
    assert sorted(p["name"] for p in kit_manifest["python_packages"]) == ["numpy", "six"]
    assert "--only-used" in (tmp_path / "kit" / "Dockerfile").read_text()


def test_the_system_packages_needed_are_those_owning_what_the_run_mapped_when_both_were_recorded():
    """A run that recorded its mapped objects replaces shared_libraries by their owners (an owner the environment
    needs only for its interpreter stays marked so); a manifest without shared_libraries keeps it absent."""
    data = node_manifest()
    data["run"] = copy.deepcopy(RUN)
    data["run"]["used"].update(system_packages=["libc6", "libmagic1"], shared_objects=[
        {"path": "/usr/lib/x86_64-linux-gnu/libmagic.so.1.0.0", "package": "libmagic1"},
        {"path": "/usr/lib/x86_64-linux-gnu/libc.so.6", "package": "libc6"},
        {"path": "~/project/vendored/libz.so.1", "package": None}])
    data["shared_libraries"] = {"manager": "dpkg", "files_read": 3, "requested": [], "packages": ["libc6", "zlib1g"],
                                "libraries": [{"name": "libc.so.6", "package": "libc6", "via": "interpreter",
                                               "users": []},
                                              {"name": "libz.so.1", "package": "zlib1g", "via": "elf",
                                               "users": ["numpy"]}]}
    reduced = only_used(data, "run.json")["shared_libraries"]
    assert reduced["packages"] == ["libc6", "libmagic1"] and reduced["manager"] == "dpkg"
    assert [(lib["name"], lib["package"], lib["via"]) for lib in reduced["libraries"]] == [
        ("libmagic.so.1.0.0", "libmagic1", "run"), ("libc.so.6", "libc6", "interpreter")]
    data["shared_libraries"] = None  # not collected (an older manifest, or the probe failed)
    assert only_used(data, "run.json")["shared_libraries"] is None
