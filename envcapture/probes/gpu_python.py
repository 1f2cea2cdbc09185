"""What the target interpreter's installed distributions say about CUDA, without importing anything.

- CUDA-bearing wheels (nvidia-*-cu12, the unsuffixed CUDA 13 nvidia-* wheels, cupy-cuda13x, jax-cuda13-plugin,
  cuda-bindings, ...) and the CUDA major each targets.
- Frameworks (torch, tensorflow, jax, cupy): the CUDA/ROCm build from the local version label (+cu130,
  +rocm6.2) or from the pins on the NVIDIA runtime wheels in their requirements; with --deep, the runtime
  view the target probe imported.
"""

from __future__ import annotations

import re

from envcapture.manifest.grammar import canonical_name

_SUFFIX_MAJOR = [
    re.compile(r"-cu([0-9]{2,3})$"),            # nvidia-cudnn-cu12, nvidia-nccl-cu13, nvidia-cudnn-cu118?
    re.compile(r"^cupy-cuda([0-9]{2,3})x?$"),   # cupy-cuda12x, cupy-cuda13x, cupy-cuda117
    re.compile(r"-cuda([0-9]{2})(?:-|$)"),      # jax-cuda12-plugin, jax-cuda13-pjrt
    re.compile(r"-cuda([0-9]{3})$"),            # nvidia-dali-cuda120
]
# Unsuffixed wheels whose own major version is the CUDA major (CUDA 13 dropped the -cuNN suffix).
_VERSION_IS_CUDA = {"nvidia-cuda-runtime", "nvidia-cuda-nvrtc", "nvidia-cuda-cupti", "nvidia-cuda-nvcc",
                    "nvidia-cuda-cccl", "nvidia-cuda-crt", "nvidia-cublas", "nvidia-nvjitlink", "nvidia-nvvm",
                    "nvidia-cuda-culibos", "nvidia-cuda-cuxxfilt", "nvidia-cuda-profiler-api",
                    "cuda-bindings", "cuda-python", "cuda-toolkit"}
_CUDA_LIBRARY = re.compile(r"^nvidia-(cuda|cu|nccl|nvjitlink|nvtx|nvshmem|nvvm|cudnn|npp|nvjpeg|cusparselt|"
                           r"nvcomp|cufile|nvml-dev)")
_RUNTIME_PIN = re.compile(r"^(nvidia-cuda-runtime(?:-cu[0-9]+)?|cuda-toolkit)\s*(?:\[[^\]]*\])?\s*"
                          r"(==|~=|>=)\s*([0-9]+(?:\.[0-9]+)*)")
_CUDNN_PIN = re.compile(r"^nvidia-cudnn-cu[0-9]+\s*(==|~=|>=)\s*([0-9]+(?:\.[0-9]+)*)")
# 'nvidia-cudnn-cu13<10.0,>=9.12.0.46': the floor, as jax's plugin states it.
_CUDNN_FLOOR = re.compile(r"^nvidia-cudnn-cu[0-9]+\s*[^;]*?>=\s*([0-9]+(?:\.[0-9]+)*)")
_LOCAL_CUDA = re.compile(r"\+cu([0-9]+)")
_LOCAL_ROCM = re.compile(r"\+rocm([0-9]+(?:\.[0-9]+)*)")
FRAMEWORKS = ("torch", "tensorflow", "tensorflow-gpu", "jax", "cupy", "paddlepaddle-gpu", "onnxruntime-gpu")


def _major_from_digits(digits: str) -> int:
    # cu118 -> 11, cu121 -> 12, cu12 -> 12, cu130 -> 13
    return int(digits[:2]) if len(digits) >= 2 else int(digits)


def cuda_from_label_digits(digits: str) -> str:
    """'130' -> '13.0', '118' -> '11.8', '12' -> '12'."""
    return f"{digits[:2]}.{digits[2:]}" if len(digits) == 3 else digits


def wheel_cuda_major(name: str, version: str) -> int | None:
    normalized = canonical_name(name)
    for pattern in _SUFFIX_MAJOR:
        match = pattern.search(normalized)
        if match:
            return _major_from_digits(match.group(1))
    if normalized in _VERSION_IS_CUDA:
        major = version.split(".")[0]
        return int(major) if major.isdigit() else None
    return None


def is_cuda_wheel(name: str) -> bool:
    normalized = canonical_name(name)
    return bool(_CUDA_LIBRARY.match(normalized)) or normalized in _VERSION_IS_CUDA \
        or any(pattern.search(normalized) for pattern in _SUFFIX_MAJOR[1:])


def cuda_wheels(distributions: list[dict]) -> list[dict]:
    wheels = []
    for dist in distributions:
        name, version = dist.get("name") or "", dist.get("version") or ""
        if name and version and is_cuda_wheel(name):
            wheels.append({"name": canonical_name(name), "version": version,
                           "cuda_major": wheel_cuda_major(name, version)})
    return sorted(wheels, key=lambda wheel: wheel["name"])


def _pinned(requires: list[str], pattern: re.Pattern) -> str | None:
    for requirement in requires or []:
        match = pattern.match(requirement.strip())
        if match:
            return match.groups()[-1]
    return None


def _major_minor(version: str | None) -> str | None:
    if not version:
        return None
    parts = version.split(".")
    return ".".join(parts[:2])


def framework_record(dist: dict, by_name: dict[str, dict]) -> dict:
    name = canonical_name(dist["name"])
    version = dist.get("version") or ""
    requires = dist.get("requires") or []
    label_cuda = _LOCAL_CUDA.search(version)
    label_rocm = _LOCAL_ROCM.search(version)
    cuda = cuda_from_label_digits(label_cuda.group(1)) if label_cuda else _major_minor(_pinned(requires, _RUNTIME_PIN))
    cudnn = _pinned(requires, _CUDNN_PIN)
    if name == "jax":
        plugins = [other for key, other in sorted(by_name.items(), key=lambda item: not item[0].endswith("plugin"))
                   if re.match(r"^jax-cuda[0-9]+-(plugin|pjrt)$", key)]
        if plugins:
            # The plugin's floor on nvidia-cuda-runtime (>=13.0.48) names the CUDA it was built with.
            pinned = next((_major_minor(_pinned(plugin.get("requires") or [], _RUNTIME_PIN)) for plugin in plugins
                           if _pinned(plugin.get("requires") or [], _RUNTIME_PIN)), None)
            cudnn = next((_pinned(plugin.get("requires") or [], _CUDNN_FLOOR) for plugin in plugins
                          if _pinned(plugin.get("requires") or [], _CUDNN_FLOOR)), None)
            cuda = pinned or str(wheel_cuda_major(plugins[0]["name"], plugins[0].get("version") or ""))
    if name == "cupy":
        cuda = None  # a source build of cupy: CUDA found at import time, not recorded in metadata
    source = "metadata" if (cuda or cudnn or label_rocm) else None
    return {"name": name, "version": version, "cuda": cuda, "cudnn": cudnn,
            "rocm": label_rocm.group(1) if label_rocm else None, "source": source, "runtime": None}


def frameworks(distributions: list[dict]) -> list[dict]:
    by_name = {canonical_name(dist.get("name") or ""): dist for dist in distributions if dist.get("name")}
    records = []
    for dist in distributions:
        name = canonical_name(dist.get("name") or "")
        if name in FRAMEWORKS and dist.get("version"):
            records.append(framework_record(dist, by_name))
        elif re.match(r"^cupy-cuda[0-9]+x?$", name) and dist.get("version"):
            major = wheel_cuda_major(name, dist["version"])
            records.append({"name": name, "version": dist["version"], "cuda": str(major) if major else None,
                            "cudnn": None, "rocm": None, "source": "metadata", "runtime": None})
    return sorted(records, key=lambda record: record["name"])


def _runtime_text(value) -> object:
    """Deep facts go into the manifest as FACT data: strings single-line, nothing but JSON types."""
    if isinstance(value, str):
        return " ".join(value.split())[:4096]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_runtime_text(item) for item in list(value)[:1000]]
    if isinstance(value, dict):
        return {" ".join(str(key).split())[:200]: _runtime_text(item) for key, item in value.items()}
    return " ".join(str(value).split())[:4096]


def cudnn_text(value) -> str | None:
    """torch.backends.cudnn.version(): 91300 (cuDNN 9) or 8902 (cuDNN 8) -> '9.13.0' / '8.9.2'."""
    if isinstance(value, str) and re.match(r"^[0-9]+(\.[0-9]+)*$", value):
        if "." in value:
            return value
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    if value >= 90000:
        return f"{value // 10000}.{(value % 10000) // 100}.{value % 100}"
    return f"{value // 1000}.{(value % 1000) // 100}.{value % 100}"


def merge_runtime(records: list[dict], deep: dict | None) -> None:
    """Attach the --deep runtime view (what the framework itself reported after import)."""
    if not isinstance(deep, dict):
        return
    errors = deep.get("errors") if isinstance(deep.get("errors"), dict) else {}
    for record in records:
        view = deep.get(record["name"])
        if isinstance(view, dict):
            record["runtime"] = _runtime_text(view)
        elif record["name"] in errors:
            # The import failed: that is the runtime fact (a broken CUDA install often shows here first).
            record["runtime"] = {"error": _runtime_text(errors[record["name"]])}
