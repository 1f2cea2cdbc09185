"""nvidia-smi parsers on outputs recorded on real machines (see tests/fixtures/gpu/SOURCES.md)."""

import pytest

from envcapture.probes import gpu_nvidia_smi as smi

from gpu_fixtures import capture_section, fixture_text

H100_MIG = "nvidia-smi/combined/h100-80gb-hbm3-mig_590.48.01_capture.txt"


def xml(name):
    return smi.parse_smi_xml(fixture_text(f"nvidia-smi/xml/{name}"))


def test_consumer_gpu_xml():
    parsed = xml("geforce-rtx-3060_570.124.04_linux.xml")
    assert (parsed["driver_version"], parsed["cuda_version"]) == ("570.124.04", "12.8")
    [gpu] = parsed["devices"]
    assert gpu["name"] == "NVIDIA GeForce RTX 3060"
    assert gpu["memory_total_mib"] == 12288
    assert gpu["architecture"] == "Ampere"
    assert gpu["mig_mode"] is None  # 'N/A' on a GPU without MIG
    assert gpu["pci_bus_id"] == "00000000:2D:00.0"
    assert gpu["compute_capability"] is None  # -q -x does not report it
    assert gpu["index"] == 0 and gpu["source"] == "nvidia-smi"


@pytest.mark.parametrize("name, product, memory, architecture, driver, cuda", [
    ("tesla-t4_515.105.01.xml", "Tesla T4", 15360, "Turing", "515.105.01", "11.7"),
    ("tesla-p100-pcie-16gb_510.47.03.xml", "Tesla P100-PCIE-16GB", 16384, "Pascal", "510.47.03", "11.6"),
    ("geforce-rtx-3080_536.40_windows.xml", "NVIDIA GeForce RTX 3080", 10240, "Ampere", "536.40", "12.2"),
    ("gtx-1660-ti_418.43_no-dtd.xml", "Graphics Device", 5912, None, "418.43", "10.1"),
])
def test_single_gpu_xml(name, product, memory, architecture, driver, cuda):
    parsed = xml(name)
    assert (parsed["driver_version"], parsed["cuda_version"]) == (driver, cuda)
    [gpu] = parsed["devices"]
    assert (gpu["name"], gpu["memory_total_mib"], gpu["architecture"]) == (product, memory, architecture)


def test_datacenter_mig_xml():
    parsed = xml("a100-sxm4-40gb-mig_510.47.03.xml")
    [gpu] = parsed["devices"]
    assert gpu["name"] == "NVIDIA A100-SXM4-40GB"
    assert gpu["mig_mode"] == "Enabled"
    assert gpu["memory_total_mib"] == 40960
    assert [(m["index"], m["memory_total_mib"]) for m in gpu["mig_devices"]] == [(0, 19968), (1, 19968)]
    assert gpu["uuid"] == "GPU-27b94a00-ed54-5c24-b1fd-1054085de32a"


def test_multi_gpu_xml_keeps_pci_order():
    parsed = xml("dual-rtx-a5000_590.44.01.xml")
    assert (parsed["driver_version"], parsed["cuda_version"]) == ("590.44.01", "13.1")
    assert [(d["index"], d["pci_bus_id"], d["name"]) for d in parsed["devices"]] == [
        (0, "00000000:81:00.0", "NVIDIA RTX A5000"), (1, "00000000:C1:00.0", "NVIDIA RTX A5000")]
    assert {d["uuid"] for d in parsed["devices"]} == {"GPU-12345678-aaaa-bbbb-cccc-0123456789ab",
                                                       "GPU-12345678-aaaa-bbbb-cccc-0123456789cd"}


def test_h100_xml_recorded_here():
    parsed = smi.parse_smi_xml(fixture_text("h100/nvidia-smi-q-x.xml"))
    assert parsed["driver_version"].startswith("580.")
    assert parsed["cuda_version"] == "13.0"
    [gpu] = parsed["devices"]
    assert "H100" in gpu["name"] and gpu["architecture"] == "Hopper" and gpu["mig_mode"] == "Disabled"


def test_query_csv_noheader_from_h100():
    fields = ("index", "name", "memory.total", "compute_cap", "driver_version", "pci.bus_id", "mig.mode.current")
    rows = smi.parse_query_gpu_csv(fixture_text("h100/query-gpu.csv"), fields)
    [gpu] = smi.devices_from_query_rows(rows)
    assert gpu["name"] == "NVIDIA H100 80GB HBM3"
    assert gpu["memory_total_mib"] == 81559  # '81559 MiB' with units
    assert (gpu["compute_capability"], gpu["architecture"]) == ("9.0", "Hopper")
    assert gpu["mig_mode"] == "Disabled" and gpu["pci_bus_id"] == "00000000:00:06.0"
    assert rows[0]["driver_version"].startswith("580.")


def test_query_csv_with_header_and_units():
    [row] = smi.parse_query_gpu_csv(fixture_text("nvidia-smi/query-gpu/tesla-p100_query-gpu.csv"))
    assert row["name"] == "Tesla P100-PCIE-16GB"
    assert row["fan.speed"] is None  # '[N/A]'
    assert row["memory.free"] == "16280"  # header 'memory.free [MiB]' lost its unit


def test_query_csv_h100_mig_capture():
    rows = smi.parse_query_gpu_csv(capture_section(H100_MIG, "# idle :: query-gpu"))
    [gpu] = smi.devices_from_query_rows(rows)
    assert gpu["name"] == "NVIDIA H100 80GB HBM3" and gpu["compute_capability"] == "9.0"
    assert gpu["mig_mode"] == "Enabled" and gpu["memory_total_mib"] == 81559
    assert rows[0]["driver_version"] == "590.48.01"
    assert rows[0]["display_mode"] is None  # '[Requested functionality has been deprecated]'


def test_query_csv_consumer_without_compute_cap():
    text = fixture_text("nvidia-smi/combined/rtx-2080-super_465.27_ubuntu20.04_L-querygpu-help.txt")
    block = text.split("\n# nvidia-smi --query-gpu=", 1)[1].split("\n", 1)[1]
    block = block.split("\n\n", 1)[0]
    [gpu] = smi.devices_from_query_rows(smi.parse_query_gpu_csv(block))
    assert gpu["name"] == "NVIDIA GeForce RTX 2080 SUPER" and gpu["index"] == 0
    assert gpu["compute_capability"] is None  # driver 465 had no compute_cap field
    assert gpu["pci_bus_id"] == "00000000:0C:00.0"


def test_list_gpus_with_mig_profiles():
    [gpu] = smi.parse_list_gpus(capture_section(H100_MIG, "# capabilities :: list (-L)"))
    assert gpu["name"] == "NVIDIA H100 80GB HBM3"
    assert [m["profile"] for m in gpu["mig"]] == ["3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"]


def test_list_gpus_windows():
    text = fixture_text("nvidia-smi/combined/rtx-2080-super_466.63_win10_L-querygpu.txt")
    [gpu] = smi.parse_list_gpus(text)
    assert gpu["name"] == "NVIDIA GeForce RTX 2080 SUPER" and gpu["mig"] == []


@pytest.mark.parametrize("name, count, product, memory, driver, cuda", [
    ("4x-gh200-120gb_590.48.01.txt", 4, "NVIDIA GH200 120GB", 97871, "590.48.01", "13.1"),
    ("a100-sxm4-40gb_550.144.03.txt", 1, "NVIDIA A100-SXM4-40GB", 40960, "550.144.03", "12.4"),
    ("l40s-with-process_580.126.09.txt", 1, "NVIDIA L40S", 46068, "580.126.09", "13.0"),
])
def test_table(name, count, product, memory, driver, cuda):
    parsed = smi.parse_smi_table(fixture_text(f"nvidia-smi/table/{name}"))
    assert (parsed["driver_version"], parsed["cuda_version"]) == (driver, cuda)
    assert len(parsed["devices"]) == count
    assert {(d["name"], d["memory_total_mib"]) for d in parsed["devices"]} == {(product, memory)}
    assert [d["index"] for d in parsed["devices"]] == list(range(count))


def test_h100_table_recorded_here():
    parsed = smi.parse_smi_table(fixture_text("h100/nvidia-smi.txt"))
    assert parsed["driver_version"].startswith("580.") and parsed["cuda_version"] == "13.0"
    assert "H100" in parsed["devices"][0]["name"]


@pytest.mark.parametrize("text", ["", "NVIDIA-SMI has failed because it couldn't communicate with the driver",
                                  "<html></html>"])
def test_refuses_what_is_not_nvidia_smi_output(text):
    with pytest.raises(smi.ParseError):
        smi.parse_smi_xml(text)
    with pytest.raises(smi.ParseError):
        smi.parse_smi_table(text)


def test_csv_row_with_wrong_cell_count_is_refused():
    with pytest.raises(smi.ParseError):
        smi.parse_query_gpu_csv(fixture_text("h100/query-gpu.csv"), ("index", "name"))


@pytest.mark.parametrize("cc, architecture", [("9.0", "Hopper"), ("8.9", "Ada"), ("8.6", "Ampere"),
                                              ("7.5", "Turing"), ("7.0", "Volta"), ("6.1", "Pascal"),
                                              ("12.0", "Blackwell"), ("10.0", "Blackwell"), (None, None)])
def test_architecture_from_compute_capability(cc, architecture):
    assert smi.architecture_for(cc) == architecture


def test_csv_row_with_too_few_cells_is_refused():
    # nvidia-smi cut short (a driver error mid-output): a row with fewer cells must not shift the fields.
    with pytest.raises(smi.ParseError, match="has 3 cells, expected 7"):
        smi.parse_query_gpu_csv("0, NVIDIA H100 80GB HBM3, 81559 MiB\n", smi.QUERY_FIELDS)


@pytest.mark.parametrize("value, expected", [
    ("00000000:00:06.0", "00000000:00:06.0"), ("0000:2D:00.0", "0000:2D:00.0"),
    ("[N/A]", None), ("00000000:00:06", None), ("0000:2D:00.0; rm -rf /", None), ("GPU-0000:00:06.0", None),
    ("0000:zz:00.0", None), ("00000000:00:06.10", None),
])
def test_pci_bus_id_must_look_like_one(value, expected):
    assert smi.bus_id(value) == expected
    row = dict.fromkeys(smi.QUERY_FIELDS, "1")
    row.update({"pci.bus_id": value, "compute_cap": "9.0"})
    assert smi.devices_from_query_rows([row])[0]["pci_bus_id"] == expected


def test_table_cut_right_after_a_gpu_line():
    """nvidia-smi stopped (a timeout, a closed pipe) just after the last GPU's first row: the GPUs before it keep
    their memory, the last one has none; nothing is read past the end."""
    text = fixture_text("nvidia-smi/table/4x-gh200-120gb_590.48.01.txt")
    lines = text.split("\n")
    last_gpu = max(number for number, line in enumerate(lines) if smi._TABLE_GPU.match(line))
    parsed = smi.parse_smi_table("\n".join(lines[:last_gpu + 1]))
    assert [(d["index"], d["memory_total_mib"]) for d in parsed["devices"]] == [(0, 97871), (1, 97871), (2, 97871),
                                                                               (3, None)]
