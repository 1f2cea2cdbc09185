"""A project that uses DVC: freeze records what dvc.lock and the .dvc files track, as DVC wrote it, and
check reports when the lock changed. The DVC files are real ones written by DVC 3.67.1 (tests/fixtures/dvc,
see SOURCES.md there); DVC itself is not needed to run these tests."""

from __future__ import annotations

import json
import shutil

from .conftest import REPO, envcapture

FIXTURE = REPO / "tests" / "fixtures" / "dvc" / "project"


def test_freeze_records_dvc_outputs_without_hashing_and_check_reports_a_changed_lock(tmp_path, cache_home):
    project = shutil.copytree(FIXTURE, tmp_path / "proj")
    proc = envcapture("freeze", "-o", "m.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((project / "m.json").read_text())["data"]
    assert data["sets"] == []
    dvc = data["dvc"]
    assert dvc["lock"]["path"] == "dvc.lock" and [f["path"] for f in dvc["files"]] == \
        ["data/images.dvc", "data/raw.csv.dvc"]
    outputs = {o["path"]: o for o in dvc["outputs"]}
    assert outputs["reports"] == {"path": "reports", "md5": "b2c39c4e3fc0919aeeb0575e44b99e57.dir", "size": 47,
                                  "nfiles": 2, "source": "dvc.lock", "stage": "summarize"}
    assert outputs["data/raw.csv"]["md5"] == "ef5b0ff5762bac4466f906872710eb34"  # path made project-relative
    assert outputs["data/raw.csv"]["source"] == "data/raw.csv.dvc"

    proc = envcapture("check", "m.json", "--data-only", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DVC-tracked outputs (dvc.lock, *.dvc): unchanged (4 outputs" in proc.stdout

    lock = project / "dvc.lock"  # what `dvc repro` writes after the prepared data changed
    lock.write_text(lock.read_text().replace("md5: ef5b0ff5762bac4466f906872710eb34\n      size: 19\n  summarize",
                                             "md5: 0123456789abcdef0123456789abcdef\n      size: 25\n  summarize"))
    proc = envcapture("check", "m.json", "--data-only", cwd=project)
    assert proc.returncode == 1
    assert "dvc-lock   dvc.lock: dvc.lock changed since the manifest was written" in proc.stdout
    assert "dvc-output data/prepared.csv: 19 bytes -> 25 bytes, md5 ef5b0ff5762bac4466f906872710eb34 -> " \
           "md5 0123456789abcdef0123456789abcdef (in dvc.lock)" in proc.stdout


def test_a_broken_dvc_lock_is_a_warning_not_a_failed_freeze(tmp_path, cache_home):
    project = shutil.copytree(FIXTURE, tmp_path / "proj")
    (project / "dvc.lock").write_text("stages: [unclosed\n")
    proc = envcapture("freeze", "-o", "m.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "dvc: dvc.lock is not valid YAML" in proc.stderr
    assert json.loads((project / "m.json").read_text())["data"]["dvc"]["lock"] is None


def test_a_broken_dvc_file_does_not_hide_the_ones_after_it(tmp_path):
    """Each .dvc file is read on its own: one that is not valid YAML is a warning, and the files after it (in
    the walk's order) are still recorded. Found by bench/mutation.py: ``continue`` -> ``break`` after a file
    that could not be parsed survived."""
    from envcapture.data import dvc

    project = tmp_path / "proj"
    project.mkdir()
    (project / "a.dvc").write_text("outs: [unclosed\n")
    (project / "b.dvc").write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 3\n  path: b.csv\n")
    (project / "c.dvc").write_text("outs:\n- md5: fedcba9876543210fedcba9876543210\n  size: 4\n  path: c.csv\n")
    facts = dvc.collect(project)
    assert [f.path for f in facts.files] == ["b.dvc", "c.dvc"]
    assert sorted(o.path for o in facts.outputs) == ["b.csv", "c.csv"]
    assert any(w.startswith("a.dvc is not valid YAML") for w in facts.warnings), facts.warnings
