"""`build packer --vendor` with the real Packer (1.6.6 here) and engine (marked `docker`): a real venv of
Debian's python3 with a wheel from PyPI, frozen, vendored, and built by Packer's docker source with
`--network=none` (provision.sh installs from the kit's debs/ and wheels/ only), then checked clean; the kit's
provision.sh itself refuses a wheel changed by one byte, naming it, when Packer runs it without envcapture."""

from __future__ import annotations

import json
import re
import subprocess
import uuid

import pytest

from envcapture.build import packer as packer_build
from envcapture.build.docker import connect
from envcapture.cli import main as run_cli
from envcapture.errors import ToolFailed

pytestmark = pytest.mark.docker


@pytest.fixture
def frozen_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "six==1.16.0"], check=True, timeout=600, capture_output=True)
    manifest = tmp_path / "envcapture.json"
    assert run_cli(["freeze", "--python", str(venv / "bin" / "python"), "-o", str(manifest)]) == 0
    data = json.loads(manifest.read_text(encoding="utf-8"))
    # This machine's ~110 hand-installed tools are not what the test is about (and cost minutes of apt).
    for package in data["system_packages"]["packages"]:
        package["manual"] = False
    manifest.write_text(json.dumps(data), encoding="utf-8")
    return manifest


def test_a_vendored_packer_kit_builds_with_no_network_and_provision_refuses_a_changed_wheel(
        tmp_path, frozen_venv, docker_base_image, packer_tool, capsys):
    kit = tmp_path / "kit"
    tag = f"envcapture-test/vendor-packer:{uuid.uuid4().hex[:10]}"
    client = connect()
    try:
        code = run_cli(["build", "packer", "-m", str(frozen_venv), "-o", str(kit), "--tag", tag,
                        "--base-image", docker_base_image, "--vendor"])
        err = capsys.readouterr().err
        assert code == 0, err[-4000:]
        assert "building with no network" in err
        template = (kit / "packer" / "envcapture.pkr.hcl").read_text()
        assert '"--network=none"' in template
        provision = (kit / "provision.sh").read_text()
        assert "--offline --no-index" in provision and "pip install uv" not in provision
        # Packer's commit keeps the docker source's entrypoint (/bin/sh): name the program.
        out = client.containers.run(tag, ["-c", "import six; print(six.__version__)"], remove=True,
                                    entrypoint=["/opt/envcapture/venv/bin/python"],
                                    network_disabled=True).decode().split()
        assert out == ["1.16.0"]

        wheel = kit / "wheels" / "six-1.16.0-py2.py3-none-any.whl"
        data = bytearray(wheel.read_bytes())
        data[100] ^= 1
        wheel.write_bytes(bytes(data))
        lines: list[str] = []
        with pytest.raises(ToolFailed):
            packer_build.build(kit, timeout=900, echo=lines.append)
        assert any("six-1.16.0-py2.py3-none-any.whl: FAILED" in line for line in lines), "\n".join(lines[-30:])
        assert any("refusing to install from a changed kit" in line for line in lines)
    finally:
        # Only the names this build gave: the engine is shared with other test runs.
        names = [tag]
        template = kit / "packer" / "envcapture.pkr.hcl"
        if template.is_file():
            names += [f"envcapture-reproduction:{t}" for t in re.findall(r'tags\s*=\s*\["([0-9a-f]{12})"\]',
                                                                         template.read_text())]
        for name in names:
            try:
                client.images.remove(name)
            except Exception:  # noqa: BLE001 - a name that was never given
                pass
