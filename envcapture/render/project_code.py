"""`generate --with-code`: the project's files at the recorded commit, for project/ of the kit.

`git archive` of the project's own repository (the folder the manifest recorded it in), so the kit holds
exactly the committed code that ran. Uncommitted changes are not in any commit: they are named in a warning,
and the user decides whether to copy them over.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile

from envcapture.errors import BadInput, ToolFailed

GIT_TIMEOUT = 120
PROJECT_DIR = "project"


def project_files(plan, manifest_path=None) -> dict[str, bytes]:
    """project/<path> -> bytes of every file of the recorded commit. The manifest the kit is made from, when it
    lies in the checkout, is not an uncommitted change worth a warning: freeze wrote it after the commit."""
    project = plan.project
    if project is None:
        raise BadInput("--with-code: the manifest records no project installed from its own folder "
                       "(an editable or directory install of the frozen project)")
    if not project.commit:
        raise BadInput(f"--with-code: the project {project.name} has no recorded git commit; copy its source "
                       f"into {PROJECT_DIR}/ by hand")
    repo = os.path.expanduser(project.source or "")
    if not repo or not os.path.isdir(repo):
        raise BadInput(f"--with-code: the project's folder {project.source} is not on this machine; clone the "
                       f"repository at {project.commit} into {PROJECT_DIR}/ instead")
    data = _git(repo, "archive", "--format=tar", project.commit)
    files = _untar(data)
    changed = _uncommitted(repo)
    if manifest_path is not None:
        own = os.path.realpath(manifest_path)
        changed = [name for name in changed if os.path.realpath(os.path.join(_top_level(repo), name)) != own]
    if changed:
        shown = ", ".join(changed[:20]) + (f" and {len(changed) - 20} more" if len(changed) > 20 else "")
        print(f"envcapture: warning: {repo} has uncommitted changes that are not in {PROJECT_DIR}/ (it holds "
              f"commit {project.commit[:12]}): {shown}", file=sys.stderr)
    return {f"{PROJECT_DIR}/{name}": content for name, content in files.items()}


def _git(repo: str, *args: str) -> bytes:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(["git", "-C", repo, *args], capture_output=True, timeout=GIT_TIMEOUT, env=env)
    except FileNotFoundError:
        raise ToolFailed("--with-code needs git, which is not installed") from None
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"git {args[0]} in {repo} did not finish in {GIT_TIMEOUT} s") from None
    if done.returncode:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["(no message)"])[-1]
        raise BadInput(f"--with-code: git {args[0]} in {repo} failed: {last}")
    return done.stdout


def _untar(data: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            # Regular files only: symlinks and submodule entries cannot be written into the kit safely.
            if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
                continue
            handle = archive.extractfile(member)
            if handle is not None:
                files[member.name] = handle.read()
    return files


def _top_level(repo: str) -> str:
    return _git(repo, "rev-parse", "--show-toplevel").decode("utf-8", "replace").strip()


def _uncommitted(repo: str) -> list[str]:
    out = _git(repo, "status", "--porcelain", "-z", "--untracked-files=all").decode("utf-8", "replace")
    return sorted({record[3:] for record in out.split("\0") if len(record) > 3})
