"""The determinism probe: allow-listed variables only, thread settings, --deep passthrough, and the warnings
for common traps."""

from __future__ import annotations

import json
import os

from envcapture.probes import ProbeContext, determinism


def collect(env: dict, distributions=(), deep=None):
    target = {"distributions": [{"name": name, "version": "1.0"} for name in distributions]}
    if deep is not None:
        target["deep"] = deep
    return determinism.collect(ProbeContext(env=env, target=target))


def test_only_allow_listed_variables_are_recorded(section_problems):
    env = {"PYTHONHASHSEED": "0", "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "OMP_NUM_THREADS": "4",
           "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "HF_TOKEN": "hf_" + "x" * 34,
           "HOME": "/home/alice", "USER": "alice"}
    data = collect(env).data
    assert data["environment"] == {"PYTHONHASHSEED": "0", "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
                                   "OMP_NUM_THREADS": "4"}
    text = json.dumps(data)
    assert "wJalrXUtnFEMI" not in text and "hf_" not in text and "alice" not in text
    assert section_problems("determinism", data) == []


def test_unset_hash_seed_is_recorded_as_null_with_a_warning(section_problems):
    data = collect({}).data
    assert data["environment"] == {"PYTHONHASHSEED": None}
    assert len(data["warnings"]) == 1 and data["warnings"][0].startswith("PYTHONHASHSEED is unset")
    assert section_problems("determinism", data) == []


def test_torch_without_cublas_workspace_config():
    assert any("CUBLAS_WORKSPACE_CONFIG" in w for w in collect({"PYTHONHASHSEED": "0"}, ["torch"]).data["warnings"])
    assert collect({"PYTHONHASHSEED": "0", "CUBLAS_WORKSPACE_CONFIG": ":16:8"}, ["torch"]).data["warnings"] == []
    assert collect({"PYTHONHASHSEED": "0"}, ["numpy"]).data["warnings"] == []


def test_tensorflow_without_deterministic_ops():
    warned = collect({"PYTHONHASHSEED": "1"}, ["tensorflow_cpu"]).data["warnings"]
    assert len(warned) == 1 and "TF_DETERMINISTIC_OPS" in warned[0]
    assert collect({"PYTHONHASHSEED": "1", "TF_DETERMINISTIC_OPS": "1"}, ["tensorflow"]).data["warnings"] == []


def test_threads(section_problems):
    data = collect({"OMP_NUM_THREADS": "8", "MKL_NUM_THREADS": "auto", "OPENBLAS_NUM_THREADS": " 2 "}).data
    threads = data["threads"]
    assert threads["cpu_count"] == os.cpu_count()
    if hasattr(os, "sched_getaffinity"):
        assert threads["affinity"] == len(os.sched_getaffinity(0))
    assert (threads["OMP_NUM_THREADS"], threads["MKL_NUM_THREADS"], threads["OPENBLAS_NUM_THREADS"]) == (8, None, 2)
    assert "NUMEXPR_NUM_THREADS" not in threads
    assert section_problems("determinism", data) == []


def test_many_cores_without_thread_settings():
    ctx = ProbeContext(env={"PYTHONHASHSEED": "0"}, target={})
    env = {"PYTHONHASHSEED": "0"}
    assert any("thread count" in w for w in determinism.traps(ctx, env, {"cpu_count": 64, "affinity": 64}))
    assert determinism.traps(ctx, env, {"cpu_count": 64, "affinity": 2}) == []
    pinned = ProbeContext(env={"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}, target={})
    assert determinism.traps(pinned, env, {"cpu_count": 64, "affinity": 64}) == []


def test_many_cores_without_an_affinity_mask():
    """macOS and Windows have no affinity mask (threads() records None): the CPU count decides alone."""
    ctx = ProbeContext(env={"PYTHONHASHSEED": "0"}, target={})
    env = {"PYTHONHASHSEED": "0"}
    found = determinism.traps(ctx, env, {"cpu_count": 64, "affinity": None})
    assert len(found) == 1 and "machine with 64 usable CPUs" in found[0]
    assert determinism.traps(ctx, env, {"cpu_count": 7, "affinity": None}) == []
    assert determinism.traps(ctx, env, {"cpu_count": None, "affinity": None}) == []


def test_deep_facts_pass_through(section_problems):
    deep = {"numpy": {"version": "2.1.0", "blas": "openblas64_", "openblas configuration": "Haswell MAX_THREADS=64"},
            "torch": {"deterministic_algorithms": False, "cudnn_benchmark": False}}
    data = collect({"PYTHONHASHSEED": "0"}, deep=deep).data
    assert data["deep"] == deep
    assert collect({}).data["deep"] is None
    assert section_problems("determinism", data) == []


def test_control_characters_in_a_value_are_not_recorded(section_problems):
    result = collect({"PYTHONHASHSEED": "0", "XLA_FLAGS": "--xla_gpu_deterministic_ops\n; rm -rf /"})
    assert "XLA_FLAGS" not in result.data["environment"]
    assert result.warnings and "XLA_FLAGS" in result.warnings[0].message
    assert section_problems("determinism", result.data) == []


def test_this_machine(section_problems):
    assert section_problems("determinism", determinism.collect(ProbeContext()).data) == []
