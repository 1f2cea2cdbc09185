"""The frozen project comes back: recognised in the manifest, installed from project/ when the kit has its code
(`--with-code`: a real `git archive` of a real repository), named as not reproduced when it does not."""

from __future__ import annotations

import json
import os

import pytest

from envcapture.manifest import file as manifest_io

from .conftest import MANIFESTS, run_cli
from tests.helpers.gitrepo import git

PROJECT = "myproj"


@pytest.fixture
def project_repo(tmp_path):
    repo = tmp_path / "src" / PROJECT
    (repo / "myproj").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(f'[project]\nname = "{PROJECT}"\nversion = "0.1.0"\n')
    (repo / "myproj" / "__init__.py").write_text("ANSWER = 42\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    return repo


def manifest_with_project(tmp_path, repo, editable=True) -> str:
    """plain-venv.json, frozen in ``repo`` with the project installed from it (as `pip install -e .` records)."""
    data = json.loads((MANIFESTS / "plain-venv.json").read_text(encoding="utf-8"))
    commit = git(repo, "rev-parse", "HEAD")
    data["filesystem"]["project"]["root"] = str(repo)
    data["code"]["commit"] = commit
    data["python_packages"].append({
        "name": PROJECT, "version": "0.1.0", "requested": True, "installer": "pip", "top_level": True,
        "requires": [], "local_label": None, "index_url": None,
        "source": {"kind": "editable" if editable else "directory", "url": f"file://{repo}", "vcs": None,
                   "commit": None, "requested_revision": None, "subdirectory": None, "hash": None,
                   "checkout": {"commit": commit, "dirty": False}}})
    assert manifest_io.problems(data) == []
    path = tmp_path / "envcapture.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def generate(tmp_path, manifest, *extra) -> dict:
    out = tmp_path / "kit"
    assert run_cli(["generate", "docker", "-m", manifest, "-o", str(out), *extra]) == 0
    return {str(p.relative_to(out)): p for p in out.rglob("*") if p.is_file()}


def test_without_the_code_the_project_is_named_not_reproduced_and_not_installed(tmp_path, project_repo):
    files = generate(tmp_path, manifest_with_project(tmp_path, project_repo))
    dockerfile = files["Dockerfile"].read_text()
    assert "AS project" not in dockerfile and "-e /home" not in dockerfile
    items = json.loads(files["not-reproduced.json"].read_text())["items"]
    mine = [i for i in items if i["item"] == PROJECT]
    assert len(mine) == 1 and mine[0]["section"] == "python_packages"
    assert "expected from project/, not installed" in mine[0]["why"]
    reproduce = files["REPRODUCE.md"].read_text()
    assert f"Project: `{PROJECT}` 0.1.0" in reproduce and "expected in `project/`" in reproduce
    # Not also listed as a generic omitted local folder.
    assert f"{PROJECT}: installed from a local folder" not in reproduce
    assert "project/README.md" in files


def test_with_code_the_kit_holds_the_commit_and_installs_it_editable_last(tmp_path, project_repo, capsys):
    manifest = manifest_with_project(tmp_path, project_repo)
    # A change after the recorded commit: not in the kit, and named in a warning.
    (project_repo / "myproj" / "__init__.py").write_text("ANSWER = 43\n")
    (project_repo / "notes.txt").write_text("scratch\n")
    files = generate(tmp_path, manifest, "--with-code")
    err = capsys.readouterr().err
    assert "uncommitted changes" in err and "myproj/__init__.py" in err and "notes.txt" in err
    assert files["project/myproj/__init__.py"].read_text() == "ANSWER = 42\n"
    assert "project/notes.txt" not in files and "project/README.md" not in files
    dockerfile = files["Dockerfile"].read_text()
    # After the dependency layers, in a stage of its own; editable from where the final image has the code.
    assert dockerfile.index("-r /tmp/envcapture/requirements.lock") < dockerfile.index("FROM build AS project")
    assert "-e /home/envcapture/project" in dockerfile
    assert "SETUPTOOLS_SCM_PRETEND_VERSION=0.1.0" in dockerfile
    items = json.loads(files["not-reproduced.json"].read_text())["items"]
    assert PROJECT not in {i["item"] for i in items}
    assert "is in `project/` (--with-code)" in files["REPRODUCE.md"].read_text()


def final_stage_copies(dockerfile: str) -> list[list[str]]:
    """The COPY instructions of the image's last stage, each as its words (flags, sources, destination)."""
    last = dockerfile[dockerfile.rindex("\nFROM "):]
    return [line.split()[1:] for line in last.splitlines() if line.startswith("COPY ")]


def test_with_code_the_user_keeps_their_home_and_project_folder(tmp_path, project_repo):
    """What the project's installation adds comes into the user's folders as the user's: a copy into / or /home
    would give the home and the project folder to root, and tests that write in the project fail."""
    files = generate(tmp_path, manifest_with_project(tmp_path, project_repo), "--with-code")
    copies = final_stage_copies(files["Dockerfile"].read_text())
    from_project = [words for words in copies if "--from=project" in words]
    assert from_project, copies
    for words in copies:
        destination = words[-1].rstrip("/") or "/"
        if "/home/envcapture".startswith(destination) or destination.startswith("/home/envcapture"):
            assert "--chown=envcapture:envcapture" in words, words


def test_a_directory_install_is_installed_without_e(tmp_path, project_repo):
    files = generate(tmp_path, manifest_with_project(tmp_path, project_repo, editable=False), "--with-code")
    dockerfile = files["Dockerfile"].read_text()
    assert "FROM build AS project" in dockerfile and " -e /home" not in dockerfile


def test_with_code_without_a_recorded_project_is_one_line_exit_2(tmp_path, capsys):
    code = run_cli(["generate", "docker", "-m", str(MANIFESTS / "plain-venv.json"), "-o", str(tmp_path / "kit"),
                    "--with-code"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "records no project" in err[0]
    assert not (tmp_path / "kit").exists()


def test_with_code_when_the_folder_is_gone_says_what_to_clone(tmp_path, project_repo, capsys):
    manifest = manifest_with_project(tmp_path, project_repo)
    os.rename(project_repo, tmp_path / "moved")
    code = run_cli(["generate", "docker", "-m", manifest, "-o", str(tmp_path / "kit"), "--with-code"])
    err = capsys.readouterr().err
    assert code == 2 and "is not on this machine" in err and "Traceback" not in err
