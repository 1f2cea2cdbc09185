"""Real environments for the core tests: a venv with a PyPI package, an editable install of a local git
checkout, a git+file:// install and a local wheel, all made here with the real pip and git."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def run(*argv, cwd=None, env=None):
    return subprocess.run([str(a) for a in argv], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV, **(env or {})}).stdout


def make_package(folder: Path, name: str, version: str = "0.1.0", requires=()) -> Path:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "{version}"
        dependencies = {json.dumps(list(requires))}
        """))
    module = folder / name.replace("-", "_")
    module.mkdir()
    (module / "__init__.py").write_text(f"VALUE = {name!r}\n")
    return folder


def git_init(folder: Path) -> str:
    run("git", "init", "-q", "-b", "main", cwd=folder)
    run("git", "add", "-A", cwd=folder)
    run("git", "commit", "-qm", "initial", cwd=folder)
    return run("git", "rev-parse", "HEAD", cwd=folder).strip()


@pytest.fixture(scope="session")
def sample_venv(tmp_path_factory):
    """A venv holding six (PyPI), an editable git checkout, a git+file:// install and a local wheel."""
    root = tmp_path_factory.mktemp("envs")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", venv)
    py = venv / "bin" / "python"
    editable = make_package(root / "src" / "editable-pkg", "editable-pkg", requires=["six"])
    editable_commit = git_init(editable)
    gitpkg = make_package(root / "src" / "gitpkg", "gitpkg", "1.2.0")
    git_commit = git_init(gitpkg)
    wheelpkg = make_package(root / "src" / "wheelpkg", "wheelpkg", "3.0.0")
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run(*pip, "six==1.16.0")
    run(*pip, "-e", editable)
    run(*pip, f"git+file://{gitpkg}@main")
    wheels = root / "wheels"
    run(py, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, wheelpkg)
    run(*pip, next(wheels.glob("*.whl")))
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
