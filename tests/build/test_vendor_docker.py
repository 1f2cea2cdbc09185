"""`build docker --vendor --with-code` with the real engine (marked `docker`): a real venv (Debian's python3, a
wheel from PyPI and a git project installed editable) frozen, vendored (wheels from PyPI for the manifest's
platform, .debs by apt in a container of the local base image), built with `--network none` (the project
too) and checked clean; the kit's Dockerfile itself refuses a wheel changed by one byte, naming it, even when
built without envcapture."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from envcapture.build import docker as docker_build
from envcapture.cli import main as run_cli
from envcapture.errors import ToolFailed
from tests.helpers.gitrepo import git
from tests.helpers.localwheels import make_project, pip_install

pytestmark = pytest.mark.docker


@pytest.fixture
def frozen_venv(tmp_path):
    """A venv of Debian's python3 with six from PyPI and a git project installed editable (--with-code builds
    it inside the image, offline)."""
    repo = make_project(tmp_path / "src" / "vproj", "vproj")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "six==1.16.0"], check=True, timeout=600, capture_output=True)
    pip_install(venv / "bin" / "python", "-e", repo)
    manifest = tmp_path / "envcapture.json"
    assert run_cli(["freeze", "--python", str(venv / "bin" / "python"), "--project", str(repo),
                    "-o", str(manifest)]) == 0
    data = json.loads(manifest.read_text(encoding="utf-8"))
    # This machine's ~110 hand-installed tools are not what the test is about (and cost minutes of apt).
    for package in data["system_packages"]["packages"]:
        package["manual"] = False
    manifest.write_text(json.dumps(data), encoding="utf-8")
    return manifest


def test_a_vendored_kit_builds_with_no_network_and_its_dockerfile_refuses_a_changed_wheel(
        tmp_path, frozen_venv, docker_client, docker_base_image, capsys):
    kit = tmp_path / "kit"
    tag = f"envcapture-test/vendor:{uuid.uuid4().hex[:10]}"
    try:
        code = run_cli(["build", "docker", "-m", str(frozen_venv), "-o", str(kit), "--tag", tag,
                        "--base-image", docker_base_image, "--vendor", "--with-code"])
        err = capsys.readouterr().err
        assert code == 0, err[-4000:]
        assert "building with no network" in err
        wheels = sorted(p.name for p in (kit / "wheels").glob("*.whl"))
        assert "six-1.16.0-py2.py3-none-any.whl" in wheels
        debs = sorted(p.name for p in (kit / "debs").glob("*.deb"))
        assert any(name.startswith("python3.11_") for name in debs)
        script = "import six, vproj; print(six.__version__, vproj.VALUE, vproj.__file__)"
        out = docker_client.containers.run(tag, ["python", "-c", script], remove=True,
                                           network_disabled=True).decode().split()
        assert out == ["1.16.0", "vproj", "/home/envcapture/project/vproj/__init__.py"]

        wheel = kit / "wheels" / "six-1.16.0-py2.py3-none-any.whl"
        data = bytearray(wheel.read_bytes())
        data[100] ^= 1
        wheel.write_bytes(bytes(data))
        with pytest.raises(ToolFailed) as refused:
            docker_build.build_image(kit, tag + "-tampered", client=docker_client, network_mode="none",
                                     echo=lambda line: None)
        assert "six-1.16.0-py2.py3-none-any.whl: FAILED" in refused.value.tail
    finally:
        for name in (tag, tag + "-tampered"):
            try:
                docker_client.images.remove(name, force=True)
            except Exception:  # noqa: BLE001 - an image that was never built
                pass
