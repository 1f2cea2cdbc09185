"""The apk probe on two recorded Alpine databases (a base image and a minirootfs with its world file)."""

from __future__ import annotations

import json

from envcapture.probes import ProbeContext, apk, system_packages


def root_with(tmp_path, files: dict):
    for name, content in files.items():
        path = tmp_path / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return tmp_path


def test_alpine316_base_image(fixtures_dir, tmp_path, section_problems):
    installed = (fixtures_dir / "pkgdb" / "alpine3.16-x86_64" / "installed").read_bytes()
    result = system_packages.collect(ProbeContext(root=root_with(tmp_path, {"/lib/apk/db/installed": installed}),
                                                  env={}))
    packages = {p["name"]: p for p in result.data["packages"]}
    assert result.data["manager"] == "apk"
    assert len(packages) == 14
    assert packages["musl"] == {"name": "musl", "version": "1.2.3-r0", "architecture": "x86_64", "manual": None}
    assert {"busybox", "apk-tools", "libcrypto1.1", "alpine-baselayout"} <= set(packages)
    assert result.warnings == []
    assert section_problems("system_packages", result.data) == []


def test_alpine314_rootfs_with_world(fixtures_dir, tmp_path, section_problems):
    pkgdb = fixtures_dir / "pkgdb" / "alpine3.14-rootfs"
    root = root_with(tmp_path, {"/lib/apk/db/installed": (pkgdb / "installed").read_bytes(),
                                "/etc/apk/world": (pkgdb / "world").read_bytes()})
    result = apk.collect(ProbeContext(root=root, env={}))
    packages = {p["name"]: p for p in result.data["packages"]}
    world = set((pkgdb / "world").read_text().split())
    assert len(packages) == 26
    assert {name for name, p in packages.items() if p["manual"]} == world
    assert len(world) == 12
    assert packages["musl"]["manual"] is False and packages["musl"]["version"] == "1.2.2-r3"
    assert packages["busybox"]["architecture"] == "armv7"
    assert section_problems("system_packages", result.data) == []


def test_world_constraints_and_repositories(fixtures_dir, tmp_path, section_problems):
    installed = (fixtures_dir / "pkgdb" / "alpine3.16-x86_64" / "installed").read_bytes()
    root = root_with(tmp_path, {
        "/lib/apk/db/installed": installed,
        "/etc/apk/world": "busybox>=1.35\nmusl=1.2.3-r0\napk-tools@edge\n",
        "/etc/apk/repositories": ("https://dl-cdn.alpinelinux.org/alpine/v3.16/main\n# a comment\n"
                                  "@edge https://bob:hunter2@mirror.example.com/alpine/edge/main\n"
                                  "https://x.example.com/`id`\n"),
    })
    result = apk.collect(ProbeContext(root=root, env={}))
    manual = {p["name"] for p in result.data["packages"] if p["manual"]}
    assert manual == {"busybox", "musl", "apk-tools"}
    assert result.data["sources"] == ["https://dl-cdn.alpinelinux.org/alpine/v3.16/main",
                                      "@edge https://mirror.example.com/alpine/edge/main"]
    assert "hunter2" not in json.dumps(result.data)
    assert len(result.warnings) == 1
    assert section_problems("system_packages", result.data) == []


def test_first_field_of_a_stanza_wins(fixtures_dir):
    """A stanza that repeats P:, V: or A: (a hand-edited or damaged database) keeps the first of each, as the
    recorded package: the real base image's database with a second V: and A: line after the first ones."""
    text = (fixtures_dir / "pkgdb" / "alpine3.16-x86_64" / "installed").read_text()
    first = text.split("\n\n")[0]
    assert "\nV:3.2.0-r22\nA:x86_64\n" in first
    damaged = text.replace(first, first.replace("\nV:3.2.0-r22\nA:x86_64\n",
                                                "\nV:3.2.0-r22\nA:x86_64\nV:9.9.9-r9\nA:armv7\nP:other\n"), 1)
    packages = apk.parse_installed(damaged)
    assert packages[0] == ("alpine-baselayout-data", "3.2.0-r22", "x86_64")
    assert packages[1:] == apk.parse_installed(text)[1:]
