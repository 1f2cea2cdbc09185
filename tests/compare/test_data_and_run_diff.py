"""diff compares the data sets of plain manifests and the run section of run records; check leaves both out."""

from __future__ import annotations

import copy
import json

from envcapture.compare import compare
from envcapture.compare.many import ManifestSet
from envcapture.manifest import file as manifest

from .conftest import edited

DATA_SET = {"name": "raw", "path": "data/raw", "kind": "folder", "role": "raw", "algorithm": "blake3",
            "root_hash": "a" * 64, "file_count": 2, "total_bytes": 10, "unreadable": 0, "excludes": [],
            "read_only": True, "files": None, "sidecar": None}
RUN = {"argv": ["python", "train.py"], "working_folder": ".", "started": "2026-01-01T00:00:00.000000Z",
       "ended": "2026-01-01T00:00:01.000000Z", "duration_seconds": 1.0, "status": "succeeded", "exit_code": 0,
       "signal": None, "seed": 1,
       "seed_records": [{"seed": 1, "deterministic": True, "warn_only": True, "mode": "hook",
                         "seeded": [{"name": "numpy", "version": "2.0.0", "call": "numpy.random.seed(1)",
                                     "when": "on import"}],
                         "switches": {"torch.backends.cudnn.benchmark": False},
                         "environment": {"PYTHONHASHSEED": "1"}, "not_set": [], "waiting": []}],
       "outputs": [], "used": {"recorded": True, "python_packages": ["numpy"], "shared_libraries": [],
                                "files_read": ["train.py"], "files_written": [], "files_not_listed": 0,
                                "problems": []},
       "warnings": []}


def diff(tmp_path, *manifests):
    paths = []
    for number, data in enumerate(manifests):
        path = tmp_path / f"m{number}.json"
        manifest.save(data, path)
        paths.append(str(path))
    found = ManifestSet()
    for path in paths:
        found.add(path)
    result = found.compare([f"m{n}" for n in range(len(paths))], paths)
    return {(d.section, d.what, d.grade, tuple(d.values)) for d in result.differences}


def with_data(base, root_hash="a" * 64):
    return edited(base, lambda m: m.__setitem__("data", {"sets": [{**DATA_SET, "root_hash": root_hash}]}))


def with_run(base, **changes):
    run = copy.deepcopy(RUN)
    for key, value in changes.items():
        run[key] = value
    return edited(base, lambda m: m.__setitem__("run", run))


def test_plain_manifests_on_different_data_differ(base, tmp_path):
    found = diff(tmp_path, with_data(base), with_data(base, "b" * 64))
    assert found == {("data", "raw", "error", ("blake3 aaaaaaaaaaaa (2 files, 10 bytes)",
                                                "blake3 bbbbbbbbbbbb (2 files, 10 bytes)"))}


def test_a_data_set_on_one_side_only_is_missing(base, tmp_path):
    found = diff(tmp_path, with_data(base), base)
    assert [(s, w, g) for s, w, g, _ in found] == [("data", "raw", "error")]


def test_runs_differing_only_in_time_show_only_the_duration(base, tmp_path):
    later = with_run(base, started="2026-01-02T00:00:00.000000Z", ended="2026-01-02T00:00:03.000000Z",
                     duration_seconds=3.0)
    assert diff(tmp_path, with_run(base), later) == {("run", "duration", "warning", ("1.00 s", "3.00 s"))}


def test_runs_show_command_exit_code_seed_and_switches(base, tmp_path):
    other = copy.deepcopy(RUN["seed_records"][0])
    other["seeded"][0]["call"] = "numpy.random.seed(2)"
    other["switches"] = {"torch.backends.cudnn.benchmark": True}
    changed = with_run(base, argv=["python", "train.py", "--fast"], status="failed", exit_code=3, seed=2,
                       seed_records=[other])
    found = {(w, g) for _, w, g, _ in diff(tmp_path, with_run(base), changed)}
    assert found == {("command", "error"), ("run status", "error"), ("exit code", "error"), ("seed", "error"),
                     ("seeded numpy", "error"), ("switch torch.backends.cudnn.benchmark", "error")}


def test_a_run_record_against_a_plain_manifest_names_the_command(base, tmp_path):
    found = diff(tmp_path, with_run(base), base)
    assert ("run", "command", "error", ("python, train.py", None)) in found


def test_check_compares_neither_data_nor_run(base):
    result = compare([with_run(with_data(base)), base], ["a", "b"])
    assert result.differences == []
    assert json.loads(json.dumps(result.to_json("check")))["same"] is True


def test_check_names_what_a_run_could_not_set():
    from envcapture.compare.commands import seed_record_findings

    record = copy.deepcopy(RUN)
    record["seed_records"][0]["not_set"] = [{"name": "PYTHONHASHSEED", "reason": "read once at start-up",
                                             "value_to_set": "1"}]
    found = seed_record_findings({"run": record}, strict=False)
    assert [(d.what, d.grade) for d in found] == [("not set by the run: PYTHONHASHSEED (set PYTHONHASHSEED=1)",
                                                    "warning")]
    assert [d.grade for d in seed_record_findings({"run": record}, strict=True)] == ["error"]
    assert seed_record_findings({"run": RUN}, strict=False) == []
    assert seed_record_findings({}, strict=False) == []
