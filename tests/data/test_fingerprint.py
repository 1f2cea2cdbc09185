"""Fingerprinting real files: the root hash, the per-file hashes against sha256sum/b3sum, links, FIFOs,
unreadable files, and the cache that must notice a same-size write whose mtime was put back."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import envcapture, make_tree

FILES = {"a.csv": "x,y\n1,2\n", "sub/b.bin": os.urandom(3 << 20), "sub/deeper/c.txt": "c\n", "empty": b""}


def fingerprint(path, **kwargs):
    from envcapture.data import fingerprint as data

    return data.fingerprint(path, **kwargs)


def by_path(facts) -> dict:
    return {r.path: r for r in facts.files}


@pytest.mark.parametrize("algorithm,tool", [("sha256", "sha256sum"), ("blake3", "b3sum")])
def test_file_hashes_match_the_standard_tools(tmp_path, algorithm, tool):
    if shutil.which(tool) is None:
        from tests.conftest import _skip_or_fail  # fails instead under ENVCAPTURE_REQUIRE_TOOLS=1 (.ci/run)

        _skip_or_fail(f"{tool} is not installed (apt-get install -y {'b3sum' if tool == 'b3sum' else 'coreutils'})")
    root = make_tree(tmp_path / "d", FILES)
    facts = fingerprint(root, algorithm=algorithm)
    for relative, record in by_path(facts).items():
        out = subprocess.run([tool, str(root / relative)], capture_output=True, text=True, check=True).stdout
        assert record.hash == out.split()[0], relative
        assert record.size == (root / relative).stat().st_size


def test_root_hash_is_the_documented_hash_of_sorted_lines_and_ignores_the_folder_name(tmp_path):
    root = make_tree(tmp_path / "one", FILES)
    facts = fingerprint(root, algorithm="sha256")
    lines = "".join(f"{p}\0{len(c if isinstance(c, bytes) else c.encode())}\0"
                    f"{hashlib.sha256(c if isinstance(c, bytes) else c.encode()).hexdigest()}\n"
                    for p, c in sorted(FILES.items()))
    assert facts.root_hash == hashlib.sha256(lines.encode()).hexdigest()
    assert (facts.file_count, facts.total_bytes) == (4, sum(len(c) for c in FILES.values()))
    copy = shutil.copytree(root, tmp_path / "elsewhere" / "other-name")
    assert fingerprint(copy, algorithm="sha256").root_hash == facts.root_hash


def test_a_one_byte_write_with_mtime_put_back_is_caught_through_ctime(tmp_path, cache_home):
    from envcapture.data.cache import FingerprintCache

    root = make_tree(tmp_path / "d", {"a.csv": "hello world\n", "b.csv": "unchanged\n"})
    cache = FingerprintCache.open()
    first = fingerprint(root, cache=cache)
    cache.flush()
    target = root / "a.csv"
    before = target.stat()
    with open(target, "r+b") as handle:  # same size, one byte different
        handle.seek(0)
        handle.write(b"j")
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_mtime_ns == before.st_mtime_ns and target.stat().st_size == before.st_size
    second = fingerprint(root, cache=cache)
    cache.close()
    assert by_path(second)["a.csv"].hash != by_path(first)["a.csv"].hash
    assert by_path(second)["a.csv"].hash == fingerprint(root).files[0].hash  # the cache-free answer
    assert second.root_hash != first.root_hash


def test_an_unchanged_tree_is_answered_from_the_cache(tmp_path, cache_home, monkeypatch):
    from envcapture.data.cache import FingerprintCache
    from envcapture.data import fingerprint as data

    root = make_tree(tmp_path / "d", FILES)
    cache = FingerprintCache.open()
    first = fingerprint(root, cache=cache)
    cache.flush()

    def no_hashing(*args):
        raise AssertionError("hashed a file the cache knows")

    monkeypatch.setattr(data, "hash_file", no_hashing)
    assert fingerprint(root, cache=cache).root_hash == first.root_hash
    cache.close()
    assert (cache_home / "envcapture" / "fingerprints.sqlite3").is_file()
    assert not any(p.name.endswith("sqlite3") for p in root.rglob("*"))  # never beside the data


def test_links_are_recorded_not_followed_and_a_loop_is_reported(tmp_path):
    outside = make_tree(tmp_path / "outside", {"secret.txt": "not part of the data\n"})
    root = make_tree(tmp_path / "d", {"a.csv": "1\n"})
    os.symlink("a.csv", root / "to-a")
    os.symlink("loop", root / "loop")
    os.symlink(outside, root / "out")
    facts = fingerprint(root)
    records = by_path(facts)
    assert records["to-a"].link == "a.csv" and records["loop"].link == "loop"
    assert records["out"].link == str(outside) and records["out"].hash is None
    assert not any("secret" in r.path for r in facts.files)
    assert any("loop" in w and "symbolic link loop" in w for w in facts.warnings)


def test_a_data_path_that_is_a_link_loop_is_one_clear_error(tmp_path):
    os.symlink("self", tmp_path / "self")
    proc = envcapture("freeze", "--data", tmp_path / "self", "-o", tmp_path / "m.json", "--project", tmp_path)
    assert proc.returncode == 2
    assert "symbolic link loop" in proc.stderr and "Traceback" not in proc.stderr


def test_fifo_and_socket_are_skipped_with_a_warning_without_blocking(tmp_path):
    import socket

    root = make_tree(tmp_path / "d", {"a.csv": "1\n"})
    os.mkfifo(root / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "sock"))
    try:
        # in a child process with a timeout: a FIFO opened for reading would block forever
        script = f"from envcapture.data import fingerprint as data; f = data.fingerprint({str(root)!r}); " \
                 "print([r.path for r in f.files]); print(f.warnings)"
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "['a.csv']"
    assert "pipe: a FIFO" in proc.stdout and "sock: a socket" in proc.stdout


def test_an_unreadable_file_is_listed_as_unreadable(tmp_path):
    """Root reads any file whatever its mode, so as root the fingerprint runs as 'nobody', with Debian's
    python3 (root's pyenv is private) and a copy of the package in a folder 'nobody' can read."""
    import tempfile

    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        os.chmod(folder, 0o755)
        root = make_tree(folder / "d", {"open.csv": "1\n", "closed.csv": "secret\n"})
        os.chmod(root / "closed.csv", 0)
        shutil.copytree(Path(__file__).parents[2] / "envcapture", folder / "pkg" / "envcapture")
        python, user = sys.executable, None
        if os.geteuid() == 0:
            python, user = "/usr/bin/python3", 65534
            if not os.access(python, os.X_OK):
                pytest.skip("running as root and there is no /usr/bin/python3 to run as 'nobody'")
        for path in folder.rglob("*"):
            if path.name != "closed.csv":
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
        script = textwrap.dedent(f"""
            from envcapture.data import fingerprint as data
            f = data.fingerprint({str(root)!r}, algorithm="sha256")
            for r in f.files: print(r.path, r.size, r.hash is None, r.error)
            print(f.warnings)
        """)
        env = {"PYTHONPATH": str(folder / "pkg"), "HOME": str(folder), "PATH": os.environ["PATH"]}
        proc = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=60, env=env,
                              user=user, cwd=folder)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == "closed.csv 7 True permission denied"
        assert lines[1] == "open.csv 2 False None"
        assert "closed.csv: unreadable (permission denied)" in lines[2]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_file_that_changes_while_read_is_reported_not_hashed(tmp_path, monkeypatch):
    from envcapture.data import fingerprint as data

    root = make_tree(tmp_path / "d", {"growing.log": "a" * 100})
    real_read = data._read_all

    def read_then_append(fd, size):  # the writer appends while we read, every time
        content = real_read(fd, size)
        with open(root / "growing.log", "ab") as handle:
            handle.write(b"more")
        return content

    monkeypatch.setattr(data, "_read_all", read_then_append)
    facts = fingerprint(root)
    assert facts.files[0].error == "changed while being read" and facts.files[0].hash is None
    assert any("growing.log: changed while being read" in w for w in facts.warnings)


CONCURRENT = """
import sys
from envcapture.data.cache import FingerprintCache
from envcapture.data import fingerprint as data
cache = FingerprintCache.open()
for _ in range(3):
    facts = data.fingerprint(sys.argv[1], cache=cache)
    cache.flush()
cache.close()
print(facts.root_hash)
"""


def test_two_concurrent_freezes_share_the_cache_without_corrupting_it(tmp_path, cache_home):
    trees = [make_tree(tmp_path / name, {f"f{i:04d}.txt": f"{name} {i}\n" for i in range(1500)})
             for name in ("one", "two")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, str(tree)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for tree in trees * 2]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in outputs]
    expected = [fingerprint(tree).root_hash for tree in trees]  # no cache involved
    assert [out.strip() for out, _ in outputs] == expected * 2
    connection = sqlite3.connect(cache_home / "envcapture" / "fingerprints.sqlite3")
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert connection.execute("SELECT count(*) FROM hashes").fetchone() == (3000,)
    connection.close()


def test_excludes_match_names_and_relative_paths(tmp_path):
    root = make_tree(tmp_path / "d", {"keep.csv": "1", "x.tmp": "2", "cache/big": "3", "sub/y.tmp": "4"})
    facts = fingerprint(root, excludes=("*.tmp", "cache"))
    assert [r.path for r in facts.files] == ["keep.csv"]


@pytest.mark.parametrize("changes, reads, hashed", [(1, 2, True), (2, 2, False), (5, 2, False)])
def test_a_file_changed_while_read_is_read_again_once(tmp_path, monkeypatch, changes, reads, hashed):
    """One more read for a file a writer changed during the first (a log flushed once), and no more: a file
    that keeps changing costs two reads, not an unbounded loop. Found by bench/mutation.py: ``range(2)`` ->
    ``range(3)`` in file_record survived (the test above appends on every read, whatever the count)."""
    from envcapture.data import fingerprint as data

    root = make_tree(tmp_path / "d", {"growing.log": "a" * 100})
    real_read = data._read_all
    calls = []

    def read_then_maybe_append(fd, size):
        content = real_read(fd, size)
        calls.append(size)
        if len(calls) <= changes:
            with open(root / "growing.log", "ab") as handle:
                handle.write(b"more")
        return content

    monkeypatch.setattr(data, "_read_all", read_then_maybe_append)
    facts = fingerprint(root)
    assert len(calls) == reads
    assert (facts.files[0].hash is not None) is hashed
    if hashed:
        assert facts.files[0].size == 104 and facts.warnings == []
    else:
        assert facts.files[0].error == "changed while being read"
