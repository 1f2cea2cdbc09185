"""The repository's Vagrantfile is envcapture's own dev VM, generated from a committed manifest: never stale."""

from __future__ import annotations

import shutil
import subprocess

from envcapture.manifest import file as manifest
from envcapture.render import devvm

from .conftest import REPO


def test_top_level_vagrantfile_and_its_kit_are_up_to_date():
    files = devvm.render(REPO)
    stale = [rel for rel, content in sorted(files.items())
             if (REPO / rel).read_bytes() != (content if isinstance(content, bytes) else content.encode())]
    assert stale == [], f"stale: {stale}; run `python -m envcapture.render.devvm` and commit"
    committed = {str(p.relative_to(REPO)) for p in (REPO / devvm.KIT_DIR).rglob("*") if p.is_file()}
    assert committed == {rel for rel in files if rel != "Vagrantfile"}


def test_dev_manifest_is_valid_and_pins_the_test_tools():
    data = manifest.load(REPO / devvm.MANIFEST)
    manual = {p["name"] for p in data["system_packages"]["packages"] if p["manual"]}
    assert {"docker.io", "packer", "vagrant"} <= manual
    assert {"jinja2", "jsonschema", "hypothesis", "uv"} <= {p["name"].lower() for p in data["python_packages"]}


def test_top_level_vagrantfile_validates(tmp_path, vagrant_tool, vagrant_env):
    # A copy: vagrant writes .vagrant/ beside the Vagrantfile, which must not land in the working tree.
    shutil.copyfile(REPO / "Vagrantfile", tmp_path / "Vagrantfile")
    shutil.copytree(REPO / devvm.KIT_DIR, tmp_path / devvm.KIT_DIR)
    done = subprocess.run([vagrant_tool.path, "validate"], cwd=tmp_path, env=vagrant_env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
