"""The in-process driver queries (NVML and libcuda through ctypes) on recorded real outputs.

No GPU here: the driver libraries are replaced by stand-ins that answer each C call the probe makes with what
the real GPU reported, read from recorded captures in tests/fixtures/gpu: the H100 with MIG devices
(nvidia-smi/combined/h100-80gb-hbm3-mig_590.48.01_capture.txt: -L, the default table, --query-gpu) and the
H100 this project froze (h100/: nvidia-smi -q -x, probe.json). What NVML yields must agree with what the
nvidia-smi parsers read from the same capture.
"""

from __future__ import annotations

import ctypes
import json
import re

import pytest
from gpu_fixtures import capture_section, fixture_text

from envcapture.probes import gpu_nvidia_smi as smi
from envcapture.probes import gpu_nvml

H100_MIG = "nvidia-smi/combined/h100-80gb-hbm3-mig_590.48.01_capture.txt"
MIB = 1024 * 1024
# A row of the default table's "MIG devices" block: GPU, GI, CI, MIG Dev, then used / total memory.
_MIG_ROW = re.compile(r"^\|\s+(\d+)\s+\d+\s+\d+\s+(\d+)\s+\|\s+\d+MiB\s+/\s+(\d+)MiB")


def encoded_cuda(text: str) -> int:
    """'13.1' as NVML and libcuda encode it (13010)."""
    major, minor = text.split(".")
    return int(major) * 1000 + int(minor) * 10


class RecordedNvml:
    """libnvidia-ml.so.1's functions the probe calls, answering with one recorded GPU's facts."""

    def __init__(self, driver: str, cuda: int, gpus: list[dict]):
        self.driver, self.cuda, self.gpus = driver, cuda, gpus

    def _gpu(self, handle):
        return self.gpus[handle.value - 0x100]

    @staticmethod
    def _put(buffer, size, text: str) -> int:
        assert len(text) < size.value
        buffer.value = text.encode()
        return gpu_nvml.NVML_SUCCESS

    def nvmlInit_v2(self):
        return gpu_nvml.NVML_SUCCESS

    def nvmlShutdown(self):
        return gpu_nvml.NVML_SUCCESS

    def nvmlSystemGetDriverVersion(self, buffer, size):
        return self._put(buffer, size, self.driver)

    def nvmlSystemGetCudaDriverVersion_v2(self, version):
        version._obj.value = self.cuda
        return gpu_nvml.NVML_SUCCESS

    def nvmlDeviceGetCount_v2(self, count):
        count._obj.value = len(self.gpus)
        return gpu_nvml.NVML_SUCCESS

    def nvmlDeviceGetHandleByIndex_v2(self, index, handle):
        handle._obj.value = 0x100 + index.value
        return gpu_nvml.NVML_SUCCESS

    def nvmlDeviceGetMemoryInfo(self, handle, memory):
        if handle.value >= 0x10000:  # a MIG device
            gpu, slot = self.gpus[(handle.value >> 16) - 1], handle.value & 0xFFFF
            memory._obj.total = gpu["mig"][slot]["memory_mib"] * MIB
        else:
            memory._obj.total = self._gpu(handle)["memory_mib"] * MIB
        return gpu_nvml.NVML_SUCCESS

    def nvmlDeviceGetCudaComputeCapability(self, handle, major, minor):
        major._obj.value, minor._obj.value = map(int, self._gpu(handle)["compute_cap"].split("."))
        return gpu_nvml.NVML_SUCCESS

    def nvmlDeviceGetMigMode(self, handle, current, pending):
        current._obj.value = pending._obj.value = 1 if self._gpu(handle)["mig_mode"] == "Enabled" else 0
        return gpu_nvml.NVML_SUCCESS

    def nvmlDeviceGetPciInfo_v3(self, handle, pci):
        pci._obj.busId = self._gpu(handle)["pci_bus_id"].encode()
        return gpu_nvml.NVML_SUCCESS

    def nvmlDeviceGetName(self, handle, buffer, size):
        if handle.value >= 0x10000:
            gpu, slot = self.gpus[(handle.value >> 16) - 1], handle.value & 0xFFFF
            return self._put(buffer, size, f"{gpu['name']} MIG {gpu['mig'][slot]['profile']}")
        return self._put(buffer, size, self._gpu(handle)["name"])

    def nvmlDeviceGetUUID(self, handle, buffer, size):
        return self._put(buffer, size, self._gpu(handle)["uuid"])

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, slot, mig_handle):
        gpu = self._gpu(handle)
        if slot.value >= len(gpu["mig"]):
            return gpu_nvml.NVML_ERROR_NOT_FOUND
        mig_handle._obj.value = ((self.gpus.index(gpu) + 1) << 16) | slot.value
        return gpu_nvml.NVML_SUCCESS


def h100_mig_capture() -> tuple[RecordedNvml, dict, list[dict]]:
    """The stand-in for the H100 with 4 MIG devices, and what nvidia-smi's parsers read from the capture."""
    table = smi.parse_smi_table(capture_section(H100_MIG, "# idle :: nvidia-smi (default table)"))
    rows = smi.parse_query_gpu_csv(capture_section(H100_MIG, "# idle :: query-gpu"))
    listed = smi.parse_list_gpus(capture_section(H100_MIG, "# capabilities :: list (-L)"))
    memory = {(int(m.group(1)), int(m.group(2))): int(m.group(3))
              for m in map(_MIG_ROW.match, capture_section(H100_MIG, "# idle :: nvidia-smi (default table)")
                           .splitlines()) if m}
    gpus = [{"name": row["name"], "memory_mib": smi.mib(row["memory.total"]), "compute_cap": row["compute_cap"],
             "mig_mode": smi.mig_mode(row["mig.mode.current"]), "pci_bus_id": row["pci.bus_id"],
             "uuid": row["uuid"],
             "mig": [{"profile": mig["profile"], "memory_mib": memory[(position, mig["index"])]}
                     for mig in listed[position]["mig"]]}
            for position, row in enumerate(rows)]
    stand_in = RecordedNvml(table["driver_version"], encoded_cuda(table["cuda_version"]), gpus)
    return stand_in, table, smi.devices_from_query_rows(rows)


def test_nvml_reads_the_recorded_h100_with_mig_devices(monkeypatch):
    stand_in, table, from_csv = h100_mig_capture()
    monkeypatch.setattr(gpu_nvml, "load_library", lambda linux, windows: stand_in)
    read = gpu_nvml.read_nvml(5.0, with_uuid=True)
    assert (read["driver_version"], read["cuda_version"]) == (table["driver_version"], table["cuda_version"]) \
        == ("590.48.01", "13.1")
    [gpu] = read["devices"]
    assert {key: value for key, value in gpu.items() if key not in ("mig_devices", "source")} == \
        {key: value for key, value in from_csv[0].items() if key not in ("mig_devices", "source")}
    assert (gpu["memory_total_mib"], gpu["architecture"], gpu["mig_mode"]) == (81559, "Hopper", "Enabled")
    assert gpu["mig_devices"] == [
        {"index": 0, "profile": "3g.40gb", "memory_total_mib": 40448},
        {"index": 1, "profile": "2g.20gb", "memory_total_mib": 20096},
        {"index": 2, "profile": "1g.10gb", "memory_total_mib": 9984},
        {"index": 3, "profile": "1g.10gb", "memory_total_mib": 9984}]
    assert gpu["source"] == "nvml"


def test_nvml_leaves_the_uuid_out_unless_asked(monkeypatch):
    stand_in, _, _ = h100_mig_capture()
    monkeypatch.setattr(gpu_nvml, "load_library", lambda linux, windows: stand_in)
    [gpu] = gpu_nvml.read_nvml(5.0, with_uuid=False)["devices"]
    assert gpu["uuid"] is None and gpu["name"] == "NVIDIA H100 80GB HBM3"


class RecordedLibcuda:
    def __init__(self, code: int, version: int):
        self.code, self.version = code, version

    def cuDriverGetVersion(self, version):
        version._obj.value = self.version
        return self.code


def test_libcuda_version_of_the_recorded_h100(monkeypatch):
    """The H100 this project froze: nvidia-smi -q -x says CUDA 13.0, and the probe recorded libcuda's '13.0'."""
    recorded = json.loads(fixture_text("h100/probe.json"))
    cuda = smi.parse_smi_xml(fixture_text("h100/nvidia-smi-q-x.xml"))["cuda_version"]
    monkeypatch.setattr(gpu_nvml, "load_library", lambda linux, windows: RecordedLibcuda(0, encoded_cuda(cuda)))
    assert gpu_nvml.read_libcuda_version(5.0) == recorded["libcuda_cuda_version"] == "13.0"


@pytest.mark.parametrize("code, version", [(100, 0), (100, 13000), (0, 0), (1, 13000)])
def test_libcuda_failure_is_a_driver_query_error(monkeypatch, code, version):
    """CUresult 100 is CUDA_ERROR_NO_DEVICE, 1 CUDA_ERROR_INVALID_VALUE; 0 with no version is no answer."""
    monkeypatch.setattr(gpu_nvml, "load_library", lambda linux, windows: RecordedLibcuda(code, version))
    with pytest.raises(gpu_nvml.DriverQueryError, match=f"CUresult {code}"):
        gpu_nvml.read_libcuda_version(5.0)


@pytest.mark.parametrize("value, text", [(13000, "13.0"), (13010, "13.1"), (12040, "12.4"), (12080, "12.8"),
                                         (11060, "11.6"), (10010, "10.1"), (12090, "12.9")])
def test_cuda_version_encoding(value, text):
    """The versions of every recorded nvidia-smi output (11.6 to 13.1), as NVML and libcuda encode them."""
    assert gpu_nvml._cuda_version_text(value) == text
    assert encoded_cuda(text) == value
