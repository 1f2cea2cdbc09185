"""CUDA toolkit and cuDNN version evidence, on files recorded from real installs."""

from pathlib import Path

import pytest

from envcapture.probes import gpu_cuda
from envcapture.probes.gpu_nvidia_smi import ParseError

from gpu_fixtures import fixture_text


@pytest.mark.parametrize("name, release, full", [
    ("nvcc-version_11.4_jetson-xavier-aarch64.txt", "11.4", "11.4.239"),
    ("nvcc-version_11.7_windows-crlf.txt", "11.7", "11.7.64"),
    ("nvcc-version_13.1_gh200-aarch64.txt", "13.1", "13.1.115"),
])
def test_nvcc_version(name, release, full):
    assert gpu_cuda.parse_nvcc_version(fixture_text(f"cuda/nvcc/{name}")) == (release, full)


def test_nvcc_version_from_h100_capture_log():
    assert gpu_cuda.parse_nvcc_version(fixture_text("h100/capture.log")) == ("13.0", "13.0.88")


def test_version_json():
    text = fixture_text("cuda/version-json/cuda-12.8.2_windows_version.json")
    assert gpu_cuda.parse_version_json(text) == ("12.8.2", "12.8.93")


def test_bad_version_files_are_refused():
    with pytest.raises(ParseError):
        gpu_cuda.parse_version_json("not json")
    with pytest.raises(ParseError):
        gpu_cuda.parse_version_txt("nothing here")
    with pytest.raises(ParseError):
        gpu_cuda.parse_nvcc_version("nvcc: command not found")


@pytest.mark.parametrize("path, version", [
    ("cuda/cudnn/v7.2.1/include/cudnn.h", "7.2.1"),
    ("cuda/cudnn/v8.2.1/include/cudnn_version.h", "8.2.1"),
    ("cuda/cudnn/v8.9.1/include/cudnn_version.h", "8.9.1"),
    ("cuda/cudnn/v9.6.0/include/cudnn_version.h", "9.6.0"),
])
def test_cudnn_header(path, version):
    assert gpu_cuda.parse_cudnn_header(fixture_text(path)) == version


def test_cudnn_header_without_version_is_refused():
    with pytest.raises(ParseError):
        gpu_cuda.parse_cudnn_header("#include <cudnn_version.h>\n")


def test_ldconfig_lines_from_h100_capture():
    entries = dict(gpu_cuda.parse_ldconfig(fixture_text("h100/capture.log")))
    assert entries["libcudnn.so.9"] == "/lib/x86_64-linux-gnu/libcudnn.so.9"
    assert entries["libnvidia-ml.so.1"] in ("/usr/local/nvidia/lib64/libnvidia-ml.so.1", "/lib/libnvidia-ml.so.1")


def test_ldconfig_here_is_parsed(tmp_path):
    import subprocess

    text = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    entries = gpu_cuda.parse_ldconfig(text)
    assert any(soname.startswith("libc.so") for soname, _ in entries)


@pytest.mark.parametrize("name, version", [("libcudnn.so.9.14.0", "9.14.0"), ("libcudnn.so.8", "8"),
                                           ("cudnn64_9.dll", "9"), ("libcudnn_ops.so.9", None),
                                           ("libcudnn.so", None)])
def test_cudnn_version_from_library_name(name, version):
    assert gpu_cuda.cudnn_version_from_library(name) == version


LOCAL_CUDA_H = Path("/usr/local/cuda/include/cuda.h")


@pytest.mark.skipif(not LOCAL_CUDA_H.is_file() or Path("/usr/local/cuda").resolve().name != "cuda-13.0",
                    reason="needs the CUDA 13.0 toolkit at /usr/local/cuda (/usr/local/cuda-13.0) of the development machines")
def test_cuda_h_version_here():
    text = LOCAL_CUDA_H.read_text(encoding="utf-8", errors="replace")
    assert gpu_cuda.parse_cuda_h_version(text) == "13.0"
