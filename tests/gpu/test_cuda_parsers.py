"""CUDA toolkit and cuDNN version evidence, on files recorded from real installs."""

from pathlib import Path

import pytest

from envcapture.probes import gpu_cuda
from envcapture.probes.gpu_nvidia_smi import ParseError

from gpu_fixtures import FIXTURES, fixture_text


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


def test_cudnn_libraries_in_the_h100_library_folder(tmp_path):
    """Every libcudnn* name the H100's ldconfig listed, plus the versioned file the probe recorded there
    (libcudnn.so.9.14.0): only libcudnn.so.<version> counts, in name order, as paths in that folder."""
    import json
    import re

    names = set(re.findall(r"\b(libcudnn[a-z_]*\.so(?:\.[0-9.]+)?)\s", fixture_text("h100/capture.log")))
    recorded = [Path(entry["path"]).name for entry in json.loads(fixture_text("h100/probe.json"))["nvml"]["data"]
                ["cudnn"] if entry["source"] == "library"]
    assert recorded == ["libcudnn.so.9.14.0"] and "libcudnn_ops.so.9" in names
    for name in names | set(recorded):
        (tmp_path / name).write_bytes(b"")
    assert gpu_cuda.cudnn_libraries_in(tmp_path) == [tmp_path / "libcudnn.so.9", tmp_path / "libcudnn.so.9.14.0"]
    assert gpu_cuda.cudnn_libraries_in(tmp_path / "missing") == []


@pytest.mark.parametrize("version, header", [("v9.6.0", "cudnn_version.h"), ("v8.9.1", "cudnn_version.h"),
                                             ("v7.2.1", "cudnn.h")])
def test_cudnn_header_of_each_recorded_install(version, header):
    folder = FIXTURES / "cuda" / "cudnn" / version / "include"
    assert gpu_cuda.cudnn_headers_in(folder) == [folder / header]


def test_a_toolkit_link_resolves_inside_the_root(tmp_path):
    """/usr/local/cuda -> cuda-12.8 in a recorded root: the real folder, as a path inside that root; this
    machine's own link the same way."""
    (tmp_path / "usr/local/cuda-12.8").mkdir(parents=True)
    (tmp_path / "usr/local/cuda").symlink_to("cuda-12.8")

    def inside(path: str) -> Path:
        return tmp_path / path.lstrip("/")

    assert gpu_cuda.real_toolkit_root(inside, Path("/usr/local/cuda")) == "/usr/local/cuda-12.8"
    assert gpu_cuda.real_toolkit_root(inside, Path("/")) == "/"
    if Path("/usr/local/cuda").is_symlink():
        assert gpu_cuda.real_toolkit_root(Path, Path("/usr/local/cuda")) == str(Path("/usr/local/cuda").resolve())
