"""The rpm probe on a real rpm database: made in the test with Debian's rpm (``rpm --initdb``), filled with
two packages built by rpmbuild and installed with ``rpm -i --justdb``. Needs ``apt-get install -y rpm``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from envcapture.probes import ProbeContext, rpm, system_packages

SPEC = """Name: {name}
Version: {version}
Release: {release}
{epoch}Summary: envcapture test package
License: MIT
{buildarch}
%description
A package with no files, for a real rpm database in a test.
%files
"""

PACKAGES = [  # (name, version, release, epoch, BuildArch)
    ("envcapture-noarch", "1.2.3", "4.el9", 2, "noarch"),
    ("envcapture-native", "0.9", "1", None, None),
]


def build_rpm(topdir: Path, name, version, release, epoch, buildarch) -> Path:
    (topdir / "SPECS").mkdir(parents=True, exist_ok=True)
    spec = topdir / "SPECS" / f"{name}.spec"
    spec.write_text(SPEC.format(name=name, version=version, release=release,
                                epoch=f"Epoch: {epoch}\n" if epoch is not None else "",
                                buildarch=f"BuildArch: {buildarch}" if buildarch else ""))
    subprocess.run(["rpmbuild", "--define", f"_topdir {topdir}", "-bb", str(spec)], check=True,
                   capture_output=True, timeout=120)
    return next((topdir / "RPMS").rglob(f"{name}-*.rpm"))


@pytest.fixture(scope="module")
def rpm_root(tmp_path_factory, tool):
    """A root filesystem whose /var/lib/rpm is a real sqlite rpmdb holding PACKAGES."""
    return make_rpmdb(tmp_path_factory.mktemp("rpm"), PACKAGES, tool)


def make_rpmdb(base: Path, packages, tool) -> Path:
    """A root under ``base`` whose /var/lib/rpm is a real rpmdb, each package built by rpmbuild and installed
    with ``rpm --justdb``."""
    tool("rpm")
    tool("rpmbuild")
    root, dbpath = base / "root", base / "root" / "var" / "lib" / "rpm"
    dbpath.mkdir(parents=True)
    subprocess.run(["rpm", "--initdb", "--dbpath", str(dbpath)], check=True, capture_output=True, timeout=60)
    for package in packages:
        built = build_rpm(base / "build", *package)
        subprocess.run(["rpm", "-i", "--dbpath", str(dbpath), "--nodeps", "--justdb", str(built)], check=True,
                       capture_output=True, timeout=60)
    return root


def rpm_query(dbpath: Path) -> set[tuple[str, str, str]]:
    out = subprocess.run(["rpm", "-qa", "--dbpath", str(dbpath), "--qf",
                          "%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\n"],
                         capture_output=True, text=True, check=True).stdout
    return {tuple(line.split("\t")) for line in out.splitlines()}


def test_sqlite_rpmdb_read_directly(rpm_root, section_problems):
    assert (rpm_root / "var/lib/rpm/rpmdb.sqlite").is_file()
    result = system_packages.collect(ProbeContext(root=rpm_root, env={}))
    assert result.data["manager"] == "rpm"
    packages = {p["name"]: p for p in result.data["packages"]}
    assert packages["envcapture-noarch"] == {"name": "envcapture-noarch", "version": "2:1.2.3-4.el9",
                                             "architecture": "noarch", "manual": None}
    assert packages["envcapture-native"]["version"] == "0.9-1"
    assert packages["envcapture-native"]["architecture"] not in (None, "noarch")
    # the same facts as rpm itself reports
    assert {(p["name"], p["version"], p["architecture"]) for p in result.data["packages"]} == \
        rpm_query(rpm_root / "var/lib/rpm")
    assert result.warnings == []
    assert section_problems("system_packages", result.data) == []


def test_fedora_sysimage_location(rpm_root, tmp_path):
    root = tmp_path / "fedora"
    shutil.copytree(rpm_root / "var/lib/rpm", root / "usr/lib/sysimage/rpm")
    result = rpm.collect(ProbeContext(root=root, env={}))
    assert {p["name"] for p in result.data["packages"]} == {name for name, *_ in PACKAGES}


def test_an_empty_dpkg_database_beside_rpm_is_not_the_native_one(rpm_root, tmp_path):
    """dpkg installed on an rpm system leaves an empty status file: the non-empty rpm database wins although dpkg
    comes first; with rpm's database gone, the empty dpkg one is still the system's (no packages, no warning)."""
    root = tmp_path / "fedora"
    shutil.copytree(rpm_root / "var/lib/rpm", root / "usr/lib/sysimage/rpm")
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_bytes(b"")
    result = system_packages.collect(ProbeContext(root=root, env={}))
    assert result.data["manager"] == "rpm"
    assert {p["name"] for p in result.data["packages"]} == {name for name, *_ in PACKAGES}
    shutil.rmtree(root / "usr/lib/sysimage/rpm")
    result = system_packages.collect(ProbeContext(root=root, env={}))
    assert (result.data["manager"], result.data["packages"], result.warnings) == ("dpkg", [], [])


def test_blobs_rpm_cannot_parse_fall_back_to_the_rpm_command(rpm_root, monkeypatch):
    def unreadable(blob):
        raise ValueError("header blob shorter than its index says")

    monkeypatch.setattr(rpm, "header_fields", unreadable)
    result = rpm.collect(ProbeContext(root=rpm_root, env={}))
    assert {(p["name"], p["version"]) for p in result.data["packages"]} == \
        {("envcapture-noarch", "2:1.2.3-4.el9"), ("envcapture-native", "0.9-1")}
    assert len(result.warnings) == 1 and "asking rpm" in result.warnings[0].message


def test_corrupt_database_without_rpm_binary_is_a_warning(tmp_path, monkeypatch, section_problems):
    db = tmp_path / "var/lib/rpm/rpmdb.sqlite"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database" * 100)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # run_tool finds rpm through this process's PATH
    result = rpm.collect(ProbeContext(root=tmp_path, env={}))
    assert result.data["packages"] == []
    assert len(result.warnings) == 2 and "rpm not found" in result.warnings[1].message
    assert section_problems("system_packages", result.data) == []


def test_header_parser_rejects_a_truncated_blob():
    with pytest.raises(ValueError):
        rpm.header_fields(b"\x00\x00\x00\x05\x00\x00\x10\x00" + b"\x00" * 20)


def test_a_refused_package_leaves_the_others_in(tmp_path_factory, tool):
    """A real rpm whose version has a caret (rpm 4.15+ snapshot versions, ``1.0^20240101git1``), which the
    version grammar refuses, installed before two ordinary ones: it alone is left out, with one warning."""
    caret = ("envcapture-caret", "1.0^20240101git1", "1", None, "noarch")
    root = make_rpmdb(tmp_path_factory.mktemp("rpm-caret"), [caret, *PACKAGES], tool)
    assert ("envcapture-caret", "1.0^20240101git1-1", "noarch") in rpm_query(root / "var" / "lib" / "rpm")
    result = rpm.collect(ProbeContext(root=root, env={}))
    assert {p["name"] for p in result.data["packages"]} == {name for name, *_ in PACKAGES}
    assert [w.message for w in result.warnings] == \
        ['1 rpm package(s) with an unusual name or version left out: "envcapture-caret"']


def test_the_reason_given_is_the_last_attempts(tmp_path):
    """An rpmdb.sqlite without a Packages table whose -wal is a folder: the read-only open fails on the -wal
    ('unable to open database file'), the immutable one, which ignores it, on the missing table; the reason
    given is the last attempt's, the one about the database itself."""
    import sqlite3

    db = tmp_path / "rpmdb.sqlite"
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE Other (x)")
    connection.close()
    (tmp_path / "rpmdb.sqlite-wal").mkdir()
    with pytest.raises(ValueError, match=r"^sqlite: no such table: Packages$"):
        rpm.read_sqlite(db)
