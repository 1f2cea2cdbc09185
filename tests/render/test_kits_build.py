"""Kits built with the real engine (marked `docker`): every golden kit that can build here passes its own
check, and a pinned apt version that is gone gives one line naming the package and the snapshot date.

Only kits whose base is the local test image can build here (no registry is reachable); the others skip
with the reason. One build per case, shared by nothing else, so the cost is one image per buildable case.
"""

from __future__ import annotations

import argparse
import json
import uuid

import pytest

from envcapture.build.docker import build_image
from envcapture.compare import check_command

from .conftest import CASES, MANIFESTS, TEST_BASE_IMAGE, run_cli

pytestmark = pytest.mark.docker

# Buildable only with what the capture machine had: apt sources of third parties (nodesource, Google Cloud).
NOT_HERE = {"override-base-os": "pins packages from the capture machine's third-party apt sources (nodesource, "
                                "Google Cloud), which the test machine cannot reach"}


def base_of(kit) -> str:
    return next(line.split()[1] for line in (kit / "Dockerfile").read_text().splitlines()
                if line.startswith("FROM "))


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_golden_kit_that_builds_here_passes_its_own_check(case, golden_kits, docker_client, docker_base_image,
                                                           capsys):
    kit = golden_kits[case]
    if base_of(kit) != TEST_BASE_IMAGE:
        pytest.skip(f"base {base_of(kit)} cannot be pulled here (no registry reachable)")
    if case in NOT_HERE:
        pytest.skip(NOT_HERE[case])
    tag = f"envcapture-test/golden-{case}:{uuid.uuid4().hex[:10]}"
    try:
        build_image(kit, tag, client=docker_client, echo=lambda line: None)
        capsys.readouterr()
        code = check_command(argparse.Namespace(manifest=str(kit / "envcapture.json"), image=tag, python=None,
                                                format="json", strict=False))
        report = json.loads(capsys.readouterr().out)
        errors = [d["message"] for d in report["differences"] if d["grade"] == "error"]
        assert (code, errors) == (0, [])
        # What the kit leaves out by design is said, and why (the system packages on an unknown base here).
        assert any(d.get("by_design") for d in report["differences"])
        strict = check_command(argparse.Namespace(manifest=str(kit / "envcapture.json"), image=tag, python=None,
                                                  format="json", strict=True))
        assert strict == 1
    finally:
        docker_client.images.remove(tag, force=True)


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
    assert code == 3 and summary == [
        f"envcapture: docker build of {tmp_path / 'kit'} failed: apt has no jq 0.0~envcapture1 any more; "
        "build again with --apt-snapshot 2026-11-26"]
    # apt's own line follows it, and the echoed command does not.
    assert "E: Version '0.0~envcapture1' for 'jq' was not found" in err.split(summary[0], 1)[1]
    assert "returned a non-zero code" not in err.split(summary[0], 1)[1]
