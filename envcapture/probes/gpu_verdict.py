"""The plain-language verdict: what the recorded GPU facts mean for someone who wants to run this code.

Pure: the gpu section (without its verdict) in, a list of sentences out.
"""

from __future__ import annotations

_PRETTY = {"torch": "PyTorch", "tensorflow": "TensorFlow", "tensorflow-gpu": "TensorFlow", "jax": "JAX",
           "cupy": "CuPy", "paddlepaddle-gpu": "PaddlePaddle", "onnxruntime-gpu": "ONNX Runtime"}


def version_tuple(text: str | None) -> tuple[int, ...]:
    parts = []
    for part in (text or "").split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


_USES_CUDNN = {"torch", "tensorflow", "tensorflow-gpu", "jax", "paddlepaddle-gpu"}


def pretty(record: dict) -> str:
    """'PyTorch 2.11.0+cu130': the version the framework reports at run time when --deep recorded it."""
    name = record["name"]
    label = _PRETTY.get(name) or ("CuPy" if name.startswith("cupy-") else name)
    runtime = record.get("runtime") if isinstance(record.get("runtime"), dict) else {}
    version = runtime.get("version") if isinstance(runtime.get("version"), str) else record["version"]
    return f"{label} {version}"


def runtime_cudnn(record: dict) -> str | None:
    from envcapture.probes.gpu_python import cudnn_text

    runtime = record.get("runtime") if isinstance(record.get("runtime"), dict) else {}
    return cudnn_text(runtime.get("cudnn"))


def _wheel_cudnn(section: dict) -> str | None:
    return next((copy["version"] for copy in section.get("cudnn") or [] if copy.get("source") == "wheel"), None)


def _brings_runtime(section: dict, major: int | None) -> bool:
    return any(wheel["name"].startswith("nvidia-cuda-runtime") and wheel.get("cuda_major") == major
               for wheel in section.get("cuda_wheels") or [])


def _runtime_cuda(record: dict) -> str | None:
    runtime = record.get("runtime") or {}
    value = runtime.get("cuda") if isinstance(runtime, dict) else None
    return value if isinstance(value, str) else None


def framework_sentences(section: dict, record: dict) -> list[str]:
    driver = section.get("driver") or {}
    driver_cuda = driver.get("cuda_version")
    cuda = _runtime_cuda(record) or record.get("cuda")
    sentences = []
    if record.get("rocm"):
        return [f"{pretty(record)} is a ROCm {record['rocm']} build: it needs an AMD GPU and ROCm driver, "
                f"not an NVIDIA one."]
    if not cuda:
        if record["name"] in ("torch", "tensorflow", "jax") and record.get("source") is None:
            return [f"{pretty(record)}: no CUDA build found in its metadata (a CPU build, or one whose CUDA "
                    f"version is only known at import; freeze --deep records it)."]
        return []
    wanted = version_tuple(cuda)
    cudnn = (runtime_cudnn(record) or _wheel_cudnn(section) or record.get("cudnn")) \
        if record["name"] in _USES_CUDNN else None
    own = _brings_runtime(section, wanted[0] if wanted else None)
    if own:
        extra = f" and cuDNN {cudnn}" if cudnn else ""
        sentences.append(f"{pretty(record)} brings its own CUDA {cuda} runtime{extra} from pip wheels: "
                         f"a host driver that supports CUDA {cuda} is all it needs.")
    else:
        sentences.append(f"{pretty(record)} was built for CUDA {cuda}; no matching nvidia-cuda-runtime wheel is "
                         f"installed, so it uses the CUDA libraries it finds on the system.")
    have = version_tuple(driver_cuda)
    if not driver.get("version") and not driver_cuda:
        sentences.append(f"No NVIDIA driver here: {pretty(record)} runs on the CPU only on this machine; on a "
                         f"GPU machine it needs a driver that supports CUDA {cuda} or newer.")
    elif have and wanted:
        if have[0] < wanted[0]:
            sentences.append(f"The driver supports CUDA {driver_cuda} but {pretty(record)} was built for "
                             f"{cuda}: this environment cannot use the GPU until the driver is updated.")
        elif have < wanted:
            sentences.append(f"The driver supports CUDA {driver_cuda}, older than the {cuda} that "
                             f"{pretty(record)} was built for: it runs only through CUDA minor-version "
                             f"compatibility, and kernels that need a newer driver (PTX JIT) fail; update the "
                             f"driver to one that supports CUDA {cuda}.")
    runtime = record.get("runtime") if isinstance(record.get("runtime"), dict) else None
    if runtime is not None and runtime.get("error"):
        sentences.append(f"{pretty(record)} failed to import (freeze --deep): {runtime['error']}")
    if runtime is not None and runtime.get("cuda_available") is False and section.get("devices"):
        sentences.append(f"{pretty(record)} reported CUDA as unavailable although "
                         f"{len(section['devices'])} GPU(s) are present.")
    return sentences


def driver_sentence(section: dict) -> str | None:
    driver = section.get("driver") or {}
    devices = section.get("devices") or []
    if not driver.get("version") and not devices:
        return None
    kinds: dict[str, int] = {}
    for device in devices:
        details = ", ".join(part for part in (device.get("architecture"), device.get("compute_capability") and
                                              f"compute capability {device['compute_capability']}") if part)
        key = f"{device['name']} ({details})" if details else device["name"]
        kinds[key] = kinds.get(key, 0) + 1
    described = "; ".join(f"{count}x {key}" if count > 1 else key for key, count in kinds.items()) \
        or "none visible"
    mig = [device for device in devices if device.get("mig_mode") == "Enabled"]
    mig_text = f"; MIG enabled on {len(mig)} GPU(s)" if mig else ""
    return (f"NVIDIA driver {driver.get('version') or '(version unknown)'} supports CUDA up to "
            f"{driver.get('cuda_version') or 'an unknown version'}; {len(devices)} GPU(s): {described}{mig_text}.")


def toolkit_sentences(section: dict) -> list[str]:
    toolkits = section.get("toolkits") or []
    driver_cuda = (section.get("driver") or {}).get("cuda_version")
    sentences = []
    for toolkit in toolkits:
        version = toolkit.get("version") or "of unknown version"
        nvcc = f" (nvcc {toolkit['nvcc_version']})" if toolkit.get("nvcc_version") else ""
        text = f"CUDA toolkit {version} at {toolkit['path']}{nvcc}: used to compile CUDA code (extensions, JIT); " \
               f"frameworks from pip wheels do not load it."
        if driver_cuda and version_tuple(toolkit.get("version"))[:2] > version_tuple(driver_cuda)[:2]:
            text += f" It is newer than the driver's CUDA {driver_cuda}: programs it builds need a newer driver."
        sentences.append(text)
    return sentences


def cudnn_sentence(section: dict) -> str | None:
    copies = section.get("cudnn") or []
    by_version: dict[str, list[str]] = {}
    for copy in copies:
        key = ".".join(copy["version"].split(".")[:3])
        by_version.setdefault(key, []).append(copy.get("package") or copy["source"])
    if len(by_version) < 2:
        return None
    where = "; ".join(f"{version} ({', '.join(sources)})"
                      for version, sources in sorted(by_version.items(), key=lambda item: version_tuple(item[0])))
    loaded = [f"{pretty(record)} loads {runtime_cudnn(record)}" for record in section.get("frameworks") or []
              if runtime_cudnn(record)]
    tail = f" At run time {', '.join(loaded)}." if loaded else \
        " Which one a program loads depends on its library search path; pip-wheel frameworks load their wheel's."
    return f"Several cuDNN versions are installed: {where}.{tail}"


def verdict(section: dict) -> list[str]:
    sentences: list[str] = []
    sentence = driver_sentence(section)
    if sentence:
        sentences.append(sentence)
    for record in section.get("frameworks") or []:
        sentences.extend(framework_sentences(section, record))
    sentences.extend(toolkit_sentences(section))
    sentence = cudnn_sentence(section)
    if sentence:
        sentences.append(sentence)
    has_driver = bool((section.get("driver") or {}).get("version"))
    if section.get("toolkits") and not has_driver and not any(
            record.get("cuda") for record in section.get("frameworks") or []):
        sentences.append("No NVIDIA driver: CUDA code can be compiled here but not run on a GPU.")
    if section.get("rocm"):
        rocm = section["rocm"]
        sentences.append(f"AMD ROCm {rocm.get('version') or '(version unknown)'} found at "
                         f"{rocm.get('path') or 'an unknown path'}.")
    if section.get("mps"):
        sentences.append("Apple GPU: PyTorch can use it through Metal Performance Shaders (device 'mps').")
    if not sentences:
        sentences.append("No GPU and no CUDA software found: this environment runs on the CPU only.")
    return sentences
