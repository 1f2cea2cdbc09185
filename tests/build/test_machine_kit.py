"""A kit generated from the machine the tests run on builds: hand-installed packages that no source of the
distribution's archive offers (third-party repositories, .deb files, superseded versions) are left out and
listed in REPRODUCE.md instead of failing `apt-get install` (marked docker and slow).

Build time: every such left-out package is kept in the manifest (they are what used to break the build), but
of the packages the archive does offer only a few small ones are kept: the local base image has bookworm's
main suite only (no -updates/-security), and installing a workstation's hundred packages takes many minutes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.probes.test_apt_origins import apt_policy

SMALL_PACKAGES = ("jq", "bc", "ed", "file", "time", "zip", "unzip", "lsof", "tmux", "xz-utils", "less")


def restricted(data: dict) -> tuple[dict, list[str], list[str]]:
    """The manifest with its system packages cut to the ones apt here says no source offers (the kit must
    leave them out), plus a few small ones bookworm's main suite offers (the kit must install them pinned).
    apt-cache policy decides, not envcapture's own origins, so the test fails when the origins are wrong."""
    packages = data["system_packages"]["packages"]
    manual = sorted({p["name"] for p in packages if p.get("manual")})
    policy = apt_policy(manual)
    offered_nowhere = [n for n in manual if not policy.get(n)]
    small = [n for n in manual if n in SMALL_PACKAGES and any(suite == "bookworm" for _, suite in policy[n])][:3]
    data["system_packages"]["packages"] = [p for p in packages if p["name"] in offered_nowhere + small]
    return data, offered_nowhere, small


@pytest.mark.docker
@pytest.mark.slow
def test_a_kit_from_this_machine_builds(docker_client, docker_base_image, tmp_path):
    from envcapture.build.docker import build_image

    if not shutil.which("apt-cache"):
        pytest.skip("not an apt system")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    manifest = tmp_path / "envcapture.json"
    subprocess.run([sys.executable, "-m", "envcapture", "freeze", "--python", str(venv / "bin" / "python"),
                    "--project", str(tmp_path), "-o", str(manifest)], check=True, capture_output=True, timeout=300)
    data = json.loads(manifest.read_text())
    if data["os"].get("codename") != "bookworm":
        pytest.skip("the local base image is Debian bookworm; this machine is not")
    data, left_out, small = restricted(data)
    manifest.write_text(json.dumps(data))
    kit = tmp_path / "kit"
    subprocess.run([sys.executable, "-m", "envcapture", "generate", "docker", "-m", str(manifest), "-o", str(kit),
                    "--base-image", docker_base_image, "--base-os", "debian:12"], check=True, timeout=120)
    dockerfile = (kit / "Dockerfile").read_text()
    reproduce = (kit / "REPRODUCE.md").read_text()
    for name in left_out:
        assert f" {name}=" not in dockerfile and f"`{name}=" in reproduce
    tag = f"envcapture-test/generated-machine:{uuid.uuid4().hex[:12]}"
    try:
        build_image(kit, tag, client=docker_client, echo=lambda line: None, timeout=1200)
        if small:
            out = docker_client.containers.run(tag, ["dpkg-query", "-W", *small], remove=True).decode()
            versions = {p["name"]: p["version"] for p in data["system_packages"]["packages"]}
            assert sorted(out.split("\n")[:-1]) == sorted(f"{n}\t{versions[n]}" for n in small)
    finally:
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:  # the build failed: there is no image to remove
            pass
