"""`envcapture protect`, run unprivileged in a sandbox (tests/data/conftest.py: a uid that owns nothing but the
sandbox folder): races with symbolic links, refused targets, refusals that change nothing, hard links, and an
--undo that gives back exactly the recorded modes and only those."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from envcapture.data.protect import refusal

from .conftest import BASE_MANIFEST, make_tree

# Swaps data/f between a regular file and a link to the secret outside, while protect runs over and over.
RACE = r"""
import multiprocessing, os, sys
from envcapture.data.protect import make_read_only

root, target_kind, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
data, secret = os.path.join(root, "data"), os.path.join(root, "secret")
os.makedirs(data)
with open(secret, "w") as handle:
    handle.write("key")
os.chmod(secret, 0o600)
f = os.path.join(data, "f")
open(f, "w").close()

def swapper(stop, swaps):
    while not stop.is_set():
        for leftover in ("l", "r"):  # from a round cut short while data was read-only
            try:
                os.unlink(os.path.join(data, leftover))
            except OSError:
                pass
        try:
            os.symlink("../secret", os.path.join(data, "l"))
            os.replace(os.path.join(data, "l"), f)
            open(os.path.join(data, "r"), "w").close()
            os.replace(os.path.join(data, "r"), f)
            swaps.value += 1
        except OSError:
            pass

stop, swaps = multiprocessing.Event(), multiprocessing.Value("q", 0)
process = multiprocessing.Process(target=swapper, args=(stop, swaps))
process.start()
changed = 0
try:
    done = 0
    while done < rounds or swaps.value < rounds:  # both sides busy for many rounds
        done += 1
        try:
            make_read_only(f if target_kind == "file" else data)
        except Exception:
            pass
        os.chmod(data, 0o755)
        if os.stat(secret).st_mode & 0o7777 != 0o600:
            changed += 1
            os.chmod(secret, 0o600)
finally:
    stop.set()
    process.join()
print(changed, swaps.value)
"""


@pytest.mark.parametrize("target_kind", ["folder", "file"])
def test_a_file_swapped_for_a_link_never_changes_the_file_outside(sandbox, target_kind):
    proc = sandbox.python(RACE, str(sandbox.root), target_kind, "400")
    assert proc.returncode == 0, proc.stderr
    changed, swaps = map(int, proc.stdout.split())
    assert swaps >= 400  # the swapper really raced protect
    assert changed == 0


def protected_project(sandbox, files: dict, modes: dict) -> tuple[Path, Path]:
    project = sandbox.root / "proj"
    data = make_tree(project / "data", files)
    for relative, mode in modes.items():
        os.chmod(data / relative if relative != "." else data, mode)
    manifest = project / "m.json"
    manifest.write_text(BASE_MANIFEST.read_text())
    sandbox.own(project)
    return project, data


def modes_of(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]}


def test_undo_gives_back_exactly_the_recorded_modes(sandbox):
    files = {"group.csv": "g", "private.key": "k", "run.sh": "#!/bin/sh\n", "objects/ab/cdef": "blob", "x": "1"}
    project, data = protected_project(sandbox, files, {
        "group.csv": 0o664, "private.key": 0o600, "run.sh": 0o755, "objects/ab/cdef": 0o444, "objects": 0o2775,
        ".": 0o750})
    before = modes_of(data)
    proc = sandbox.envcapture("protect", "data", "-m", "m.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert all(mode & 0o222 == 0 for mode in modes_of(data).values())
    record = next(s for s in json.loads((project / "m.json").read_text())["data"]["sets"] if s["path"] == "data")
    assert record["protected"]["file_count"] == 5 and record["protected"]["folder_count"] == 3
    proc = sandbox.envcapture("protect", "--undo", "data", "-m", "m.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert modes_of(data) == before
    record = next(s for s in json.loads((project / "m.json").read_text())["data"]["sets"] if s["path"] == "data")
    assert record["read_only"] is False and record["protected"] is None


def test_undo_refuses_a_tree_the_manifest_does_not_record_as_protected(sandbox):
    """A git object store is read-only by design: --undo must not make it writable."""
    project, data = protected_project(sandbox, {"objects/ab/cdef": "blob"},
                                      {"objects/ab/cdef": 0o444, "objects/ab": 0o555})
    before = modes_of(data)
    proc = sandbox.envcapture("protect", "--undo", "data", "-m", "m.json", cwd=project)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "nothing changed" in proc.stderr, proc.stderr
    assert modes_of(data) == before


def test_undo_leaves_what_changed_after_protect(sandbox):
    project, data = protected_project(sandbox, {"a": "1", "b": "2"}, {})
    assert sandbox.envcapture("protect", "data", "-m", "m.json", cwd=project).returncode == 0
    # the owner adds a file on purpose, read-only, after protect
    code = ("import os, sys; d = sys.argv[1]; os.chmod(d, 0o755); open(d + '/late', 'w').close(); "
            "os.chmod(d + '/late', 0o444); os.chmod(d, 0o555)")
    assert sandbox.python(code, str(data)).returncode == 0
    proc = sandbox.envcapture("protect", "--undo", "data", "-m", "m.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    modes = modes_of(data)
    assert modes["a"] == modes["b"] == 0o644 and modes["late"] == 0o444
    assert "late: changed since protect" in proc.stderr


@pytest.mark.parametrize("name", ["it's-data", "$(id)"])
def test_a_refused_name_changes_nothing(sandbox, name):
    project, data = protected_project(sandbox, {f"{name}/a.csv": "1"}, {})
    before = modes_of(data)
    proc = sandbox.envcapture("protect", f"data/{name}", "-m", "m.json", cwd=project)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert modes_of(data) == before
    assert json.loads((project / "m.json").read_text()) == json.loads(BASE_MANIFEST.read_text())


def test_a_manifest_inside_the_data_is_refused_and_nothing_changes(sandbox):
    project, data = protected_project(sandbox, {"a": "1"}, {})
    before = modes_of(project)
    proc = sandbox.envcapture("protect", ".", "-m", "m.json", cwd=project)
    assert proc.returncode == 2 and "is inside it" in proc.stderr, proc.stderr
    assert modes_of(project) == before


def test_a_hard_linked_file_is_reported_not_changed(sandbox):
    project, data = protected_project(sandbox, {"a": "1", "linked": "2"}, {})
    os.link(data / "linked", sandbox.root / "outside-name")
    proc = sandbox.envcapture("protect", "data", "-m", "m.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((sandbox.root / "outside-name").stat().st_mode) == 0o644
    assert stat.S_IMODE((data / "a").stat().st_mode) == 0o444
    assert "linked: has 2 hard links" in proc.stderr


def test_home_and_system_folders_are_refused_with_one_line_and_nothing_changes(sandbox):
    make_tree(sandbox.home, {"notes.txt": "mine"})
    (sandbox.home / "m.json").write_text(BASE_MANIFEST.read_text())
    sandbox.own(sandbox.home)
    before = modes_of(sandbox.home)
    for target in ["/", str(sandbox.home), "/etc", "/usr/lib", "/home", "/proc", "/lib", "/tmp", "/dev/shm"]:
        proc = sandbox.envcapture("protect", target, "-m", sandbox.home / "m.json", cwd=sandbox.home)
        assert proc.returncode == 2, (target, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "refused" in proc.stderr and "nothing changed" in proc.stderr, \
            (target, proc.stderr)
    proc = sandbox.envcapture("protect", "--undo", str(sandbox.home), "-m", sandbox.home / "m.json")
    assert proc.returncode == 2 and "refused" in proc.stderr
    assert modes_of(sandbox.home) == before


@pytest.mark.parametrize("target,refused", [
    ("/", True), ("/etc", True), ("/etc/ssl", True), ("/usr/share/data", True), ("/var/lib/x", True),
    ("/lib64", True), ("/libexec/x", True), ("/var/tmp/x/raw", False), ("/home", True), ("/home/u", True),
    ("/home/u/proj/data", False), ("/srv", True), ("/srv/data/raw", False), ("/mnt/disk", True),
    ("/mnt/disk/raw", False), ("/opt", True), ("/root", True), ("/work", True), ("/work/proj/raw", False),
])
def test_refused_targets(target, refused):
    assert (refusal(target, homes={"/home/u"}, mounts={"/", "/mnt/disk"}) is not None) is refused
