"""The system packages a run used: /proc/self/maps at exit, each shared object resolved to its owner through the
real dpkg database; generate --only-used builds its "system packages needed" from them."""

from __future__ import annotations

import ctypes.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.runrecords import CLI

from envcapture.manifest import file as manifest_io

pytestmark = pytest.mark.skipif(not os.path.exists("/var/lib/dpkg/status") or not ctypes.util.find_library("magic"),
                                reason="needs a dpkg system with libmagic1 installed (apt-get install libmagic1)")


def envcapture(args: list[str], cwd: Path, command: str = "run") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHASHSEED", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(cwd.parent / f"{cwd.name}-cache")
    return subprocess.run([*CLI, command, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def owner_by_dpkg(path: str) -> str:
    """The real peer: dpkg -S on the file (either spelling under merged /usr)."""
    for spelling in (path, path.removeprefix("/usr")):
        done = subprocess.run(["dpkg", "-S", spelling], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.split(":")[0]
    raise AssertionError(f"dpkg -S {path}: no owner")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("project")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    real = os.path.realpath(ctypes.util.find_library("z") and "/usr/lib/x86_64-linux-gnu/libz.so.1")
    if not os.path.exists(real):
        pytest.skip("no /usr/lib/x86_64-linux-gnu/libz.so.1 to copy")
    (project / "vendored").mkdir()
    shutil.copy(real, project / "vendored" / os.path.basename(real))  # a wheel's vendored copy, same name
    script = ("import ctypes, os, sys\nctypes.CDLL('libmagic.so.1')\n"
              f"ctypes.CDLL(os.path.abspath('vendored/{os.path.basename(real)}'))\n")
    (project / "uses_magic.py").write_text(script)
    for name, argv in (("plain", ["-c", "pass"]), ("magic", ["uses_magic.py"])):
        done = envcapture(["-o", f"{name}.json", "--", sys.executable, *argv], project)
        assert done.returncode == 0, done.stderr
    return project


def test_the_owner_of_each_mapped_system_library_is_recorded_as_dpkg_says(project):
    used = manifest_io.load(project / "magic.json")["run"]["used"]
    plain = manifest_io.load(project / "plain.json")["run"]["used"]
    assert "libmagic1" in used["system_packages"] and "libmagic1" not in plain["system_packages"]
    magic = [o for o in used["shared_objects"] if "libmagic.so" in o["path"]]
    assert magic and all(o["package"] == owner_by_dpkg(o["path"]) for o in magic)
    for item in used["shared_objects"]:
        if item["package"]:
            assert owner_by_dpkg(item["path"]) == item["package"]
    assert "libmagic.so.1" in used["shared_libraries"]  # the ctypes.dlopen name, beside the mapped file


def test_a_vendored_copy_with_a_system_library_name_is_not_the_system_package(project):
    used = manifest_io.load(project / "magic.json")["run"]["used"]
    [vendored] = [o for o in used["shared_objects"] if "/vendored/" in o["path"]]
    assert vendored["package"] is None  # the same name as zlib1g's file, but not zlib1g's file


def test_generate_only_used_needs_the_system_packages_the_run_mapped(project):
    done = envcapture(["--only-used", "magic.json", "-o", "kit", "docker"], project, "generate")
    assert done.returncode == 0, done.stderr
    kit_manifest = json.loads((project / "kit" / "envcapture.json").read_text())
    recorded = manifest_io.load(project / "magic.json")
    assert kit_manifest["shared_libraries"]["packages"] == recorded["run"]["used"]["system_packages"]
    assert "libmagic1" in (project / "kit" / "REPRODUCE.md").read_text()
    full = envcapture(["-m", "magic.json", "-o", "full", "docker"], project, "generate")
    assert full.returncode == 0, full.stderr
    assert "libmagic1" not in json.loads((project / "full" / "envcapture.json").read_text())[
        "shared_libraries"]["packages"]  # no installed Python package of this environment links libmagic


def test_diff_shows_the_system_packages_each_run_used(project):
    done = envcapture(["plain.json", "magic.json"], project, "diff")
    assert "system packages used" in done.stdout and "libmagic1" in done.stdout, done.stdout


def test_owners_takes_either_spelling_under_merged_usr_and_only_absolute_paths(tmp_path):
    """dpkg lists libc6's libc.so.6 under /lib and libmagic1's under /usr/lib; a process maps both under /usr/lib
    or /lib alike. A relative path or a non-string (a hook record is the program's to spoil) is no mapped object."""
    from envcapture.run import system_used

    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    magic = os.path.realpath(ctypes.util.find_library("magic") and "/usr/lib/x86_64-linux-gnu/libmagic.so.1")
    if not os.path.exists(libc) or not os.path.exists(magic):
        pytest.skip("needs the amd64 multiarch paths of Debian")
    as_lib = magic.removeprefix("/usr")  # the /lib spelling of a file dpkg lists under /usr/lib
    found, manager = system_used.owners([libc, as_lib, "x86_64-linux-gnu/libc.so.6", 5, libc],
                                        {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, str(tmp_path))
    assert manager == "dpkg"
    assert found == {libc: owner_by_dpkg(libc), as_lib: owner_by_dpkg(magic)}
    assert found[libc] == "libc6" and found[as_lib] == "libmagic1"
