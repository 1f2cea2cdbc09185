"""CUDA toolkits and cuDNN copies on disk: where they are and which version each is.

Toolkits: CUDA_HOME / CUDA_PATH, /usr/local/cuda*, /opt/cuda, the conda prefix, nvcc on PATH. The version
comes from version.json (CUDA >= 11.1), version.txt (older), CUDA_VERSION in include/cuda.h, or
``nvcc --version``. cuDNN: headers (cudnn_version.h, cudnn.h for cuDNN 7), shared libraries (ldconfig -p and
the toolkits' lib folders; the version is in the file name), pip wheels, conda records.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from envcapture.probes.gpu_nvidia_smi import ParseError

_NVCC_RELEASE = re.compile(r"release\s+([0-9]+\.[0-9]+),\s*V([0-9][0-9.]*)")
_DEFINE = re.compile(r"^\s*#\s*define\s+(CUDNN_MAJOR|CUDNN_MINOR|CUDNN_PATCHLEVEL)\s+([0-9]+)\s*$", re.M)
_CUDA_H_VERSION = re.compile(r"^\s*#\s*define\s+CUDA_VERSION\s+([0-9]+)\s*$", re.M)
_VERSION_TXT = re.compile(r"CUDA Version\s+([0-9]+\.[0-9]+(?:\.[0-9]+)?)")
_LDCONFIG_LINE = re.compile(r"^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S.*)$")
_CUDNN_LIB = re.compile(r"^libcudnn\.so\.([0-9]+(?:\.[0-9]+)*)$")
_CUDNN_DLL = re.compile(r"^cudnn64_([0-9]+)\.dll$")


def parse_nvcc_version(text: str) -> tuple[str, str]:
    """``nvcc --version`` -> ('13.0', '13.0.88')."""
    match = _NVCC_RELEASE.search(text)
    if not match:
        raise ParseError("no 'release X.Y, VX.Y.Z' line in nvcc --version output")
    return match.group(1), match.group(2)


def parse_version_json(text: str) -> tuple[str | None, str | None]:
    """A toolkit's version.json -> (toolkit version, nvcc version)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ParseError(f"version.json is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ParseError("version.json is not a JSON object")

    def version_of(key: str) -> str | None:
        entry = data.get(key)
        value = entry.get("version") if isinstance(entry, dict) else None
        return value if isinstance(value, str) and re.match(r"^[0-9][0-9.]*$", value) else None

    return version_of("cuda"), version_of("cuda_nvcc")


def parse_version_txt(text: str) -> str:
    """'CUDA Version 10.2.89' (toolkits before 11.1) -> '10.2.89'."""
    match = _VERSION_TXT.search(text)
    if not match:
        raise ParseError("no 'CUDA Version X.Y' in version.txt")
    return match.group(1)


def parse_cuda_h_version(text: str) -> str | None:
    """``#define CUDA_VERSION 13000`` in include/cuda.h -> '13.0'."""
    match = _CUDA_H_VERSION.search(text)
    if not match:
        return None
    value = int(match.group(1))
    return f"{value // 1000}.{(value % 1000) // 10}"


def parse_cudnn_header(text: str) -> str:
    """CUDNN_MAJOR/MINOR/PATCHLEVEL from cudnn_version.h (cuDNN >= 8) or cudnn.h (cuDNN 7) -> '9.6.0'."""
    found = dict(_DEFINE.findall(text))
    if "CUDNN_MAJOR" not in found:
        raise ParseError("no '#define CUDNN_MAJOR' in the cuDNN header")
    return ".".join(found.get(key, "0") for key in ("CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL"))


def parse_ldconfig(text: str) -> list[tuple[str, str]]:
    """``ldconfig -p`` -> [(soname, path)]."""
    entries = []
    for line in text.splitlines():
        match = _LDCONFIG_LINE.match(line)
        if match:
            entries.append((match.group(1), match.group(3).strip()))
    return entries


def cudnn_version_from_library(file_name: str) -> str | None:
    """'libcudnn.so.9.1.0' -> '9.1.0', 'libcudnn.so.8' -> '8', 'cudnn64_9.dll' -> '9'."""
    match = _CUDNN_LIB.match(file_name) or _CUDNN_DLL.match(file_name)
    return match.group(1) if match else None


# --- discovery ------------------------------------------------------------------------------------------

def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def toolkit_candidates(ctx_path, env, which_nvcc: str | None) -> list[Path]:
    """Toolkit roots to look at, as absolute paths on the inspected machine (not yet under ctx.root)."""
    seen: list[str] = []

    def add(path: str | None) -> None:
        if path and path not in seen:
            seen.append(path)

    for variable in ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT", "CUDA_TOOLKIT_ROOT_DIR"):
        add(env.get(variable))
    for parent in ("/usr/local", "/opt"):
        base = ctx_path(parent)
        try:
            names = sorted(name for name in os.listdir(base) if name == "cuda" or name.startswith("cuda-"))
        except OSError:
            names = []
        for name in names:
            add(f"{parent}/{name}")
    conda_prefix = env.get("CONDA_PREFIX")
    if conda_prefix and _exists(ctx_path(conda_prefix) / "bin" / "nvcc"):
        add(conda_prefix)
    if which_nvcc:
        add(str(Path(which_nvcc).parent.parent))
    return [Path(path) for path in seen]


def real_toolkit_root(ctx_path, path: Path) -> str:
    """/usr/local/cuda -> /usr/local/cuda-13.0 (one record per real folder); stays inside ctx.root."""
    try:
        resolved = Path(os.path.realpath(ctx_path(str(path))))
        root = Path(os.path.realpath(ctx_path("/")))
        return "/" + str(resolved.relative_to(root)) if resolved != root else "/"
    except (OSError, ValueError):
        return str(path)


def read_text(path: Path, limit: int = 2_000_000) -> str:
    with open(path, "rb") as handle:
        return handle.read(limit).decode("utf-8", "replace")


def cudnn_headers_in(folder: Path) -> list[Path]:
    headers = []
    for name in ("cudnn_version.h", "cudnn.h"):
        candidate = folder / name
        if _exists(candidate):
            headers.append(candidate)
            break  # cudnn.h only when there is no cudnn_version.h (cuDNN 7)
    return headers


def cudnn_libraries_in(folder: Path) -> list[Path]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [folder / name for name in sorted(names) if cudnn_version_from_library(name)]
