"""apt_origins's readers on real inputs: this machine's apt lists against what apt-cache itself says, and the
source lines and Packages stanzas apt writes (options in brackets, deb-src, flat repositories, look-alike
names, a Version inside a description)."""

from __future__ import annotations

import glob
import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from envcapture.probes.apt_origins import (_origin, list_prefix, parse_source_line, read_list, release_fields,
                                           versions_in_list)

LISTS = Path("/var/lib/apt/lists")
DEBIAN = "http://deb.debian.org/debian"


@pytest.mark.parametrize("line, expected", [
    ("deb http://deb.debian.org/debian bookworm main contrib", ("deb", DEBIAN, "bookworm", ["main", "contrib"])),
    ("deb [signed-by=/usr/share/keyrings/k.gpg arch=amd64] http://deb.debian.org/debian bookworm main",
     ("deb", DEBIAN, "bookworm", ["main"])),
    ("deb [ trusted=yes ] http://deb.debian.org/debian bookworm main", ("deb", DEBIAN, "bookworm", ["main"])),
    ("deb-src http://deb.debian.org/debian bookworm main", ("deb-src", DEBIAN, "bookworm", ["main"])),
    ("deb https://repo.example.org/flat ./", ("deb", "https://repo.example.org/flat", "./", [])),
    ("deb http://deb.debian.org/debian", None),
    ("deb [arch=amd64] http://deb.debian.org/debian", None),
    ("", None),
    ("   ", None),
])
def test_source_lines_as_apt_reads_them(line, expected):
    assert parse_source_line(line) == expected


PACKAGES = (b"Package: bash-completion\nVersion: 1:2.11-6\nDescription: not bash\n\n"
            b"Package: bash\nSource: bash (5.2.15-2)\nVersion: 5.2.15-2+b2\nDescription: shell\n"
            b" Version: 9.9 in a description line is not a version\n\n"
            b"Package: mybash\nVersion: 0.1\n\n"
            b"Package: bash\nVersion: 5.2.15-2+b7\n\n"
            b"Package: jq\nArchitecture: amd64\nVersion: 1.6-2.1")  # the last stanza has no final newline


def test_versions_in_a_list_are_exactly_the_wanted_names_stanzas():
    found = versions_in_list(PACKAGES, {b"bash", b"jq", b"coreutils"})
    assert list(found) == [(b"bash", b"5.2.15-2+b2"), (b"bash", b"5.2.15-2+b7"), (b"jq", b"1.6-2.1")]
    assert versions_in_list(PACKAGES, {b"bas"}) == {}


def test_compressed_lists_are_read_and_a_corrupt_one_is_unreadable(tmp_path):
    (tmp_path / "x_Packages.gz").write_bytes(gzip.compress(PACKAGES))
    assert read_list(str(tmp_path / "x_Packages.gz")) == PACKAGES
    (tmp_path / "y_Packages.gz").write_bytes(b"not gzip at all")
    assert read_list(str(tmp_path / "y_Packages.gz")) is None
    assert read_list(str(tmp_path / "missing_Packages")) is None


def test_release_fields_prefer_inrelease_and_read_the_head(tmp_path):
    prefix = str(tmp_path / "deb.example.org_dists_stable_")
    Path(prefix + "Release").write_text("Origin: Old\nCodename: old\n")
    Path(prefix + "InRelease").write_text("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\n"
                                          "Label: Debian\nSuite: stable\nCodename: bookworm\n")
    assert release_fields(prefix) == {"Origin": "Debian", "Codename": "bookworm", "Suite": "stable"}
    assert release_fields(str(tmp_path / "none_")) == {}


def test_an_archive_name_with_control_characters_is_not_recorded():
    assert _origin(DEBIAN, "bookworm", "main", "Debian\x1b[31m")["archive"] is None
    assert _origin(DEBIAN, "bookworm", "", "Debian") == {"archive": "Debian", "url": DEBIAN, "suite": "bookworm",
                                                         "component": None}


def madison(names: list[str]) -> set[tuple[str, str]]:
    out = subprocess.run(["apt-cache", "madison", *names], capture_output=True, text=True, timeout=120).stdout
    found = set()
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2].startswith(DEBIAN + " bookworm/main") and parts[2].endswith("Packages"):
            found.add((parts[0], parts[1]))
    return found


@pytest.mark.skipif(not shutil.which("apt-cache") or not glob.glob(str(LISTS / "deb.debian.org_debian_dists_bookworm_"
                                                                            "main_binary-*_Packages*")),
                    reason="needs this machine's Debian bookworm lists")
def test_this_machines_bookworm_list_offers_what_apt_cache_says():
    names = ["bash", "coreutils", "libc6", "tzdata", "python3", "git", "curl"]
    (path,) = glob.glob(str(LISTS / (list_prefix(DEBIAN, "bookworm") + "main_binary-*_Packages*")))
    data = read_list(path)
    assert data is not None and data.startswith(b"Package: ")
    ours = {(n.decode(), v.decode()) for n, v in versions_in_list(data, {n.encode() for n in names})}
    theirs = madison(names)
    assert len(theirs) >= 5 and ours == theirs
