"""Kits built with the real engine (marked `docker`): every golden kit that can build here passes its own
check, and a pinned apt version that is gone gives one line naming the package and the snapshot date.

No registry is reachable here, so each golden case is built for Docker on the local test base image; cases
whose packages cannot be fetched here skip with the reason. Kits of the same manifest share the engine's
layer cache, so a repeated case costs only its last layers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import uuid

import pytest

from envcapture.build.docker import build_image
from envcapture.compare import check_command

from .conftest import CASES, MANIFESTS, run_cli

pytestmark = pytest.mark.docker

# What the kit of a case needs that the test machine cannot reach (network: PyPI and Debian's archive only).
NOT_HERE = {
    "conda-env": "conda records come from conda channels, which are not reachable here",
    "mixed-sources": "a git requirement from github.com, which is not reachable here",
    "pytorch-pip-gpu": "PyTorch and CUDA wheels: gigabytes, beyond the CI budget",
    "system-cuda": "PyTorch and CUDA wheels: gigabytes, beyond the CI budget",
    "cuda-11.8": "PyTorch and CUDA wheels: gigabytes, beyond the CI budget",
}


def local_kit(case: str, workdir, base_image: str):
    """The case's manifest and options, for Docker, on the local base image (no registry here); the test CA of
    the golden --ca-bundle is left out, since the image needs the proxy's CA the base image already trusts."""
    name, _, extra = CASES[case]
    flags = dict(zip(extra[::2], extra[1::2]))
    kept = [w for flag in ("--apt-snapshot",) if flag in flags for w in (flag, flags[flag])]
    out = workdir / "kit"
    assert run_cli(["generate", "docker", "-m", str(MANIFESTS / name), "-o", str(out),
                    "--base-image", base_image, *kept]) == 0
    return out


# Dockerfile (without its comment header) -> the case that built it: an identical kit is not built twice.
BUILT: dict[str, str] = {}


def image_check(kit, tag, capsys, strict=False) -> tuple[int, dict]:
    capsys.readouterr()
    code = check_command(argparse.Namespace(manifest=str(kit / "envcapture.json"), image=tag, python=None,
                                            format="json", strict=strict))
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_golden_case_built_here_passes_its_own_check(case, tmp_path, docker_client, docker_base_image,
                                                      capsys):
    if case in NOT_HERE:
        pytest.skip(NOT_HERE[case])
    kit = local_kit(case, tmp_path, docker_base_image)
    body = "".join(line for line in (kit / "Dockerfile").read_text().splitlines(True) if not line.startswith("#"))
    if body in BUILT:
        pytest.skip(f"on the local base, the same Dockerfile as {BUILT[body]}")
    BUILT[body] = case
    tag = f"envcapture-test/golden-{case}:{uuid.uuid4().hex[:10]}"
    try:
        build_image(kit, tag, client=docker_client, echo=lambda line: None)
        code, report = image_check(kit, tag, capsys)
        errors = [d["message"] for d in report["differences"] if d["grade"] == "error"]
        assert (code, errors) == (0, [])
        # What the kit leaves out by design is said, and why (here: system packages on an unknown base).
        assert any(d.get("by_design") for d in report["differences"])
        assert image_check(kit, tag, capsys, strict=True)[0] == 1
    finally:
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:  # the build failed before tagging
            pass


def test_a_pinned_apt_version_gone_from_the_archive_is_one_line_with_the_snapshot_date(
        tmp_path, docker_client, docker_base_image, capsys):
    """The real apt on the local base: jq at a version Debian never had. The kit's fallback tries the
    capture date's snapshot (unreachable here, as on many CI machines) and the build names package and date."""
    data = json.loads((MANIFESTS / "plain-venv.json").read_text(encoding="utf-8"))
    packages = data["system_packages"]["packages"]
    data["system_packages"]["packages"] = [dict(p, manual=False) for p in packages if p["name"] != "jq"] + [
        {"name": "jq", "version": "0.0~envcapture1", "architecture": "amd64", "manual": True}]
    data["system_packages"]["sources"] = []
    manifest = tmp_path / "envcapture.json"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    tag = f"envcapture-test/gone:{uuid.uuid4().hex[:10]}"
    code = run_cli(["build", "docker", "-m", str(manifest), "-o", str(tmp_path / "kit"), "--tag", tag,
                    "--base-image", docker_base_image])
    err = capsys.readouterr().err
    kit_sources = (tmp_path / "kit" / "apt-snapshot.list").read_text()
    assert "deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/20261126T000000Z bookworm main" \
        in kit_sources
    assert "retrying from the snapshot archive of 2026-11-26" in err
    summary = [line for line in err.splitlines() if line.startswith("envcapture: docker build")]
    # snapshot.debian.org is not reachable here: the advice to use it would not work, so the line says that instead.
    assert code == 3 and summary == [
        f"envcapture: docker build of {tmp_path / 'kit'} failed: apt has no jq 0.0~envcapture1 (the manifest does "
        "not record its apt suite) any more, and the snapshot archive that keeps old versions could not be reached "
        "from the build (snapshot.debian.org: Could not resolve 'snapshot.debian.org'); build where "
        "snapshot.debian.org is reachable, or freeze again after `apt-get upgrade` so that the manifest records "
        "versions the archive still has"]
    # apt's own line follows it, and the echoed command does not.
    assert "E: Version '0.0~envcapture1' for 'jq' was not found" in err.split(summary[0], 1)[1]
    assert "returned a non-zero code" not in err.split(summary[0], 1)[1]


def check_clean(kit, tag, capsys) -> list[str]:
    report = image_check(kit, tag, capsys)[1]
    return [d["message"] for d in report["differences"] if d["grade"] == "error"]


# Builders without BuildKit, each rootful in a container: vfs storage (no overlay on overlay) and chroot isolation.
# Podman's --layers=false: a vfs layer per step copies the whole tree (8 minutes instead of 3 here).
OTHER_BUILDERS = {
    "buildah": ["bud", "--isolation", "chroot"],
    "podman": ["build", "--layers=false", "--isolation", "chroot"],
}


def other_builder(tool: str, *args) -> subprocess.CompletedProcess:
    root = f"/tmp/envcapture-test-{tool}"
    storage = ["--storage-driver", "vfs", "--root", root, "--runroot", root + "-run"]
    return subprocess.run([tool, *storage, *args], capture_output=True, text=True, timeout=1200)


@pytest.mark.parametrize("tool", sorted(OTHER_BUILDERS))
def test_the_default_dockerfile_builds_without_buildkit(tool, tmp_path, docker_client, docker_base_image, capsys):
    """Debian's buildah and podman build the default kit, and the image, handed to the engine, passes its own
    check."""
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (apt-get install {tool})")
    kit = local_kit("plain-venv", tmp_path, docker_base_image)
    pulled = other_builder(tool, "pull", "-q", f"docker-daemon:{docker_base_image}")
    assert pulled.returncode == 0, pulled.stderr[-2000:]
    tag = f"envcapture-test/{tool}-kit:{uuid.uuid4().hex[:10]}"
    try:
        built = other_builder(tool, *OTHER_BUILDERS[tool], "-t", tag, str(kit))
        assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
        pushed = other_builder(tool, "push", tag, f"docker-daemon:{tag}")
        assert pushed.returncode == 0, pushed.stderr[-2000:]
        assert check_clean(kit, tag, capsys) == []
    finally:
        other_builder(tool, "rmi", "-f", tag)
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:
            pass


def test_the_buildkit_option_builds_with_buildkit(tmp_path, docker_client, docker_base_image, capsys):
    """--buildkit: cache mounts, built by Debian's docker client with DOCKER_BUILDKIT=1 (28.x has no buildx)."""
    client = "/usr/bin/docker"
    if not os.access(client, os.X_OK):
        pytest.skip("Debian's docker client (/usr/bin/docker) is not installed")
    kit = tmp_path / "kit"
    assert run_cli(["generate", "docker", "-m", str(MANIFESTS / "plain-venv.json"), "-o", str(kit),
                    "--base-image", docker_base_image, "--buildkit"]) == 0
    assert "--mount=type=cache" in (kit / "Dockerfile").read_text()
    tag = f"envcapture-test/buildkit-kit:{uuid.uuid4().hex[:10]}"
    try:
        built = subprocess.run([client, "build", "-q", "-t", tag, str(kit)], capture_output=True, text=True,
                               timeout=1200, env={**os.environ, "DOCKER_BUILDKIT": "1"})
        assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
        assert check_clean(kit, tag, capsys) == []
    finally:
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:
            pass
