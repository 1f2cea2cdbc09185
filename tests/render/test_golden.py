"""Every decision of the issue has a golden kit: generated files must match tests/golden/<case>/ byte for byte."""

from __future__ import annotations

import pytest
from .conftest import CASES, EXAMPLES, GOLDEN, MANIFESTS, UPDATE, generate_case, kit_files

from envcapture.manifest import file as manifest


def _read_tree(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def compare_with_golden(files: dict[str, bytes], golden_dir, update: bool) -> None:
    """Fail unless ``files`` equal the golden folder. In update mode a difference rewrites the folder and still
    fails: the new golden must be reviewed as a diff, never silently accepted by the run that wrote it."""
    expected = _read_tree(golden_dir) if golden_dir.exists() else {}
    changed = sorted(rel for rel in set(files) | set(expected) if files.get(rel) != expected.get(rel))
    if not changed:
        return
    if update:
        import shutil

        if golden_dir.exists():
            shutil.rmtree(golden_dir)
        for rel, data in files.items():
            (golden_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden_dir / rel).write_bytes(data)
        pytest.fail(f"rewrote {golden_dir.name}/ ({', '.join(changed)}): review `git diff tests/golden`, "
                    "then rerun without ENVCAPTURE_UPDATE_GOLDEN", pytrace=False)
    assert sorted(files) == sorted(expected), f"{golden_dir.name}: the kit's file list changed"
    for rel in changed:
        assert files[rel] == expected[rel], f"{golden_dir.name}/{rel} differs from tests/golden (ENVCAPTURE_UPDATE_GOLDEN=1)"


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
    files[".envcapture-files"] = index_names(files[".envcapture-files"])
    compare_with_golden(files, GOLDEN / case, update=UPDATE)


def index_names(index: bytes) -> bytes:
    """The kit index as the golden keeps it: the file names, without the sha256 of each file (those change with
    every golden file and are checked against the written files in test_kit_ownership.py)."""
    lines = [line if line.startswith(b"#") else line.split(b"  ", 1)[-1] for line in index.splitlines()]
    return b"".join(line + b"\n" for line in lines)

def test_update_mode_rewrites_a_changed_golden_and_fails(tmp_path):
    golden = tmp_path / "case"
    (golden / "sub").mkdir(parents=True)
    (golden / "Dockerfile").write_bytes(b"old\n")
    (golden / "sub" / "gone.txt").write_bytes(b"x")
    new = {"Dockerfile": b"new\n", "REPRODUCE.md": b"r"}
    with pytest.raises(pytest.fail.Exception, match="rewrote case/ .*Dockerfile"):
        compare_with_golden(new, golden, update=True)
    assert _read_tree(golden) == new
    compare_with_golden(new, golden, update=True)  # nothing left to review: the golden now matches


def test_a_changed_golden_fails_without_touching_it(tmp_path):
    golden = tmp_path / "case"
    golden.mkdir()
    (golden / "Dockerfile").write_bytes(b"old\n")
    with pytest.raises(AssertionError, match="Dockerfile differs"):
        compare_with_golden({"Dockerfile": b"new\n"}, golden, update=False)
    with pytest.raises(AssertionError, match="file list changed"):
        compare_with_golden({"Dockerfile": b"old\n", "extra": b""}, golden, update=False)
    assert _read_tree(golden) == {"Dockerfile": b"old\n"}


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
