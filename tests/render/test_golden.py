"""Every decision of the issue has a golden kit: generated files must match tests/golden/<case>/ byte for byte."""

from __future__ import annotations

import pytest
from .conftest import CASES, EXAMPLES, GOLDEN, MANIFESTS, UPDATE, generate_case, kit_files

from envcapture import manifest


@pytest.mark.parametrize("name", EXAMPLES + ["mixed-sources.json", "distro-python.json", "cuda-11.8.json"])
def test_example_manifests_are_valid(name):
    data = manifest.load(MANIFESTS / name)
    assert manifest.problems(data) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_kit_matches_golden(case, tmp_path):
    kit = generate_case(case, tmp_path)
    files = kit_files(kit)
    manifest_name = CASES[case][0]
    assert files.pop("envcapture.json") == (MANIFESTS / manifest_name).read_bytes()
    golden_dir = GOLDEN / case
    if UPDATE:
        if golden_dir.exists():
            import shutil

            shutil.rmtree(golden_dir)
        for rel, data in files.items():
            (golden_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden_dir / rel).write_bytes(data)
    expected = {str(p.relative_to(golden_dir)): p.read_bytes() for p in sorted(golden_dir.rglob("*")) if p.is_file()}
    assert sorted(files) == sorted(expected), f"{case}: the kit's file list changed"
    for rel in files:
        assert files[rel] == expected[rel], f"{case}/{rel} differs from tests/golden (ENVCAPTURE_UPDATE_GOLDEN=1)"


def test_goldens_cover_the_decisions():
    """Spot checks that each golden case shows the decision it exists for (a regenerated golden can't hide it)."""
    def read(case, rel):
        return (GOLDEN / case / rel).read_text(encoding="utf-8")

    assert "FROM python:3.11.7-slim-bookworm" in read("plain-venv", "Dockerfile")
    assert "FROM mambaorg/micromamba:" in read("conda-env", "Dockerfile")
    assert "@EXPLICIT" in read("conda-env", "conda-explicit.txt")
    assert "python=3.10.16=" in read("conda-env", "binder/environment.yml")
    gpu_docker = read("pytorch-pip-gpu", "Dockerfile")
    assert "FROM ubuntu:24.04" in gpu_docker and "python3=3.12.3" in gpu_docker
    assert "--gpus all" in gpu_docker and "CUDA 13.0" in gpu_docker
    assert "--extra-index-url https://download.pytorch.org/whl/cu130" in read("pytorch-pip-gpu", "requirements.lock")
    binder = read("pytorch-pip-gpu", "binder/requirements.txt")
    assert "torch==2.11.0+cpu" in binder and "nvidia-cudnn-cu13" not in binder
    assert "FROM nvidia/cuda:13.0.2-cudnn-devel-ubuntu24.04" in read("system-cuda", "Dockerfile")
    assert '"gpu": true' in read("system-cuda", ".devcontainer/devcontainer.json")
    assert "past NVIDIA's support window" in read("cuda-11.8", "REPRODUCE.md")
    assert "FROM nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04" in read("cuda-11.8", "Dockerfile")
    assert "FROM debian:bookworm" in read("distro-python", "Dockerfile")
    lock = read("mixed-sources", "requirements.lock")
    assert "rsoccer-gym @ git+https://github.com/goncamateus/rSoccer.git@3a2f0b23b5e87e4699734d25008d0fadf212904c" in lock
    assert "tomli @ https://files.pythonhosted.org/" in lock and "#sha256=939de3e7" in lock
    assert "mytool" not in lock and "mytool" in read("mixed-sources", "REPRODUCE.md")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lock
    assert "snapshot.debian.org/archive/debian/20250601T000000Z bookworm" in read("apt-snapshot", "apt-snapshot.list")
    override = read("override-debian", "Dockerfile")
    assert "python3-venv" in override and "COPY ca-bundle.crt" in override
    # an unknown base gets no recorded system packages; a base of the captured release (named by the
    # official image's tag or by --base-os) gets them pinned, like the base envcapture would choose
    assert "jq=" not in override
    python_override = read("override-python", "Dockerfile")
    assert "jq=1.6-2.1+deb12u1" in python_override and "/usr/bin/python3 -m venv" not in python_override
    assert "jq=1.6-2.1+deb12u1" in read("override-base-os", "Dockerfile")
