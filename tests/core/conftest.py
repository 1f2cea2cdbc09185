"""Real environments for the core tests: a venv with a package installed like an index package, an editable
install of a local git checkout, a git+file:// install and a local wheel, all made here with the real pip and
git from projects built here (tests/helpers/localwheels.py): no network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from localwheels import OFFLINE, make_project, offline_env, pip_install, write_wheel

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def run(*argv, cwd=None, env=None):
    return subprocess.run([str(a) for a in argv], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV, **(env or {})}).stdout


def git_init(folder: Path) -> str:
    run("git", "init", "-q", "-b", "main", cwd=folder)
    run("git", "add", "-A", cwd=folder)
    run("git", "commit", "-qm", "initial", cwd=folder)
    return run("git", "rev-parse", "HEAD", cwd=folder).strip()


@pytest.fixture(scope="session")
def sample_venv(tmp_path_factory):
    """A venv holding indexpkg (installed like an index package), an editable git checkout, a git+file://
    install and a local wheel; every package is built here, nothing comes from the network."""
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


def cli_env(env=None) -> dict:
    """The environment for running this checkout's CLI: the repository first on PYTHONPATH."""
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).parents[2]), env.get("PYTHONPATH")) if p)
    return env


def freeze(*args, env=None, cwd=None, check=True):
    """Run the real CLI in a subprocess and return (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "envcapture", "freeze", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=cli_env(env))
    if check and proc.returncode != 0:
        raise AssertionError(f"freeze failed ({proc.returncode}): {proc.stderr}")
    return proc


def envcapture(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "envcapture", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=cli_env(env))
