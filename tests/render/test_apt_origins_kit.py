"""A kit installs only the hand-installed packages the distribution's archive offers; the rest (third-party
sources, versions no source offered) are left out and listed in REPRODUCE.md with the reason."""

from __future__ import annotations

import json

from tests.render.conftest import MANIFESTS
from envcapture.cli import main as run_cli

DEBIAN = {"archive": "Debian", "url": "http://deb.debian.org/debian", "suite": "bookworm", "component": "main"}
SECURITY = {**DEBIAN, "url": "http://deb.debian.org/debian-security", "suite": "bookworm-security"}
BACKPORTS = {**DEBIAN, "archive": "Debian Backports", "suite": "bookworm-backports"}
NODESOURCE = {"archive": "Node Source", "url": "https://deb.nodesource.com/node_20.x", "suite": "nodistro",
              "component": "main"}


def kit_with_origins(tmp_path, origins: dict, extra=()):
    data = json.loads((MANIFESTS / "distro-python.json").read_text())
    for package in data["system_packages"]["packages"]:
        if package.get("manual"):
            package["origin"] = origins.get(package["name"], DEBIAN)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(data))
    out = tmp_path / "kit"
    assert run_cli(["generate", "docker", "vagrant", "-m", str(manifest), "-o", str(out), *extra]) == 0
    return out


def test_only_packages_the_archive_offers_are_pinned(tmp_path):
    kit = kit_with_origins(tmp_path, {"curl": None, "jq": NODESOURCE, "bc": BACKPORTS, "cmake": SECURITY})
    dockerfile = (kit / "Dockerfile").read_text()
    provision = (kit / "provision.sh").read_text()
    listed = (kit / "system-packages.txt").read_text()
    for text in (dockerfile, provision, listed):
        assert "cmake=3.25.1-1" in text and "cscope=15.9-1" in text
        assert "curl=" not in text and "jq=" not in text and "bc=" not in text
    reproduce = (kit / "REPRODUCE.md").read_text()
    assert "no apt source configured at capture time offered this version" in reproduce
    assert "`curl=7.88.1-10+deb12u14`" in reproduce
    assert "third-party apt source `https://deb.nodesource.com/node_20.x nodistro` (Node Source)" in reproduce
    assert "signing key" in reproduce
    assert "suite `bookworm-backports`" in reproduce and "`bc=1.07.1-3+b1`" in reproduce


def test_a_hostile_origin_is_refused(tmp_path, capsys):
    data = json.loads((MANIFESTS / "distro-python.json").read_text())
    package = next(p for p in data["system_packages"]["packages"] if p.get("manual"))
    package["origin"] = {**NODESOURCE, "archive": "Node`touch /tmp/x`"}
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(data))
    assert run_cli(["generate", "docker", "-m", str(manifest), "-o", str(tmp_path / "kit")]) == 2
    assert ".origin.archive" in capsys.readouterr().err and not (tmp_path / "kit").exists()
