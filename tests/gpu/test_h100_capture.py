"""What envcapture recorded on a real H100 machine (tests/fixtures/gpu/h100/, made by capture.sh)."""

import json

from envcapture.probes import gpu_nvidia_smi as smi
from envcapture.probes.gpu_python import cudnn_text

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


def test_h100_toolkit_and_wheels(h100_freeze):
    section = h100_freeze["gpu"]
    assert [(t["path"], t["version"], t["nvcc_version"]) for t in section["toolkits"]] == [
        ("/usr/local/cuda-13.0", "13.0", "13.0.88")]
    wheels = {w["name"]: w["cuda_major"] for w in section["cuda_wheels"]}
    assert wheels["nvidia-cuda-runtime"] == 13 and wheels["nvidia-cudnn-cu13"] == 13
    assert wheels["jax-cuda13-plugin"] == 13 and wheels["cupy-cuda13x"] == 13


def test_nvml_and_nvidia_smi_agree_on_h100():
    """The probe's NVML path and its nvidia-smi fallback, run on the same machine, read the same device."""
    probe = json.loads(fixture_text("h100/probe.json"))
    nvml, fallback = probe["nvml"]["data"], probe["smi_fallback"]["data"]
    assert nvml["driver"]["source"] == "nvml" and fallback["driver"]["source"] == "nvidia-smi"
    assert {k: v for k, v in nvml["driver"].items() if k != "source"} == \
           {k: v for k, v in fallback["driver"].items() if k != "source"}
    keys = ("index", "name", "memory_total_mib", "compute_capability", "architecture", "mig_mode", "pci_bus_id")
    assert [{k: d[k] for k in keys} for d in nvml["devices"]] == [{k: d[k] for k in keys} for d in fallback["devices"]]
    assert probe["libcuda_cuda_version"] == nvml["driver"]["cuda_version"]
    assert probe["include_host_uuid_prefixes"] == ["GPU-"]
    assert probe["nvml"]["warnings"] == []


def test_raw_outputs_match_what_the_probe_recorded(h100_freeze):
    xml = smi.parse_smi_xml(fixture_text("h100/nvidia-smi-q-x.xml"))
    device = h100_freeze["gpu"]["devices"][0]
    assert xml["driver_version"] == h100_freeze["gpu"]["driver"]["version"]
    assert xml["devices"][0]["pci_bus_id"] == device["pci_bus_id"]
    assert xml["devices"][0]["memory_total_mib"] == device["memory_total_mib"]
