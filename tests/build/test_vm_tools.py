"""`envcapture build packer|vagrant` failure modes through the CLI, with the real tools (or their absence)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MANIFEST = Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "plain-venv.json"


def envcapture(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "envcapture", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def path_without(tool: str, tmp_path: Path) -> dict:
    """PATH holding only this Python (so `-m envcapture` runs) and the basic commands, without ``tool``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sh", "env", "uname", "git"):
        found = shutil.which(name)
        if found:
            (bin_dir / name).symlink_to(found)
    assert shutil.which(tool, path=str(bin_dir)) is None
    return {**os.environ, "PATH": str(bin_dir)}


@pytest.mark.parametrize("tool", ["packer", "vagrant"])
def test_tool_not_installed_is_exit_3_with_one_line(tool, tmp_path):
    proc = envcapture("build", tool, "-m", MANIFEST, "-o", tmp_path / "kit", env=path_without(tool, tmp_path))
    assert proc.returncode == 3, proc.stderr
    assert f"envcapture: {tool} is not installed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "kit" / "REPRODUCE.md").is_file(), "the kit is generated before the tool is looked for"


def test_missing_manifest_and_no_kit_is_exit_2(tmp_path):
    proc = envcapture("build", "docker", "-m", tmp_path / "absent.json", "-o", tmp_path / "kit")
    assert proc.returncode == 2
    assert "no such manifest" in proc.stderr and "Traceback" not in proc.stderr


def test_packer_validate_failure_is_exit_3_with_packers_own_lines(packer_tool, tmp_path):
    kit = tmp_path / "kit"
    assert envcapture("generate", "packer", "-m", MANIFEST, "-o", kit).returncode == 0
    template = kit / "packer" / "envcapture.pkr.hcl"
    # A broken kit: an unknown argument in the docker source, which packer validate rejects.
    template.write_text(template.read_text().replace("commit = true", "commit = true\n  no_such_setting = 1", 1))
    from envcapture.build import packer
    from envcapture.errors import ToolFailed

    lines = []
    with pytest.raises(ToolFailed, match="packer validate failed") as caught:
        packer.build(kit, echo=lines.append)
    assert "no_such_setting" in caught.value.tail
    assert lines, "packer's output was not streamed"


def _vm_provider_could_start() -> bool:
    return os.path.exists("/var/run/libvirt/libvirt-sock") or shutil.which("VBoxManage") is not None


@pytest.mark.skipif(_vm_provider_could_start(), reason="a VM provider is running here: vagrant up would really start")
def test_vagrant_validates_then_up_fails_without_a_provider_exit_3(vagrant_tool, vagrant_env, tmp_path):
    proc = envcapture("build", "vagrant", "-m", MANIFEST, "-o", tmp_path / "kit", env=vagrant_env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Vagrantfile validated successfully" in proc.stderr
    assert "envcapture: vagrant up failed" in proc.stderr
    assert "Traceback" not in proc.stderr
