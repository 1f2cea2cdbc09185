"""The target probe (envcapture/probes/target.py) on purpose-built site-packages folders: what it reads from
each dist-info folder, and which of two same-named distributions wins, in-process and run as a plain script."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
