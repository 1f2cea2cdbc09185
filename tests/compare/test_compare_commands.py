"""`check` and `diff` as a user runs them (in process, on this machine's real interpreter and real files): exit
codes 0 / 1 / 2, which manifests a folder or pattern names, labels, --strict, the data sets after the
environment, and what `restore` checks."""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

import pytest

from envcapture import compare
from envcapture.manifest import file as manifest
from envcapture.cli import main
from envcapture.compare.commands import manifest_labels, manifest_paths, unsatisfied_differences

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compare"


def run(capsys, *argv) -> tuple[int, str, str]:
    # Arguments as a shell passes them: new string objects, not the interned literals of this file.
    code = main(["".join(list(str(a))) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- diff: which files, which labels, which exit code --------------------------------------------------------

def test_labels_are_file_stems_or_paths_where_stems_repeat():
    assert manifest_labels(["a/node-1.json", "b/node-1.json", "c/n2.json"]) == ["a/node-1.json", "b/node-1.json",
                                                                                 "n2"]
    assert manifest_labels(["x/n1.json", "x/n2.json"]) == ["n1", "n2"]


@pytest.fixture
def folder(tmp_path) -> Path:
    """n1, n2 and n10 (node-1.json), and what a folder of manifests also holds."""
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    for name in ("n10", "n2", "n1"):
        shutil.copy(FIXTURES / "node-1.json", nodes / f"{name}.json")
    (nodes / ".n0.json").write_text("{}")  # an editor's hidden file
    (nodes / "notes.txt").write_text("not a manifest")
    (nodes / "old.json").mkdir()  # a folder, whatever its name
    return nodes


def test_a_folder_names_its_json_files_in_natural_order(folder):
    assert manifest_paths([str(folder)]) == [str(folder / f"{n}.json") for n in ("n1", "n2", "n10")]


def test_a_quoted_pattern_is_expanded_in_natural_order(folder):
    assert manifest_paths([str(folder / "n*.json")]) == [str(folder / f"{n}.json") for n in ("n1", "n2", "n10")]
    assert manifest_paths([str(folder / "n1?.json"), str(folder / "n2.json")]) == \
        [str(folder / "n10.json"), str(folder / "n2.json")]


def test_a_file_whose_name_looks_like_a_pattern_is_that_file(folder):
    odd = folder / "n[1].json"
    shutil.copy(folder / "n1.json", odd)
    assert manifest_paths([str(odd)]) == [str(odd)]


def test_a_missing_file_is_passed_on_for_load_to_name(folder, capsys):
    missing = folder / "gone.json"
    assert manifest_paths([str(missing), str(folder / "n1.json")]) == [str(missing), str(folder / "n1.json")]
    code, _, err = run(capsys, "diff", missing, folder / "n1.json")
    assert code == 2 and "gone.json" in err and err.count("\n") == 1


def test_a_folder_or_pattern_without_manifests_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "diff", tmp_path / "empty", FIXTURES / "node-1.json")
    assert code == 2 and err.strip().endswith("empty: a folder with no .json manifest in it")
    code, _, err = run(capsys, "diff", tmp_path / "x-*.json", FIXTURES / "node-1.json")
    assert code == 2 and err.strip().endswith("x-*.json: no file matches this pattern")
    (tmp_path / "x-dir.json").mkdir()
    code, _, err = run(capsys, "diff", tmp_path / "x-*.json", FIXTURES / "node-1.json")
    assert code == 2 and "no file matches this pattern" in err  # a folder matched is not a file


def test_one_manifest_in_a_folder_says_which(tmp_path, capsys):
    shutil.copy(FIXTURES / "node-1.json", tmp_path / "only.json")
    code, _, err = run(capsys, "diff", tmp_path)
    assert code == 2
    assert err.strip().endswith(f"diff needs at least two manifests, and {tmp_path} holds only one: "
                                f"{tmp_path / 'only.json'}")


def test_one_file_says_the_shell_may_have_found_one_file(capsys):
    code, _, err = run(capsys, "diff", FIXTURES / "node-1.json")
    assert code == 2 and err.count("\n") == 1
    assert f"diff needs at least two manifests, and got one: {FIXTURES / 'node-1.json'}. If you typed a pattern" in err
    assert "envcapture freeze -o 'node-{node}.json'" in err


def test_one_match_of_a_pattern_says_which(tmp_path, capsys):
    shutil.copy(FIXTURES / "node-1.json", tmp_path / "n1.json")
    code, _, err = run(capsys, "diff", tmp_path / "n*.json")
    assert code == 2 and err.strip().endswith(
        f"diff needs at least two manifests, and {tmp_path / 'n*.json'} holds only one: {tmp_path / 'n1.json'}")


def test_diff_exit_codes(folder, capsys):
    assert run(capsys, "diff", folder, "--format", "json")[0] == 0
    kernel = manifest.load(FIXTURES / "node-1.json")
    kernel["os"]["kernel"] = "6.12.0-1-amd64"
    manifest.save(kernel, folder / "n3.json")
    code, out, _ = run(capsys, "diff", folder, "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is True and data["same"] is False  # a warning is still a difference
    assert [m["label"] for m in data["manifests"]] == ["n1", "n2", "n3", "n10"]
    assert [m["source"] for m in data["manifests"]] == [str(folder / f"{n}.json") for n in ("n1", "n2", "n3", "n10")]
    assert data["groups"] == [["n1", "n2", "n10"], ["n3"]]


def test_diff_of_the_same_file_twice_is_the_same(capsys):
    code, out, _ = run(capsys, "diff", FIXTURES / "node-1.json", FIXTURES / "node-1.json")
    assert code == 0 and out.splitlines()[-1] == "same: the 2 manifests agree on every compared fact"


def test_diff_markdown_and_html_have_the_exit_code_of_text(capsys):
    paths = [FIXTURES / "node-1.json", FIXTURES / "node-2.json"]
    for fmt in ("text", "markdown", "html"):
        assert run(capsys, "diff", *paths, "--format", fmt)[0] == 1


# --- check: this machine's interpreter against a manifest of it ------------------------------------------------

@pytest.fixture(scope="module")
def frozen(tmp_path_factory) -> tuple[Path, dict]:
    """A manifest of the interpreter running the tests, with one data set, as `freeze --data` writes it."""
    project = tmp_path_factory.mktemp("project")
    (project / "data").mkdir()
    (project / "data" / "a.csv").write_text("id,value\n1,10\n")
    path = project / "envcapture.json"
    assert main(["freeze", "-o", str(path), "--python", sys.executable, "--data", str(project / "data"),
                 "--project", str(project)]) == 0
    return path, manifest.load(path)


def variant(frozen, tmp_path, edit, keep_data: bool = False) -> Path:
    path, data = frozen
    data = copy.deepcopy(data)
    if not keep_data:
        data.pop("data", None)
    else:  # the copy is the project now: its data set is found beside it, not in the frozen project
        data["filesystem"]["project"]["root"] = str(tmp_path)
    edit(data)
    out = tmp_path / "envcapture.json"
    manifest.save(data, out)
    if keep_data:
        shutil.copytree(path.parent / "data", tmp_path / "data")
    return out


def test_check_of_the_same_interpreter_is_ok(frozen, tmp_path, capsys):
    plain = variant(frozen, tmp_path, lambda m: None)
    code, out, _ = run(capsys, "check", plain, "--python", sys.executable)
    assert code == 0, out
    assert out.splitlines()[0] == "Comparing envcapture.json vs live"
    assert out.splitlines()[-1].startswith("OK: live satisfies envcapture.json")


def test_check_of_another_package_version_is_drift_exit_1(frozen, tmp_path, capsys):
    def older_pytest(m):
        next(p for p in m["python_packages"] if p["name"].lower() == "pytest")["version"] = "7.0.0"
    code, out, _ = run(capsys, "check", variant(frozen, tmp_path, older_pytest), "--python", sys.executable,
                       "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["command"] == "check" and data["ok"] is False
    assert [m["label"] for m in data["manifests"]] == ["envcapture.json", "live"]
    assert data["manifests"][0]["source"] == str(tmp_path / "envcapture.json")
    assert data["manifests"][1]["source"].startswith("live:")
    pytest_row = next(d for d in data["differences"] if d["item"] == "pytest")
    assert (pytest_row["grade"], pytest_row["values"][0]) == ("error", "7.0.0")
    assert "data" not in data  # no data set recorded: nothing about data


def test_check_strict_makes_a_warning_drift(frozen, tmp_path, capsys):
    other_kernel = variant(frozen, tmp_path, lambda m: m["os"].update(kernel="0.0.1-other"))
    code, out, _ = run(capsys, "check", other_kernel, "--python", sys.executable, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True and data["counts"]["warning"] >= 1 and data["strict"] is False
    code, out, _ = run(capsys, "check", other_kernel, "--python", sys.executable, "--format", "json", "--strict")
    data = json.loads(out)
    assert code == 1 and data["strict"] is True and data["counts"]["warning"] == 0
    assert next(d for d in data["differences"] if d["field"] == "kernel")["grade"] == "error"


def test_check_data_only_reads_no_environment(frozen, tmp_path, capsys):
    recorded = variant(frozen, tmp_path, lambda m: m["python_packages"].clear(), keep_data=True)
    code, out, _ = run(capsys, "check", recorded, "--data-only", "--format", "json")
    data = json.loads(out)
    assert code == 0 and list(data) == ["data"] and data["data"][0]["ok"] is True
    code, out, _ = run(capsys, "check", recorded, "--data-only")
    assert code == 0 and out.startswith("data set data (data): unchanged (1 files, 14 bytes)")
    (tmp_path / "data" / "a.csv").write_text("id,value\n1,11\n")
    code, out, _ = run(capsys, "check", recorded, "--data-only", "--format", "json")
    assert code == 1 and json.loads(out)["data"][0]["ok"] is False


def test_check_data_of_a_manifest_without_data_sets_is_one_line_exit_2(capsys):
    code, out, err = run(capsys, "check", FIXTURES / "node-1.json", "--data", "raw=.")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "node-1.json: records no data sets (record them with envcapture freeze --data PATH)" in err


def test_check_environment_then_data(frozen, tmp_path, capsys):
    recorded = variant(frozen, tmp_path, lambda m: None, keep_data=True)
    code, out, _ = run(capsys, "check", recorded, "--python", sys.executable, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True and data["data"][0]["ok"] is True and data["command"] == "check"
    code, out, _ = run(capsys, "check", recorded, "--python", sys.executable)
    lines = out.splitlines()
    assert code == 0 and lines[-2].startswith("OK: live satisfies envcapture.json")
    assert lines[-1] == "data set data (data): unchanged (1 files, 14 bytes)"
    # Data that changed fails the check even when the environment satisfies the manifest...
    (tmp_path / "data" / "a.csv").write_text("changed\n")
    assert run(capsys, "check", recorded, "--python", sys.executable, "--format", "json")[0] == 1
    # ... and so does drift of the environment with unchanged data.
    (tmp_path / "data" / "a.csv").write_text("id,value\n1,10\n")
    drifted = json.loads(recorded.read_text())
    drifted["python"]["implementation"] = "pypy"
    manifest.save(drifted, recorded)
    code, out, _ = run(capsys, "check", recorded, "--python", sys.executable, "--format", "json")
    assert code == 1 and json.loads(out)["data"][0]["ok"] is True


def test_what_restore_checks_is_the_python_sections_only(frozen):
    _, data = frozen
    other = copy.deepcopy(data)
    other["os"]["kernel"] = "0.0.1-other"
    other["hardware"]["cpu_model"] = "another CPU"
    result = compare.check_python_env(other, sys.executable)
    assert result.labels == ["manifest", "restored"] and result.ok and result.same, \
        [d.message(result.labels) for d in result.differences]
    assert set(result.not_compared) == set(compare.SECTIONS) - {"python", "python_packages"}
    assert set(result.not_compared.values()) == {
        "restore recreates only the Python packages; run `envcapture check` for the rest"}
    next(p for p in other["python_packages"] if p["name"].lower() == "pytest")["version"] = "7.0.0"
    strict = compare.check_python_env(other, sys.executable, strict=True)
    assert not strict.ok and strict.strict


# --- what pip check would say of the checked environment ------------------------------------------------------

LIVE = {"python": {"markers": {"python_version": "3.11", "sys_platform": "linux", "platform_machine": "x86_64"}},
        "python_packages": [
            {"name": "requests", "version": "2.32.3", "requires": ["idna<4,>=2.5", "urllib3<3,>=1.21.1",
                                                                   "pywin32; sys_platform == 'win32'"]},
            {"name": "idna", "version": "4.0", "requires": []},
            {"name": None, "version": "1.0", "requires": ["nothing"]},  # not a package: left out
        ]}


def test_an_unsatisfied_requirement_is_a_warning_and_an_error_with_strict():
    found = unsatisfied_differences(LIVE, strict=False)
    assert [(d.section, d.item, d.field, d.grade, d.change, d.values) for d in found] == [
        ("python_packages", "requests", "requires", "warning", "unsatisfied", [None, None]),
        ("python_packages", "requests", "requires", "warning", "unsatisfied", [None, None])]
    assert [d.what for d in found] == [
        "requests 2.32.3 has requirement idna<4,>=2.5, but idna 4.0 is installed",
        "requests 2.32.3 requires urllib3, which is not installed"]
    assert found[0].message(["envcapture.json", "live"]) == \
        "requests 2.32.3 has requirement idna<4,>=2.5, but idna 4.0 is installed (in live)"
    assert {d.grade for d in unsatisfied_differences(LIVE, strict=True)} == {"error"}
    assert unsatisfied_differences({"python_packages": None}, strict=True) == []
