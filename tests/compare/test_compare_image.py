"""`check --image` without an engine: the script it runs inside an image, run here by a real interpreter on
this machine's own files, and the manifest sections made from its report (what an image can and cannot tell,
what a kit left out by design, files the report names outside the image's root)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from envcapture import compare
from envcapture.compare import image
from envcapture.errors import ToolFailed

IMAGE_CANNOT_TELL = {"hardware": "an image cannot tell", "gpu": "an image cannot tell",
                     "determinism": "an image cannot tell", "code": "an image cannot tell",
                     "os.kernel": "an image has no kernel of its own",
                     "os.container": "always a container", "os.wsl": "an image has no WSL"}


@pytest.fixture(scope="module")
def report() -> dict:
    """What the image script prints when this machine's interpreter runs it (as `python -c` in a container)."""
    done = subprocess.run([sys.executable, "-c", image.image_script()], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def test_the_script_reports_the_probe_and_the_files_the_system_probes_read(report):
    assert report["target"]["probe_version"] == 1
    assert set(report["files"]) <= set(image.IMAGE_FILES) | {
        f for f in report["files"] if f.startswith("/etc/apt/sources.list.d/")}
    with open("/etc/os-release", encoding="utf-8") as handle:
        assert report["files"]["/etc/os-release"] == handle.read()


def test_an_image_report_becomes_the_sections_an_image_can_tell(report):
    live, skip = image.manifest_from_image_report(report, "here")
    assert skip == IMAGE_CANNOT_TELL
    assert set(live) == {"python", "python_packages", "os", "system_packages", "conda", "warnings"}
    assert live["conda"] is None  # a venv, not a conda environment (tests/conda/test_check_image_conda.py)
    assert live["python"]["version"] == "%d.%d.%d" % sys.version_info[:3]
    assert live["os"]["machine"] == report["target"]["markers"]["platform_machine"]
    assert live["os"]["libc"] == report["target"]["libc"]
    assert live["system_packages"]["manager"] == "dpkg" and live["system_packages"]["packages"]


def test_the_image_view_and_the_live_view_of_one_interpreter_agree(report):
    """check --image and check read the same packages of the same interpreter the same way. (Sources are left
    out: a local folder install, such as envcapture's own editable one here, lies outside the image's root.)"""
    from envcapture.compare.commands import live_manifest

    from_image, skip = image.manifest_from_image_report(report, "here")
    live, _ = live_manifest(sys.executable)
    result = compare.compare([live, from_image], ["live", "image"], skip={**skip, "python_packages.source": "-"})
    assert not [d for d in result.differences if d.section in ("python", "python_packages", "system_packages")], \
        [d.message(result.labels) for d in result.differences]


def test_the_image_interpreters_machine_wins(report):
    """An arm64 image run under emulation: its interpreter's machine, not the host's."""
    emulated = copy.deepcopy(report)
    emulated["target"]["markers"]["platform_machine"] = "aarch64"
    live, _ = image.manifest_from_image_report(emulated, "here")
    assert live["os"]["machine"] == "aarch64"


def test_an_image_without_a_package_database(report):
    bare = {"target": report["target"], "files": {"/etc/os-release": report["files"]["/etc/os-release"]}}
    live, skip = image.manifest_from_image_report(bare, "here")
    assert skip == {**IMAGE_CANNOT_TELL, "system_packages": "no package database found in the image"}
    assert live["os"]["id"]  # the OS is still read


def test_files_named_outside_the_images_root_are_never_written(report, tmp_path):
    escape = tmp_path / "escaped"
    hostile = copy.deepcopy(report)
    hostile["files"]["/" + "../" * 20 + str(escape).lstrip("/")] = "x"
    hostile["files"][str(escape).lstrip("/")] = "x"  # relative: not a path in the image
    hostile["files"][7] = "x"
    hostile["files"]["/etc/hostname"] = None
    image.manifest_from_image_report(hostile, "here")
    assert not escape.exists()


@pytest.mark.parametrize("text, found", [
    (json.dumps({"items": [{"section": "python_packages", "item": "six", "why": "left to the base image"},
                           {"section": "system_packages", "item": "git", "why": "x" * 400},
                           {"section": "python_packages", "item": 7, "why": "not a name"},
                           {"section": "python_packages", "item": "idna"},
                           "not an entry"]}),
     {("python_packages", "six"): "left to the base image", ("system_packages", "git"): "x" * 300}),
    ("not JSON", {}),
    ("[1, 2]", {}),
    (json.dumps({"items": None}), {}),
    (None, {}),
])
def test_what_a_kit_left_out_by_design(text, found):
    files = {} if text is None else {image.NOT_REPRODUCED: text}
    assert image.not_reproduced_in_report({"target": {}, "files": files}) == found


def test_no_engine_is_one_line_exit_3(monkeypatch, capsys):
    from envcapture.cli import main

    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    with pytest.raises(ToolFailed, match=r"^no Docker engine reachable: start dockerd or set DOCKER_HOST \("):
        image.docker_client()
    assert main(["check", "tests/fixtures/compare/node-1.json", "--image", "any:tag"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Docker engine reachable" in err
