"""`check` of a stranger's manifest: its sidecar and data set paths are untrusted. A sidecar that is /dev/zero,
a FIFO, a link or a gzip bomb is refused without reading it; sidecar records are checked (path grammar, sizes,
order, count, root hash); recorded paths outside the manifest's folder and this project are not fingerprinted
unless mapped; DVC files are read without following links (test_check_faults.py covers the changes check
reports on real trees)."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys

import pytest

from .conftest import cli_env, make_tree, record_manifest, spec

FILES = {"a.csv": "1,2\n", "b.csv": "3,4\n"}


def _limit_memory():
    """A reader that reads /dev/zero or inflates a bomb fails here, not on the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def envcapture(*args, cwd=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "envcapture", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=cli_env(), timeout=timeout, preexec_fn=_limit_memory)


def check(manifest, *args, cwd=None, timeout=60):
    return envcapture("check", manifest, "--data-only", *args, cwd=cwd, timeout=timeout)


@pytest.fixture
def recorded(tmp_path, cache_home):
    project = tmp_path / "proj"
    root = make_tree(project / "data", FILES)
    manifest = project / "m.json"
    data = record_manifest(manifest, [spec(root)], project)
    return project, root, manifest, data


def with_sidecar(manifest, data, lines: list, file_name="m.data.bad.jsonl.gz", records_for_hash=None,
                 header=None, content=None):
    """The manifest's data set now points at a sidecar of ``lines`` (JSON records), sha256 and root hash matching."""
    from envcapture.data.fingerprint import FileRecord, root_hash

    data = copy.deepcopy(data)
    record = data["data"]["sets"][0]
    if content is None:
        header = header or {"envcapture_data_sidecar": 1, "name": record["name"], "algorithm": record["algorithm"],
                            "root_hash": record["root_hash"]}
        text = "\n".join(json.dumps(x) for x in [header, *lines]) + "\n"
        content = gzip.compress(text.encode(), mtime=0)
    if file_name and "/" not in file_name and not (manifest.parent / file_name).exists():
        (manifest.parent / file_name).write_bytes(content)
    try:
        records = [FileRecord(**x) for x in (records_for_hash if records_for_hash is not None else lines)]
        record["root_hash"] = root_hash(records, record["algorithm"])
    except TypeError:
        pass
    record["files"], record["file_count"] = None, len(lines)
    record["sidecar"] = {"file": file_name, "sha256": hashlib.sha256(content).hexdigest()}
    manifest.write_text(json.dumps(data))
    return record


def file_line(path, size=4, digest="0" * 64):
    return {"path": path, "size": size, "hash": digest}


def sidecar_verdict(manifest, data):
    from envcapture.data.specs import recorded_files

    files, why = recorded_files(data["data"]["sets"][0], manifest.parent)
    return files, why


# ------------------------------------------------------------------------------------------ the sidecar

@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "link", "folder"])
def test_a_sidecar_that_is_no_regular_file_in_the_manifests_folder_is_refused_without_reading(recorded, kind):
    project, root, manifest, data = recorded
    name = "/dev/zero" if kind == "/dev/zero" else f"m.data.{kind}.jsonl.gz"
    target = project / name
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "link":
        real = project.parent / "elsewhere.jsonl.gz"
        real.write_bytes(gzip.compress(b'{"envcapture_data_sidecar": 1}\n'))
        target.symlink_to(real)
    elif kind == "folder":
        target.mkdir()
    with_sidecar(manifest, data, [file_line("a.csv")], file_name=name, content=b"x")
    proc = check(manifest, timeout=60)  # the old reader hung on the FIFO and filled memory from /dev/zero
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    expected = {"/dev/zero": "is not a file name in the manifest's folder", "fifo": "is a FIFO",
                "link": "is a symbolic link", "folder": "is a directory"}[kind]
    assert expected in proc.stdout, proc.stdout


def test_a_gzip_bomb_with_a_matching_sha256_is_refused_without_inflating_it(recorded, tmp_path):
    project, root, manifest, data = recorded
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    header = b'{"envcapture_data_sidecar": 1}\n{"path": "a.csv", "size": 4, "hash": "'
    chunk = b"0" * (1 << 20)
    zlib_bomb = packer.compress(header) + b"".join(packer.compress(chunk) for _ in range(3 * 1024)) + packer.flush()
    assert len(zlib_bomb) < 4 << 20  # 3 MiB of gzip, 3 GiB inflated
    with_sidecar(manifest, data, [file_line("a.csv")], file_name="m.data.bomb.jsonl.gz", content=zlib_bomb)
    (project / "m.data.bomb.jsonl.gz").write_bytes(zlib_bomb)

    proc = check(manifest, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "inflates to more than" in proc.stdout, proc.stdout


@pytest.mark.parametrize("lines,message", [
    ([file_line("../outside")], "line 2: not a file record"),
    ([file_line("a\x1b[2Jb")], "line 2: not a file record"),
    ([file_line("a.csv", size=-4)], "line 2: not a file record"),
    ([file_line("a.csv", size=True)], "line 2: not a file record"),
    ([file_line("a.csv"), file_line("a.csv")], 'line 3: "a.csv" is out of order or recorded twice'),
    ([file_line("b.csv"), file_line("a.csv")], 'line 3: "a.csv" is out of order or recorded twice'),
])
def test_sidecar_records_are_checked(recorded, lines, message):
    project, root, manifest, data = recorded
    with_sidecar(manifest, data, lines)
    files, why = sidecar_verdict(manifest, json.loads(manifest.read_text()))
    assert files is None and message in why, why


def test_a_sidecar_must_add_up_to_the_root_hash_and_the_file_count(recorded):
    project, root, manifest, data = recorded
    good = [file_line("a.csv"), file_line("b.csv")]
    with_sidecar(manifest, data, good, records_for_hash=good)
    assert sidecar_verdict(manifest, json.loads(manifest.read_text()))[1] is None  # the helper makes a good one
    with_sidecar(manifest, data, good, file_name="m.data.two.jsonl.gz", records_for_hash=good[:1])
    assert "does not add up to the recorded root hash" in sidecar_verdict(manifest, json.loads(manifest.read_text()))[1]
    edited = json.loads(manifest.read_text())
    edited["data"]["sets"][0]["file_count"] = 3
    assert "holds 2 file records, the manifest says 3" in sidecar_verdict(manifest, edited)[1]


def test_a_data_set_name_recorded_twice_is_refused(recorded):
    project, root, manifest, data = recorded
    data = copy.deepcopy(data)
    data["data"]["sets"].append(copy.deepcopy(data["data"]["sets"][0]))
    manifest.write_text(json.dumps(data))
    proc = check(manifest)
    assert proc.returncode == 2 and "records data set 'data' twice" in proc.stderr, proc.stderr


# ------------------------------------------------------------------------------------------ whose paths

def test_a_strangers_paths_outside_its_folder_are_not_checked_unless_mapped(tmp_path, cache_home):
    victim = make_tree(tmp_path / "victim" / ".ssh", {"id_ed25519": "secret key", "config": "Host x\n"})
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    manifest = downloads / "m.json"
    record_manifest(manifest, [spec(victim)], downloads)
    (victim / "known_hosts").write_text("new\n")  # so a fingerprint would list names and sizes
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = check(manifest, cwd=elsewhere)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not checked (map it with --data ssh=PATH)" in proc.stdout
    assert "known_hosts" not in proc.stdout and "id_ed25519" not in proc.stdout
    proc = check(manifest, "--data", f"ssh={victim}", cwd=elsewhere)  # the user maps it: checked
    assert proc.returncode == 1 and "new        known_hosts: not recorded, now 4 bytes" in proc.stdout


def test_a_link_in_a_strangers_project_to_a_folder_outside_is_not_followed(tmp_path, cache_home):
    project = tmp_path / "proj"
    data = make_tree(project / "data", FILES)
    manifest = project / "m.json"
    record_manifest(manifest, [spec(data)], project)
    shutil.rmtree(data)
    outside = make_tree(tmp_path / "home-ssh", {"id_rsa": "secret"})
    data.symlink_to(outside)
    proc = check(manifest, cwd=project)
    assert proc.returncode == 1 and "not checked" in proc.stdout and "id_rsa" not in proc.stdout, proc.stdout


def test_a_fifo_is_not_a_data_set(recorded, tmp_path):
    project, root, manifest, data = recorded
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    proc = check(manifest, "--data", f"data={fifo}")
    assert proc.returncode == 1 and "not a file or folder" in proc.stdout, proc.stdout
    proc = envcapture("freeze", "-o", tmp_path / "f.json", "--data", fifo, cwd=project, timeout=120)
    assert proc.returncode == 2 and "not a file or folder" in proc.stderr, proc.stderr


# ------------------------------------------------------------------------------------------ what changed

def test_a_single_file_data_set_that_became_a_folder_is_reported(tmp_path, cache_home):
    target = tmp_path / "one.csv"
    target.write_text("1\n")
    manifest = tmp_path / "m.json"
    record_manifest(manifest, [spec(target)], tmp_path)
    target.unlink()
    make_tree(target, {"x": "1\n"})
    proc = check(manifest)
    assert proc.returncode == 1 and "kind: recorded a file, found a folder" in proc.stdout, proc.stdout


DVC_LOCK = "schema: '2.0'\nstages:\n  prepare:\n    outs:\n    - path: data/prepared.csv\n      md5: " \
           "ef5b0ff5762bac4466f906872710eb34\n      size: 19\n"


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo"])
def test_a_dvc_file_that_is_a_link_to_a_device_or_a_fifo_is_not_read(tmp_path, cache_home, kind):
    """A stranger's repository can hold links (git stores them) and an archive FIFOs."""
    project = tmp_path / "proj"
    (project / ".dvc").mkdir(parents=True)
    (project / "dvc.lock").write_text(DVC_LOCK)
    if kind == "fifo":
        os.mkfifo(project / "raw.dvc")
    else:
        (project / "raw.dvc").symlink_to("/dev/zero")
    proc = envcapture("freeze", "-o", "m.json", cwd=project, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    warnings = [w["message"] for w in json.loads((project / "m.json").read_text())["warnings"]]
    assert any(w.startswith("dvc: raw.dvc could not be read: is a ") for w in warnings), warnings
