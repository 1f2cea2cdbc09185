"""Run this checkout's CLI and git in a subprocess, as a user would (the repository first on PYTHONPATH)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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


def cli_env(env=None) -> dict:
    """The environment for running this checkout's CLI: the repository first on PYTHONPATH."""
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH")) if p)
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
