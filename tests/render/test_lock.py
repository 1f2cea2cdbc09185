"""requirements.lock decisions, and --hashes through the real `uv pip compile --generate-hashes`."""

from __future__ import annotations

import copy
import re

import pytest

from envcapture.errors import BadInput
from envcapture.render.lock import build_lock

from .conftest import MANIFESTS, load_manifest, run_cli


def test_every_kind_of_source():
    lock = build_lock(load_manifest("mixed-sources.json"))
    assert lock.requirements == [
        "idna==3.7", "internal-lib==4.2.0", "packaging==24.1", "pip==23.2.1",
        "rsoccer-gym @ git+https://github.com/goncamateus/rSoccer.git@3a2f0b23b5e87e4699734d25008d0fadf212904c",
        "setuptools==65.5.0", "six==1.16.0",
        "tomli @ https://files.pythonhosted.org/packages/97/75/10a9ebee3fd790d20926a90a2547f0bf78f371b2f13aa822c759680ca7b9/"
        "tomli-2.0.1-py3-none-any.whl#sha256=939de3e7a6161af0c887ef91b7d41a53e7c5a1ca976325f429cb46ea9bc30ecc",
        "torch==2.5.1+cpu",
    ]
    assert lock.extra_index_urls == ["https://download.pytorch.org/whl/cpu", "https://pypi.internal.example/simple"]
    assert sorted(o.name for o in lock.omitted) == ["localpkg", "mytool"]
    assert lock.local_indexes == ["file:///opt/pypi/simple", "file:///opt/pypi-more/simple"]


def test_cuda_local_versions_use_the_pytorch_index_and_binder_gets_cpu_builds():
    data = load_manifest("pytorch-pip-gpu.json")
    gpu = build_lock(data)
    assert "torch==2.11.0+cu130" in gpu.requirements
    assert "https://download.pytorch.org/whl/cu130" in gpu.extra_index_urls
    assert any(line.startswith("nvidia-cudnn-cu13==") for line in gpu.requirements)
    cpu = build_lock(data, cpu_only=True)
    assert "torch==2.11.0+cpu" in cpu.requirements and "torchvision==0.26.0+cpu" in cpu.requirements
    assert cpu.extra_index_urls == ["https://download.pytorch.org/whl/cpu"]
    assert not [line for line in cpu.requirements if re.match(r"nvidia-[a-z-]+(-cu\d+)?==", line)
                and not line.startswith("nvidia-ml-py")]


def test_conda_records_stay_out_of_the_pip_lock():
    lock = build_lock(load_manifest("conda-env.json"))
    names = [line.split("==")[0].split(" @ ")[0] for line in lock.requirements]
    assert names == ["certifi", "numpy", "rsoccer-gym"]


def test_vcs_subdirectory_must_be_a_plain_folder():
    data = load_manifest("mixed-sources.json")
    vcs = next(p for p in data["python_packages"] if p["name"] == "rsoccer-gym")
    vcs["source"]["subdirectory"] = "pkg/sub"
    assert build_lock(data).requirements[4].endswith("#subdirectory=pkg/sub")
    bad = copy.deepcopy(data)
    next(p for p in bad["python_packages"] if p["name"] == "rsoccer-gym")["source"]["subdirectory"] = "a b#c"
    with pytest.raises(BadInput, match="subdirectory"):
        build_lock(bad)


@pytest.mark.slow
def test_hashes_come_from_uv_compile(tmp_path):
    """Real `uv pip compile --generate-hashes` against the package index (PyPI)."""
    pytest.importorskip("uv")
    out = tmp_path / "kit"
    code = run_cli(["generate", "docker", "-m", str(MANIFESTS / "plain-venv.json"), "-o", str(out), "--hashes"])
    if code == 3:
        pytest.skip("the package index is not reachable for uv pip compile")
    assert code == 0
    text = (out / "requirements.lock").read_text()
    body = [l for l in text.splitlines() if l and not l.startswith("#")]
    assert [l for l in body if not l.startswith(" ")] == [
        "idna==3.7 \\", "packaging==24.1 \\", "pip==23.2.1 \\", "setuptools==65.5.0 \\", "six==1.16.0 \\"]
    # six 1.16.0's wheel, as published on PyPI.
    assert "--hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254" in text
    assert text.count("--hash=sha256:") >= 10
