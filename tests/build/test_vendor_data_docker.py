"""`build docker --vendor --with-code --with-data` with the real engine (marked `docker`): the frozen venv of
test_vendor_docker.py with two data sets recorded in its project, one under --max-data (copied: read-only at
/data/NAME in the image) and one over it (referenced); built with `--network none` from the local base image and
checked clean by `check --image`, data included (the copied set fingerprinted in the image, the referenced one
where the manifest says). A data file changed inside an image is named by `check --image`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from envcapture.cli import main as run_cli
from envcapture.data.specs import DataSpec, add_to_manifest, collect
from tests.build.test_vendor_docker import frozen_venv  # noqa: F401  (the frozen venv with a git project)

pytestmark = pytest.mark.docker


def _add_data_sets(manifest):
    # In the project the manifest records (freeze --project src/vproj --data ...): where every command looks.
    work = Path(json.loads(manifest.read_text(encoding="utf-8"))["filesystem"]["project"]["root"])
    raw = work / "data" / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "a.csv").write_text("x,y\n1,2\n")
    (raw / "sub" / "b.bin").write_bytes(bytes(range(256)) * 64)
    (raw / "latest.csv").symlink_to("a.csv")  # recorded as a link; a kit carries no links
    (work / "big.bin").write_bytes(b"\1" * (2 << 20))
    for path in (raw / "a.csv", raw / "sub" / "b.bin", raw / "sub", raw):  # raw data, protected: read_only
        path.chmod(0o555 if path.is_dir() else 0o444)
    specs = [DataSpec("data/raw", work, "raw", role="raw"), DataSpec("big.bin", work, "big")]
    section = collect(specs, work, "blake3", use_cache=False, manifest_name=manifest.name, home=str(work))
    data = json.loads(manifest.read_text(encoding="utf-8"))
    add_to_manifest(data, section.section, section.warnings)
    manifest.write_text(json.dumps(data), encoding="utf-8")


def test_a_kit_with_code_and_data_builds_offline_and_check_image_verifies_the_data(
        tmp_path, frozen_venv, docker_client, docker_base_image, capsys):  # noqa: F811
    _add_data_sets(frozen_venv)
    kit = tmp_path / "kit"
    tag = f"envcapture-test/vendor-data:{uuid.uuid4().hex[:10]}"
    changed = tag + "-changed"
    try:
        code = run_cli(["build", "docker", "-m", str(frozen_venv), "-o", str(kit), "--tag", tag,
                        "--base-image", docker_base_image, "--vendor", "--with-code", "--with-data",
                        "--max-data", "1M"])
        captured = capsys.readouterr()
        assert code == 0, captured.err[-4000:]
        assert "building with no network" in captured.err
        assert "data set big (2.0 MiB) is over --max-data 1.0 MiB: referenced in REPRODUCE.md" in captured.err
        # build's own check: the copied set fingerprinted in the image, the referenced one here; both unchanged
        assert f"data set raw (data/raw, checked at {tag}:/data/raw): unchanged (2 files, 16392 bytes)" \
            in captured.out
        assert "data set big (big.bin): unchanged (1 files" in captured.out
        assert "note: 1 symbolic link(s) recorded in the set are not in the image (a kit carries no links): " \
            "latest.csv" in captured.out
        assert f"not in the image {tag} (no /data/big): checked here" in captured.out
        script = ("import os, vproj; print(open('/data/raw/a.csv').read().strip(), vproj.VALUE, "
                  "os.access('/data/raw/a.csv', os.W_OK), os.access('/data/raw', os.W_OK), os.path.exists('/data/big'))")
        out = docker_client.containers.run(tag, ["python", "-c", script], remove=True,
                                           network_disabled=True).decode().split()
        assert out == ["x,y", "1,2", "vproj", "False", "False", "False"]
        assert run_cli(["check", str(frozen_venv), "--image", tag]) == 0
        capsys.readouterr()

        # The same image with one data byte changed (as root, committed): check --image names the file.
        container = docker_client.containers.run(
            tag, ["sh", "-c", "chmod u+w /data/raw/sub/b.bin && printf z | dd of=/data/raw/sub/b.bin bs=1 seek=9 "
                  "conv=notrunc 2>/dev/null && chmod a-w /data/raw/sub/b.bin"], user="0", detach=True,
            network_disabled=True)
        assert container.wait(timeout=120)["StatusCode"] == 0
        container.commit(*changed.split(":"))
        container.remove(force=True)
        assert run_cli(["check", str(frozen_venv), "--image", changed, "--data-only"]) == 1
        out = capsys.readouterr().out
        assert f"data set raw (data/raw, checked at {changed}:/data/raw): 1 difference" in out
        assert "changed    sub/b.bin: 16384 bytes -> 16384 bytes" in out
    finally:
        for name in (tag, changed):
            try:
                docker_client.images.remove(name, force=True)
            except Exception:  # noqa: BLE001 - an image that was never built
                pass
