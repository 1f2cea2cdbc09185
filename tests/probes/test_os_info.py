"""The os probe on the recorded os-release files, on hand-made root filesystems, and on this machine."""

from __future__ import annotations

import os
import platform
import shutil

import pytest

from envcapture.probes import ProbeContext, os_info

# file -> (ID, VERSION_ID, codename, ID_LIKE), as each distribution's own os-release states them.
EXPECTED = {
    "alpine-3.14": ("alpine", "3.14.0", None, []),
    "alpine-3.23": ("alpine", "3.23.2", None, []),
    "amazonlinux-2023": ("amzn", "2023", None, ["fedora"]),
    "arch": ("arch", None, None, []),
    "centos-7": ("centos", "7", None, ["rhel", "fedora"]),
    "debian-11": ("debian", "11", "bullseye", []),
    "debian-12": ("debian", "12", "bookworm", []),
    "debian-13": ("debian", "13", "trixie", []),
    "fedora-42": ("fedora", "42", None, []),
    "opensuse-leap-15.2": ("opensuse-leap", "15.2", None, ["suse", "opensuse"]),
    "rhel-9.6": ("rhel", "9.6", None, ["fedora"]),
    "rocky-9.3": ("rocky", "9.3", None, ["rhel", "centos", "fedora"]),
    "ubuntu-20.04": ("ubuntu", "20.04", "focal", ["debian"]),
    "ubuntu-22.04": ("ubuntu", "22.04", "jammy", ["debian"]),
    "ubuntu-24.04": ("ubuntu", "24.04", "noble", ["debian"]),
}


def root_with(tmp_path, files: dict[str, str | bytes]):
    for name, content in files.items():
        path = tmp_path / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return tmp_path


def test_every_recorded_os_release_is_covered(fixtures_dir):
    assert sorted(p.name for p in (fixtures_dir / "os-release").iterdir() if p.name != "SOURCES.md") == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_os_release(name, fixtures_dir, tmp_path, section_problems):
    root = root_with(tmp_path, {"/etc/os-release": (fixtures_dir / "os-release" / name).read_bytes()})
    result = os_info.collect(ProbeContext(root=root, env={}))
    data = result.data
    assert (data["id"], data["version_id"], data["codename"], data["id_like"]) == EXPECTED[name]
    assert data["pretty_name"] and "\n" not in data["pretty_name"]
    assert result.warnings == []
    assert section_problems("os", data) == []


def test_pretty_name_and_quotes_are_unwrapped(fixtures_dir, tmp_path):
    root = root_with(tmp_path, {"/etc/os-release": (fixtures_dir / "os-release" / "rhel-9.6").read_bytes()})
    assert os_info.collect(ProbeContext(root=root, env={})).data["pretty_name"] == \
        "Red Hat Enterprise Linux 9.6 (Plow)"


def test_usr_lib_os_release_is_the_fallback(fixtures_dir, tmp_path):
    root = root_with(tmp_path, {"/usr/lib/os-release": (fixtures_dir / "os-release" / "rocky-9.3").read_bytes()})
    data = os_info.collect(ProbeContext(root=root, env={})).data
    assert (data["id"], data["version_id"]) == ("rocky", "9.3")


def test_no_os_release_is_a_warning_not_a_failure(tmp_path, section_problems):
    result = os_info.collect(ProbeContext(root=tmp_path, env={}))
    assert result.data["id"] is None
    if platform.system() == "Linux":
        assert any("os-release" in w.message for w in result.warnings)
    assert section_problems("os", result.data) == []


def test_hostile_values_are_normalised_or_dropped(tmp_path, section_problems):
    text = ('ID="debian; rm -rf /"\nVERSION_ID="12 beta"\nVERSION_CODENAME="$(reboot)"\n'
            'PRETTY_NAME="ok"\nID_LIKE="good b`ad`"\n')
    result = os_info.collect(ProbeContext(root=root_with(tmp_path, {"/etc/os-release": text}), env={}))
    data = result.data
    assert data["id"] == "debian-rm--rf"
    assert data["version_id"] == "12-beta"
    assert data["codename"] == "reboot"
    assert data["id_like"] == ["good", "b-ad"]
    assert len(result.warnings) == 4  # ID, VERSION_ID, VERSION_CODENAME, one ID_LIKE entry
    assert section_problems("os", data) == []


@pytest.mark.parametrize("files, env, expected", [
    ({"/.dockerenv": ""}, {}, "docker"),
    ({"/run/.containerenv": ""}, {}, "podman"),
    ({"/.dockerenv": ""}, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "kubernetes"),
    ({"/proc/1/cgroup": "12:pids:/kubepods/besteffort/pod1234/abcd\n"}, {}, "kubernetes"),
    ({"/proc/1/cgroup": "0::/system.slice/docker-4f1c.scope\n"}, {}, "docker"),
    ({"/proc/1/cgroup": "0::/\n"}, {"container": "lxc"}, "lxc"),
    ({"/proc/1/cgroup": "0::/init.scope\n"}, {}, None),
])
def test_container_detection(tmp_path, files, env, expected):
    assert os_info.collect(ProbeContext(root=root_with(tmp_path, files), env=env)).data["container"] == expected


def test_wsl_from_proc_version(tmp_path):
    version = "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@941d701f84f1) (gcc (GCC) 11.2.0) #1 SMP\n"
    assert os_info.collect(ProbeContext(root=root_with(tmp_path, {"/proc/version": version}), env={})).data["wsl"]
    assert not os_info.collect(ProbeContext(root=tmp_path / "nothing", env={})).data["wsl"]


def test_wsl1_says_microsoft_without_wsl(tmp_path):
    """WSL 1's /proc/version names Microsoft but not WSL (as quoted from a WSL 1 machine in public code comments);
    this machine's own /proc/version is an ordinary kernel's."""
    version = ("Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) ) "
               "#488-Microsoft Mon Sep 01 13:43:00 PST 2020\n")
    assert os_info.collect(ProbeContext(root=root_with(tmp_path, {"/proc/version": version}), env={})).data["wsl"]
    here = open("/proc/version", encoding="utf-8").read()
    assert os_info.wsl(ProbeContext()) == ("microsoft" in here.lower() or "wsl" in here.lower())


def test_a_recorded_root_gets_no_libc_of_this_process(fixtures_dir, tmp_path, section_problems):
    """A glibc root filesystem (no musl loader) recorded elsewhere: this process's glibc says nothing of it."""
    root = root_with(tmp_path, {"/etc/os-release": (fixtures_dir / "os-release" / "debian-12").read_bytes(),
                                "/lib/x86_64-linux-gnu/libc.so.6": b""})
    data = os_info.collect(ProbeContext(root=root, env={})).data
    assert data["libc"] == {"name": None, "version": None}
    assert section_problems("os", data) == []
    assert os_info.libc(ProbeContext()).name == ("glibc" if os.confstr("CS_GNU_LIBC_VERSION") else None)


def test_musl_from_the_loader_and_the_apk_database(fixtures_dir, tmp_path):
    root = root_with(tmp_path, {
        "/lib/ld-musl-armhf.so.1": b"",
        "/lib/apk/db/installed": (fixtures_dir / "pkgdb" / "alpine3.14-rootfs" / "installed").read_bytes(),
        "/etc/os-release": (fixtures_dir / "os-release" / "alpine-3.14").read_bytes(),
    })
    data = os_info.collect(ProbeContext(root=root, env={})).data
    assert data["libc"] == {"name": "musl", "version": "1.2.2"}
    assert data["id"] == "alpine"


def test_this_machine(section_problems):
    data = os_info.collect(ProbeContext()).data
    assert section_problems("os", data) == []
    assert data["system"] == platform.system()
    assert data["machine"] == platform.machine()
    assert data["kernel"] == platform.release()
    if platform.system() == "Linux" and shutil.which("ldd"):
        import subprocess

        ldd = subprocess.run(["ldd", "--version"], capture_output=True, text=True).stdout
        if "GLIBC" in ldd.upper():
            assert data["libc"]["name"] == "glibc"
            assert data["libc"]["version"] in ldd
