"""freeze of a real conda environment (made by py-rattler from a local channel): the conda section holds every
installed package as an explicit record whose URL, md5 and sha256 are those of the very package file, and the
kit's conda-explicit.txt lists them as `conda list --explicit --md5` would."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conda.conftest import freeze_prefix
from tests.helpers.clirun import envcapture


def _archives(channel: Path) -> dict[str, Path]:
    return {path.name: path for path in channel.rglob("*.tar.bz2")}


def _freeze(prefix: Path, out: Path) -> dict:
    return freeze_prefix(prefix, out)


def test_the_conda_section_holds_each_package_with_the_hashes_of_its_file(real_conda, tmp_path):
    channel, prefix = real_conda
    manifest = _freeze(prefix, tmp_path / "m.json")
    assert manifest["python"]["origin"] == "conda"
    section = manifest["conda"]
    assert section["prefix"] == str(prefix)
    assert section["channels"] == [channel.as_uri()]
    archives = _archives(channel)
    assert {f"{p['name']}-{p['version']}-{p['build']}.tar.bz2" for p in section["packages"]} == set(archives)
    for package in section["packages"]:
        archive = archives[package["url"].rsplit("/", 1)[1]]
        data = archive.read_bytes()
        assert package["url"] == archive.as_uri()
        assert package["md5"] == hashlib.md5(data).hexdigest()
        assert package["sha256"] == hashlib.sha256(data).hexdigest()
        assert package["subdir"] == archive.parent.name
        assert package["channel"] == channel.name


def test_the_records_agree_with_rattlers_own_reading_of_the_prefix(real_conda, tmp_path):
    import rattler

    _, prefix = real_conda
    manifest = _freeze(prefix, tmp_path / "m.json")
    ours = {(p["name"], p["version"], p["build"], p["url"], p["md5"], p["sha256"])
            for p in manifest["conda"]["packages"]}
    theirs = set()
    for path in (prefix / "conda-meta").glob("*.json"):
        record = rattler.PrefixRecord.from_path(path)
        theirs.add((record.name.normalized, str(record.version), str(record.build), record.url, record.md5.hex(),
                    record.sha256.hex()))
    assert ours == theirs


def test_the_kit_lists_every_record_as_an_explicit_url_with_its_md5(real_conda, tmp_path):
    channel, prefix = real_conda
    manifest = _freeze(prefix, tmp_path / "m.json")
    done = envcapture("generate", "docker", "-m", tmp_path / "m.json", "-o", tmp_path / "kit")
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "kit" / "conda-explicit.txt").read_text().splitlines()
    explicit = lines[lines.index("@EXPLICIT") + 1:]
    expected = sorted(f"{archive.as_uri()}#{hashlib.md5(archive.read_bytes()).hexdigest()}"
                      for archive in _archives(channel).values())
    assert explicit == expected
    assert len(explicit) == len(manifest["conda"]["packages"]) == 3
