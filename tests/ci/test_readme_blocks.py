"""Every command block of README.md runs as written (a new user copies them verbatim).

The blocks are read from README.md when the test runs, so an edited block is tested as edited. RUNNERS says
how each block is run; a block no entry claims, or an entry no block matches, fails the test, so a new
block needs a runner. Placeholders (<NAME>) are filled from PLACEHOLDERS with values the test makes.

Runners:
- ``container`` (docker, slow): the quick start's lines, verbatim, in a container of the local Debian 12
  base image with Debian's own python3 + python3-venv from apt and a copy of this repository (PEP 668
  applies there). The test-suite line runs with PYTEST_ADDOPTS=--collect-only (it would run this test).
- ``shell`` (docker where it builds images): the block, verbatim, by bash in the repository or a temp folder.
- ``slurm``: the block, verbatim, in a temp folder, when a Slurm with 3 idle nodes answers (else a skip).
- ``manifest``: the block, verbatim, by bash in a temp folder holding an envcapture.json (a committed example).
- ``tree``: every path the layout block names exists.
- ``synopsis``: every option of the synopsis is one `envcapture generate --help` lists.
- ``bench``: each `python bench/X.py` line's script runs with --help (a real run takes minutes; the numbers
  are in the README's table).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, TEST_BASE_IMAGE

README = REPO_ROOT / "README.md"
PLACEHOLDERS: dict[str, str] = {
    # "<NAME>": value; filled in every block before it runs. None are used by the README today.
}


@dataclass(frozen=True)
class Block:
    section: str
    info: str
    text: str

    @property
    def first_line(self) -> str:
        return next((line for line in self.text.splitlines() if line.strip()), "")


def readme_blocks() -> list[Block]:
    blocks, section, fence, info, lines = [], "", None, "", []
    for line in README.read_text(encoding="utf-8").splitlines():
        if fence is None and line.startswith("#"):
            section = line.lstrip("#").strip()
        elif fence is None and line.startswith("```"):
            fence, info, lines = line[:3], line[3:].strip(), []
        elif fence is not None and line.startswith("```"):
            blocks.append(Block(section, info, "\n".join(lines) + "\n"))
            fence = None
        elif fence is not None:
            lines.append(line)
    return blocks


# (section heading starts with, first line matches, runner)
RUNNERS = [
    ("Quick start", r"^python3 -m venv \.venv && .* pip install \. ", "container"),
    ("Quick start", r"^python3 -m venv \.venv && .* pip install -e '\.\[test\]' ", "container"),
    ("Quick start", r"^bash \.ci/make-base-image\.sh$", "shell"),
    ("Is every node of my cluster the same", r"^srun ", "slurm"),
    ("Reproduction kits", r"^envcapture generate TARGET", "synopsis"),
    ("Where things are", r"^envcapture/errors\.py", "tree"),
    ("Benchmarks", r"^python bench/", "bench"),
    ("For the paper", r"^envcapture report envcapture\.json ", "manifest"),
    ("Data sets", r"^mkdir -p data/raw ", "manifest"),
]


def runner_of(block: Block) -> list[str]:
    return [runner for section, pattern, runner in RUNNERS
            if block.section.startswith(section) and re.search(pattern, block.first_line)]


def fill(text: str) -> str:
    for name, value in PLACEHOLDERS.items():
        text = text.replace(name, value)
    left = re.findall(r"<[A-Z][A-Z_]*>", text)
    assert not left, f"placeholders without a value in PLACEHOLDERS: {left}"
    return text


def test_every_block_has_exactly_one_runner_and_every_runner_a_block():
    blocks = readme_blocks()
    assert blocks, "no code blocks found in README.md"
    for block in blocks:
        assert len(runner_of(block)) == 1, (f"README block in '{block.section}' starting {block.first_line!r} "
                                            f"has {len(runner_of(block))} runners: add one to RUNNERS")
    for section, pattern, runner in RUNNERS:
        matched = [b for b in blocks if b.section.startswith(section) and re.search(pattern, b.first_line)]
        assert len(matched) == 1, f"RUNNERS entry ({section!r}, {pattern!r}) matches {len(matched)} blocks"


def blocks_for(runner: str) -> list[Block]:
    return [b for b in readme_blocks() if runner_of(b) == [runner]]


def test_the_layout_block_names_only_paths_that_exist():
    for block in blocks_for("tree"):
        for line in block.text.splitlines():
            if line.strip() and not line[0].isspace():  # an indented line continues the one above
                path = line.split()[0]
                assert (REPO_ROOT / path).exists(), f"README 'Where things are' names {path}, which does not exist"


def test_the_generate_synopsis_lists_only_real_options():
    help_text = subprocess.run([sys.executable, "-m", "envcapture", "generate", "--help"], capture_output=True,
                               text=True, check=True, timeout=60).stdout
    usage = help_text.split("\n\n")[0]  # the short spellings, as the synopsis writes them
    for block in blocks_for("synopsis"):
        options = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", block.text))
        assert options, block.text
        for option in options:
            assert re.search(rf"(?<![\w-]){re.escape(option)}\b", help_text), f"{option} is not an option of generate"
        # and every option of generate is in the synopsis
        for option in set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", usage)) - {"-h"}:
            assert option in options, f"generate {option} is missing from the README's synopsis"


def test_benchmark_scripts_run():
    for block in blocks_for("bench"):
        for line in block.text.splitlines():
            command = line.split("#", 1)[0].split()
            if not command:
                continue
            assert command[0] == "python" and command[1].startswith("bench/"), line
            proc = subprocess.run([sys.executable, command[1], "--help"], cwd=REPO_ROOT, capture_output=True,
                                  text=True, timeout=120)
            assert proc.returncode == 0, f"{line}: {proc.stderr}"


@pytest.mark.docker
def test_the_base_image_command_runs_as_written(docker_client):
    for block in blocks_for("shell"):
        proc = subprocess.run(["bash", "-c", fill(block.text)], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert docker_client.images.get(TEST_BASE_IMAGE)


def test_manifest_blocks_run_as_written(tmp_path):
    shutil.copy(REPO_ROOT / "tests" / "fixtures" / "manifests" / "plain-venv.json", tmp_path / "envcapture.json")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for block in blocks_for("manifest"):
        proc = subprocess.run(["bash", "-c", "set -e\n" + fill(block.text)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def slurm_nodes() -> int:
    if not shutil.which("sinfo"):
        return 0
    try:
        out = subprocess.run(["sinfo", "-h", "-t", "idle,mix", "-o", "%D"], capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(int(n) for n in out.split() if n.isdigit())


@pytest.mark.slow
def test_the_slurm_recipe_runs_as_written(tmp_path):
    if slurm_nodes() < 3:
        pytest.skip("no Slurm with 3 idle nodes answers here (.ci/start-slurm.sh starts one)")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for block in blocks_for("slurm"):
        proc = subprocess.run(["bash", "-c", "set -e\n" + fill(block.text)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600, env=env)
        # `envcapture diff` exits 1 when the nodes differ: that is an answer, not a failure
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr


QUICK_START_IMAGE = """\
FROM {base}
LABEL envcapture.test=1
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \\
 && rm -rf /var/lib/apt/lists/*
# Debian's own Python: PEP 668 refuses `pip install` outside a venv, as on a stock Debian 12.
RUN test -f /usr/lib/python3.11/EXTERNALLY-MANAGED
COPY repo/ /home/newcomer/envcapture/
WORKDIR /home/newcomer/envcapture
"""


def copy_repository(target: Path) -> None:
    """The tracked and untracked-but-not-ignored files: what a clone has."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, check=True, timeout=60).stdout.decode().split("\0")
    for rel in filter(None, listed):
        source = REPO_ROOT / rel
        if source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)


@pytest.mark.docker
@pytest.mark.slow
def test_the_quick_start_works_on_debians_own_python(docker_base_image, tmp_path):
    import docker

    docker_client = docker.from_env(timeout=1800)  # the fixture's 30 s is too short for this container's wait

    context = tmp_path / "context"
    copy_repository(context / "repo")
    (context / "Dockerfile").write_text(QUICK_START_IMAGE.format(base=docker_base_image))
    tag = f"envcapture-test/quick-start:{uuid.uuid4().hex[:12]}"
    docker_client.images.build(path=str(context), tag=tag, rm=True, forcerm=True, pull=False, timeout=900)
    try:
        install, tests = [fill(b.text).strip() for b in blocks_for("container")]
        # First the line as a newcomer types it: pip install outside a venv must be what the README avoids.
        script = "\n".join([
            "set -e",
            "if python3 -m pip install . 2>/dev/null; then echo 'PEP 668 did not apply'; exit 9; fi",
            install,
            "test -s envcapture.json && test -f reproduce/Dockerfile && test -f reproduce/REPRODUCE.md",
            f"PYTEST_ADDOPTS='--collect-only -q -p no:cacheprovider' bash -c {shlex_quote(tests)}",
            "echo QUICK-START-OK",
        ])
        # The host's pip cache (when there is one) saves downloading the test extras again: same commands,
        # fewer bytes over the network, which keeps this test inside CI's time budget.
        cache = Path(subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True,
                                    timeout=60).stdout.strip() or "/nonexistent")
        volumes = {str(cache): {"bind": "/root/.cache/pip", "mode": "rw"}} if cache.is_dir() else {}
        container = docker_client.containers.run(tag, ["bash", "-c", script], detach=True, volumes=volumes)
        try:
            status = container.wait(timeout=1500)["StatusCode"]
            log = container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)
        assert status == 0 and "QUICK-START-OK" in log, log[-4000:]
        assert re.search(r"^tests/ci/test_readme_blocks\.py: \d+$", log, re.M), log[-2000:]  # pytest collected
    finally:
        try:
            docker_client.images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
