"""The target probe (envcapture/probes/target.py) on purpose-built site-packages folders: what it reads from
each dist-info folder, and which of two same-named distributions wins, in-process and run as a plain script."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sitepackages import dist_info

from envcapture.probes import target


def by_name(records):
    return {record["name"]: record for record in records}


def test_requested_comes_from_REQUESTED_and_installer_from_INSTALLER(tmp_path):
    site = tmp_path / "site"
    dist_info(site, "asked", "1.0", requested=True, installer="pip")
    dist_info(site, "pulled-in", "2.0", requested=False, installer="uv")
    dist_info(site, "bare", "3.0")
    records = by_name(target.distributions([str(site)]))
    assert (records["asked"]["requested"], records["asked"]["installer"]) == (True, "pip")
    # An INSTALLER file alone (every pip install writes one) does not make a package requested.
    assert (records["pulled-in"]["requested"], records["pulled-in"]["installer"]) == (False, "uv")
    assert (records["bare"]["requested"], records["bare"]["installer"]) == (False, None)
    assert all(record["error"] is None for record in records.values())


def test_headers_are_case_insensitive_and_the_body_is_not_read(tmp_path):
    site = tmp_path / "site"
    dist_info(site, "Mixed_Case.Name", "1.0", requires=["Other_Dep>=1", 'extra-thing; extra == "x"'],
              header_case=str.lower)
    dist_info(site, "UPPER", "2.0", header_case=str.upper)
    records = by_name(target.distributions([str(site)]))
    mixed = records["Mixed_Case.Name"]
    assert mixed["version"] == "1.0" and mixed["requires"] == ["Other_Dep>=1", 'extra-thing; extra == "x"']
    assert records["UPPER"]["version"] == "2.0"
    assert "not-a-header" not in records
    twice = site / "twice-1.0.dist-info"
    twice.mkdir()
    (twice / "METADATA").write_text("Name: twice\nVersion: 1.0\nName: second-name\nVersion: 9\n")
    assert (by_name(target.distributions([str(site)]))["twice"]["version"]) == "1.0"  # the first header counts


def test_the_first_of_two_same_named_distributions_wins_like_importlib_metadata(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    dist_info(first, "Foo_Bar", "1.0", requested=True)
    dist_info(second, "foo-bar", "2.0")           # same project under its canonical spelling
    dist_info(second, "FOO.BAR", "3.0", folder="FOO.BAR-3.0.dist-info")
    dist_info(second, "only-second", "1.0")
    records = target.distributions([str(first), str(second)])
    assert [(r["name"], r["version"]) for r in records] == [("Foo_Bar", "1.0"), ("only-second", "1.0")]
    # The order of the path decides, not the order of names: reversed, the second folder's copy wins.
    reversed_records = target.distributions([str(second), str(first)])
    assert [(r["name"], r["version"]) for r in reversed_records] == [("FOO.BAR", "3.0"), ("only-second", "1.0")]


def test_a_missing_path_entry_is_skipped_and_a_single_file_egg_info_is_a_distribution(tmp_path):
    """distutils' install_egg_info writes PKG-INFO as one file (Debian's crit-3.17.1-py3.11.egg-info);
    pip inspect, syft and pipdeptree list it, and so does envcapture (issue 8)."""
    site = tmp_path / "site"
    dist_info(site, "real", "1.0")
    (site / "stray-1.0.egg-info").write_text("Metadata-Version: 1.0\nName: stray\nVersion: 1.0\n")
    records = target.distributions([str(tmp_path / "absent"), str(site)])
    assert [(r["name"], r["version"], r["error"]) for r in records] == [("real", "1.0", None), ("stray", "1.0", None)]


def test_egg_info_requires_txt_sections_become_markers(tmp_path):
    egg = tmp_path / "site" / "legacy-0.5.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy\nVersion: 0.5\n")
    (egg / "requires.txt").write_text("six\n# a comment\n\n[socks]\nPySocks>=1.5\n[:python_version < \"3.8\"]\n"
                                      "importlib-metadata\n[tls:sys_platform == \"win32\"]\nwincertstore\n")
    [record] = target.distributions([str(tmp_path / "site")])
    assert record["requires"] == ["six", 'PySocks>=1.5; extra == "socks"',
                                  'importlib-metadata; (python_version < "3.8")',
                                  'wincertstore; extra == "tls" and (sys_platform == "win32")']


def test_direct_url_is_read_and_a_broken_one_is_an_error_not_a_crash(tmp_path):
    site = tmp_path / "site"
    url = {"url": "https://example.org/pkg-1.0.tar.gz", "archive_info": {"hash": "sha256=" + "a" * 64}}
    dist_info(site, "fromurl", "1.0", direct_url=url)
    broken = dist_info(site, "broken", "1.0")
    (broken / "direct_url.json").write_text("{not json")
    records = by_name(target.distributions([str(site)]))
    assert records["fromurl"]["direct_url"] == url and records["fromurl"]["error"] is None
    assert records["broken"]["direct_url"] is None
    assert records["broken"]["error"] == "direct_url.json is not valid JSON"


def test_folder_name_stands_in_for_unreadable_metadata(tmp_path):
    site = tmp_path / "site"
    (site / "nometa-1.0.dist-info").mkdir(parents=True)
    latin = site / "latin-3.0.dist-info"
    latin.mkdir()
    (latin / "METADATA").write_bytes("Name: latin\nVersion: 3.0\nSummary: caf\xe9\n".encode("latin-1"))
    records = by_name(target.distributions([str(site)]))
    assert records["nometa"]["version"] == "1.0" and records["nometa"]["error"].startswith("METADATA")
    assert records["latin"]["version"] == "3.0" and records["latin"]["error"] == "METADATA: not UTF-8"


def test_run_as_a_plain_script_the_path_order_decides(tmp_path):
    """target.py as freeze runs it (`python target.py`, no envcapture import): PYTHONPATH order decides."""
    first, second = tmp_path / "first", tmp_path / "second"
    dist_info(first, "Dup_Pkg", "1.0", requested=True, installer="pip")
    dist_info(second, "dup-pkg", "2.0")
    env = {**os.environ, "PYTHONPATH": f"{first}{os.pathsep}{second}"}
    proc = subprocess.run([sys.executable, "-S", target.__file__], capture_output=True, text=True, env=env,
                          timeout=60, check=True)
    facts = json.loads(proc.stdout)
    mine = [d for d in facts["distributions"] if d["path"].startswith(str(tmp_path))]
    assert [(d["name"], d["version"], d["requested"], d["installer"]) for d in mine] == [
        ("Dup_Pkg", "1.0", True, "pip")]
    assert facts["sys_path"][:2] == [str(first), str(second)]
    assert facts["probe_version"] == target.PROBE_VERSION and facts["deep"] is None


def test_marker_environment_is_packagings():
    """The probe writes PEP 508 marker values without packaging; they must be exactly packaging's."""
    from packaging.markers import default_environment

    assert target.marker_environment() == default_environment()


def test_a_framework_that_fails_to_import_is_recorded_not_raised(tmp_path, monkeypatch):
    broken = tmp_path / "numpy"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise RuntimeError('built for another CPU\\n(illegal instruction)')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "numpy", raising=False)
    facts = target.deep_facts({"numpy", "unrelated"})
    assert facts == {"errors": {"numpy": "RuntimeError: built for another CPU (illegal instruction)"}}
    assert target.deep_facts(set()) == {}  # nothing installed, nothing imported


def test_site_packages_without_site_getsitepackages(monkeypatch):
    """Old virtualenv's site.py has no getsitepackages: the sysconfig paths are still reported."""
    import site
    import sysconfig

    with_site = target.site_packages()
    monkeypatch.delattr(site, "getsitepackages")
    paths = target.site_packages()
    assert paths[0] == sysconfig.get_paths()["purelib"] and set(paths) <= set(with_site)


def test_implementation_version_of_a_pre_release_interpreter(monkeypatch):
    """3.14.0rc1 is written 3.14.0c1, as PEP 508 and packaging write it (a final release has no suffix)."""
    import types

    version = types.SimpleNamespace(major=3, minor=14, micro=0, releaselevel="candidate", serial=1)
    monkeypatch.setattr(sys, "implementation", types.SimpleNamespace(name="cpython", version=version))
    assert target.marker_environment()["implementation_version"] == "3.14.0c1"


def test_odd_dist_info_entries_fall_back_to_the_folder_name(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "filedist-1.0.dist-info").write_text("a file, not a folder")
    dist_info(site, "noversion", "2.5")
    (site / "noversion-2.5.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: noversion\n")
    records = by_name(target.distributions([str(site)]))
    assert (records["filedist"]["version"], records["filedist"]["error"]) == ("1.0", "cannot list folder: Not a directory")
    assert (records["noversion"]["version"], records["noversion"]["error"]) == ("2.5", "METADATA has no Name or Version")


def test_headers_longer_than_the_first_read_are_all_read(tmp_path):
    site = tmp_path / "site"
    requires = [f"dependency-number-{i}>=1.0" for i in range(2000)]  # ~56 kB of headers before the body
    dist_info(site, "bigmeta", "1.0", requires=requires)
    [record] = target.distributions([str(site)])
    assert record["requires"] == requires


# ----------------------------------------------------------------------------- against pip's own reading

def test_what_pip_inspect_reads_from_the_same_folder(tmp_path):
    """pip inspect is the peer oracle: on one folder of mixed installs it must list the same distributions
    with the same name, version, REQUESTED, INSTALLER and direct_url as the probe."""
    site = tmp_path / "site"
    dist_info(site, "Mixed_Case.Name", "1.0", requested=True, installer="pip", requires=["dep>=1"])
    dist_info(site, "dep", "2.0", installer="uv", direct_url={
        "url": "https://example.org/dep-2.0.tar.gz", "archive_info": {"hash": "sha256=" + "a" * 64}})
    dist_info(site, "from_git", "0.1", requested=True, installer="pip", direct_url={
        "url": "https://example.org/repo.git", "vcs_info": {"vcs": "git", "commit_id": "b" * 40}})
    dist_info(site, "editable_one", "0.2", installer="pip", direct_url={
        "url": "file:///src/editable_one", "dir_info": {"editable": True}})
    crlf = site / "crlf-3.0.dist-info"
    crlf.mkdir()
    (crlf / "METADATA").write_bytes(b"Metadata-Version: 2.1\r\nName: crlf\r\nVersion: 3.0\r\n\r\nName: body\r\n")
    (crlf / "INSTALLER").write_text("  conda  \n")
    egg = site / "legacy-0.5.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy\nVersion: 0.5\n")
    (site / "single-1.0-py3.11.egg-info").write_text("Metadata-Version: 1.0\nName: single\nVersion: 1.0\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "inspect", "--path", str(site)], capture_output=True,
                          text=True, timeout=120, check=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    pips = {item["metadata"]["name"]: item for item in json.loads(proc.stdout)["installed"]}
    mine = by_name(target.distributions([str(site)]))
    assert sorted(mine) == sorted(pips)
    for name, record in mine.items():
        pip = pips[name]
        assert record["error"] is None
        assert record["version"] == pip["metadata"]["version"]
        assert record["installer"] == pip.get("installer")
        assert record["requested"] is bool(pip.get("requested")), name  # pip says None for an .egg-info
        if pip.get("direct_url") is None:
            assert record["direct_url"] is None
        else:  # pip adds archive_info.hashes to the file as written; the rest is the file
            assert record["direct_url"]["url"] == pip["direct_url"]["url"]
            assert set(record["direct_url"]) == set(pip["direct_url"])
    assert mine["crlf"]["installer"] == "conda"


# ------------------------------------------------------------------------------------- header details

def test_crlf_metadata_ends_its_headers_at_the_blank_line(tmp_path):
    site = tmp_path / "site"
    crlf = site / "crlf-3.0.dist-info"
    crlf.mkdir(parents=True)
    (crlf / "METADATA").write_bytes(b"Metadata-Version: 2.1\r\nName: crlf\r\nVersion: 3.0\r\nRequires-Dist: a\r\n"
                                    b"\r\nRequires-Dist: from-the-body\r\nLicense-Expression: GPL-3.0\r\n")
    [record] = target.distributions([str(site)])
    assert (record["name"], record["version"], record["requires"], record["license"]) == ("crlf", "3.0", ["a"], None)


def test_license_headers_as_written(tmp_path):
    site = tmp_path / "site"
    one = site / "one-1.0.dist-info"
    one.mkdir(parents=True)
    (one / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: one\nVersion: 1.0\nLicense: MIT\n"
        "Classifier: Programming Language :: Python\nClassifier: License :: OSI Approved :: MIT License\n"
        "Description: a summary that\n  goes on over two lines\nClassifier: License :: Other/Proprietary License\n")
    whole = site / "whole-1.0.dist-info"
    whole.mkdir()
    (whole / "METADATA").write_text("Metadata-Version: 2.1\nName: whole\nVersion: 1.0\n"
                                    "License: Copyright (c) the authors\n        Permission is hereby granted\n"
                                    "License-Expression: Apache-2.0\n")
    stray = site / "stray-1.0.dist-info"
    stray.mkdir()
    (stray / "METADATA").write_text("Metadata-Version: 2.1\nName: stray\nVersion: 1.0\nLicense: BSD\n"
                                    "a line that is no header\n    and an indented line after it\n")
    dist_info(site, "none", "1.0")
    records = by_name(target.distributions([str(site)]))
    assert records["one"]["license"] == {"expression": None, "license": "MIT", "classifiers": [
        "License :: OSI Approved :: MIT License", "License :: Other/Proprietary License"]}
    # A License header that goes on over several lines is a whole license text: not a license name.
    assert records["whole"]["license"] == {"expression": "Apache-2.0", "license": None, "classifiers": []}
    assert records["stray"]["license"] == {"expression": None, "license": "BSD", "classifiers": []}
    assert records["none"]["license"] is None


def test_a_broken_egg_info_is_named_after_its_folder(tmp_path):
    """Folder names carry the name and version (`crit-3.17.1-py3.11.egg-info`): the fallback takes both and
    drops the Python tag; the record says what was wrong instead of raising."""
    site = tmp_path / "site"
    egg = site / "crit-3.17.1-py3.11.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_bytes(b"Name: crit\nVersion: \xff\n")
    (site / "half-2.0.egg-info").mkdir()
    (site / "half-2.0.egg-info" / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: half\n")
    records = by_name(target.distributions([str(site)]))
    assert (records["crit"]["version"], records["crit"]["error"]) == ("3.17.1", "PKG-INFO: not UTF-8")
    assert (records["half"]["version"], records["half"]["error"]) == ("2.0", "PKG-INFO has no Name or Version")
    assert [r["requested"] for r in records.values()] == [False, False]


def test_files_beside_the_metadata(tmp_path):
    """requires.txt counts only in an .egg-info (a dist-info's requirements are its Requires-Dist); an empty
    INSTALLER names no installer; an empty direct_url.json is no source and no error."""
    site = tmp_path / "site"
    info = dist_info(site, "modern", "1.0", requires=["real-dep"])
    (info / "INSTALLER").write_text("")
    (info / "requires.txt").write_text("not-a-dependency\n")
    (info / "direct_url.json").write_text("")
    records = by_name(target.distributions([str(site)]))
    assert records["modern"]["requires"] == ["real-dep"]
    assert (records["modern"]["installer"], records["modern"]["direct_url"], records["modern"]["error"]) == (
        None, None, None)


def test_egg_info_requires_txt_corner_cases(tmp_path):
    egg = tmp_path / "site" / "corner-1.0.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: corner\nVersion: 1.0\n")
    (egg / "requires.txt").write_text("  spaced>=1  \n[]\nafter-empty-section\n")
    [record] = target.distributions([str(tmp_path / "site")])
    assert record["requires"] == ["spaced>=1", "after-empty-section"]


# ----------------------------------------------------------------------------------- the whole report

def test_one_line_keeps_deep_facts_to_single_lines():
    assert target.one_line({"a\nb": ["x\n y", ("t", 1)], "n": None, "f": 1.5, "b": True, "o": ValueError("e\nf")}) == {
        "a b": ["x y", ["t", 1]], "n": None, "f": 1.5, "b": True, "o": "e f"}
    assert target.one_line("word " * 1000) == "word " * 800  # at most 4000 characters


def test_libc_and_site_packages_of_this_interpreter():
    import platform
    import sysconfig

    name, version = platform.libc_ver()
    assert target.libc() == {"name": name or None, "version": version or None}
    paths = target.site_packages()
    assert len(paths) == len(set(paths))
    assert sysconfig.get_paths()["platlib"] in paths and sysconfig.get_paths()["purelib"] in paths


def test_deep_run_as_a_script_imports_the_installed_frameworks_by_canonical_name(tmp_path):
    """--deep: a distribution spelled `NumPy` is numpy; its import failing is recorded, and the report stays
    pure ASCII JSON even when the output stream cannot write anything else."""
    site = tmp_path / "site"
    info = dist_info(site, "NumPy", "2.0")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: NumPy\nVersion: 2.0\nLicense: Caf\u00e9 licence\n")
    (site / "numpy").mkdir()
    (site / "numpy" / "__init__.py").write_text("raise ImportError('no numpy here')\n")
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONIOENCODING": "ascii"}
    proc = subprocess.run([sys.executable, "-S", target.__file__, "--deep"], capture_output=True, text=True,
                          env=env, timeout=60, check=True)
    facts = json.loads(proc.stdout)
    [numpy] = [d for d in facts["distributions"] if d["name"] == "NumPy"]
    assert numpy["license"]["license"] == "Caf\u00e9 licence"
    assert facts["deep"] == {"errors": {"numpy": "ImportError: no numpy here"}}


def test_a_folder_that_cannot_be_listed_is_not_requested_and_a_nameless_metadata_takes_the_folder_name(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "filedist-1.0.dist-info").write_text("a file, not a folder")
    noname = site / "noname-4.2.dist-info"
    noname.mkdir()
    (noname / "METADATA").write_text("Metadata-Version: 2.1\nVersion: 4.2.1\n")
    (noname / "REQUESTED").write_text("")
    records = by_name(target.distributions([str(site)]))
    assert (records["filedist"]["requested"], records["filedist"]["installer"]) == (False, None)
    assert (records["noname"]["version"], records["noname"]["requested"]) == ("4.2.1", True)
    assert records["noname"]["error"] == "METADATA has no Name or Version"


def test_headers_without_a_blank_line_or_a_final_newline_are_read_to_their_last_character(tmp_path):
    """A hand-written PKG-INFO may have no body and no final newline: its last header is still whole."""
    site = tmp_path / "site"
    egg = site / "handmade-1.10.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: handmade\nVersion: 1.10")
    [record] = target.distributions([str(site)])
    assert (record["name"], record["version"], record["error"]) == ("handmade", "1.10", None)


def test_reading_untrusted_files_is_bounded(tmp_path):
    """An image's dist-info folders are untrusted: headers that never end are read up to about 1 MiB, and the
    small files beside them (direct_url.json, INSTALLER) up to 64 KiB; what is beyond is not read."""
    site = tmp_path / "site"
    many = [f"dependency-{i:06d}>=1.0" for i in range(20000)]  # 760 kB of headers, body after them
    dist_info(site, "large", "1.0", requires=many)
    endless = site / "endless-1.0.dist-info"
    endless.mkdir()
    with open(endless / "METADATA", "w") as handle:
        handle.write("Name: endless\nVersion: 1.0\n")
        for i in range(150000):  # ~4 MiB of headers and no blank line
            handle.write(f"Requires-Dist: dependency-{i:06d}>=1.0\n")
    url = {"url": "https://example.org/x.whl", "archive_info": {}, "padding": "p" * 70000}
    dist_info(site, "padded", "1.0", direct_url=url)
    records = by_name(target.distributions([str(site)]))
    assert records["large"]["requires"] == many
    assert 25000 < len(records["endless"]["requires"]) < 30000  # about 1 MiB of 38-byte lines
    assert records["padded"]["direct_url"] is None
    assert records["padded"]["error"] == "direct_url.json is not valid JSON"


def test_collect_without_deep_imports_no_framework(tmp_path, monkeypatch):
    """freeze's own interpreter is inspected in-process with collect(): without --deep, an installed numpy is
    listed but never imported (importing a framework can take seconds, or crash)."""
    site = tmp_path / "site"
    dist_info(site, "numpy", "2.0")
    (site / "numpy").mkdir()
    (site / "numpy" / "__init__.py").write_text("raise SystemExit('numpy was imported')\n")
    monkeypatch.setattr(sys, "path", [sys.path[0], str(site)])
    monkeypatch.delitem(sys.modules, "numpy", raising=False)
    facts = target.collect()
    assert facts["deep"] is None and "numpy" not in sys.modules
    assert [d["name"] for d in facts["distributions"]] == ["numpy"] and facts["sys_path"] == [str(site)]


# ----------------------------------------------------------------------- deep facts of the frameworks

def recorded_h100_deep() -> dict:
    """What --deep recorded on an H100 machine (tests/fixtures/gpu/h100/freeze.json, see SOURCES there)."""
    from pathlib import Path

    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "gpu" / "h100" / "freeze.json"
    return json.loads(fixture.read_text())["determinism"]["deep"]


def write_stand_in(folder, name: str, source: str):
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(source)


def stand_in_torch(facts: dict) -> str:
    """A torch module that answers as the real one did (a GPU cannot exist here): the recorded values."""
    devices = facts["devices"]
    return f'''
import types
__version__ = {facts["version"]!r}
version = types.SimpleNamespace(cuda={facts["cuda"]!r}, hip={facts["hip"]!r})
def get_num_threads(): return {facts["num_threads"]!r}
def are_deterministic_algorithms_enabled(): return {facts["deterministic_algorithms"]!r}
_devices = {[(d["name"], d["memory_total"], *map(int, d["compute_capability"].split("."))) for d in devices]!r}
def _props(i):
    name, total, major, minor = _devices[i]
    return types.SimpleNamespace(name=name, total_memory=total, major=major, minor=minor)
cuda = types.SimpleNamespace(is_available=lambda: {facts["cuda_available"]!r}, device_count=lambda: len(_devices),
                             get_device_properties=_props)
backends = types.SimpleNamespace(
    cudnn=types.SimpleNamespace(version=lambda: {facts["cudnn"]!r}, is_available=lambda: {facts["cudnn"] is not None!r},
                                deterministic={facts["cudnn_deterministic"]!r}, benchmark={facts["cudnn_benchmark"]!r}),
    cuda=types.SimpleNamespace(matmul=types.SimpleNamespace(allow_tf32={facts["tf32_matmul"]!r})),
    mps=types.SimpleNamespace(is_available=lambda: {facts["mps_available"]!r}))
'''


def stand_in_jax(facts: dict) -> str:
    return f'''
import types
__version__ = {facts["version"]!r}
def default_backend(): return {facts["backend"]!r}
def devices(): return {facts["devices"]!r}
config = types.SimpleNamespace(jax_enable_x64={facts["x64"]!r})
'''


def test_deep_facts_of_torch_and_jax_on_a_gpu_machine_as_recorded(tmp_path, monkeypatch):
    recorded = recorded_h100_deep()
    write_stand_in(tmp_path, "torch", stand_in_torch(recorded["torch"]))
    write_stand_in(tmp_path, "jax", stand_in_jax(recorded["jax"]))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("torch", "jax"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert target.deep_facts({"torch", "jax"}) == {"torch": recorded["torch"], "jax": recorded["jax"]}


def test_deep_facts_of_a_cpu_only_torch(tmp_path, monkeypatch):
    """The CPU wheel: no CUDA, no cuDNN; no device is asked for its properties."""
    cpu = {**recorded_h100_deep()["torch"], "version": "2.11.0+cpu", "cuda": None, "cudnn": None,
           "cuda_available": False, "devices": [], "device_count": 0, "deterministic_algorithms": True}
    write_stand_in(tmp_path, "torch", stand_in_torch(cpu).replace(
        "device_count=lambda: len(_devices)", "device_count=lambda: 1"))  # asking would be a bug: it says 1
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert target.deep_facts({"torch"}) == {"torch": cpu}


def test_deep_facts_of_tensorflow_with_and_without_build_info(tmp_path, monkeypatch):
    """TensorFlow's documented API: tf.sysconfig.get_build_info() (2.3 and later) and
    tf.config.list_physical_devices; before 2.3 there is no build info, and that is no error."""
    source = '''
import types
__version__ = "2.16.1"
sysconfig = types.SimpleNamespace(get_build_info=lambda: {"cuda_version": "12.3", "cudnn_version": "8"})
config = types.SimpleNamespace(list_physical_devices=lambda kind: ["/physical_device:GPU:0"] * (kind == "GPU") * 2)
'''
    write_stand_in(tmp_path / "new", "tensorflow", source)
    write_stand_in(tmp_path / "old", "tensorflow", source.replace("get_build_info=", "other=").replace(
        '"2.16.1"', '"2.2.0"'))
    monkeypatch.setenv("TF_DETERMINISTIC_OPS", "1")
    monkeypatch.syspath_prepend(str(tmp_path / "new"))
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    assert target.deep_facts({"tensorflow"}) == {"tensorflow": {
        "version": "2.16.1", "cuda": "12.3", "cudnn": "8", "gpus": 2, "deterministic_ops": "1"}}
    monkeypatch.syspath_prepend(str(tmp_path / "old"))
    monkeypatch.delitem(sys.modules, "tensorflow")
    assert target.deep_facts({"tensorflow"}) == {"tensorflow": {"version": "2.2.0", "gpus": 2, "deterministic_ops": "1"}}


def test_deep_facts_of_the_real_numpy():
    """numpy runs here: its BLAS, LAPACK and SIMD facts are what its own show_config says, trimmed to the
    fields a reader compares, and threadpoolctl's pools are listed when threadpoolctl is installed."""
    numpy = pytest.importorskip("numpy")
    config = numpy.show_config(mode="dicts")
    facts = target.deep_facts({"numpy"})["numpy"]
    blas = config["Build Dependencies"]["blas"]
    assert facts["version"] == numpy.__version__
    assert facts["blas"] == target.one_line(
        {k: blas[k] for k in ("name", "version", "openblas configuration") if blas.get(k) is not None})
    assert set(facts["blas"]) >= {"name", "version"} and "lapack" in facts
    assert facts["simd"] == target.one_line(config["SIMD Extensions"])
    threadpoolctl = pytest.importorskip("threadpoolctl")
    assert [pool["user_api"] for pool in facts["threadpools"]] == [p["user_api"] for p in threadpoolctl.threadpool_info()]
    assert all(set(pool) <= {"user_api", "internal_api", "version", "num_threads", "architecture",
                             "threading_layer"} for pool in facts["threadpools"])


def test_deep_numpy_without_threadpoolctl(monkeypatch):
    pytest.importorskip("numpy")
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # what an environment without it answers
    facts = target.deep_facts({"numpy"})
    assert "errors" not in facts and "threadpools" not in facts["numpy"] and "blas" in facts["numpy"]
