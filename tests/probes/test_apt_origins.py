"""Origins of hand-installed apt packages: this machine's real lists checked against apt itself, and a
built root with a third-party source, compressed lists and a package no source offers."""

from __future__ import annotations

import gzip
import lzma
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from envcapture.probes import ProbeContext, dpkg
from envcapture.probes.apt_origins import list_prefix

# apt's own file names for these sources (URItoFileName), written out rather than computed by the function under
# test: as on this machine (/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease); apt writes _ in
# a URI as %5f and drops the credentials.
DEBIAN_LISTS = "deb.debian.org_debian_dists_bookworm_"
NODE_LISTS = "deb.nodesource.com_node%5f20.x_dists_nodistro_"
GCLOUD_LISTS = "packages.example.com_apt_dists_cloud-sdk_"


def apt_policy(names: list[str]) -> dict[str, set[tuple[str, str]]]:
    """name -> {(url, suite)} that apt-cache policy lists for the installed version."""
    out = subprocess.run(["apt-cache", "policy", *names], capture_output=True, text=True, timeout=300).stdout
    found: dict[str, set] = {}
    name, installed, in_installed = None, None, False
    for line in out.splitlines():
        if not line.startswith(" "):
            name, in_installed = line.rstrip(":"), False
            found[name] = set()
        elif line.strip().startswith("Installed:"):
            installed = line.split(":", 1)[1].strip()
        elif re.match(r"^ (\*\*\*| {3}) \S+ \d+$", line):
            in_installed = line.split()[-2] == installed
        elif in_installed and re.match(r"^ +\d+ (\S+://\S+) (\S+?)/", line):
            url, suite = re.match(r"^ +\d+ (\S+://\S+) (\S+?)/", line).groups()
            found[name].add((url, suite))
    return found


def test_origins_on_this_machine_agree_with_apt_cache_policy():
    if not shutil.which("apt-cache") or not list(__import__("pathlib").Path("/var/lib/apt/lists").glob("*Packages*")):
        pytest.skip("no apt, or apt-get update never ran here")
    result = dpkg.collect(ProbeContext())
    manual = [p for p in result.data["packages"] if p["manual"] and (p["architecture"] in ("all", None) or
                                                                     ":" not in p["name"])]
    assert manual and all("origin" in p for p in manual)
    policy = apt_policy(sorted({p["name"] for p in manual}))
    for package in manual:
        expected = policy.get(package["name"], set())
        origin = package["origin"]
        if not expected:
            assert origin is None, package
        else:
            assert origin is not None and (origin["url"], origin["suite"]) in expected, (package, expected)


def write(root, rel, data: bytes):
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def stanza(name, version):
    return f"Package: {name}\nSource: {name}-src\nVersion: {version}\nArchitecture: amd64\nDescription: x\n y\n\n"


def test_third_party_compressed_lists_and_unknown_packages(tmp_path):
    root = tmp_path
    write(root, "/var/lib/dpkg/status", "".join(
        f"Package: {n}\nStatus: install ok installed\nVersion: {v}\nArchitecture: amd64\n\n"
        for n, v in [("jq", "1.6-2.1"), ("nodejs", "20.1.0-1nodesource1"), ("localtool", "1.0"),
                     ("libfoo", "2.0"), ("gcloud", "528.0.0-0")]).encode())
    write(root, "/var/lib/apt/extended_states", b"Package: libfoo\nArchitecture: amd64\nAuto-Installed: 1\n\n")
    write(root, "/etc/apt/sources.list", b"deb http://deb.debian.org/debian bookworm main\n"
                                         b"deb [signed-by=/k.gpg] https://deb.nodesource.com/node_20.x nodistro main\n"
                                         b"deb https://user:secret@packages.example.com/apt cloud-sdk main\n")
    lists = "/var/lib/apt/lists/"
    debian = DEBIAN_LISTS
    write(root, lists + debian + "InRelease", b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"
                                              b"Origin: Debian\nLabel: Debian\nSuite: stable\nCodename: bookworm\n")
    write(root, lists + debian + "main_binary-amd64_Packages.gz",
          gzip.compress((stanza("jq", "1.6-2.1") + stanza("nodejs", "18.19.0+dfsg-6")).encode()))
    node = NODE_LISTS
    write(root, lists + node + "Release", b"Origin: Node Source\nCodename: nodistro\n")
    write(root, lists + node + "main_binary-amd64_Packages.xz",
          lzma.compress((stanza("nodejs", "20.0.0-1nodesource1") + stanza("nodejs", "20.1.0-1nodesource1")).encode()))
    gcloud = GCLOUD_LISTS
    plain = stanza("gcloud", "528.0.0-0").encode()
    if shutil.which("lz4"):  # apt's own lz4 lists (Docker's Debian images keep them so): read with apt-helper
        write(root, lists + gcloud + "main_binary-amd64_Packages", plain)
        path = root / (lists.lstrip("/") + gcloud + "main_binary-amd64_Packages")
        subprocess.run(["lz4", "-q", "--rm", str(path), str(path) + ".lz4"], check=True)
    else:
        write(root, lists + gcloud + "main_binary-amd64_Packages", plain)

    result = dpkg.collect(ProbeContext(root=root))
    origins = {p["name"]: p.get("origin", "absent") for p in result.data["packages"]}
    assert origins["jq"] == {"archive": "Debian", "url": "http://deb.debian.org/debian", "suite": "bookworm",
                             "component": "main"}
    assert origins["nodejs"] == {"archive": "Node Source", "url": "https://deb.nodesource.com/node_20.x",
                                 "suite": "nodistro", "component": "main"}
    assert origins["gcloud"] == {"archive": None, "url": "https://packages.example.com/apt", "suite": "cloud-sdk",
                                 "component": "main"}
    assert origins["localtool"] is None  # installed from a .deb: no source offers it
    assert origins["libfoo"] == "absent"  # automatic: not looked up
    assert "secret" not in repr(result.data)


def test_no_lists_means_origins_unknown_with_a_warning(tmp_path):
    write(tmp_path, "/var/lib/dpkg/status", b"Package: jq\nStatus: install ok installed\nVersion: 1\n"
                                            b"Architecture: amd64\n\n")
    write(tmp_path, "/var/lib/apt/extended_states", b"")
    write(tmp_path, "/etc/apt/sources.list", b"deb http://deb.debian.org/debian bookworm main\n")
    result = dpkg.collect(ProbeContext(root=tmp_path))
    assert "origin" not in result.data["packages"][0]
    assert any("package lists are empty" in w.message for w in result.warnings)


def test_the_scan_is_cached_until_apt_replaces_the_list(tmp_path):
    import os

    write(tmp_path, "/var/lib/dpkg/status", b"Package: jq\nStatus: install ok installed\nVersion: 1.6\n"
                                            b"Architecture: amd64\n\n")
    write(tmp_path, "/var/lib/apt/extended_states", b"")
    write(tmp_path, "/etc/apt/sources.list", b"deb http://deb.debian.org/debian bookworm main\n")
    listed = f"/var/lib/apt/lists/{DEBIAN_LISTS}main_binary-amd64_Packages"
    write(tmp_path, listed, stanza("jq", "1.6").encode())
    ctx = ProbeContext(root=tmp_path, env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert dpkg.collect(ctx).data["packages"][0]["origin"]["suite"] == "bookworm"
    assert (tmp_path / "cache" / "envcapture" / "apt-lists.json").is_file()
    path = tmp_path / listed.lstrip("/")
    stat = path.stat()
    path.write_bytes(stanza("jq", "1.7").ljust(len(stanza("jq", "1.6")), "\n").encode())  # same size...
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and mtime: the cached answer stands
    assert dpkg.collect(ctx).data["packages"][0]["origin"] is not None
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # apt replaced the list: scanned again
    assert dpkg.collect(ctx).data["packages"][0]["origin"] is None


@pytest.mark.parametrize("uri, suite, expected", [
    ("http://deb.debian.org/debian", "bookworm", DEBIAN_LISTS),
    ("http://deb.debian.org/debian/", "bookworm", DEBIAN_LISTS),
    ("https://deb.nodesource.com/node_20.x", "nodistro", NODE_LISTS),
    ("https://user:secret@packages.example.com/apt", "cloud-sdk", GCLOUD_LISTS),
    ("http://deb.debian.org/debian-security", "bookworm-security", "deb.debian.org_debian-security_dists_bookworm-security_"),
    # a flat repository (suite ends in /): no dists/ part
    ("http://example.org/repo", "./", "example.org_repo_._"),
    ("http://example.org/a~b", "x y", "example.org_a%7eb_dists_x%20y_"),
])
def test_list_prefix_is_apts_file_name(uri, suite, expected):
    assert list_prefix(uri, suite) == expected


def test_list_prefix_names_the_lists_apt_wrote_on_this_machine():
    lists = Path("/var/lib/apt/lists")
    names = {p.name for p in lists.glob("*_InRelease")} if lists.is_dir() else set()
    if not any(n.startswith("deb.debian.org_debian_dists_") for n in names):
        pytest.skip("no Debian lists here")
    assert list_prefix("http://deb.debian.org/debian", "bookworm") + "InRelease" in names
