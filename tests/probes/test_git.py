"""The code (git) probe on real repositories made in the test: clean, dirty, detached, with remotes carrying
planted credentials, without commits; and with git missing or hanging."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from envcapture.probes import ProbeContext, git

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def collect(project: Path, **kwargs):
    kwargs.setdefault("env", {"PATH": os.environ.get("PATH", "")})
    kwargs.setdefault("home", "/nonexistent-home")
    return git.collect(ProbeContext(project=project, **kwargs))


def test_clean_repository(tmp_path, git_repo, section_problems):
    repo = git_repo(tmp_path / "proj", {"train.py": "print('hi')\n"})
    result = collect(repo)
    head = git_repo.git(repo, "rev-parse", "HEAD").strip()
    assert result.data == {"commit": head, "branch": "main", "dirty": False, "dirty_files": 0, "remote": None}
    assert result.warnings == []
    assert section_problems("code", result.data) == []


def test_dirty_repository_counts_changed_and_untracked_files(tmp_path, git_repo):
    repo = git_repo(tmp_path / "proj", {"a.py": "a\n", "b.py": "b\n", "c.py": "c\n", ".gitignore": "*.log\n"})
    (repo / "a.py").write_text("changed\n")
    (repo / "new.py").write_text("new\n")
    (repo / "ignored.log").write_text("not counted\n")
    git_repo.git(repo, "mv", "b.py", "renamed.py")
    data = collect(repo).data
    assert data["dirty"] is True
    assert data["dirty_files"] == len(git_repo.git(repo, "status", "--porcelain").splitlines()) == 3


def test_detached_head_has_no_branch(tmp_path, git_repo, section_problems):
    repo = git_repo(tmp_path / "proj", {"a.py": "a\n"})
    head = git_repo.git(repo, "rev-parse", "HEAD").strip()
    git_repo.git(repo, "checkout", "-q", "--detach", head)
    data = collect(repo).data
    assert (data["commit"], data["branch"]) == (head, None)
    assert section_problems("code", data) == []


def test_subfolder_of_a_repository(tmp_path, git_repo):
    repo = git_repo(tmp_path / "proj", {"pkg/mod.py": "x\n"})
    assert collect(repo / "pkg").data["commit"] == git_repo.git(repo, "rev-parse", "HEAD").strip()


def test_repository_without_commits(tmp_path, git_repo):
    repo = tmp_path / "fresh"
    repo.mkdir()
    git_repo.git(repo, "init", "-q", "-b", "trunk")
    (repo / "x.py").write_text("x\n")
    assert collect(repo).data == {"commit": None, "branch": "trunk", "dirty": True, "dirty_files": 1, "remote": None}


def test_remote_credentials_never_survive(tmp_path, git_repo, section_problems):
    repo = git_repo(tmp_path / "proj", {"a.py": "a\n"})
    git_repo.git(repo, "remote", "add", "backup", "https://example.com/backup.git")
    git_repo.git(repo, "remote", "add", "origin", f"https://user:{TOKEN}@github.com/acme/model.git")
    result = collect(repo)
    assert result.data["remote"] == "https://github.com/acme/model.git"
    assert TOKEN not in json.dumps(result.data) and "user:" not in json.dumps(result.data)
    assert TOKEN not in json.dumps([w.message for w in result.warnings])
    assert section_problems("code", result.data) == []


@pytest.mark.parametrize("remote, expected", [
    ("git@github.com:acme/model.git", "ssh://git@github.com/acme/model.git"),
    (f"https://{TOKEN}@github.com/acme/model.git", "https://github.com/acme/model.git"),
    ("https://github.com/acme/model.git?token=abc123", "https://github.com/acme/model.git?token=REDACTED"),
    ("/srv/git/model.git", "file:///srv/git/model.git"),
])
def test_remote_forms(tmp_path, git_repo, remote, expected, section_problems):
    repo = git_repo(tmp_path / "proj", {"a.py": "a\n"})
    git_repo.git(repo, "remote", "add", "upstream", remote)
    data = collect(repo).data
    assert data["remote"] == expected
    assert section_problems("code", data) == []


def test_remote_in_the_home_folder_is_not_recorded(tmp_path, git_repo):
    repo = git_repo(tmp_path / "proj", {"a.py": "a\n"})
    git_repo.git(repo, "remote", "add", "origin", str(tmp_path / "bare.git"))
    result = collect(repo, home=str(tmp_path))
    assert result.data["remote"] is None
    assert any("home directory" in w.message for w in result.warnings)


def test_outside_git(tmp_path):
    assert collect(tmp_path).data is None
    assert collect(tmp_path).warnings == []


def test_missing_git_binary(tmp_path, git_repo):
    repo = git_repo(tmp_path / "proj", {"a.py": "a\n"})
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = collect(repo, env={"PATH": str(empty)})
    assert result.data is None
    assert [w.message for w in result.warnings] == ["git state of the project not recorded: git not found"]


def test_hanging_git_is_cut_off(tmp_path, git_repo):
    repo = git_repo(tmp_path / "proj", {"a.py": "a\n"})
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    pidfile = tmp_path / "sleeper.pid"
    # The child keeps stdout open after the shell is killed: run_tool must not wait for it.
    (fake_bin / "git").write_text('#!/bin/sh\nsleep 300 &\necho $! > "$FAKE_GIT_PIDFILE"\nwait\n')
    (fake_bin / "git").chmod(0o755)
    started = time.monotonic()
    try:
        result = collect(repo, env={"PATH": f"{fake_bin}:{os.environ['PATH']}", "FAKE_GIT_PIDFILE": str(pidfile)},
                         timeout=1.0)
        elapsed = time.monotonic() - started
    finally:
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    assert elapsed < 10
    assert result.data is None
    assert [w.message for w in result.warnings] == ["git state of the project not recorded: "
                                                    "git did not answer within 1 s"]


def test_the_manifest_freeze_is_writing_is_not_an_uncommitted_change(tmp_path, git_repo):
    repo = git_repo(tmp_path / "proj", {"a.py": "a\n"})
    (repo / "envcapture.json").write_text("{}\n")
    assert collect(repo).data["dirty_files"] == 1
    data = collect(repo, output=str(repo / "envcapture.json")).data
    assert (data["dirty"], data["dirty_files"]) == (False, 0)
    (repo / "other.py").write_text("b\n")
    assert collect(repo, output=str(repo / "envcapture.json")).data["dirty_files"] == 1
    # From a subfolder of the checkout, and with a committed manifest written again.
    git_repo.git(repo, "add", "envcapture.json")
    git_repo.git(repo, "commit", "-qm", "manifest")
    (repo / "envcapture.json").write_text('{"again": 1}\n')
    (repo / "sub").mkdir()
    assert collect(repo / "sub", output=str(repo / "envcapture.json")).data["dirty_files"] == 1  # other.py
    assert collect(repo, output=str(repo / "envcapture.json")).data["dirty_files"] == 1
    assert collect(repo).data["dirty_files"] == 2
    # A manifest written outside the checkout changes nothing.
    assert collect(repo, output=str(tmp_path / "elsewhere.json")).data["dirty_files"] == 2
