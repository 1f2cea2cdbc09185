"""In-process driver queries through ctypes: NVML (libnvidia-ml.so.1) and libcuda's cuDriverGetVersion.

NVML is what nvidia-smi itself uses, without a process start; ctypes needs no optional dependency. A sick
driver can block inside any call, so every query runs in a daemon thread that the caller waits on with a
timeout (``call_with_timeout``); a blocked thread is abandoned, never joined.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from typing import Any, Callable

from envcapture.probes.gpu_nvidia_smi import architecture_for

NVML_SUCCESS = 0
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NOT_FOUND = 6
_NAME_BUFFER = 96
_MAX_MIG = 64


class DriverQueryError(Exception):
    """A driver library is missing, refused, or did not answer; the message says which."""


def call_with_timeout(function: Callable[[], Any], timeout: float, what: str) -> Any:
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - carried to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name=f"envcapture-{what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise DriverQueryError(f"{what} did not answer within {timeout:g} s (driver busy or hung)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _library_names(linux: str, windows: str, mac: str | None = None) -> list[str]:
    if sys.platform.startswith("win"):
        return [windows]
    if sys.platform == "darwin":
        return [mac] if mac else []
    return [linux]


def load_library(linux: str, windows: str) -> ctypes.CDLL:
    names = _library_names(linux, windows)
    if not names:
        raise DriverQueryError(f"{linux} does not exist on this platform")
    last = ""
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as exc:
            last = str(exc).splitlines()[0][:200] if str(exc) else "not found"
    raise DriverQueryError(f"{names[0]} cannot be loaded ({last})")


class _Memory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


class _PciInfo(ctypes.Structure):
    _fields_ = [("busIdLegacy", ctypes.c_char * 16), ("domain", ctypes.c_uint), ("bus", ctypes.c_uint),
                ("device", ctypes.c_uint), ("pciDeviceId", ctypes.c_uint), ("pciSubSystemId", ctypes.c_uint),
                ("busId", ctypes.c_char * 32)]


class _Nvml:
    def __init__(self, lib: ctypes.CDLL):
        self.lib = lib

    def call(self, name: str, *args) -> int:
        function = getattr(self.lib, name, None)
        if function is None:
            return -1
        return function(*args)

    def check(self, name: str, *args) -> None:
        code = self.call(name, *args)
        if code != NVML_SUCCESS:
            raise DriverQueryError(f"NVML {name} failed: {self.error_text(code)}")

    def error_text(self, code: int) -> str:
        if code == -1:
            return "function missing from this driver's NVML"
        function = getattr(self.lib, "nvmlErrorString", None)
        if function is None:
            return f"error {code}"
        function.restype = ctypes.c_char_p
        text = function(code)
        return text.decode("utf-8", "replace") if text else f"error {code}"

    def string(self, name: str, *args) -> str | None:
        buffer = ctypes.create_string_buffer(_NAME_BUFFER)
        if self.call(name, *args, buffer, ctypes.c_uint(_NAME_BUFFER)) != NVML_SUCCESS:
            return None
        return buffer.value.decode("utf-8", "replace").strip() or None


def _cuda_version_text(value: int) -> str:
    # NVML and libcuda encode 13.0 as 13000 and 12.4 as 12040.
    return f"{value // 1000}.{(value % 1000) // 10}"


def _mig_profile(mig_name: str | None) -> str | None:
    """'NVIDIA H100 80GB HBM3 MIG 3g.40gb' -> '3g.40gb'."""
    if not mig_name or " MIG " not in f" {mig_name} ":
        return None
    tail = mig_name.split("MIG", 1)[1].strip().split()
    return tail[0] if tail else None


def _device(nvml: _Nvml, index: int, with_uuid: bool) -> dict:
    handle = ctypes.c_void_p()
    nvml.check("nvmlDeviceGetHandleByIndex_v2", ctypes.c_uint(index), ctypes.byref(handle))
    memory = _Memory()
    memory_mib = None
    if nvml.call("nvmlDeviceGetMemoryInfo", handle, ctypes.byref(memory)) == NVML_SUCCESS:
        memory_mib = memory.total // (1024 * 1024)
    major, minor = ctypes.c_int(), ctypes.c_int()
    cc = None
    if nvml.call("nvmlDeviceGetCudaComputeCapability", handle, ctypes.byref(major), ctypes.byref(minor)) \
            == NVML_SUCCESS:
        cc = f"{major.value}.{minor.value}"
    current, pending = ctypes.c_uint(), ctypes.c_uint()
    mig = None
    if nvml.call("nvmlDeviceGetMigMode", handle, ctypes.byref(current), ctypes.byref(pending)) == NVML_SUCCESS:
        mig = "Enabled" if current.value == 1 else "Disabled"
    pci = _PciInfo()
    bus = None
    if nvml.call("nvmlDeviceGetPciInfo_v3", handle, ctypes.byref(pci)) == NVML_SUCCESS:
        bus = pci.busId.decode("ascii", "replace") or None
    return {
        "index": index,
        "name": nvml.string("nvmlDeviceGetName", handle) or "unknown",
        "memory_total_mib": memory_mib,
        "compute_capability": cc,
        "architecture": architecture_for(cc),
        "mig_mode": mig,
        "mig_devices": _mig_devices(nvml, handle) if mig == "Enabled" else [],
        "pci_bus_id": bus,
        "uuid": nvml.string("nvmlDeviceGetUUID", handle) if with_uuid else None,
        "source": "nvml",
    }


def _mig_devices(nvml: _Nvml, handle: ctypes.c_void_p) -> list[dict]:
    found = []
    for slot in range(_MAX_MIG):
        mig_handle = ctypes.c_void_p()
        code = nvml.call("nvmlDeviceGetMigDeviceHandleByIndex", handle, ctypes.c_uint(slot), ctypes.byref(mig_handle))
        if code != NVML_SUCCESS:
            continue
        memory = _Memory()
        memory_mib = memory.total // (1024 * 1024) \
            if nvml.call("nvmlDeviceGetMemoryInfo", mig_handle, ctypes.byref(memory)) == NVML_SUCCESS else None
        found.append({"index": len(found), "profile": _mig_profile(nvml.string("nvmlDeviceGetName", mig_handle)),
                      "memory_total_mib": memory_mib})
    return found


def _read_nvml(with_uuid: bool) -> dict:
    nvml = _Nvml(load_library("libnvidia-ml.so.1", "nvml.dll"))
    init = "nvmlInit_v2" if hasattr(nvml.lib, "nvmlInit_v2") else "nvmlInit"
    nvml.check(init)
    try:
        driver = nvml.string("nvmlSystemGetDriverVersion")
        cuda = ctypes.c_int()
        cuda_version = None
        if nvml.call("nvmlSystemGetCudaDriverVersion_v2", ctypes.byref(cuda)) == NVML_SUCCESS and cuda.value:
            cuda_version = _cuda_version_text(cuda.value)
        count = ctypes.c_uint()
        nvml.check("nvmlDeviceGetCount_v2", ctypes.byref(count))
        devices = [_device(nvml, index, with_uuid) for index in range(count.value)]
    finally:
        nvml.call("nvmlShutdown")
    return {"driver_version": driver, "cuda_version": cuda_version, "devices": devices}


def read_nvml(timeout: float, with_uuid: bool) -> dict:
    """{"driver_version", "cuda_version", "devices"} from NVML; DriverQueryError when it cannot be had."""
    return call_with_timeout(lambda: _read_nvml(with_uuid), timeout, "NVML")


def _read_libcuda() -> str:
    lib = load_library("libcuda.so.1", "nvcuda.dll")
    version = ctypes.c_int()
    # cuDriverGetVersion needs no cuInit, so it does not touch the GPU.
    code = lib.cuDriverGetVersion(ctypes.byref(version))
    if code != 0 or not version.value:
        raise DriverQueryError(f"libcuda cuDriverGetVersion failed with CUresult {code}")
    return _cuda_version_text(version.value)


def read_libcuda_version(timeout: float) -> str:
    """The highest CUDA version the installed driver supports, e.g. '13.0'."""
    return call_with_timeout(_read_libcuda, timeout, "libcuda")
