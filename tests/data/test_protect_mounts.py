"""protect's list of mount points is this machine's, as util-linux's findmnt reads it (both from
/proc/self/mountinfo), so the root of every mounted file system is refused.

Found by bench/mutation.py: the loop over mountinfo's lines emptied (``for line in []``: no mount point
known, none refused) survived every test.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from envcapture.data.protect import mount_points, refusal


def findmnt_targets() -> set[str]:
    if shutil.which("findmnt") is None:
        pytest.skip("findmnt (util-linux) is not installed")
    out = subprocess.run(["findmnt", "--raw", "--noheadings", "--output", "TARGET", "--kernel"],
                         capture_output=True, text=True, check=True).stdout
    # findmnt --raw writes a space in a path as \x20
    return {line.replace("\\x20", " ") for line in out.splitlines() if line}


def test_the_mount_points_are_the_ones_findmnt_reads():
    found = mount_points()
    assert "/" in found and "/proc" in found
    assert found == findmnt_targets()


def test_every_mount_point_is_refused():
    for point in mount_points():
        assert refusal(point, homes=set()) is not None, point
