"""Data sets on real trees changed in every way `check` claims to report, and the readers of what a stranger
sends with a manifest (sidecars, data set specs) fed the records a hostile or broken one holds."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from envcapture.data import check as data_check
from envcapture.data import fingerprint as fp
from envcapture.data import specs as datasets
from envcapture.errors import BadInput

from .conftest import REPO, envcapture, make_tree, record_manifest, spec

FILES = {"a.csv": "id,value\n1,10\n", "b.csv": "hello\n", "sub/c.bin": b"\x00" * 300, "sub/deep/d.txt": "d\n"}


@pytest.fixture
def recorded(tmp_path, cache_home):
    project = tmp_path / "proj"
    root = make_tree(project / "data" / "raw", FILES)
    os.symlink("b.csv", root / "link")
    manifest = project / "m.json"
    data = record_manifest(manifest, [spec(root)], project)
    return project, root, manifest, data


def differences(manifest: Path, data: dict) -> set[tuple]:
    (report,) = data_check.verify(data, manifest.parent, use_cache=False)
    return {(d.kind, d.path, d.old_size, d.new_size, d.detail) for d in report.differences}


def test_an_untouched_tree_has_no_difference(recorded):
    project, root, manifest, data = recorded
    assert differences(manifest, data) == set()


def test_a_file_that_became_a_folder_is_reported(recorded):
    project, root, manifest, data = recorded
    (root / "a.csv").unlink()
    make_tree(root / "a.csv", {"inside.txt": "x"})
    assert differences(manifest, data) == {("missing", "a.csv", 14, None, None),
                                           ("new", "a.csv/inside.txt", None, 1, None)}


def test_a_link_whose_target_changed_is_reported(recorded):
    project, root, manifest, data = recorded
    (root / "link").unlink()
    os.symlink("a.csv", root / "link")
    assert differences(manifest, data) == {("link", "link", None, None, "link to b.csv -> link to a.csv")}


def test_a_link_that_became_a_file_and_a_file_that_became_a_link(recorded):
    project, root, manifest, data = recorded
    (root / "link").unlink()
    (root / "link").write_text("b")
    (root / "b.csv").unlink()
    os.symlink("a.csv", root / "b.csv")
    assert differences(manifest, data) == {("link", "link", None, 1, "link to b.csv -> file of 1 bytes"),
                                           ("link", "b.csv", 6, None, "file of 6 bytes -> link to a.csv")}


def test_a_folder_data_set_that_became_a_file_is_a_kind_difference(recorded):
    project, root, manifest, data = recorded
    shutil.rmtree(root)
    root.write_text("now a file")
    (report,) = data_check.verify(data, manifest.parent, use_cache=False)
    assert [(d.kind, d.detail) for d in report.differences] == [("kind", "recorded a folder, found a file")]


def test_a_deep_file_changed_keeps_its_sizes(recorded):
    project, root, manifest, data = recorded
    (root / "sub" / "deep" / "d.txt").write_text("dd\n")
    assert differences(manifest, data) == {("changed", "sub/deep/d.txt", 2, 3, None)}


def test_the_check_command_exits_1_and_names_each_change(recorded):
    project, root, manifest, data = recorded
    (root / "link").unlink()
    os.symlink("a.csv", root / "link")
    (root / "sub" / "c.bin").unlink()
    proc = envcapture("check", manifest, "--data-only")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "data set raw (data/raw): 2 differences" in proc.stdout
    assert "link       link: link to b.csv -> link to a.csv" in proc.stdout
    assert "missing    sub/c.bin: was 300 bytes, now missing" in proc.stdout


def test_a_deleted_dvc_lock_is_reported(tmp_path, cache_home):
    project = shutil.copytree(REPO / "tests" / "fixtures" / "dvc" / "project", tmp_path / "proj")
    assert envcapture("freeze", "-o", "m.json", cwd=project).returncode == 0
    (project / "dvc.lock").unlink()
    proc = envcapture("check", "m.json", "--data-only", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "dvc-lock   dvc.lock: dvc.lock is gone" in proc.stdout
    report = json.loads(envcapture("check", "m.json", "--data-only", "--format", "json", cwd=project).stdout)
    dvc = next(r for r in report["data"] if r["name"] == "dvc")
    gone = {(d["kind"], d["path"], d["old_size"], d["new_size"]) for d in dvc["differences"]}
    # what only the lock recorded is gone with it, each with the size the lock gave it
    assert ("dvc-lock", "dvc.lock", None, None) in gone and ("dvc-output", "reports", 47, None) in gone


# --------------------------------------------------------------------------------------------- sidecars


def write_sidecar(path: Path, records: list[dict], algorithm="sha256", root=None) -> dict:
    """A sidecar as a stranger could write it, with a manifest record whose hashes match its bytes."""
    lines = [json.dumps({"envcapture_data_sidecar": 1, "name": "raw", "algorithm": algorithm, "root_hash": "x"})]
    lines += [json.dumps(r) for r in records]
    content = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    path.write_bytes(content)
    if root is None:
        try:
            root = fp.root_hash([fp.FileRecord(**r) for r in records], algorithm)
        except TypeError:
            root = "0" * 64
    return {"name": "raw", "algorithm": algorithm, "root_hash": root, "files": None,
            "sidecar": {"file": path.name, "sha256": hashlib.sha256(content).hexdigest()}}


GOOD = {"path": "a.csv", "size": 3, "hash": "a" * 64}


def test_a_sound_sidecar_is_read(tmp_path):
    record = write_sidecar(tmp_path / "s.jsonl.gz", [GOOD, {"path": "l", "link": "a.csv"}])
    files, why = datasets.recorded_files(record, tmp_path)
    assert why is None and [f.path for f in files] == ["a.csv", "l"]


@pytest.mark.parametrize("bad", [
    {"path": "../etc/passwd", "size": 3, "hash": "a" * 64},
    {"path": "sub/../../x", "size": 3, "hash": "a" * 64},
    {"path": "/etc/passwd", "size": 3, "hash": "a" * 64},
    {"path": "a\x1b[31mb", "size": 3, "hash": "a" * 64},
    {"path": "a\nb", "size": 3, "hash": "a" * 64},
    {"path": "a.csv", "size": -1, "hash": "a" * 64},
    {"path": "a.csv", "size": True, "hash": "a" * 64},
    {"path": "a.csv", "size": 3, "hash": "not hex"},
    {"path": "a.csv", "link": "x\x1b]0;title\x07"},
    {"path": "a.csv", "size": 3, "hash": "a" * 64, "owner": "root"},
])
def test_a_sidecar_record_that_breaks_the_grammar_is_refused(tmp_path, bad):
    record = write_sidecar(tmp_path / "s.jsonl.gz", [GOOD, bad])
    files, why = datasets.recorded_files(record, tmp_path)
    assert files is None and "line 3: not a file record" in why


def test_a_sidecar_that_does_not_add_up_to_the_root_hash_is_refused(tmp_path):
    record = write_sidecar(tmp_path / "s.jsonl.gz", [GOOD], root="b" * 64)
    files, why = datasets.recorded_files(record, tmp_path)
    assert files is None and "does not add up to the recorded root hash" in why


def test_a_sidecar_whose_bytes_changed_is_refused(tmp_path):
    record = write_sidecar(tmp_path / "s.jsonl.gz", [GOOD])
    record["sidecar"]["sha256"] = "c" * 64
    files, why = datasets.recorded_files(record, tmp_path)
    assert files is None and "does not match the sha256" in why


def test_check_with_a_refused_sidecar_compares_only_the_root_hash_and_says_why(recorded, tmp_path):
    project, root, manifest, data = recorded
    record = data["data"]["sets"][0]
    files = record["files"]
    record.update(write_sidecar(project / "s.jsonl.gz", [*files, {"path": "../x", "size": 1, "hash": "a" * 64}],
                                algorithm=record["algorithm"], root=record["root_hash"]))
    record["name"] = "raw"
    (root / "b.csv").write_text("changed")
    (report,) = data_check.verify(data, manifest.parent, use_cache=False)
    assert [d.kind for d in report.differences] == ["root-hash"]
    assert "not a file record" in report.differences[0].detail


# --------------------------------------------------------------------------------------------- specs


def test_two_data_sets_with_one_name_are_refused(tmp_path, cache_home):
    a = make_tree(tmp_path / "a" / "raw", {"x": "1"})
    b = make_tree(tmp_path / "b" / "raw", {"y": "2"})
    with pytest.raises(BadInput, match="data set name 'raw' is used twice"):
        datasets.collect([spec(a, name="raw"), spec(b, name="raw")], tmp_path, "sha256", False, "m.json")
    # Without names, the second gets a name of its own.
    section = datasets.collect([spec(a), spec(b)], tmp_path, "sha256", False, "m.json").section
    assert [s["name"] for s in section["sets"]] == ["raw", "raw-2"]


def test_a_fifo_or_a_device_is_not_a_data_set(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero"), Path("/dev/null")):
        with pytest.raises(fp.DataSetError, match="not a file or folder"):
            fp.fingerprint(path, "sha256")


def test_excludes_match_nested_names_and_paths(tmp_path):
    root = make_tree(tmp_path / "d", {"keep.csv": "1", "x.tmp": "2", "a/b/c/y.tmp": "3", "a/b/cache/z": "4",
                                      "a/keep.txt": "5", "logs/2026/run.log": "6"})
    facts = fp.fingerprint(root, "sha256", excludes=("*.tmp", "cache", "logs/*"))
    assert [r.path for r in facts.files] == ["a/keep.txt", "keep.csv"]


def test_the_hash_never_follows_a_link_swapped_in_after_the_walk(tmp_path):
    target = tmp_path / "secret"
    target.write_text("outside the data set")
    info = os.lstat(target)
    link = tmp_path / "swapped"
    os.symlink(target, link)
    with pytest.raises(OSError):  # O_NOFOLLOW: ELOOP, never the target's hash
        fp.hash_file(str(link), info, "sha256")
    assert fp.hash_file(str(target), info, "sha256") == hashlib.sha256(b"outside the data set").hexdigest()


def test_read_only_means_no_write_bit_anywhere_and_names_what_has_one(tmp_path):
    root = make_tree(tmp_path / "d", {"a.csv": "1", "sub/deep/d.txt": "2"})
    folders = [root, root / "sub", root / "sub" / "deep"]
    for path in [root / "a.csv", root / "sub" / "deep" / "d.txt"]:
        path.chmod(0o444)
    for folder in folders:
        folder.chmod(0o555)
    try:
        facts = fp.fingerprint(root, "sha256")
        assert facts.read_only is True and facts.writable == []
        (root / "sub" / "deep").chmod(0o755)
        (root / "sub" / "deep" / "d.txt").chmod(0o664)
        facts = fp.fingerprint(root, "sha256")
        assert facts.read_only is False and sorted(facts.writable) == ["sub/deep", "sub/deep/d.txt"]
        (root / "sub" / "deep").chmod(0o555)
        (root / "sub" / "deep" / "d.txt").chmod(0o444)
        root.chmod(0o755)
        facts = fp.fingerprint(root, "sha256")
        assert facts.read_only is False and facts.writable == ["."]
        single = fp.fingerprint(root / "a.csv", "sha256")
        assert single.kind == "file" and single.read_only is True and single.writable == []
    finally:
        for folder in folders:
            folder.chmod(0o755)


def test_a_secret_in_a_file_name_or_a_link_target_is_recorded_redacted(tmp_path):
    key = "AKIAIOSFODNN7EXAMPLE"
    root = make_tree(tmp_path / "d", {f"data.csv?X-Amz-Credential={key}%2F20260101": "1", "plain.csv": "2"})
    os.symlink(f"https://user:{key}pw@example.org/x", root / "remote")
    facts = fp.fingerprint(root, "sha256")
    recorded = json.dumps([r.to_json() for r in facts.files])
    assert key not in recorded and "plain.csv" in recorded
    assert facts.root_hash == fp.root_hash(facts.files, "sha256")  # the hash covers the names as recorded


@pytest.mark.parametrize("header", [{"envcapture_data_sidecar": 0}, {"envcapture_data_sidecar": 2},
                                    {"envcapture_data_sidecar": "1"}, {"name": "raw"}, ["envcapture_data_sidecar"]])
def test_a_sidecar_of_another_format_is_refused(tmp_path, header):
    content = gzip.compress((json.dumps(header) + "\n" + json.dumps(GOOD) + "\n").encode(), mtime=0)
    (tmp_path / "s.jsonl.gz").write_bytes(content)
    record = {"name": "raw", "algorithm": "sha256", "root_hash": fp.root_hash([fp.FileRecord(**GOOD)], "sha256"),
              "files": None, "sidecar": {"file": "s.jsonl.gz", "sha256": hashlib.sha256(content).hexdigest()}}
    files, why = datasets.recorded_files(record, tmp_path)
    assert files is None and "is not an envcapture data sidecar of format 1" in why


def test_a_sidecar_has_no_timestamp_and_the_same_records_give_the_same_bytes():
    files = [fp.FileRecord("a.csv", 3, "a" * 64)]
    record = {"name": "raw", "algorithm": "sha256", "root_hash": fp.root_hash(files, "sha256")}
    one, two = datasets.make_sidecar("m.json", record, files), datasets.make_sidecar("m.json", record, files)
    assert one.content == two.content and one.file_name == two.file_name
    assert one.content[4:8] == b"\0\0\0\0"  # gzip's MTIME field: none
    assert one.file_name == f"m.raw.{one.sha256[:24]}.jsonl.gz"


def test_default_names_are_plain_and_at_most_100_characters():
    assert datasets.default_name(Path("/x/" + "n" * 150), set()) == "n" * 100
    assert datasets.default_name(Path("/x/.my data set (v2)"), set()) == "my-data-set-v2-"
    assert datasets.default_name(Path("/x/raw"), {"raw", "raw-2"}) == "raw-3"
    assert datasets.default_name(Path("/x/..."), set()) == "data"
