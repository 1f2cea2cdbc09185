"""`envcapture check` on recorded data sets: every kind of change named with its sizes, exit 1; a copy
elsewhere with --data NAME=PATH; the sidecar missing; protect and the raw set made writable again."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest

from .conftest import envcapture, make_tree, record_manifest, spec

FILES = {"a.csv": "id,value\n1,10\n2,20\n", "b.csv": "hello\n", "sub/c.bin": b"\x00" * 5000, "sub/d.txt": "d\n"}


@pytest.fixture
def recorded(tmp_path, cache_home):
    """A project with data/raw recorded in m.json."""
    project = tmp_path / "proj"
    root = make_tree(project / "data" / "raw", FILES)
    manifest = project / "m.json"
    record_manifest(manifest, [spec(root)], project)
    return project, root, manifest


def check(manifest, *args, **kwargs):
    return envcapture("check", manifest, "--data-only", *args, **kwargs)


def test_an_unchanged_data_set_passes(recorded):
    project, root, manifest = recorded
    proc = check(manifest)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "data set raw (data/raw): unchanged (4 files, 5027 bytes)" in proc.stdout


def test_one_byte_changed_in_place_with_mtime_put_back_is_named(recorded):
    project, root, manifest = recorded
    check(manifest)  # the cache now knows every file
    target = root / "a.csv"
    before = target.stat()
    with open(target, "r+b") as handle:
        handle.seek(12)
        handle.write(b"7")
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    proc = check(manifest)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "data set raw (data/raw): 1 difference" in proc.stdout
    assert "changed    a.csv: 19 bytes -> 19 bytes" in proc.stdout


def test_truncated_renamed_new_and_deleted_files(recorded):
    project, root, manifest = recorded
    (root / "b.csv").write_text("he")
    (root / "sub" / "d.txt").rename(root / "sub" / "d-renamed.txt")
    (root / "new.csv").write_text("brand new\n")
    (root / "sub" / "c.bin").unlink()
    proc = check(manifest)
    assert proc.returncode == 1
    out = proc.stdout
    assert "4 differences" in out
    assert "changed    b.csv: 6 bytes -> 2 bytes" in out
    assert "renamed    sub/d.txt: 2 bytes, now sub/d-renamed.txt" in out
    assert "new        new.csv: not recorded, now 10 bytes" in out
    assert "missing    sub/c.bin: was 5000 bytes, now missing" in out
    data = json.loads(check(manifest, "--format", "json").stdout)["data"][0]
    assert data["ok"] is False
    assert {(d["kind"], d["path"], d["old_size"], d["new_size"]) for d in data["differences"]} == {
        ("changed", "b.csv", 6, 2), ("renamed", "sub/d.txt", 2, 2), ("new", "new.csv", None, 10),
        ("missing", "sub/c.bin", 5000, None)}


def test_a_copy_elsewhere_is_checked_with_data_name_equals_path(recorded, tmp_path):
    project, root, manifest = recorded
    copy = shutil.copytree(root, tmp_path / "colleague" / "their-raw")
    proc = check(manifest, "--data", f"raw={copy}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"checked at {copy}" in proc.stdout
    (copy / "b.csv").write_text("HELLO\n")
    proc = check(manifest, "--data", f"raw={copy}")
    assert proc.returncode == 1 and "changed    b.csv: 6 bytes -> 6 bytes" in proc.stdout


def test_a_moved_manifest_names_the_missing_folder_and_the_option(recorded, tmp_path):
    project, root, manifest = recorded
    moved = tmp_path / "moved.json"
    shutil.copy(manifest, moved)
    proc = check(moved)
    assert proc.returncode == 1
    assert "not-found" in proc.stdout and "--data raw=PATH" in proc.stdout


@pytest.mark.parametrize("args,message", [
    (["--data", "nosuchset=/tmp"], "records no data set 'nosuchset' (recorded: raw)"),
    (["--data", "raw"], "expected NAME=PATH"),
])
def test_bad_data_mappings_are_one_line_and_exit_2(recorded, args, message):
    proc = check(recorded[2], *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_a_manifest_without_data_sets_says_so_with_data_only(tmp_path):
    from .conftest import REPO

    old = REPO / "tests" / "fixtures" / "manifests" / "v0.1.0" / "plain-venv.json"
    proc = check(old)
    assert proc.returncode == 2 and "records no data sets" in proc.stderr


def test_without_the_sidecar_only_the_root_hash_is_compared(tmp_path, cache_home, monkeypatch):
    from envcapture.data import specs as datasets

    monkeypatch.setattr(datasets, "INLINE_LIMIT", 2)
    root = make_tree(tmp_path / "d", FILES)
    manifest = tmp_path / "m.json"
    record = record_manifest(manifest, [spec(root)], tmp_path)["data"]["sets"][0]
    proc = check(manifest)
    assert proc.returncode == 0 and "unchanged" in proc.stdout  # the sidecar was read: no note
    assert "only the root hash" not in proc.stdout
    (tmp_path / record["sidecar"]["file"]).unlink()
    proc = check(manifest)
    assert proc.returncode == 0
    assert "only the root hash could be compared" in proc.stdout and "it matches" in proc.stdout
    (root / "b.csv").write_text("changed\n")
    proc = check(manifest)
    assert proc.returncode == 1
    assert "root-hash: root hash" in proc.stdout and "only the root hash could be compared" in proc.stdout
    # Both hashes shortened alike, to their first 16 characters (found by bench/mutation.py: the recorded one
    # cut to 15 survived)
    from envcapture.data.fingerprint import fingerprint

    now = fingerprint(root, algorithm=record["algorithm"]).root_hash
    assert f"root hash {record['root_hash'][:16]}... is now {now[:16]}...; only the root hash" in proc.stdout


def modes(root):
    return [stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]]


def test_protect_makes_a_folder_read_only_records_it_raw_and_check_flags_it_writable(tmp_path, cache_home):
    project = tmp_path / "proj"
    root = make_tree(project / "data" / "raw", FILES)
    other = make_tree(project / "data" / "other", {"x": "1"})
    manifest = project / "m.json"
    record_manifest(manifest, [spec(other)], project)
    proc = envcapture("protect", "data/raw", "-m", "m.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "root (and the owner, with chmod) can still write" in proc.stderr
    assert all(mode & 0o222 == 0 for mode in modes(root))  # tests run as root: look at the bits
    sets = json.loads(manifest.read_text())["data"]["sets"]
    raw = next(s for s in sets if s["path"] == "data/raw")
    assert (raw["role"], raw["read_only"], raw["file_count"]) == ("raw", True, 4)
    assert check(manifest).returncode == 0

    os.chmod(root / "sub" / "c.bin", 0o644)  # someone makes it writable again
    proc = check(manifest)
    assert proc.returncode == 1
    assert "writable: raw data is writable again (sub/c.bin)" in proc.stdout

    proc = envcapture("protect", "--undo", "data/raw", "-m", "m.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert all(mode & 0o200 for mode in modes(root))
    assert check(manifest).returncode == 0  # undone on purpose: the manifest no longer expects read-only


def test_protect_marks_an_already_recorded_set_raw_without_rehashing(recorded):
    project, root, manifest = recorded
    before = json.loads(manifest.read_text())["data"]["sets"][0]
    proc = envcapture("protect", root, "-m", manifest)
    assert proc.returncode == 0, proc.stderr
    after = json.loads(manifest.read_text())["data"]["sets"]
    assert len(after) == 1 and after[0]["role"] == "raw" and after[0]["root_hash"] == before["root_hash"]


def test_protect_with_a_missing_manifest_changes_nothing(tmp_path):
    root = make_tree(tmp_path / "d", {"a": "1"})
    proc = envcapture("protect", root, "-m", tmp_path / "none.json")
    assert proc.returncode == 2 and "no such file" in proc.stderr
    assert all(mode & 0o200 for mode in modes(root))


@pytest.mark.slow
def test_100000_small_files_go_to_the_sidecar_and_check_names_the_one_that_changed(tmp_path, cache_home):
    """About 30 s on the 2-core machine (making the files is most of it): marked slow."""
    from envcapture.data import check as data_check

    root = tmp_path / "many"
    for shard in range(100):
        folder = root / f"shard-{shard:02d}"
        folder.mkdir(parents=True)
        for index in range(1000):
            (folder / f"{index:04d}.txt").write_bytes(b"%d,%d\n" % (shard, index))
    manifest = tmp_path / "m.json"
    data = record_manifest(manifest, [spec(root)], tmp_path)
    record = data["data"]["sets"][0]
    assert record["file_count"] == 100_000 and record["files"] is None
    assert (tmp_path / record["sidecar"]["file"]).is_file()
    assert manifest.stat().st_size < 1_000_000
    (root / "shard-42" / "0420.txt").write_bytes(b"42,421\n")
    reports = data_check.verify(data, tmp_path)
    assert [(d.kind, d.path, d.old_size, d.new_size) for d in reports[0].differences] == \
        [("changed", "shard-42/0420.txt", 7, 7)]
