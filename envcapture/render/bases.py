"""Dated tables: which base images, Vagrant boxes and cloud images exist for a captured environment.

Tags disappear (NVIDIA deletes end-of-life CUDA tags, Python images drop old Debian releases), so a tag is
never computed by formula alone: every choice comes from a row below, and each table says when it was
last checked. A renderer warns when the row says the tag may be gone.
"""

from __future__ import annotations

from dataclasses import dataclass

TABLE_DATE = "2026-11-26"

# Official Python images: which Debian releases exist as `python:X.Y.Z-slim-<codename>` for each X.Y.
# Preference order: the captured Debian release when listed, else the first entry.
PYTHON_IMAGE_CODENAMES: dict[str, tuple[str, ...]] = {
    "3.8": ("bookworm", "bullseye"),
    "3.9": ("bookworm", "bullseye", "trixie"),
    "3.10": ("bookworm", "trixie"),
    "3.11": ("bookworm", "trixie"),
    "3.12": ("bookworm", "trixie"),
    "3.13": ("bookworm", "trixie"),
    "3.14": ("trixie", "bookworm"),
}
DEBIAN_RELEASES = {"11": "bullseye", "12": "bookworm", "13": "trixie"}
UBUNTU_RELEASES = {"20.04": "focal", "22.04": "jammy", "24.04": "noble"}

# Pinned tool versions used inside generated kits (bumped with this table).
UV_VERSION = "0.13.9"
MICROMAMBA_IMAGE = "mambaorg/micromamba:2.0.5"
MICROMAMBA_VERSION = "2.0.5"


@dataclass(frozen=True)
class CudaTag:
    """One `nvidia/cuda` release: the OS variants it was published for and how cuDNN tags were named."""

    version: str
    released: str
    oses: tuple[str, ...]
    cudnn_flavor: str  # "cudnn8", "cudnn9" or "cudnn" (the tag naming changed over time)
    # NVIDIA deletes tags about six months after a release leaves support; this is the date after which
    # the tag may be gone (estimate from NVIDIA's container support policy, checked on TABLE_DATE).
    may_vanish_after: str


CUDA_TAGS: tuple[CudaTag, ...] = (
    CudaTag("11.8.0", "2022-10-04", ("ubuntu22.04", "ubuntu20.04"), "cudnn8", "2025-05-01"),
    CudaTag("12.1.1", "2023-04-18", ("ubuntu22.04", "ubuntu20.04"), "cudnn8", "2025-05-01"),
    CudaTag("12.2.2", "2023-08-29", ("ubuntu22.04", "ubuntu20.04"), "cudnn8", "2025-11-01"),
    CudaTag("12.3.2", "2024-01-09", ("ubuntu22.04", "ubuntu20.04"), "cudnn9", "2025-11-01"),
    CudaTag("12.4.1", "2024-04-12", ("ubuntu22.04", "ubuntu20.04"), "cudnn", "2026-05-01"),
    CudaTag("12.6.3", "2024-11-19", ("ubuntu24.04", "ubuntu22.04"), "cudnn", "2027-05-01"),
    CudaTag("12.8.1", "2025-03-07", ("ubuntu24.04", "ubuntu22.04"), "cudnn", "2027-11-01"),
    CudaTag("12.9.1", "2025-06-05", ("ubuntu24.04", "ubuntu22.04"), "cudnn", "2028-05-01"),
    CudaTag("13.0.2", "2025-10-09", ("ubuntu24.04", "ubuntu22.04"), "cudnn", "2028-11-01"),
)


def cuda_tag_for(version: str) -> CudaTag | None:
    """The newest row with the same major.minor as ``version`` (a toolkit 12.6.85 maps to 12.6.3)."""
    wanted = _major_minor(version)
    rows = [row for row in CUDA_TAGS if _major_minor(row.version) == wanted]
    return rows[-1] if rows else None


def nearest_cuda_tag(version: str) -> CudaTag:
    """When the exact major.minor is not in the table: the oldest newer row of the same major, else the newest."""
    major, minor = _version_tuple(version)[:2]
    same_major = [row for row in CUDA_TAGS if _version_tuple(row.version)[0] == major
                  and _version_tuple(row.version)[1] >= minor]
    return same_major[0] if same_major else CUDA_TAGS[-1]


def cuda_flavor(tag: CudaTag, needs_compiler: bool, needs_cudnn: bool) -> str:
    kind = "devel" if needs_compiler else "runtime"
    return f"{tag.cudnn_flavor}-{kind}" if needs_cudnn else kind


def cuda_os(tag: CudaTag, os_id: str | None, version_id: str | None) -> str:
    """The captured Ubuntu release when NVIDIA published it, else the first (newest) OS of the row."""
    captured = f"ubuntu{version_id}" if os_id == "ubuntu" and version_id else None
    return captured if captured in tag.oses else tag.oses[0]


def _major_minor(version: str) -> tuple[int, ...]:
    return _version_tuple(version)[:2]


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def python_image_codename(minor: str, captured_codename: str | None) -> str | None:
    codenames = PYTHON_IMAGE_CODENAMES.get(minor)
    if not codenames:
        return None
    return captured_codename if captured_codename in codenames else codenames[0]


# Distribution images for the distro's own Python ("python3" pinned from apt).
DISTRO_IMAGES = {
    ("debian", "11"): "debian:bullseye",
    ("debian", "12"): "debian:bookworm",
    ("debian", "13"): "debian:trixie",
    ("ubuntu", "20.04"): "ubuntu:20.04",
    ("ubuntu", "22.04"): "ubuntu:22.04",
    ("ubuntu", "24.04"): "ubuntu:24.04",
}

# Vagrant boxes per captured OS release (Vagrant Cloud names; versions are not pinned: see REPRODUCE.md).
VAGRANT_BOXES = {
    ("debian", "11"): "debian/bullseye64",
    ("debian", "12"): "debian/bookworm64",
    ("debian", "13"): "debian/trixie64",
    ("ubuntu", "20.04"): "bento/ubuntu-20.04",
    ("ubuntu", "22.04"): "bento/ubuntu-22.04",
    ("ubuntu", "24.04"): "bento/ubuntu-24.04",
}
DEFAULT_VAGRANT_BOX = ("debian", "12")


@dataclass(frozen=True)
class CloudImage:
    url: str
    checksum: str  # Packer's `file:` form; `packer build` fetches and checks it


# Cloud images for the qemu source, per captured OS release.
CLOUD_IMAGES = {
    ("debian", "11"): CloudImage(
        "https://cloud.debian.org/images/cloud/bullseye/latest/debian-11-genericcloud-amd64.qcow2",
        "file:https://cloud.debian.org/images/cloud/bullseye/latest/SHA512SUMS"),
    ("debian", "12"): CloudImage(
        "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2",
        "file:https://cloud.debian.org/images/cloud/bookworm/latest/SHA512SUMS"),
    ("debian", "13"): CloudImage(
        "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2",
        "file:https://cloud.debian.org/images/cloud/trixie/latest/SHA512SUMS"),
    ("ubuntu", "20.04"): CloudImage(
        "https://cloud-images.ubuntu.com/releases/20.04/release/ubuntu-20.04-server-cloudimg-amd64.img",
        "file:https://cloud-images.ubuntu.com/releases/20.04/release/SHA256SUMS"),
    ("ubuntu", "22.04"): CloudImage(
        "https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img",
        "file:https://cloud-images.ubuntu.com/releases/22.04/release/SHA256SUMS"),
    ("ubuntu", "24.04"): CloudImage(
        "https://cloud-images.ubuntu.com/releases/24.04/release/ubuntu-24.04-server-cloudimg-amd64.img",
        "file:https://cloud-images.ubuntu.com/releases/24.04/release/SHA256SUMS"),
}

# Apt snapshot archives (exact old versions the live archive dropped).
SNAPSHOT_ARCHIVES = {
    "debian": ("http://snapshot.debian.org/archive/debian/{stamp}", "http://snapshot.debian.org/archive/debian-security/{stamp}"),
    "ubuntu": ("http://snapshot.ubuntu.com/ubuntu/{stamp}", None),
}
# snapshot.ubuntu.com starts here; earlier dates cannot be served.
# --ca-bundle: where the extra CA joins Debian/Ubuntu's system store, and the bundle update-ca-certificates writes.
EXTRA_CA_FILE = "/usr/local/share/ca-certificates/envcapture-extra-ca.crt"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
UBUNTU_SNAPSHOT_START = "2023-03-01"
