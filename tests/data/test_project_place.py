"""A manifest written outside its project: `freeze --project P --data P/data/raw -o ELSEWHERE/m.json` records the
data set as `data/raw`, relative to the project (as run records record their outputs), and the project folder in
filesystem.project.root. Every command that looks for a recorded data set finds it there (data.specs.data_places),
the manifest's folder only when that project folder is not on this machine; `--data NAME=PATH` still wins.

Real folders and the CLI as a user runs it (`python -m envcapture`, a subprocess): freeze, check, protect. A
stranger's manifest can name any folder as its project, so there check gives the verdict, never the file names."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .conftest import REPO, envcapture, make_tree

FILES = {"train.csv": "id,value\n1,10\n2,20\n", "test.csv": "id,value\n3,30\n", "sub/notes.txt": "raw export\n"}


def freeze_elsewhere(top: Path, *data: str) -> tuple[Path, Path]:
    """top/P (a project with data/raw), frozen from ``top`` into top/ELSEWHERE/m.json; (project, manifest)."""
    project = top / "P"
    make_tree(project / "data" / "raw", FILES)
    (project / "train.py").write_text("print('training')\n")
    (top / "ELSEWHERE").mkdir()
    options = [x for path in (data or ("P/data/raw",)) for x in ("--data", path)]
    proc = envcapture("freeze", "--project", "P", *options, "-o", "ELSEWHERE/m.json", cwd=top)
    assert proc.returncode == 0, proc.stderr
    manifest = top / "ELSEWHERE" / "m.json"
    recorded = json.loads(manifest.read_text())
    assert recorded["data"]["sets"][0]["path"] == "data/raw"  # project-relative, by design
    assert recorded["filesystem"]["project"]["root"] == str(project.resolve())
    return project, manifest


def check(manifest, *args, cwd):
    return envcapture("check", manifest, "--data-only", *args, cwd=cwd)


def test_check_finds_the_data_in_the_project_and_names_each_changed_file(tmp_path, cache_home):
    project, manifest = freeze_elsewhere(tmp_path)
    proc = check(manifest, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "data set raw (data/raw): unchanged (3 files, 44 bytes)\n" \
        f"  note: found in the project folder the manifest records, {project.resolve()} (not beside the manifest)\n"
    (project / "data" / "raw" / "test.csv").write_text("id,value\n3,31\n")
    proc = check(manifest, cwd=project)
    assert proc.returncode == 1
    assert "changed    test.csv: 14 bytes -> 14 bytes" in proc.stdout, proc.stdout


def test_from_the_manifests_folder_check_gives_the_verdict_without_file_names(tmp_path, cache_home):
    """The project folder is not where the user stands nor where the manifest is: a stranger's manifest could
    have named it, so check says whether the data match, not which files it found there."""
    project, manifest = freeze_elsewhere(tmp_path)
    (tmp_path / "somewhere").mkdir()
    for cwd in (manifest.parent, tmp_path / "somewhere"):
        proc = check(manifest, cwd=cwd)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.startswith("data set raw (data/raw): unchanged (3 files, 44 bytes)\n  note: found in ")
    (project / "data" / "raw" / "private-draft.txt").write_text("not for the manifest's author\n")
    proc = check(manifest, cwd=manifest.parent)
    assert proc.returncode == 1
    assert f"differs: 1 difference from the record, found in the project folder the manifest records " \
           f"({project.resolve()})" in proc.stdout and "--data raw=PATH" in proc.stdout
    assert "private-draft" not in proc.stdout + proc.stderr


def test_the_command_line_mapping_still_wins_over_the_project_folder(tmp_path, cache_home):
    project, manifest = freeze_elsewhere(tmp_path, "P/data/raw", "P/train.py")
    copy = shutil.copytree(project / "data" / "raw", tmp_path / "copy")
    (copy / "train.csv").write_text("id,value\n")
    proc = check(manifest, "--data", f"raw={copy}", cwd=tmp_path)
    assert proc.returncode == 1
    assert f"data set raw (data/raw, checked at {copy}): 1 difference" in proc.stdout
    assert "changed    train.csv: 19 bytes -> 9 bytes" in proc.stdout
    assert "data set train.py (train.py): unchanged (1 files, 18 bytes)" in proc.stdout, proc.stdout


def test_a_manifest_moved_to_a_machine_without_the_project_resolves_beside_itself(tmp_path, cache_home):
    project, manifest = freeze_elsewhere(tmp_path / "here")
    there = tmp_path / "there"  # the other machine: the manifest with its data beside it, no project folder
    there.mkdir()
    shutil.copy(manifest, there / "m.json")
    shutil.copytree(project / "data", there / "data")
    shutil.rmtree(project)
    proc = check(there / "m.json", cwd=there)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "data set raw (data/raw): unchanged (3 files, 44 bytes)\n"


def test_data_found_nowhere_names_where_check_looked(tmp_path, cache_home):
    project, manifest = freeze_elsewhere(tmp_path)
    shutil.rmtree(project / "data")
    proc = check(manifest, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"not-found: {project.resolve()}/data/raw: no such file or directory (looked in the project folder the " \
           f"manifest records, {project.resolve()}; map it to your copy with --data raw=PATH)" in proc.stdout, \
        proc.stdout
    shutil.rmtree(project)
    proc = check(manifest, cwd=tmp_path)
    assert proc.returncode == 1
    assert f"not-found: {manifest.parent}/data/raw: no such file or directory (looked in the manifest's folder: the " \
           f"project folder the manifest records, {project.resolve()}, is not on this machine; map it" \
           in proc.stdout, proc.stdout


def test_dvc_files_are_read_in_the_project_not_beside_the_manifest(tmp_path, cache_home):
    project = shutil.copytree(REPO / "tests" / "fixtures" / "dvc" / "project", tmp_path / "P")
    (tmp_path / "ELSEWHERE").mkdir()
    proc = envcapture("freeze", "--project", "P", "-o", "ELSEWHERE/m.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = check(tmp_path / "ELSEWHERE" / "m.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DVC-tracked outputs (dvc.lock, *.dvc): unchanged (4 outputs" in proc.stdout
    (project / "data" / "raw.csv.dvc").unlink()
    proc = check(tmp_path / "ELSEWHERE" / "m.json", cwd=tmp_path)
    assert proc.returncode == 1 and "dvc-file   data/raw.csv.dvc: data/raw.csv.dvc is gone" in proc.stdout


def _stranger(manifest: Path, root: str, path: str = ".") -> None:
    data = json.loads(manifest.read_text())
    data["filesystem"]["project"]["root"] = root
    data["data"]["sets"][0]["path"] = path
    manifest.write_text(json.dumps(data))


def test_a_strangers_project_folder_never_gets_its_files_named(tmp_path, cache_home):
    _, manifest = freeze_elsewhere(tmp_path / "mine")
    secrets = make_tree(tmp_path / "keys", {"id_ed25519": "PRIVATE KEY\n", "cloud/credentials": "token\n"})
    _stranger(manifest, str(secrets))
    proc = check(manifest, cwd=manifest.parent)
    assert proc.returncode == 1 and "differs: " in proc.stdout, proc.stdout
    out = proc.stdout + proc.stderr
    assert "id_ed25519" not in out and "credentials" not in out and "12 bytes" not in out
    report = json.loads(check(manifest, "--format", "json", cwd=manifest.parent).stdout)["data"][0]
    assert [d["kind"] for d in report["differences"]] == ["differs"]
    assert report["file_count"] is None and report["total_bytes"] is None
    assert report["notes"] == [f"found in the project folder the manifest records, {secrets} (not beside the manifest)"]
    # a link inside the named project leads out of it: not followed into the folder it names
    (tmp_path / "decoy").mkdir()
    (tmp_path / "decoy" / "raw").symlink_to(secrets)
    _stranger(manifest, str(tmp_path / "decoy"), "raw")
    proc = check(manifest, cwd=manifest.parent)
    assert "not-checked: " in proc.stdout and "id_ed25519" not in proc.stdout, proc.stdout


def test_a_home_folder_named_as_the_project_is_not_checked(tmp_path, cache_home):
    _, manifest = freeze_elsewhere(tmp_path / "mine")
    home = make_tree(tmp_path / "home", {".ssh/id_rsa": "PRIVATE KEY\n"})
    _stranger(manifest, "~", ".ssh")
    proc = envcapture("check", manifest, "--data-only", cwd=manifest.parent, env={"HOME": str(home)})
    assert proc.returncode == 1
    assert f"not-checked: recorded at .ssh ({home}/.ssh), outside the manifest's folder and the current folder: " \
           "not checked" in proc.stdout, proc.stdout
    assert "id_rsa" not in proc.stdout + proc.stderr


def test_protect_marks_the_recorded_set_raw_and_undo_finds_it(sandbox):
    """protect PATH -m ELSEWHERE/m.json: the set freeze recorded becomes raw (before, a second set `raw-2` was
    recorded by its absolute path, and --undo of the first found nothing); unprivileged, in the sandbox."""
    project, manifest = freeze_elsewhere(sandbox.root)
    sandbox.own(project, manifest.parent)
    proc = sandbox.envcapture("protect", "P/data/raw", "-m", "ELSEWHERE/m.json")
    assert proc.returncode == 0, proc.stderr
    assert "recorded data set 'raw' marked raw in ELSEWHERE/m.json" in proc.stderr
    sets = json.loads(manifest.read_text())["data"]["sets"]
    assert [(s["name"], s["path"], s["role"], s["read_only"]) for s in sets] == [("raw", "data/raw", "raw", True)]
    assert os.stat(project / "data" / "raw" / "train.csv").st_mode & 0o222 == 0
    proc = sandbox.envcapture("protect", "--undo", "P/data/raw", "-m", "ELSEWHERE/m.json")
    assert proc.returncode == 0, proc.stderr
    assert os.stat(project / "data" / "raw" / "train.csv").st_mode & 0o200


def test_protect_records_a_new_set_relative_to_the_project_as_freeze_does(sandbox):
    project, manifest = freeze_elsewhere(sandbox.root)
    sandbox.own(project, manifest.parent)
    make_tree(project / "data" / "labels", {"a.txt": "cat\n"})
    sandbox.own(project / "data" / "labels")
    proc = sandbox.envcapture("protect", "P/data/labels", "-m", "ELSEWHERE/m.json")
    assert proc.returncode == 0, proc.stderr
    sets = json.loads(manifest.read_text())["data"]["sets"]
    assert [(s["name"], s["path"]) for s in sets] == [("raw", "data/raw"), ("labels", "data/labels")]
    proc = sandbox.envcapture("check", "ELSEWHERE/m.json", "--data-only")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "data set labels (data/labels): unchanged (1 files, 4 bytes)" in proc.stdout


def test_a_secret_in_a_dvc_output_is_compared_redacted_and_never_printed(tmp_path, cache_home):
    """An external DVC output whose URL is a secret (a Slack webhook): freeze records it redacted, and check (reading the
    project's dvc.lock, wherever the manifest is) redacts it the same way, so it is unchanged and never printed.
    Before, check compared the live URL with the redacted one and printed the token (hidden only because check
    read the manifest's folder instead of the project)."""
    token = "https://hooks.slack.com/services/" + "TABCDEFGH/BABCDEFGHIJ/" + "AbCdEfGhIjKlMnOpQrStUvWx"
    project = tmp_path / "P"
    project.mkdir()
    (project / "dvc.lock").write_text(f"schema: '2.0'\nstages:\n  fetch:\n    cmd: python fetch.py\n    outs:\n"
                                      f"    - path: {token}\n"
                                      f"      md5: 0123456789abcdef0123456789abcdef\n      size: 3\n")
    for manifest, cwd in (("m.json", project), ("ELSEWHERE/m.json", tmp_path)):
        (tmp_path / "ELSEWHERE").mkdir(exist_ok=True)
        proc = envcapture("freeze", "--project", project, "-o", tmp_path / manifest if "/" in manifest
                          else project / manifest, cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        proc = check(tmp_path / manifest if "/" in manifest else project / manifest, cwd=cwd)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "DVC-tracked outputs (dvc.lock, *.dvc): unchanged (1 outputs, 3 bytes)" in proc.stdout
        assert token not in proc.stdout + proc.stderr
