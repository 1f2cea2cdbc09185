"""What envcapture recorded on a real H100 machine (tests/fixtures/gpu/h100/, made by capture.sh)."""

import json

from envcapture.probes import gpu_cuda, gpu_python
from envcapture.probes import gpu_nvidia_smi as smi
from envcapture.probes.gpu_python import cudnn_text
from envcapture.probes.gpu_verdict import verdict

from gpu_fixtures import fixture_text, gpu_schema_problems


def test_freeze_deep_on_h100(h100_freeze, h100_pip_versions):
    section = h100_freeze["gpu"]
    assert gpu_schema_problems(section) == []
    assert section["vendor"] == "nvidia"
    assert section["driver"]["version"].startswith("580.")
    assert section["driver"]["cuda_version"] == "13.0"
    assert section["driver"]["source"] == "nvml"
    [device] = section["devices"]
    assert "H100" in device["name"] or "H200" in device["name"]
    assert device["compute_capability"] == "9.0" and device["architecture"] == "Hopper"
    assert device["uuid"] is None  # freeze ran without --include-host
    wheel = h100_pip_versions["nvidia-cudnn-cu13"]
    [copy] = [c for c in section["cudnn"] if c["source"] == "wheel"]
    assert copy["version"] == wheel and copy["package"] == "nvidia-cudnn-cu13"
    # What torch loaded at run time (--deep) is the wheel's cuDNN, not the system's 9.14 debs.
    [torch] = [f for f in section["frameworks"] if f["name"] == "torch"]
    assert torch["cuda"] == "13.0"
    assert cudnn_text(torch["runtime"]["cudnn"]) == ".".join(wheel.split(".")[:3])
    assert torch["runtime"]["cuda_available"] is True and torch["runtime"]["device_count"] == 1


def _section_of_log(command: str) -> str:
    """The output recorded under one '### $ <command>' heading of capture.log."""
    log = fixture_text("h100/capture.log")
    body = log[log.index(f"### $ {command}\n"):].split("\n", 1)[1]
    return body.split("\n### ", 1)[0]


def _pip_list_distributions() -> list[dict]:
    lines = fixture_text("h100/pip-list.txt").splitlines()
    return [dict(zip(("name", "version"), line.split("==", 1))) for line in lines if "==" in line]


def test_h100_toolkit_and_wheels_from_the_raw_outputs(h100_freeze):
    """The parsers, run on the raw `nvcc --version` and `pip list` the capture recorded, give what freeze wrote."""
    section = h100_freeze["gpu"]
    nvcc = gpu_cuda.parse_nvcc_version(_section_of_log("sh -c command -v nvcc && nvcc --version"))
    assert nvcc == ("13.0", "13.0.88")
    assert [(t["path"], t["version"], t["nvcc_version"]) for t in section["toolkits"]] == [
        ("/usr/local/cuda-13.0", *nvcc)]
    wheels = gpu_python.cuda_wheels(_pip_list_distributions())
    assert wheels == section["cuda_wheels"]
    majors = {w["name"]: w["cuda_major"] for w in wheels}
    assert majors["nvidia-cuda-runtime"] == 13 and majors["nvidia-cudnn-cu13"] == 13
    assert majors["jax-cuda13-plugin"] == 13 and majors["cupy-cuda13x"] == 13
    assert majors["nvidia-cufft"] is None  # its version (12.0.0.61) is the library's, not CUDA's


def test_h100_verdict_from_the_recorded_facts(h100_freeze):
    """The verdict, recomputed from the recorded facts, is the one the machine printed (and names the facts)."""
    section = h100_freeze["gpu"]
    sentences = verdict({key: value for key, value in section.items() if key != "verdict"})
    assert sentences == section["verdict"]
    assert sentences[0].startswith("NVIDIA driver 580.159.04 supports CUDA up to 13.0; 1 GPU(s): NVIDIA H100")
    assert any(s.startswith("PyTorch 2.11.0+cu130 brings its own CUDA 13.0 runtime") for s in sentences)
    assert sentences[-1].startswith("Several cuDNN versions are installed: 9.14.0")


def test_nvidia_smi_parsers_read_the_device_nvml_read_on_h100():
    """nvidia-smi's raw CSV and XML from the H100, through the parsers of the fallback, give the device that
    NVML (the probe's first source) read on the same machine."""
    probe = json.loads(fixture_text("h100/probe.json"))
    nvml = probe["nvml"]["data"]
    rows = smi.parse_query_gpu_csv(fixture_text("h100/query-gpu.csv"), smi.QUERY_FIELDS)
    from_csv = smi.devices_from_query_rows(rows)
    xml = smi.parse_smi_xml(fixture_text("h100/nvidia-smi-q-x.xml"))
    assert (rows[0]["driver_version"], xml["driver_version"]) == (nvml["driver"]["version"],) * 2
    assert xml["cuda_version"] == nvml["driver"]["cuda_version"] == probe["libcuda_cuda_version"]
    keys = ("index", "name", "memory_total_mib", "compute_capability", "architecture", "mig_mode", "pci_bus_id")
    assert [{k: d[k] for k in keys} for d in from_csv] == [{k: d[k] for k in keys} for d in nvml["devices"]]
    assert [d["pci_bus_id"] for d in xml["devices"]] == [d["pci_bus_id"] for d in nvml["devices"]]
    assert verdict({key: value for key, value in nvml.items() if key != "verdict"}) == nvml["verdict"]


def test_raw_outputs_match_what_the_probe_recorded(h100_freeze):
    xml = smi.parse_smi_xml(fixture_text("h100/nvidia-smi-q-x.xml"))
    device = h100_freeze["gpu"]["devices"][0]
    assert xml["driver_version"] == h100_freeze["gpu"]["driver"]["version"]
    assert xml["devices"][0]["pci_bus_id"] == device["pci_bus_id"]
    assert xml["devices"][0]["memory_total_mib"] == device["memory_total_mib"]
