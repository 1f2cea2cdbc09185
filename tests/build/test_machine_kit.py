"""This machine, frozen as it is (hundreds of apt packages, a hundred of them by hand, some from bookworm-security,
some at versions the archive no longer has), with a small project of the test's own that needs python-magic (and
so Debian's libmagic1) and numpy: the kit builds on the first try from the local Debian 12 base, the project's
tests pass inside the image, `check --image` exits 0 on it, and 1 naming the package on a copy of the image with a
changed pin (marked docker and slow: wheels from the index, one real build of a few minutes).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "magicnum"
version = "0.1.0"
dependencies = ["python-magic", "numpy"]
"""
MODULE = """\
import magic
import numpy


def kind(data: bytes) -> str:
    return magic.from_buffer(data, mime=True)


def total(values) -> float:
    return float(numpy.asarray(values, dtype=float).sum())
"""
TESTS = """\
import magicnum


def test_shell_script_is_recognised_by_libmagic():
    assert magicnum.kind(b"#!/bin/sh\\necho hi\\n") == "text/x-shellscript"


def test_numpy_sums():
    assert magicnum.total([1, 2, 3.5]) == 6.5
"""
# The dpkg status of the image copy gets another version of the pinned libmagic1: what `check --image` must catch.
CHANGE_PIN = """\
import re
path = "/var/lib/dpkg/status"
text = open(path).read()
text = re.sub(r"(Package: libmagic1\\n(?:[^\\n]+\\n)*?Version: )([^\\n]+)", r"\\g<1>\\g<2>+changed", text, count=1)
open(path, "w").write(text)
"""


def run(argv, cwd=None, timeout=1800) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def envcapture(*args, cwd=None) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "envcapture", *args], cwd=cwd)


def make_project(root: Path) -> Path:
    (root / "src" / "magicnum").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "src" / "magicnum" / "__init__.py").write_text(MODULE)
    (root / "tests" / "test_magicnum.py").write_text(TESTS)
    (root / ".gitignore").write_text("*.egg-info/\n__pycache__/\n.pytest_cache/\n")
    git = ["git", "-C", root, "-c", "user.email=test@example.org", "-c", "user.name=test"]
    for argv in (["git", "init", "-q", root], [*git, "add", "-A"], [*git, "commit", "-q", "-m", "magicnum"]):
        assert run(argv).returncode == 0
    return root


@pytest.mark.docker
@pytest.mark.slow
def test_this_machine_as_it_is_round_trips(docker_client, docker_base_image, tmp_path):
    if not Path("/usr/lib/x86_64-linux-gnu/libmagic.so.1").exists() or not shutil.which("apt-cache"):
        pytest.skip("needs Debian's libmagic1 (.ci/apt-packages.txt)")
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    project = make_project(tmp_path / "magicnum")
    venv = tmp_path / "venv"
    assert run([python, "-m", "venv", venv]).returncode == 0
    install = run([venv / "bin" / "pip", "install", "-q", "-e", project, "pytest"], timeout=900)
    assert install.returncode == 0, install.stderr[-2000:]
    before = run([venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    assert before.returncode == 0 and "2 passed" in before.stdout, before.stdout

    manifest = project / "envcapture.json"
    frozen = envcapture("freeze", "--python", venv / "bin" / "python", "--project", project, "-o", manifest)
    assert frozen.returncode == 0, frozen.stderr
    data = json.loads(manifest.read_text())
    if data["os"].get("codename") != "bookworm":
        pytest.skip("the local base image is Debian bookworm; this machine is not")
    assert "libmagic1" in data["shared_libraries"]["packages"]
    assert data["code"]["dirty"] is False  # the manifest freeze just wrote is not an uncommitted change
    manual = [p["name"] for p in data["system_packages"]["packages"] if p["manual"]]

    tag = f"envcapture-test/build:machine-{uuid.uuid4().hex[:10]}"
    changed = f"envcapture-test/build:machine-changed-{uuid.uuid4().hex[:10]}"
    kit = tmp_path / "kit"
    try:
        built = envcapture("build", "docker", "-m", manifest, "-o", kit, "--base-image", docker_base_image,
                           "--base-os", "debian:12", "--with-code", "--tag", tag)
        # The build checks the image against the manifest itself: exit 0 is the verdict of both.
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-5000:]
        reproduce = (kit / "REPRODUCE.md").read_text()
        assert "/home/envcapture/project" in reproduce and "project/README.md" not in reproduce
        left_out = [name for name in manual if f"`{name}`" in reproduce]
        assert left_out and "`--system-packages all` adds every one" in reproduce
        dockerfile = (kit / "Dockerfile").read_text()
        assert "libmagic1=" in dockerfile and "chromium" not in dockerfile

        out = docker_client.containers.run(tag, ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                                           remove=True).decode()
        assert "2 passed" in out, out

        check = envcapture("check", "--image", tag, manifest, "--format", "json")
        assert check.returncode == 0, check.stdout + check.stderr
        report = json.loads(check.stdout)
        assert report["counts"]["error"] == 0
        # The hundreds of packages left out on purpose are one summary (each still listed, with why, in JSON).
        summary = [d for d in report["differences"] if d["field"] == "left_out"]
        assert len(summary) == 1 and len(summary[0]["items"]) > 100, summary
        assert summary[0]["message"].endswith("left out by design: `--system-packages all` adds them")
        assert sum(1 for d in report["differences"] if d.get("by_design")) < 20

        container = docker_client.containers.run(tag, ["python3", "-c", CHANGE_PIN], user="root", detach=True)
        container.wait()
        repository, _, version = changed.rpartition(":")
        container.commit(repository=repository, tag=version, conf={"Labels": {"envcapture.test": "1"}})
        container.remove()
        drift = envcapture("check", "--image", changed, manifest)
        assert drift.returncode == 1, drift.stdout + drift.stderr
        lines = [line for line in drift.stdout.splitlines() if "libmagic1" in line]
        assert any("+changed" in line for line in lines), drift.stdout
    finally:
        for name in (changed, tag):
            try:
                docker_client.images.remove(name, force=True)
            except Exception:  # the build failed before tagging
                pass
