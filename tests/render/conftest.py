"""Shared pieces of the generator tests: the example manifests, the golden cases, and running the CLI.

Golden files live in tests/golden/<case>/ (every file of the kit except the manifest copy). Regenerate them
after an intended change with ENVCAPTURE_UPDATE_GOLDEN=1: that run rewrites every golden that differs and fails
(so the new files are reviewed with `git diff tests/golden`); a second run without it must pass.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "tests" / "fixtures" / "manifests"
GOLDEN = REPO / "tests" / "golden"
EXTRA_CA = REPO / "tests" / "fixtures" / "render" / "extra-ca.pem"
TEST_BASE_IMAGE = "envcapture-test/debian-bookworm:local"
UPDATE = os.environ.get("ENVCAPTURE_UPDATE_GOLDEN") == "1"

# case -> (manifest, targets, extra options); each case is one decision of the issue, covered by goldens.
CASES = {
    "plain-venv": ("plain-venv.json", ["all"], []),
    "conda-env": ("conda-env.json", ["all"], []),
    "pytorch-pip-gpu": ("pytorch-pip-gpu.json", ["all"], []),
    "system-cuda": ("system-cuda.json", ["all"], []),
    "mixed-sources": ("mixed-sources.json", ["all"], []),
    "distro-python": ("distro-python.json", ["docker", "vagrant", "apptainer"], []),
    "cuda-11.8": ("cuda-11.8.json", ["docker", "apptainer", "devcontainer"], []),
    "override-debian": ("plain-venv.json", ["docker", "apptainer"],
                        ["--base-image", TEST_BASE_IMAGE, "--ca-bundle", "extra-ca.pem"]),
    "override-python": ("plain-venv.json", ["docker"], ["--base-image", "python:3.11-slim-bookworm"]),
    "override-base-os": ("plain-venv.json", ["docker"], ["--base-image", TEST_BASE_IMAGE, "--base-os", "debian:12"]),
    "apt-snapshot": ("distro-python.json", ["docker", "packer", "vagrant"], ["--apt-snapshot", "2025-06-01"]),
    # This machine as it is: only what the environment needs is installed (libmagic1 and its exact dependency).
    "workstation": ("workstation.json", ["docker"], ["--base-image", TEST_BASE_IMAGE, "--base-os", "debian:12"]),
}
EXAMPLES = ["plain-venv.json", "conda-env.json", "pytorch-pip-gpu.json", "system-cuda.json"]


def run_cli(argv) -> int:
    from envcapture.cli import main

    return main(list(argv))


def generate_case(case: str, workdir: Path) -> Path:
    """Run `envcapture generate` for a case inside ``workdir`` with relative paths (stable headers)."""
    manifest, targets, extra = CASES[case]
    shutil.copyfile(MANIFESTS / manifest, workdir / manifest)
    shutil.copyfile(EXTRA_CA, workdir / "extra-ca.pem")
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        code = run_cli(["generate", *targets, "-m", manifest, "-o", "kit", *extra])
    finally:
        os.chdir(cwd)
    assert code == 0
    return workdir / "kit"


def kit_files(kit: Path) -> dict[str, bytes]:
    return {str(p.relative_to(kit)): p.read_bytes() for p in sorted(kit.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def golden_kits(tmp_path_factory) -> dict[str, Path]:
    """Every golden case generated once per session (tests of the real tools read these)."""
    root = tmp_path_factory.mktemp("kits")
    kits = {}
    for case in CASES:
        workdir = root / case
        workdir.mkdir()
        kits[case] = generate_case(case, workdir)
    return kits


def load_manifest(name: str) -> dict:
    return json.loads((MANIFESTS / name).read_text(encoding="utf-8"))
