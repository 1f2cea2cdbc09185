"""The plain-language verdict and the rows of `envcapture show`'s GPU table."""

import copy
import io

from rich.console import Console

from envcapture.probes import gpu_nvidia_smi as smi
from envcapture.probes.gpu_verdict import verdict
from envcapture.show.gpu import gpu_summary_rows, render_gpu

from gpu_fixtures import fixture_text


def test_h100_verdict(h100_freeze):
    sentences = verdict(h100_freeze["gpu"])
    assert sentences[0].startswith("NVIDIA driver 580.") and "H100" in sentences[0] and "9.0" in sentences[0]
    torch = next(s for s in sentences if s.startswith("PyTorch"))
    assert "2.11.0+cu130 brings its own CUDA 13.0 runtime and cuDNN 9.19.0" in torch
    assert "a host driver that supports CUDA 13.0 is all it needs" in torch
    several = next(s for s in sentences if s.startswith("Several cuDNN"))
    assert "9.14.0" in several and "PyTorch 2.11.0+cu130 loads 9.19.0" in several


def test_driver_too_old_for_torch(h100_freeze):
    section = copy.deepcopy(h100_freeze["gpu"])
    section["driver"]["cuda_version"] = "12.2"
    torch = [s for s in verdict(section) if "PyTorch" in s and "driver" in s.lower()]
    assert any("supports CUDA 12.2 but PyTorch 2.11.0+cu130 was built for 13.0: this environment cannot use the GPU"
               in s for s in torch), torch


def test_driver_minor_older(h100_freeze):
    section = copy.deepcopy(h100_freeze["gpu"])
    for record in section["frameworks"]:
        if record["name"] == "torch":
            record["runtime"]["cuda"] = "13.1"
    assert any("minor-version compatibility" in s for s in verdict(section))


def test_no_driver_with_torch(h100_freeze):
    section = copy.deepcopy(h100_freeze["gpu"])
    section.update(driver=None, devices=[])
    sentences = verdict(section)
    assert not any(s.startswith("NVIDIA driver") for s in sentences)
    assert any("No NVIDIA driver here: PyTorch 2.11.0+cu130 runs on the CPU only" in s for s in sentences)


def test_toolkit_newer_than_driver():
    section = {"driver": {"version": "550.144.03", "cuda_version": "12.4", "source": "nvidia-smi"}, "devices": [],
               "toolkits": [{"path": "/usr/local/cuda-13.0", "version": "13.0", "nvcc_version": "13.0.88",
                             "source": "nvcc"}], "cudnn": [], "cuda_wheels": [], "frameworks": []}
    assert any("newer than the driver's CUDA 12.4" in s for s in verdict(section))


def test_rocm_build_and_cpu_only():
    section = {"driver": None, "devices": [], "toolkits": [], "cudnn": [], "cuda_wheels": [],
               "frameworks": [{"name": "torch", "version": "2.4.0+rocm6.1", "cuda": None, "cudnn": None,
                               "rocm": "6.1", "source": "metadata", "runtime": None}]}
    assert any("ROCm 6.1 build" in s for s in verdict(section))
    empty = {"driver": None, "devices": [], "toolkits": [], "cudnn": [], "cuda_wheels": [], "frameworks": []}
    assert verdict(empty) == ["No GPU and no CUDA software found: this environment runs on the CPU only."]


def test_rows_h100(h100_freeze):
    rows = dict(gpu_summary_rows(h100_freeze["gpu"]))
    assert rows["Driver"].startswith("580.") and "supports CUDA 13.0" in rows["Driver"]
    assert "NVIDIA H100 80GB HBM3" in rows["GPU 0"] and "compute 9.0" in rows["GPU 0"] and "80 GiB" in rows["GPU 0"]
    assert rows["CUDA toolkit"] == "13.0 · /usr/local/cuda-13.0 · nvcc 13.0.88"
    assert "built for CUDA 13.0" in rows["torch"] and "CUDA available" in rows["torch"]
    # what torch said of itself when freeze --deep imported it on the H100 (h100/freeze.json, recorded there)
    assert "at run time: 2.11.0+cu130 · CUDA available · 1 device(s) · cuDNN 9.19.0" in rows["torch"]
    assert rows["jax"].endswith("at run time: backend gpu")


def test_rows_multi_gpu_and_mig():
    multi = smi.parse_smi_xml(fixture_text("nvidia-smi/xml/dual-rtx-a5000_590.44.01.xml"))
    section = {"driver": {"version": multi["driver_version"], "cuda_version": multi["cuda_version"],
                          "source": "nvidia-smi"}, "devices": multi["devices"], "toolkits": [], "cudnn": []}
    labels = [label for label, _ in gpu_summary_rows(section)]
    assert labels == ["Driver", "GPU 0", "GPU 1"]
    assert "2x NVIDIA RTX A5000 (Ampere)" in verdict(section)[0]
    mig = smi.parse_smi_xml(fixture_text("nvidia-smi/xml/a100-sxm4-40gb-mig_510.47.03.xml"))
    rows = dict(gpu_summary_rows({"driver": None, "devices": mig["devices"]}))
    assert "MIG: 19968 MiB, 19968 MiB" in rows["GPU 0"]
    assert "MIG enabled on 1 GPU(s)" in verdict({"driver": {"version": "510.47.03", "cuda_version": "11.6"},
                                                 "devices": mig["devices"]})[0]


def test_render_prints_values_as_text(h100_freeze):
    section = copy.deepcopy(h100_freeze["gpu"])
    section["devices"][0]["name"] = "[bold red]evil[/bold red]"
    buffer = io.StringIO()
    render_gpu(section, Console(file=buffer, width=200, color_system=None))
    out = buffer.getvalue()
    assert "[bold red]evil[/bold red]" in out  # markup shown literally, not interpreted
    assert "GPU" in out and "580.159.04" in out and "brings its own CUDA 13.0 runtime" in out


def test_no_section_no_rows():
    assert gpu_summary_rows(None) == []


def test_failed_import_is_said(h100_freeze):
    section = copy.deepcopy(h100_freeze["gpu"])
    for record in section["frameworks"]:
        if record["name"] == "torch":
            record["runtime"] = {"error": "OSError: libcudnn.so.9: cannot open shared object file"}
    assert any("failed to import (freeze --deep): OSError: libcudnn.so.9" in s for s in verdict(section))
