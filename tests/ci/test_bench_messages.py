"""The Docker benchmark says what is missing in one line instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

BENCH = REPO_ROOT / "bench" / "docker_rebuild.py"


def run_bench(*args, env=None):
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_no_engine_is_one_line_exit_3(tmp_path):
    proc = run_bench(env={"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock"})
    assert proc.returncode == 3, proc.stderr
    assert "no Docker engine reachable" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.docker
def test_a_missing_base_image_names_the_command_that_builds_it(docker_client):
    proc = run_bench(env={"ENVCAPTURE_TEST_BASE_IMAGE": "envcapture-test/debian-bookworm:absent-for-this-test"})
    assert proc.returncode == 3, proc.stderr
    assert "bash .ci/make-base-image.sh" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
