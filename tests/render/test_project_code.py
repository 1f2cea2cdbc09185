"""`--with-code`'s git calls fail in one line that quotes git's own reason: the recorded commit gone from a real
repository (history rewritten after the freeze), and a git command that fails without a word on stderr."""

from __future__ import annotations

import json
import shutil

import pytest

from envcapture.errors import BadInput
from envcapture.render import project_code
from tests.helpers.gitrepo import git

from .conftest import run_cli
from .test_project import manifest_with_project, project_repo  # noqa: F401 (a fixture)


def test_when_the_recorded_commit_is_gone_gits_last_line_is_the_reason(tmp_path, project_repo, capsys):  # noqa: F811
    manifest = manifest_with_project(tmp_path, project_repo)
    recorded = json.loads(open(manifest, encoding="utf-8").read())["code"]["commit"]
    shutil.rmtree(project_repo / ".git")  # the repository made anew: the recorded commit is in no object store
    git(project_repo, "init", "-q", "-b", "main")
    git(project_repo, "add", ".")
    git(project_repo, "commit", "-q", "-m", "rewritten", "--date", "2001-01-01T00:00:00")
    assert git(project_repo, "rev-parse", "HEAD") != recorded
    code = run_cli(["generate", "docker", "-m", manifest, "-o", str(tmp_path / "kit"), "--with-code"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("envcapture: --with-code: git archive in ") and "failed: fatal: " in err[0]
    assert recorded in err[0]
    assert not (tmp_path / "kit").exists()


def test_a_git_failure_with_nothing_on_stderr_says_so(project_repo):  # noqa: F811
    (project_repo / "pyproject.toml").write_text("changed\n")
    # `git diff --quiet` exits 1 on a difference and writes nothing: a failure without a message.
    with pytest.raises(BadInput, match=r"^--with-code: git diff in .* failed: \(no message\)$"):
        project_code._git(str(project_repo), "diff", "--quiet")
