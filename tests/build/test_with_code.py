"""`build docker --with-code` with the real engine (marked `docker`): a real git repository holding a small
project installed editable in a real venv, frozen, built from the local base image. The image holds the
project's files at the recorded commit, installed, and passes its own check; a dirty checkout is named."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from envcapture.cli import main as run_cli
from envcapture.compare import check_command
from tests.helpers.localwheels import make_project, pip_install
from tests.helpers.gitrepo import git

pytestmark = pytest.mark.docker

PROJECT = "rtproj"
COMMITTED = "VALUE = 'as committed'\n"


@pytest.fixture
def frozen_project(tmp_path):
    """(repository, manifest): the project committed, installed editable in a venv of Debian's python3 (the
    Python the local base image installs), and frozen with envcapture."""
    repo = make_project(tmp_path / "src" / PROJECT, PROJECT)
    (repo / PROJECT / "__init__.py").write_text(COMMITTED)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True, timeout=300)
    pip_install(venv / "bin" / "python", "-e", repo)
    manifest = tmp_path / "envcapture.json"
    assert run_cli(["freeze", "--python", str(venv / "bin" / "python"), "--project", str(repo),
                    "-o", str(manifest)]) == 0
    data = json.loads(manifest.read_text(encoding="utf-8"))
    # This machine's hand-installed tools (docker.io, packer, ...) are not what the test is about: recorded as
    # automatic, so the kit does not spend minutes installing them.
    for package in data["system_packages"]["packages"]:
        package["manual"] = False
    manifest.write_text(json.dumps(data), encoding="utf-8")
    return repo, manifest, git(repo, "rev-parse", "HEAD")


def test_with_code_the_image_has_the_project_at_the_recorded_commit_and_passes_its_check(
        tmp_path, frozen_project, docker_client, docker_base_image, capsys):
    repo, manifest, commit = frozen_project
    # Changes after the freeze: not in any commit, so not in the kit, and named in a warning.
    (repo / PROJECT / "__init__.py").write_text("VALUE = 'edited after the commit'\n")
    (repo / "scratch.txt").write_text("not committed\n")
    kit = tmp_path / "kit"
    tag = f"envcapture-test/with-code:{uuid.uuid4().hex[:10]}"
    try:
        code = run_cli(["build", "docker", "-m", str(manifest), "-o", str(kit), "--tag", tag,
                        "--base-image", docker_base_image, "--with-code"])
        err = capsys.readouterr().err
        assert code == 0, err[-4000:]
        warning = [line for line in err.splitlines() if "uncommitted changes" in line]
        assert len(warning) == 1 and f"{PROJECT}/__init__.py" in warning[0] and "scratch.txt" in warning[0]
        assert commit[:12] in warning[0]
        assert (kit / "project" / PROJECT / "__init__.py").read_text() == COMMITTED
        # In the image: the committed files, installed editable from where the image keeps them, and the user
        # owns its home and the project (a project's tests write there: lmfit's failed when root owned them).
        script = (f"import {PROJECT}, os; print({PROJECT}.VALUE); print({PROJECT}.__file__); "
                  "print(sorted(os.listdir('/home/envcapture/project')))")
        shell = (f"python -c \"{script}\" && touch written {PROJECT}/written ~/written "
                 f"&& stat -c %U . {PROJECT} ~")
        out = docker_client.containers.run(tag, ["sh", "-c", shell], remove=True).decode().splitlines()
        assert out[0] == "as committed"
        assert out[1] == f"/home/envcapture/project/{PROJECT}/__init__.py"
        assert "scratch.txt" not in out[2] and "pyproject.toml" in out[2] and PROJECT in out[2]
        assert out[3:] == ["envcapture"] * 3
        capsys.readouterr()
        assert check_command_exit(kit, tag) == 0, capsys.readouterr().out[-4000:]
    finally:
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:  # the build failed before tagging
            pass


def check_command_exit(kit, tag) -> int:
    import argparse

    return check_command(argparse.Namespace(manifest=str(kit / "envcapture.json"), image=tag, python=None,
                                            format="text", strict=False))
