"""`build docker --vendor` of a real conda environment (made by py-rattler from a local channel) with the real
engine (marked `docker`): the kit builds with `--network none` from the local base image, the image runs the
environment's own programs and Python from /opt/conda (with six, which pip installed into the environment,
installed from the kit's wheels/ by the environment's own pip), `check --image` finds no error, and a conda package
changed by one byte makes the build refuse, naming it (and unvendoring too, until it is restored)."""

from __future__ import annotations

import json
import uuid

import pytest

from envcapture.build import docker as docker_build
from envcapture.cli import main as run_cli
from envcapture.errors import BadInput, ToolFailed
from envcapture.render.vendor import verify_kit
from tests.conda.conftest import freeze_prefix

pytestmark = pytest.mark.docker


def test_a_vendored_conda_kit_builds_offline_and_checks_clean(real_conda_pip, tmp_path, docker_client,
                                                             docker_base_image, capsys):
    _, prefix = real_conda_pip
    manifest = tmp_path / "envcapture.json"
    data = freeze_prefix(prefix, manifest)
    # This machine's ~110 hand-installed tools are not what the test is about (and cost minutes of apt).
    data["system_packages"]["packages"] = []
    manifest.write_text(json.dumps(data))
    kit = tmp_path / "kit"
    tag = f"envcapture-test/conda-vendor:{uuid.uuid4().hex[:10]}"
    try:
        code = run_cli(["build", "docker", "-m", str(manifest), "-o", str(kit), "--tag", tag,
                        "--base-image", docker_base_image, "--vendor"])
        err = capsys.readouterr().err
        assert code == 0, err[-4000:]
        assert "building with no network" in err
        assert (kit / "wheels" / "six-1.16.0-py2.py3-none-any.whl").is_file()
        script = "hello && python -c 'import sys, six; print(sys.prefix, six.__version__)'"
        out = docker_client.containers.run(tag, ["sh", "-c", script], remove=True,
                                           network_disabled=True).decode().split("\n")
        assert out[:2] == ["hello from a conda package", "/opt/conda 1.16.0"]

        assert run_cli(["check", str(manifest), "--image", tag, "--python", "/opt/conda/bin/python",
                        "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] and report["counts"]["error"] == 0, report
        assert "conda" not in json.dumps(report["not_compared"])  # the image's conda records were graded

        package = kit / "conda" / "channel" / "linux-64" / "hello-2.1-h0_1.tar.bz2"
        changed = bytearray(package.read_bytes())
        changed[-1] ^= 1
        package.write_bytes(bytes(changed))
        with pytest.raises(ToolFailed) as refused:
            docker_build.build_image(kit, tag + "-tampered", client=docker_client, network_mode="none",
                                     echo=lambda line: None)
        assert "channel/linux-64/hello-2.1-h0_1.tar.bz2: FAILED" in refused.value.tail
        with pytest.raises(BadInput, match="hello-2.1-h0_1.tar.bz2: differs from the sha256"):
            verify_kit(kit)  # what `build --vendor` checks before it starts the engine
        capsys.readouterr()
        assert run_cli(["vendor", str(kit), "--remove"]) == 2  # unvendoring removes only what vendoring wrote
        assert "hello-2.1-h0_1.tar.bz2: changed since it was vendored" in capsys.readouterr().err
        changed[-1] ^= 1
        package.write_bytes(bytes(changed))
        assert run_cli(["vendor", str(kit), "--remove"]) == 0
        assert not (kit / "conda").exists() and not (kit / "debs").exists()
        assert "conda/" not in (kit / "Dockerfile").read_text()
    finally:
        for name in (tag, tag + "-tampered"):
            try:
                docker_client.images.remove(name, force=True)
            except Exception:  # noqa: BLE001 - an image that was never built
                pass
