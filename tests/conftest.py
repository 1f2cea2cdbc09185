"""Shared fixtures for the real tools: the Docker engine, the local test base image, Packer and Vagrant.

Tests that need a tool skip with a reason that says what is missing and how to get it (`.ci/run` installs
and starts everything), so the suite passes on a laptop without Docker and runs for real in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# tests/helpers/ holds plain modules the tests import (pytest runs in importlib mode: no package imports).
sys.path.insert(0, str(Path(__file__).resolve().parent / "helpers"))

# Built by .ci/make-base-image.sh (debootstrap bookworm + the host CA bundle). Test-only: not an official image.
TEST_BASE_IMAGE = os.environ.get("ENVCAPTURE_TEST_BASE_IMAGE", "envcapture-test/debian-bookworm:local")

# Every image the tests build carries this label, so that .ci/remove-test-images.sh removes exactly those
# (envcapture's docker builder reads ENVCAPTURE_IMAGE_LABELS; tests that call the SDK pass TEST_IMAGE_LABELS).
TEST_IMAGE_LABELS = {"envcapture.test": "1"}
os.environ.setdefault("ENVCAPTURE_IMAGE_LABELS", "envcapture.test=1")

# .ci/run sets this: there every real tool must be present, and a skip would hide a broken setup.
REQUIRE_TOOLS = os.environ.get("ENVCAPTURE_REQUIRE_TOOLS", "") == "1"


def _skip_or_fail(reason: str):
    if REQUIRE_TOOLS:
        pytest.fail(f"ENVCAPTURE_REQUIRE_TOOLS=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _docker_client_or_reason():
    """A connected docker SDK client, or (None, why not)."""
    try:
        import docker
    except ImportError:
        return None, "the docker Python SDK is not installed"
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # the SDK raises several types for "no engine"; any of them means skip
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"no Docker engine reachable ({first_line}); start dockerd or run .ci/run"
    return client, ""


@pytest.fixture(scope="session")
def docker_client():
    """A docker SDK client talking to a live engine; skips (fails under ENVCAPTURE_REQUIRE_TOOLS=1) when there is none."""
    client, reason = _docker_client_or_reason()
    if client is None:
        _skip_or_fail(reason)
    yield client
    client.close()


@pytest.fixture(scope="session")
def docker_base_image(docker_client) -> str:
    """Name of the local test-only base image; skips (fails under ENVCAPTURE_REQUIRE_TOOLS=1) when it has not been built."""
    import docker

    try:
        docker_client.images.get(TEST_BASE_IMAGE)
    except docker.errors.ImageNotFound:
        _skip_or_fail(f"local base image {TEST_BASE_IMAGE} is missing; build it with `bash .ci/make-base-image.sh` (debootstrap, as root)")
    return TEST_BASE_IMAGE


@dataclass(frozen=True)
class Tool:
    name: str
    path: str
    version: str


def _tool_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1"}).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.strip().splitlines()[0] if out.strip() else ""


def _require_tool(name: str) -> Tool:
    path = shutil.which(name)
    if path is None:
        _skip_or_fail(f"{name} is not installed (apt-get install -y {name}, or run .ci/run)")
    return Tool(name, path, _tool_version(path))


@pytest.fixture(scope="session")
def packer_tool() -> Tool:
    """The installed Packer (Debian's 1.6.6 in CI); skips when it is not installed."""
    return _require_tool("packer")


@pytest.fixture(scope="session")
def vagrant_tool() -> Tool:
    """The installed Vagrant; skips when it is not installed."""
    return _require_tool("vagrant")


@pytest.fixture
def vagrant_env(tmp_path, monkeypatch):
    """Environment for running Vagrant offline in a test: its own VAGRANT_HOME, no version check."""
    home = tmp_path / "vagrant-home"
    home.mkdir()
    monkeypatch.setenv("VAGRANT_HOME", str(home))
    monkeypatch.setenv("VAGRANT_CHECKPOINT_DISABLE", "1")
    return {**os.environ, "VAGRANT_HOME": str(home), "VAGRANT_CHECKPOINT_DISABLE": "1"}


@pytest.fixture(scope="session")
def sample_venv(tmp_path_factory):
    """A venv holding indexpkg (installed like an index package), an editable git checkout, a git+file://
    install and a local wheel; every package is built here, nothing comes from the network."""
    from clirun import git_init, run
    from localwheels import OFFLINE, make_project, offline_env, pip_install, write_wheel

    root = tmp_path_factory.mktemp("envs")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", venv)
    py = venv / "bin" / "python"
    wheels = root / "wheels"
    write_wheel(wheels, "indexpkg", "1.16.0")
    editable = make_project(root / "src" / "editable-pkg", "editable-pkg", requires=["indexpkg"])
    editable_commit = git_init(editable)
    gitpkg = make_project(root / "src" / "gitpkg", "gitpkg", "1.2.0")
    git_commit = git_init(gitpkg)
    wheelpkg = make_project(root / "src" / "wheelpkg", "wheelpkg", "3.0.0")
    # --find-links without a direct URL: pip records indexpkg exactly like a package from an index.
    pip_install(py, "indexpkg==1.16.0", find_links=wheels)
    pip_install(py, "-e", editable, find_links=wheels)
    pip_install(py, f"git+file://{gitpkg}@main")
    run(py, "-m", "pip", "wheel", "-q", *OFFLINE, "--no-deps", "-w", root / "built", wheelpkg, env=offline_env())
    pip_install(py, next((root / "built").glob("wheelpkg-*.whl")))
    return {"venv": venv, "python": py, "editable": editable, "editable_commit": editable_commit,
            "gitpkg": gitpkg, "git_commit": git_commit, "root": root}
