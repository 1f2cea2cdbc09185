"""Base packages are left to the base; a pinned version gone from the archive has a fallback and a clear line."""

from __future__ import annotations

import hashlib
import json

from envcapture.manifest import file as manifest_io
from envcapture.build.docker import failure
from envcapture.render import base_packages
from envcapture.render.plan import Options, make_plan

from .conftest import MANIFESTS, REPO, TEST_BASE_IMAGE, run_cli


def debian_manifest(manual: dict[str, str]) -> dict:
    """plain-venv.json (captured on Debian 12) with exactly ``manual`` installed by hand."""
    data = manifest_io.load(MANIFESTS / "plain-venv.json")
    data["system_packages"]["packages"] = [
        {"name": name, "version": version, "architecture": "amd64", "manual": True}
        for name, version in manual.items()]
    data["system_packages"]["sources"] = []
    return data


def plan_for(data: dict, **options):
    raw = json.dumps(data).encode()
    return make_plan(data, Options(targets=("docker",), command="x", manifest_sha256=hashlib.sha256(raw).hexdigest(),
                                   base_image=TEST_BASE_IMAGE, base_os="debian:12", **options))


def test_the_table_has_what_every_debian_image_has():
    for release in ("11", "12", "13"):
        table = base_packages.left_to_base("debian", release)
        assert {"libc6", "base-files", "coreutils", "bash", "dpkg", "tzdata"} <= table, release
        assert not {"jq", "python3", "git", "curl"} & table, release
    assert base_packages.left_to_base("debian", "12.5") == base_packages.left_to_base("debian", "12")
    # Ubuntu has no row: releases whose major number is also a Debian one (12.04, 13.04, 11.10) must not be sent
    # to the Debian table (24.04 would pass even if they were: the table has no "24").
    for os_id, version in (("ubuntu", "12.04"), ("ubuntu", "13.04"), ("ubuntu", "11.10"), ("ubuntu", "24.04"),
                           ("raspbian", "12"), (None, "12"), ("debian", None), ("debian", "")):
        assert base_packages.left_to_base(os_id, version) == frozenset(), (os_id, version)


def test_essential_packages_and_what_the_base_has_are_not_pinned():
    data = debian_manifest({"libc6": "2.36-9+deb12u13", "coreutils": "9.1-1", "jq": "1.6-2.1+deb12u1",
                            "curl": "7.88.1-10+deb12u14"})
    plan = plan_for(data)
    assert plan.system_packages == [("curl", "7.88.1-10+deb12u14"), ("jq", "1.6-2.1+deb12u1")]
    assert plan.left_to_base == ["coreutils", "libc6"]
    # The base image's own dpkg status (read by `build`) adds what this base happens to have.
    plan = plan_for(data, base_has=frozenset({"curl"}))
    assert plan.system_packages == [("jq", "1.6-2.1+deb12u1")]
    assert plan.left_to_base == ["coreutils", "curl", "libc6"]
    why = {n.item: n.why for n in plan.not_reproduced if n.section == "system_packages"}
    assert set(why) == {"coreutils", "curl", "libc6"} and "left to the base image" in why["libc6"]


def test_the_fallback_snapshot_is_the_capture_date_unless_turned_off(tmp_path):
    data = debian_manifest({"jq": "1.6-2.1+deb12u1"})
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    kit = tmp_path / "kit"
    assert run_cli(["generate", "docker", "-m", str(manifest), "-o", str(kit), "--base-image", TEST_BASE_IMAGE,
                    "--base-os", "debian:12"]) == 0
    dockerfile = (kit / "Dockerfile").read_text()
    assert "retrying from the snapshot archive of 2026-11-26" in dockerfile
    assert "http://snapshot.debian.org/archive/debian-security/20261126T000000Z bookworm-security main" \
        in (kit / "apt-snapshot.list").read_text()
    off = tmp_path / "off"
    assert run_cli(["generate", "docker", "-m", str(manifest), "-o", str(off), "--base-image", TEST_BASE_IMAGE,
                    "--base-os", "debian:12", "--apt-snapshot", "off"]) == 0
    assert "apt-snapshot.list" not in (off / "Dockerfile").read_text()
    assert not (off / "apt-snapshot.list").exists()


def test_a_build_failure_names_the_package_and_the_date_not_the_echoed_command(tmp_path):
    echoed = "The command '/bin/sh -c set --       jq=0.0~x1  && apt-get update ... ' returned a non-zero code: 100"
    apt = ["Reading package lists...", "E: Version '0.0~x1' for 'jq' was not found"]
    error = failure(tmp_path, echoed, ["Step 3/20 : RUN set -- jq=0.0~x1", *apt], apt[1:], "2026-11-26")
    assert str(error) == (f"docker build of {tmp_path} failed: apt has no jq 0.0~x1 (its apt suite unknown) any "
                          "more; build again with --apt-snapshot 2026-11-26")
    assert error.tail == apt[1]
    pip = ["ERROR: No matching distribution found for uv==0.13.9"]
    error = failure(tmp_path, echoed.replace("100", "1"), ["Step 9/20 : RUN pip install", *pip], pip, None)
    assert str(error) == f"docker build of {tmp_path} failed: a build step exited with 1 (Step 9/20)"
    assert error.tail == pip[0] and "/bin/sh" not in error.tail


# Real Ubuntu 24.04 versions (system-cuda.json, an H100 machine); marks as dpkg's status gives them.
UBUNTU_BASE = {
    "base-files": ("13ubuntu10.3", True, "required", []),
    "bash": ("5.2.21-2ubuntu4", True, "required", ["base-files", "libc6"]),
    "libc6": ("2.39-0ubuntu8.9", False, "optional", ["libgcc-s1"]),
    "libgcc-s1": ("14.2.0-4ubuntu2~24.04.1", False, "optional", ["gcc-14-base", "libc6"]),
    "gcc-14-base": ("14.2.0-4ubuntu2~24.04.1", False, "required", []),
    "jq": ("1.7.1-3ubuntu0.24.04.2", False, "optional", ["libc6", "libjq1"]),
    "libjq1": ("1.7.1-3ubuntu0.24.04.2", False, "optional", ["libc6", "libonig5"]),
    "libonig5": ("6.9.9-1build1", False, "optional", ["libc6"]),
}


def ubuntu_manifest(packages: list[dict]) -> dict:
    """system-cuda.json (Ubuntu 24.04, where envcapture has no table of base packages) with ``packages``."""
    data = manifest_io.load(MANIFESTS / "system-cuda.json")
    data["system_packages"]["packages"] = packages
    data["system_packages"]["sources"] = []
    assert manifest_io.problems(data) == []
    return data


def ubuntu_packages(keys=("essential", "priority", "depends")) -> list[dict]:
    return [{"name": name, "version": version, "architecture": "amd64", "manual": True,
             **{key: value for key, value in zip(("essential", "priority", "depends"), marks) if key in keys}}
            for name, (version, *marks) in UBUNTU_BASE.items()]


def ubuntu_plan(data: dict, **options):
    raw = json.dumps(data).encode()
    return make_plan(data, Options(targets=("docker",), command="x", manifest_sha256=hashlib.sha256(raw).hexdigest(),
                                   **options))


def test_an_ubuntu_manifest_leaves_what_it_marks_as_the_base_and_its_dependencies(tmp_path):
    data = ubuntu_manifest(ubuntu_packages())
    plan = ubuntu_plan(data)
    assert plan.system_install and plan.base.distro == ("ubuntu", "24.04")
    assert [name for name, _ in plan.system_packages] == ["jq", "libjq1", "libonig5"]
    assert plan.left_to_base == ["base-files", "bash", "gcc-14-base", "libc6", "libgcc-s1"]
    assert not any("Essential" in note for note in plan.notes)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    assert run_cli(["generate", "docker", "-m", str(manifest), "-o", str(tmp_path / "kit")]) == 0
    dockerfile = (tmp_path / "kit" / "Dockerfile").read_text()
    assert "jq=1.7.1-3ubuntu0.24.04.2" in dockerfile
    assert "libc6=" not in dockerfile and "base-files=" not in dockerfile and "libgcc-s1=" not in dockerfile


def test_without_recorded_dependencies_only_the_marked_packages_are_left_and_the_kit_says_so():
    plan = ubuntu_plan(ubuntu_manifest(ubuntu_packages(keys=("essential", "priority"))))
    assert plan.left_to_base == ["base-files", "bash", "gcc-14-base"]
    assert "libc6" in dict(plan.system_packages)
    assert [note for note in plan.notes if "not what they depend on" in note]


def test_a_manifest_without_marks_pins_everything_on_ubuntu_unless_the_base_image_was_read():
    plan = ubuntu_plan(ubuntu_manifest(ubuntu_packages(keys=())))
    assert plan.left_to_base == [] and len(plan.system_packages) == len(UBUNTU_BASE)
    assert [note for note in plan.notes if "does not record which packages are Essential" in note]
    plan = ubuntu_plan(ubuntu_manifest(ubuntu_packages(keys=())), base_has=frozenset({"libc6", "bash"}))
    assert plan.left_to_base == ["bash", "libc6"]
    assert not any("Essential" in note for note in plan.notes)


def test_the_probe_on_a_real_dpkg_status_tells_the_planner_what_the_base_has(tmp_path):
    """The real dpkg database (a cut of a Debian 12 machine's) through the probe, in a manifest that says Ubuntu
    24.04: the planner leaves every Essential/required/important package and their dependencies to the base."""
    from envcapture.probes import ProbeContext, dpkg

    pkgdb = REPO / "tests" / "fixtures" / "pkgdb" / "debian12-amd64"
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_bytes((pkgdb / "status").read_bytes())
    packages = dpkg.collect(ProbeContext(root=tmp_path, env={})).data["packages"]
    for package in packages:
        package["manual"] = True
    plan = ubuntu_plan(ubuntu_manifest(packages))
    assert [name for name, _ in plan.system_packages] == ["jq", "libjq1", "libonig5", "python3", "python3-minimal"]
    assert len(plan.left_to_base) == 130 and {"libc6", "base-files", "libgcc-s1", "mawk"} <= set(plan.left_to_base)
