"""The OS of a CUDA base image: the captured Ubuntu release when NVIDIA published the tag for it, else the
row's first; a Debian capture never takes an Ubuntu release by its version number.

Found by bench/mutation.py: ``os_id == "ubuntu" and version_id`` -> ``or`` survived every test.
"""

from __future__ import annotations

import pytest

from envcapture.render.bases import CUDA_TAGS, cuda_os

TAG = next(tag for tag in CUDA_TAGS if tag.oses[:2] == ("ubuntu22.04", "ubuntu20.04"))


@pytest.mark.parametrize("os_id, version_id, expected", [
    ("ubuntu", "20.04", "ubuntu20.04"),
    ("ubuntu", "22.04", "ubuntu22.04"),
    ("ubuntu", "18.04", "ubuntu22.04"),  # not published for this tag: the row's first
    ("debian", "20.04", "ubuntu22.04"),  # a Debian version number is no Ubuntu release
    ("rocky", "20.04", "ubuntu22.04"),
    ("ubuntu", None, "ubuntu22.04"),
    (None, None, "ubuntu22.04"),
])
def test_the_cuda_image_os(os_id, version_id, expected):
    assert cuda_os(TAG, os_id, version_id) == expected
