"""`generate --archive`'s writer on a real kit (no vendoring, no index server): each entry keeps whether its file
is executable (scripts 0755, the rest 0644), and a kit file that was swapped for a symlink is refused, not
followed, even when the link's target holds the very bytes the kit's index recorded."""

from __future__ import annotations

import os
import tarfile

import pytest

from envcapture.errors import BadInput
from envcapture.render import kit_archive

from .conftest import generate_case


def test_entries_keep_the_executable_bit_of_their_files(tmp_path):
    kit = generate_case("pytorch-pip-gpu", tmp_path)
    target = tmp_path / "kit.tar.gz"
    kit_archive.write_archive(kit, target, mtime=0)
    with tarfile.open(target) as archive:
        modes = {member.name.split("/", 1)[1]: member.mode for member in archive.getmembers()}
    assert modes["provision.sh"] == 0o755 and modes["binder/postBuild"] == 0o755
    assert modes["Dockerfile"] == 0o644 and modes["requirements.lock"] == 0o644
    for rel, mode in modes.items():
        assert mode == (0o755 if (kit / rel).stat().st_mode & 0o111 else 0o644), rel


def test_a_kit_file_swapped_for_a_symlink_is_refused_not_followed(tmp_path):
    kit = generate_case("plain-venv", tmp_path)
    elsewhere = tmp_path / "elsewhere-Dockerfile"
    os.replace(kit / "Dockerfile", elsewhere)  # the same bytes: the index's sha256 still matches through the link
    os.symlink(elsewhere, kit / "Dockerfile")
    target = tmp_path / "kit.tar.gz"
    with pytest.raises(BadInput, match="Dockerfile: cannot be read for the archive"):
        kit_archive.write_archive(kit, target, mtime=0)
    assert not target.exists()
