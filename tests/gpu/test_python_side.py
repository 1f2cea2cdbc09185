"""CUDA wheels and framework builds from distribution metadata (no import), and the --deep runtime view."""

import pytest

from envcapture.probes import gpu_python


def _dists(h100_freeze):
    return [{"name": p["name"], "version": p["version"], "requires": p["requires"]}
            for p in h100_freeze["python_packages"]]


def test_frameworks_from_real_h100_metadata(h100_freeze):
    records = {r["name"]: r for r in gpu_python.frameworks(_dists(h100_freeze))}
    # torch 2.11.0 (no local label in its dist-info) pins cuda-toolkit[...]==13.0.2 and nvidia-cudnn-cu13.
    assert (records["torch"]["cuda"], records["torch"]["cudnn"]) == ("13.0", "9.19.0.56")
    assert records["jax"]["cuda"] == "13.0"  # from jax-cuda13-plugin's nvidia-cuda-runtime>=13.0.48
    assert records["cupy-cuda13x"]["cuda"] == "13"
    assert all(r["source"] == "metadata" for r in records.values())


@pytest.mark.parametrize("version, cuda, rocm", [
    ("2.5.1+cu121", "12.1", None), ("2.11.0+cu130", "13.0", None), ("1.13.1+cu117", "11.7", None),
    ("2.4.0+rocm6.1", None, "6.1"), ("2.5.1+cpu", None, None),
])
def test_torch_local_labels(version, cuda, rocm):
    [record] = gpu_python.frameworks([{"name": "torch", "version": version, "requires": []}])
    assert (record["cuda"], record["rocm"]) == (cuda, rocm)


def test_cuda12_wheel_pins():
    requires = ['nvidia-cuda-runtime-cu12==12.4.127; platform_system == "Linux" and platform_machine == "x86_64"',
                'nvidia-cudnn-cu12==9.1.0.70; platform_system == "Linux" and platform_machine == "x86_64"']
    [record] = gpu_python.frameworks([{"name": "torch", "version": "2.5.1", "requires": requires}])
    assert (record["cuda"], record["cudnn"]) == ("12.4", "9.1.0.70")


@pytest.mark.parametrize("name, version, major", [
    ("nvidia-cudnn-cu12", "9.1.0.70", 12), ("nvidia-nccl-cu13", "2.28.9", 13), ("nvidia_cublas_cu11", "11.11.3.6", 11),
    ("nvidia-cuda-runtime", "13.0.96", 13), ("nvidia-cufft", "12.0.0.61", None), ("cupy-cuda12x", "13.3.0", 12),
    ("jax-cuda12-plugin", "0.4.35", 12), ("cuda-bindings", "13.3.1", 13),
])
def test_wheel_cuda_major(name, version, major):
    assert gpu_python.is_cuda_wheel(name)
    assert gpu_python.wheel_cuda_major(name, version) == major


@pytest.mark.parametrize("name", ["numpy", "nvidia-ml-py", "cuda-pathfinder", "torch"])
def test_not_cuda_wheels(name):
    assert not gpu_python.is_cuda_wheel(name)


@pytest.mark.parametrize("value, text", [(91900, "9.19.0"), (90100, "9.1.0"), (8902, "8.9.2"), (7605, "7.6.5"),
                                         (None, None), ("91300", "9.13.0"), (True, None),
                                         # cuDNN 9's largest minor (99): its hundreds do not spill into the minor
                                         (99900, "9.99.0"), (99901, "9.99.1"),
                                         # what torch reports when cuDNN is absent, or a damaged number
                                         (0, None), (-1, None), ("0", None)])
def test_cudnn_runtime_numbers(value, text):
    assert gpu_python.cudnn_text(value) == text


def test_runtime_view_is_attached_and_kept_to_one_line():
    records = gpu_python.frameworks([{"name": "torch", "version": "2.11.0", "requires": []}])
    gpu_python.merge_runtime(records, {"torch": {"version": "2.11.0+cu130", "cuda": "13.0",
                                                 "note": "two\nlines"}, "errors": {}})
    assert records[0]["runtime"] == {"version": "2.11.0+cu130", "cuda": "13.0", "note": "two lines"}


def test_failed_import_becomes_the_runtime_fact():
    records = gpu_python.frameworks([{"name": "tensorflow", "version": "2.18.0", "requires": []}])
    gpu_python.merge_runtime(records, {"errors": {"tensorflow": "ImportError: libcudart.so.12: cannot open"}})
    assert records[0]["runtime"] == {"error": "ImportError: libcudart.so.12: cannot open"}
