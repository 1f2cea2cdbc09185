"""The comparison itself, on hand-written valid manifests (tests/fixtures/compare/), through the real CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from envcapture import compare
from envcapture.manifest import file as manifest
from envcapture.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compare"


def load(name: str) -> dict:
    return manifest.load(FIXTURES / f"{name}.json")


@pytest.fixture
def node1() -> dict:
    return load("node-1")


def changed(base: dict, edit) -> dict:
    other = copy.deepcopy(base)
    edit(other)
    assert manifest.problems(other) == [], "the edited test manifest must stay valid"
    return other


def package(m: dict, name: str) -> dict:
    return next(p for p in m["python_packages"] if p["name"] == name)


def only(result: compare.Comparison) -> compare.Difference:
    assert len(result.differences) == 1, [d.message(result.labels) for d in result.differences]
    return result.differences[0]


def two(a: dict, b: dict, **kw) -> compare.Comparison:
    return compare.compare([a, b], ["a", "b"], **kw)


def test_same_manifest_has_no_difference(node1):
    result = two(node1, copy.deepcopy(node1))
    assert result.same and result.ok and result.differences == []


def test_paths_timestamps_and_installer_are_not_differences(node1):
    def edit(m):
        m["created"] = "2027-01-01T00:00:00Z"
        m["python"]["executable"] = "/opt/other/bin/python"
        m["python"]["prefix"] = "/opt/other"
        package(m, "six")["installer"] = "uv"
        package(m, "six")["requested"] = False
    assert two(node1, changed(node1, edit)).same


@pytest.mark.parametrize("version, change", [("1.17.0", "changed")])
def test_package_version_is_an_error_naming_both_versions(node1, version, change):
    other = changed(node1, lambda m: package(m, "six").update(version=version))
    d = only(two(node1, other))
    assert (d.section, d.item, d.grade, d.change, d.values) == ("python_packages", "six", "error", change,
                                                                ["1.16.0", "1.17.0"])
    assert d.message(["a", "b"]) == "six: 1.16.0 in a, 1.17.0 in b"


def test_missing_and_extra_packages_are_errors(node1):
    missing = changed(node1, lambda m: m["python_packages"].remove(package(m, "idna")))
    d = only(two(node1, missing))
    assert (d.item, d.change, d.grade, d.values) == ("idna", "missing", "error", ["3.7", None])
    d = only(two(missing, node1))
    assert (d.item, d.change, d.grade, d.values) == ("idna", "extra", "error", [None, "3.7"])


def test_package_names_compare_canonically(node1):
    other = changed(node1, lambda m: package(m, "six").update(name="Six"))
    assert two(node1, other).same


def test_other_vcs_commit_is_a_source_error(node1):
    other = changed(node1, lambda m: package(m, "mylib")["source"].update(commit="f" * 40))
    d = only(two(node1, other))
    assert (d.item, d.field, d.grade) == ("mylib", "source", "error")
    assert "0123456789ab" in d.values[0] and "ffffffffffff" in d.values[1]


def test_index_versus_vcs_source_is_an_error(node1):
    other = changed(node1, lambda m: package(m, "mylib").update(source={"kind": "index"}))
    d = only(two(node1, other))
    assert (d.field, d.grade, d.values[1]) == ("source", "error", "index")


@pytest.mark.parametrize("version, grade", [("3.11.9", "warning"), ("3.12.1", "error")])
def test_python_patch_is_a_warning_and_minor_an_error(node1, version, grade):
    other = changed(node1, lambda m: m["python"].update(version=version))
    d = only(two(node1, other))
    assert (d.section, d.field, d.grade) == ("python", "version", grade)


@pytest.mark.parametrize("driver, grade", [("550.54.15", "error"), ("590.10.01", "warning")])
def test_older_driver_is_an_error_newer_a_warning(node1, driver, grade):
    other = changed(node1, lambda m: m["gpu"]["driver"].update(version=driver))
    assert only(two(node1, other)).grade == grade


def test_no_driver_where_one_was_recorded_is_an_error(node1):
    other = changed(node1, lambda m: m["gpu"].update(driver=None))
    d = only(two(node1, other))
    assert (d.what, d.grade, d.values) == ("driver", "error", ["580.65.06", None])


@pytest.mark.parametrize("cuda, grade", [("12.8", "error"), ("13.1", "warning")])
def test_cuda_major_is_an_error_minor_a_warning(node1, cuda, grade):
    other = changed(node1, lambda m: m["gpu"]["toolkits"][0].update(version=cuda))
    d = only(two(node1, other))
    assert (d.what, d.grade) == ("CUDA toolkit", grade)


@pytest.mark.parametrize("cudnn, grade", [("8.9.7", "error"), ("9.14.0", "warning")])
def test_cudnn_major_is_an_error_minor_a_warning(node1, cudnn, grade):
    other = changed(node1, lambda m: m["gpu"]["cudnn"][0].update(version=cudnn))
    assert only(two(node1, other)).grade == grade


@pytest.mark.parametrize("field, value", [("id", "ubuntu"), ("version_id", "13")])
def test_os_identity_is_an_error(node1, field, value):
    other = changed(node1, lambda m: m["os"].update({field: value}))
    assert only(two(node1, other)).grade == "error"


@pytest.mark.parametrize("section, field, value", [
    ("os", "kernel", "6.12.0-1-amd64"),
    ("hardware", "cpu_model", "AMD EPYC 9654 96-Core Processor"),
    ("hardware", "memory_total", 1082097287168),
])
def test_machine_details_are_warnings(node1, section, field, value):
    other = changed(node1, lambda m: m[section].update({field: value}))
    d = only(two(node1, other))
    assert (d.section, d.grade) == (section, "warning")


def test_memory_within_the_same_gib_is_not_a_difference(node1):
    other = changed(node1, lambda m: m["hardware"].update(memory_total=m["hardware"]["memory_total"] - 50 * 2**20))
    assert two(node1, other).same


def test_system_packages_manual_is_an_error_dependency_and_extra_are_warnings(node1):
    def pkgs(m):
        return {p["name"]: p for p in m["system_packages"]["packages"]}
    manual = changed(node1, lambda m: pkgs(m)["git"].update(version="1:2.39.5-0+deb12u1"))
    assert only(two(node1, manual)).grade == "error"
    gone = changed(node1, lambda m: m["system_packages"]["packages"].remove(pkgs(m)["libopenblas0-pthread"]))
    d = only(two(node1, gone))
    assert (d.item, d.change, d.grade) == ("libopenblas0-pthread", "missing", "error")
    dependency = changed(node1, lambda m: pkgs(m)["libc6"].update(version="2.36-9+deb12u9"))
    assert only(two(node1, dependency)).grade == "warning"
    extra = changed(node1, lambda m: m["system_packages"]["packages"].append(
        {"name": "curl", "version": "7.88.1-10+deb12u8", "architecture": "amd64", "manual": True}))
    d = only(two(node1, extra))
    assert (d.item, d.change, d.grade) == ("curl", "extra", "warning")


def test_strict_turns_warnings_into_errors(node1):
    other = changed(node1, lambda m: m["os"].update(kernel="6.12.0-1-amd64"))
    assert two(node1, other).ok
    strict = two(node1, other, strict=True)
    assert not strict.ok and only(strict).grade == "error"


def test_sections_a_freeze_could_not_collect_are_not_compared(node1):
    def edit(m):
        m["hardware"].update(cpu_model=None, memory_total=None, flags=[])
        m["warnings"].append({"source": "hardware", "message": "could not collect hardware: OSError: boom"})
    result = two(node1, changed(node1, edit))
    assert result.same and result.not_compared == {"hardware": "not collected in b"}


def test_skip_names_sections_and_single_facts(node1):
    other = changed(node1, lambda m: (m["os"].update(kernel="x"), m["gpu"].update(driver=None)))
    result = two(node1, other, skip={"gpu": "no GPU in an image", "os.kernel": "no kernel in an image"})
    assert result.same and set(result.not_compared) == {"gpu", "os.kernel"}


def test_three_manifests_give_a_matrix_and_groups():
    ms = [load(f"node-{i}") for i in (1, 2, 3)]
    ms.append(copy.deepcopy(ms[0]))
    result = compare.compare(ms, ["n1", "n2", "n3", "n4"])
    rows = {d.what: d for d in result.differences}
    assert rows["numpy"].values == ["2.1.3", "2.1.2", "2.1.3", "2.1.3"]
    # In a cluster an older driver anywhere is an error, whichever node is listed first.
    assert rows["driver"].grade == "error" and rows["kernel release"].grade == "warning"
    assert result.groups == [["n1", "n4"], ["n2"], ["n3"]]


def test_diff_cli_exit_codes_and_json_shape(capsys):
    paths = [str(FIXTURES / f"node-{i}.json") for i in (1, 2, 3)]
    assert main(["diff", paths[0], paths[0]]) == 0
    capsys.readouterr()
    assert main(["diff", *paths, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["envcapture_compare"] == 1 and data["command"] == "diff"
    assert [m["label"] for m in data["manifests"]] == ["node-1", "node-2", "node-3"]
    assert data["counts"] == {"error": 2, "warning": 2} and data["same"] is False
    numpy = next(d for d in data["differences"] if d["item"] == "numpy")
    assert numpy == {"section": "python_packages", "item": "numpy", "field": "version", "what": "numpy",
                     "grade": "error", "change": "changed", "values": ["2.1.3", "2.1.2", "2.1.3"],
                     "message": "numpy: 2.1.3 on node-1, node-3; 2.1.2 on node-2",
                     "majority": {"value": "2.1.3", "count": 2},
                     "minority": [{"value": "2.1.2", "labels": ["node-2"]}]}


def test_diff_text_matrix_and_markdown(capsys):
    paths = [str(FIXTURES / f"node-{i}.json") for i in (1, 2, 3)]
    assert main(["diff", *paths]) == 1
    out = capsys.readouterr().out
    assert "What differs, and where" in out and "550.54.15" in out and "2.1.2" in out
    assert main(["diff", *paths, "--format", "markdown"]) == 1
    md = capsys.readouterr().out
    assert "| Python packages | error | numpy | 2.1.3 | **2.1.2** | 2.1.3 |" in md
    assert "| GPU | error | driver | 580.65.06 | 580.65.06 | **550.54.15** |" in md


def test_markdown_escapes_table_breaking_values(node1):
    other = changed(node1, lambda m: m["hardware"].update(cpu_model="CPU | with pipe"))
    md = compare.render_markdown(two(node1, other), "diff")
    assert "CPU \\| with pipe" in md


def test_diff_bad_manifest_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "python": ')
    assert main(["diff", str(FIXTURES / "node-1.json"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.json: not valid JSON" in err and "Traceback" not in err


def test_diff_needs_two_manifests(capsys):
    assert main(["diff", str(FIXTURES / "node-1.json")]) == 2
    assert "at least two manifests" in capsys.readouterr().err


def test_an_item_left_out_by_design_is_a_warning_that_says_why(node1):
    """A kit records what it does not reproduce on purpose; check grades that as a warning, not drift."""
    image = changed(node1, lambda m: m["python_packages"].remove(package(m, "six")))
    plain = only(two(node1, image))
    assert plain.grade == "error"
    why = "the project: expected from project/, not installed"
    result = two(node1, image, by_design={("python_packages", "six"): why})
    difference = only(result)
    assert result.ok and difference.grade == "warning"
    assert difference.message(result.labels).endswith(f"(not reproduced, by design: {why})")
    assert difference.to_json(result.labels)["by_design"] == why
    assert "not reproduced, by design" in compare.render_markdown(result, "check")
    strict = only(two(node1, image, by_design={("python_packages", "six"): why}, strict=True))
    assert strict.grade == "error"
    # Only the named item: another missing package is still drift.
    other = two(node1, image, by_design={("python_packages", "idna"): why})
    assert not other.ok
