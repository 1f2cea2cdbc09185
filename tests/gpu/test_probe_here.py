"""The gpu probe on this machine, a real 'CUDA toolkit, no GPU' case (/usr/local/cuda is CUDA 13.0 with nvcc,
no driver), on a recorded root folder, and against an nvidia-smi that hangs."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envcapture.probes import ProbeContext, gpu

from gpu_fixtures import FIXTURES, gpu_schema_problems

REPO = Path(__file__).resolve().parents[2]
needs_local_toolkit = pytest.mark.skipif(not Path("/usr/local/cuda/bin/nvcc").exists(),
                                         reason="needs the CUDA 13.0 toolkit of the development machines")
no_driver = pytest.mark.skipif(Path("/proc/driver/nvidia").exists() or shutil.which("nvidia-smi") is not None,
                               reason="this machine has an NVIDIA driver")


@needs_local_toolkit
@no_driver
def test_toolkit_without_driver():
    result = gpu.collect(ProbeContext())
    section = result.data
    assert gpu_schema_problems(section) == []
    assert section["driver"] is None and section["devices"] == [] and section["vendor"] is None
    [toolkit] = [t for t in section["toolkits"] if t["path"] == "/usr/local/cuda-13.0"]
    assert toolkit["version"] == "13.0" and toolkit["nvcc_version"] == "13.0.88"
    assert [t["path"] for t in section["toolkits"]].count("/usr/local/cuda-13.0") == 1  # cuda -> cuda-13.0 once
    [warning] = [w for w in result.warnings if "driver" in w.message]
    assert warning.source == "gpu"
    assert "libnvidia-ml.so.1" in warning.message and "nvidia-smi: not on PATH" in warning.message
    assert any("compiled here but not run on a GPU" in sentence for sentence in section["verdict"])


@no_driver
def test_nothing_cuda_means_no_warnings(tmp_path):
    """A CPU-only machine: no toolkit, no wheels; the probe is quiet and says so in the verdict."""
    ctx = ProbeContext(root=tmp_path, env={"PATH": str(tmp_path)})
    result = gpu.collect(ctx)
    assert result.warnings == []
    assert result.data["toolkits"] == [] and result.data["driver"] is None
    assert result.data["verdict"] == ["No GPU and no CUDA software found: this environment runs on the CPU only."]


@needs_local_toolkit
@no_driver
def test_recorded_root_with_toolkit_and_cudnn(tmp_path):
    """A root folder holding a real version.json and a real cuDNN 9.6.0 header, as a toolkit tree."""
    toolkit = tmp_path / "usr/local/cuda-12.8"
    (toolkit / "include").mkdir(parents=True)
    (toolkit / "bin").mkdir()
    shutil.copy(FIXTURES / "cuda/version-json/cuda-12.8.2_windows_version.json", toolkit / "version.json")
    shutil.copy(FIXTURES / "cuda/cudnn/v9.6.0/include/cudnn_version.h", toolkit / "include/cudnn_version.h")
    (tmp_path / "usr/local/cuda").symlink_to("cuda-12.8")
    ctx = ProbeContext(root=tmp_path, env={"PATH": "/nonexistent"}, home="/home/someone")
    result = gpu.collect(ctx)
    section = result.data
    assert gpu_schema_problems(section) == []
    assert section["toolkits"] == [{"path": "/usr/local/cuda-12.8", "version": "12.8.2", "nvcc_version": "12.8.93",
                                    "source": "version.json"}]
    assert section["cudnn"] == [{"version": "9.6.0", "path": "/usr/local/cuda-12.8/include/cudnn_version.h",
                                 "source": "header", "package": None}]
    assert section["driver"] is None
    assert any("not this machine's" in w.message for w in result.warnings)


@no_driver
def test_recorded_toolkit_without_any_version_evidence_is_a_warning(tmp_path):
    """A toolkit folder (bin/, include/, nvvm/) with no version.json, version.txt, cuda.h or runnable nvcc:
    recorded without a version, and said so."""
    toolkit = tmp_path / "usr/local/cuda-12.8"
    for folder in ("include", "bin", "nvvm"):
        (toolkit / folder).mkdir(parents=True)
    result = gpu.collect(ProbeContext(root=tmp_path, env={"PATH": "/nonexistent"}, home="/home/someone"))
    assert result.data["toolkits"] == [{"path": "/usr/local/cuda-12.8", "version": None, "nvcc_version": None,
                                        "source": None}]
    assert [w.message for w in result.warnings if "gave its version" in w.message] == \
        ["CUDA toolkit /usr/local/cuda-12.8: no version.json, version.txt, nvcc or include/cuda.h gave its version"]
    assert result.data["mps"] is None  # a recorded root: this process's platform says nothing about it


@no_driver
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the live answer on Linux")
def test_apple_gpu_is_false_on_this_linux_machine(tmp_path):
    result = gpu.collect(ProbeContext(env={"PATH": str(tmp_path)}))
    assert result.data["mps"] is False


def _hanging_nvidia_smi(folder: Path) -> Path:
    script = folder / "nvidia-smi"
    # exec: the timeout's kill reaches the sleeping process itself, as it would a hung nvidia-smi.
    script.write_text("#!/bin/sh\nexec sleep 600\n")
    script.chmod(0o755)
    return folder


@no_driver
def test_hanging_nvidia_smi_is_cut_off(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu, "TOOL_TIMEOUT", 1.0)
    folder = _hanging_nvidia_smi(tmp_path)
    ctx = ProbeContext(env={"PATH": f"{folder}:{os.environ.get('PATH', '')}"})
    start = time.perf_counter()
    result = gpu.collect(ctx)
    elapsed = time.perf_counter() - start
    assert elapsed < 5, f"probe waited {elapsed:.1f} s on a hanging nvidia-smi"
    messages = " ".join(w.message for w in result.warnings)
    assert "nvidia-smi --query-gpu" in messages and "did not answer within 1 s" in messages
    assert "-q -x" not in messages  # a hung nvidia-smi is not asked twice
    assert result.data["driver"] is None and result.data["devices"] == []


@no_driver
def test_hanging_nvidia_smi_freeze_subprocess(tmp_path):
    folder = _hanging_nvidia_smi(tmp_path)
    env = dict(os.environ, PATH=f"{folder}:{os.environ.get('PATH', '')}", PYTHONPATH=str(REPO))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "envcapture", "freeze", "-o", "-"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 30
    manifest = json.loads(proc.stdout)
    gpu_warnings = [w["message"] for w in manifest["warnings"] if w["source"] == "gpu"]
    assert any("did not answer within 3 s" in message for message in gpu_warnings), gpu_warnings
    assert gpu_schema_problems(manifest["gpu"]) == []


def _replaying_nvidia_smi(folder: Path) -> Path:
    """An nvidia-smi that answers the probe's two commands with what the real one printed on the H100 machine
    (tests/fixtures/gpu/h100/), and refuses anything else: the probe's nvidia-smi path run end to end."""
    h100 = FIXTURES / "h100"
    fields = "index,name,memory.total,compute_cap,driver_version,pci.bus_id,mig.mode.current"
    script = folder / "nvidia-smi"
    script.write_text(f"""#!/bin/sh
case "$*" in
  "--query-gpu={fields} --format=csv,noheader") exec cat "{h100}/query-gpu.csv" ;;
  "-q -x") exec cat "{h100}/nvidia-smi-q-x.xml" ;;
  *) echo "unexpected arguments: $*" >&2; exit 2 ;;
esac
""")
    script.chmod(0o755)
    return folder


@no_driver
@pytest.mark.parametrize("include_host", [False, True])
def test_nvidia_smi_fallback_on_recorded_h100_outputs(tmp_path, include_host):
    folder = _replaying_nvidia_smi(tmp_path)
    ctx = ProbeContext(env={"PATH": f"{folder}:{os.environ.get('PATH', '')}"}, include_host=include_host)
    result = gpu.collect(ctx)
    section = result.data
    assert gpu_schema_problems(section) == []
    assert section["vendor"] == "nvidia"
    assert section["driver"] == {"version": "580.159.04", "cuda_version": "13.0", "source": "nvidia-smi"}
    [device] = section["devices"]
    assert (device["name"], device["compute_capability"], device["architecture"]) == \
        ("NVIDIA H100 80GB HBM3", "9.0", "Hopper")
    assert device["uuid"] == ("GPU-00000000-0000-0000-0000-000000000000" if include_host else None)
    recorded = json.loads((FIXTURES / "h100/probe.json").read_text())["smi_fallback"]["data"]["devices"][0]
    assert {k: v for k, v in device.items() if k != "uuid"} == {k: v for k, v in recorded.items() if k != "uuid"}
    messages = [w.message for w in result.warnings]
    assert any(m.startswith("NVML could not be used, facts come from fallbacks: NVML: libnvidia-ml.so.1")
               for m in messages), messages


def test_target_distributions_feed_wheels_and_frameworks(tmp_path):
    """ctx.target as the target probe gives it; a hostile version never reaches the section."""
    target = {"distributions": [
        {"name": "torch", "version": "2.5.1+cu121", "requires": [], "path": str(tmp_path / "torch.dist-info")},
        {"name": "nvidia-cudnn-cu12", "version": "9.1.0.70", "requires": [],
         "path": str(tmp_path / "nvidia_cudnn_cu12-9.1.0.70.dist-info")},
        {"name": "nvidia-nccl-cu12", "version": "2.21.5\n; rm -rf /", "requires": [], "path": None},
    ], "deep": None}
    result = gpu.collect(ProbeContext(root=tmp_path, env={"PATH": "/nonexistent"}, target=target))
    section = result.data
    assert gpu_schema_problems(section) == []
    assert [w["name"] for w in section["cuda_wheels"]] == ["nvidia-cudnn-cu12"]
    assert [(f["name"], f["cuda"]) for f in section["frameworks"]] == [("torch", "12.1")]
    assert section["cudnn"] == [{"version": "9.1.0.70", "path": str(tmp_path), "source": "wheel",
                                 "package": "nvidia-cudnn-cu12"}]
    assert any("nvidia-nccl-cu12" in w.message and "PEP 440" in w.message for w in result.warnings)
    assert any("no NVIDIA driver found" in w.message for w in result.warnings)


@no_driver
def test_recorded_root_with_rocm(tmp_path):
    """/opt/rocm -> rocm-7.2.4 with .info/version as ROCm installs it ('7.2.4'): an AMD section, said in the
    verdict with its real folder; a ROCm whose folder the grammar refuses is at 'an unknown path'."""
    from envcapture.probes.gpu_verdict import verdict

    (tmp_path / "opt/rocm-7.2.4/.info").mkdir(parents=True)
    (tmp_path / "opt/rocm-7.2.4/.info/version").write_text("7.2.4\n")
    (tmp_path / "opt/rocm").symlink_to("rocm-7.2.4")
    result = gpu.collect(ProbeContext(root=tmp_path, env={"PATH": "/nonexistent"}, home="/home/someone"))
    section = result.data
    assert gpu_schema_problems(section) == []
    assert (section["vendor"], section["rocm"]) == ("amd", {"version": "7.2.4", "path": "/opt/rocm-7.2.4"})
    assert "AMD ROCm 7.2.4 found at /opt/rocm-7.2.4." in section["verdict"]
    assert "AMD ROCm 7.2.4 found at an unknown path." in verdict({**section, "rocm": {"version": "7.2.4",
                                                                                       "path": None}})


@no_driver
def test_libcuda_without_nvml_or_nvidia_smi(tmp_path, monkeypatch):
    """A driver whose libnvidia-ml is missing (as here: the real load fails) and no nvidia-smi, but whose libcuda
    answers: the CUDA version the recorded H100's libcuda gave (13.0, encoded 13000), the driver version unknown
    and said so with the reasons. libcuda is a stand-in: no GPU driver here."""
    from envcapture.probes import gpu_nvml

    class RecordedLibcuda:
        def cuDriverGetVersion(self, version):
            version._obj.value = 13000
            return 0

    real_load = gpu_nvml.load_library
    monkeypatch.setattr(gpu_nvml, "load_library", lambda linux, windows: RecordedLibcuda()
                        if linux == "libcuda.so.1" else real_load(linux, windows))
    result = gpu.collect(ProbeContext(env={"PATH": str(tmp_path)}))
    assert result.data["driver"] == {"version": None, "cuda_version": "13.0", "source": "libcuda"}
    [warning] = [w.message for w in result.warnings if "driver version unknown" in w.message]
    assert warning.startswith("NVIDIA driver version unknown: NVML: libnvidia-ml.so.1 cannot be loaded")
    assert warning.endswith("; nvidia-smi: not on PATH")
    assert gpu_schema_problems(result.data) == []
