"""Helpers for the cluster tests: the real CLI in a subprocess, and the real Slurm that .ci/start-slurm.sh starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REQUIRE_TOOLS = os.environ.get("ENVCAPTURE_REQUIRE_TOOLS", "") == "1"


def envcapture(*args, env=None, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """The real CLI, as a user runs it; returns the finished process (never raises on its exit code)."""
    return subprocess.run([sys.executable, "-m", "envcapture", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


def _slurm_nodes() -> tuple[list[str], str]:
    """Names of the idle nodes of a reachable Slurm, or ([], why not)."""
    if shutil.which("srun") is None or shutil.which("sinfo") is None:
        return [], "srun is not installed (apt-get install slurmctld slurmd slurm-client munge; .ci/run does it)"
    try:
        proc = subprocess.run(["sinfo", "-h", "-N", "-t", "idle,mixed", "-o", "%N"], capture_output=True,
                              text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return [], "sinfo did not answer within 20 s: no Slurm controller is running (.ci/start-slurm.sh)"
    nodes = sorted(set(proc.stdout.split()))
    if proc.returncode != 0 or not nodes:
        reason = (proc.stderr.strip().splitlines() or ["no idle nodes"])[-1]
        return [], f"no usable Slurm cluster ({reason}); start one with .ci/start-slurm.sh"
    return nodes, ""


@pytest.fixture(scope="session")
def slurm_nodes() -> list[str]:
    """The idle nodes of the real Slurm (3 in CI); skips without srun, fails under ENVCAPTURE_REQUIRE_TOOLS=1."""
    nodes, reason = _slurm_nodes()
    if not nodes:
        if REQUIRE_TOOLS:
            pytest.fail(f"ENVCAPTURE_REQUIRE_TOOLS=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    if len(nodes) < 3:
        message = f"the cluster tests need 3 idle Slurm nodes, sinfo shows {len(nodes)} ({', '.join(nodes)})"
        if REQUIRE_TOOLS:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return nodes[:3]
