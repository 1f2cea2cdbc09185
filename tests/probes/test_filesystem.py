"""The filesystem probe: project trees in real git repositories and plain folders, caps, odd and unreadable
names, search paths, and this machine's mounts."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envcapture.probes import ProbeContext, filesystem

REPO_ROOT = Path(__file__).resolve().parents[2]


def ctx_for(project: Path, **kwargs) -> ProbeContext:
    kwargs.setdefault("env", {"PATH": os.environ.get("PATH", "")})
    kwargs.setdefault("home", "/nonexistent-home")
    return ProbeContext(project=project, **kwargs)


def tree(result) -> dict[str, int]:
    return {entry["path"]: entry["size"] for entry in result.data["project"]["files"]}


def test_git_project_respects_gitignore(tmp_path, git_repo, section_problems):
    repo = git_repo(tmp_path / "proj", {".gitignore": "data/\n*.log\n", "src/model.py": "import torch\n",
                                        "README.md": "# project\n"})
    (repo / "notes.txt").write_text("untracked but not ignored\n")
    (repo / "run.log").write_text("ignored\n")
    (repo / "data").mkdir()
    (repo / "data" / "big.bin").write_bytes(b"\0" * 1000)
    result = filesystem.collect(ctx_for(repo))
    assert tree(result) == {".gitignore": 12, "README.md": 10, "notes.txt": 26, "src/model.py": 13}
    project = result.data["project"]
    assert (project["file_count"], project["total_size"], project["truncated"], project["note"]) == (4, 61, False, None)
    assert project["root"] == str(repo)
    assert result.warnings == []
    assert section_problems("filesystem", result.data) == []


def test_subfolder_of_a_git_repository(tmp_path, git_repo):
    repo = git_repo(tmp_path / "proj", {"a.txt": "a", "sub/b.txt": "bb", "sub/deeper/c.txt": "ccc"})
    assert tree(filesystem.collect(ctx_for(repo / "sub"))) == {"b.txt": 2, "deeper/c.txt": 3}


def test_plain_folder_walk_skips_vcs_venvs_and_caches(tmp_path, section_problems):
    files = {"train.py": "x" * 5, "conf/base.yaml": "y" * 7, "__pycache__/train.cpython-311.pyc": "z",
             ".venv/pyvenv.cfg": "home = /usr", "myenv/pyvenv.cfg": "home = /usr", "myenv/lib/site.py": "s",
             "node_modules/a/index.js": "j", ".hg/store": "h", "condaenv/conda-meta/history": "c",
             "conf/__pycache__/x.pyc": "p"}
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    os.symlink("train.py", tmp_path / "link.py")
    result = filesystem.collect(ctx_for(tmp_path))
    assert tree(result) == {"conf/base.yaml": 7, "link.py": 8, "train.py": 5}
    assert section_problems("filesystem", result.data) == []


def test_git_listing_is_capped_with_a_note(tmp_path, git_repo, monkeypatch, section_problems):
    repo = git_repo(tmp_path / "proj", {f"f{i:02}.txt": "x" for i in range(25)})
    monkeypatch.setattr(filesystem, "MAX_FILES", 10)
    project = filesystem.collect(ctx_for(repo)).data["project"]
    assert project["truncated"] is True and project["file_count"] == 10
    assert project["note"] == "listed the first 10 of 25 files (git ls-files)"
    assert [entry["path"] for entry in project["files"]] == [f"f{i:02}.txt" for i in range(10)]


def test_walk_is_capped_with_a_note(tmp_path, monkeypatch, section_problems):
    for i in range(25):
        (tmp_path / f"f{i:02}.txt").write_text("x")
    monkeypatch.setattr(filesystem, "MAX_FILES", 10)
    result = filesystem.collect(ctx_for(tmp_path))
    project = result.data["project"]
    assert project["truncated"] is True and project["file_count"] == 10
    assert "stopped after 10 files" in project["note"]
    assert section_problems("filesystem", result.data) == []


def test_names_with_quotes_or_newlines_are_never_written(tmp_path, git_repo, section_problems):
    repo = git_repo(tmp_path / "proj", {"good.py": "g", 'we"ird.txt': "w", "new\nline.txt": "n", "a$b.txt": "d"})
    result = filesystem.collect(ctx_for(repo))
    assert tree(result) == {"good.py": 1}
    assert any("3 project file name(s)" in w.message for w in result.warnings)
    assert section_problems("filesystem", result.data) == []


def test_missing_git_falls_back_to_a_walk(tmp_path, git_repo):
    repo = git_repo(tmp_path / "proj", {".gitignore": "*.log\n", "a.py": "a"})
    (repo / "x.log").write_text("log")
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    result = filesystem.collect(ctx_for(repo, env={"PATH": str(empty)}))
    assert tree(result) == {".gitignore": 6, "a.py": 1, "x.log": 3}
    assert any("git could not list the project" in w.message for w in result.warnings)


def test_unreadable_folder_is_a_warning(tmp_path):
    """As root, permissions only bite without CAP_DAC_OVERRIDE: the probe then runs under setpriv."""
    project = tmp_path / "proj"
    (project / "secret").mkdir(parents=True)
    (project / "secret" / "key.txt").write_text("k")
    (project / "open.txt").write_text("o")
    os.chmod(project / "secret", 0)
    code = ("import json, sys; from pathlib import Path; from envcapture.probes import ProbeContext, filesystem; "
            "r = filesystem.collect(ProbeContext(project=Path(sys.argv[1]), env={}, home='/nonexistent')); "
            "print(json.dumps({'files': r.data['project']['files'], 'warnings': [w.message for w in r.warnings]}))")
    command = [sys.executable, "-c", code, str(project)]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a folder unreadable")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] + command
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True,
                             env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}).stdout
    finally:
        os.chmod(project / "secret", 0o755)
    report = json.loads(out)
    assert report["files"] == [{"path": "open.txt", "size": 1}]
    assert any("could not be read" in message and "secret" in message for message in report["warnings"])


def test_search_paths_home_and_odd_entries(tmp_path, section_problems):
    home = "/home/alice"
    env = {"PATH": os.pathsep.join([f"{home}/.local/bin", "/usr/bin", "", "/opt/it's/bin", "/usr/local/cuda/bin"]),
           "LD_LIBRARY_PATH": "/usr/local/cuda/lib64", "CUDA_HOME": "/usr/local/cuda", "PYTHONPATH": f"{home}/src"}
    result = filesystem.collect(ctx_for(tmp_path, env=env, home=home))
    assert result.data["search_paths"] == {"PATH": ["~/.local/bin", "/usr/bin", "/usr/local/cuda/bin"],
                                           "LD_LIBRARY_PATH": ["/usr/local/cuda/lib64"],
                                           "PYTHONPATH": ["~/src"], "CUDA_HOME": ["/usr/local/cuda"]}
    assert any("1 PATH entry" in w.message for w in result.warnings)
    assert section_problems("filesystem", result.data) == []


def test_project_root_is_home_relative(tmp_path):
    project = tmp_path / "work" / "proj"
    project.mkdir(parents=True)
    assert filesystem.collect(ctx_for(project, home=str(tmp_path))).data["project"]["root"] == "~/work/proj"


def test_this_machine(section_problems):
    result = filesystem.collect(ProbeContext(project=REPO_ROOT))
    assert section_problems("filesystem", result.data) == []
    if platform.system() == "Linux":
        root = [m for m in result.data["mounts"] if m["mount_point"] == "/"]
        assert root and root[0]["size"] == shutil.disk_usage("/").total
    assert "envcapture/probes/filesystem.py" in tree(result)
    assert "PATH" in result.data["search_paths"]
