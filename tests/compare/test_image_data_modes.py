"""Data read out of an image for `check --image` keeps each file's mode from the image, with the owner's read bit
added, so that a user who is not root can hash what was read (marked `docker`: a real image and container)."""

from __future__ import annotations

import io
import stat
import uuid

import pytest

from envcapture.compare import image_data

pytestmark = pytest.mark.docker

MODES = """FROM {base}
RUN mkdir -p /data/raw \\
 && printf 'readable' > /data/raw/readable.csv && chmod 0644 /data/raw/readable.csv \\
 && printf 'script' > /data/raw/run.sh && chmod 0755 /data/raw/run.sh \\
 && printf 'write-only' > /data/raw/write-only.bin && chmod 0200 /data/raw/write-only.bin
"""


def test_files_keep_their_image_mode_plus_the_owners_read_bit(tmp_path, docker_client, docker_base_image):
    tag = f"envcapture-test/data-modes:{uuid.uuid4().hex[:10]}"
    container = None
    try:
        docker_client.images.build(fileobj=io.BytesIO(MODES.format(base=docker_base_image).encode()), tag=tag,
                                   rm=True, network_mode="none", labels={"envcapture.test": "1"})
        container = docker_client.containers.create(tag, ["true"], network_disabled=True)
        into = tmp_path / "into"
        into.mkdir()
        assert image_data._export(container, tag, "/data/raw", into, 1 << 20) == []
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (into / "raw").iterdir()}
        assert modes == {"readable.csv": 0o644, "run.sh": 0o755, "write-only.bin": 0o600}
        assert (into / "raw" / "readable.csv").read_bytes() == b"readable"
    finally:
        if container is not None:
            container.remove(force=True)
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:  # noqa: BLE001 - never built
            pass
