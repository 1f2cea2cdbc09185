"""`build packer` on a kit whose Packer template was edited by hand and lost its docker-tag post-processor: the
real Packer (Debian's 1.6.6 here) and the real engine report one artifact, the committed image's id, and the
build returns that id (the image `build packer --tag` then names). Marked `docker`."""

from __future__ import annotations

import uuid

import pytest

from envcapture.build import packer as packer_build

pytestmark = pytest.mark.docker

TEMPLATE = """
source "docker" "envcapture" {{
  image   = "{base}"
  pull    = false
  commit  = true
  changes = ["LABEL envcapture.test=1", "LABEL envcapture.test.run={run}"]
}}

build {{
  sources = ["source.docker.envcapture"]
  provisioner "shell" {{
    inline = ["echo made-by-hand > /made-by-hand"]
  }}
}}
"""


def test_a_template_without_the_tag_post_processor_gives_the_committed_image(tmp_path, docker_client,
                                                                            docker_base_image, packer_tool):
    run = uuid.uuid4().hex[:12]
    (tmp_path / "packer").mkdir()
    (tmp_path / "packer" / packer_build.MAIN_FILE).write_text(TEMPLATE.format(base=docker_base_image, run=run))
    try:
        result = packer_build.build(tmp_path, timeout=600)
        assert result.source == "envcapture" and result.artifact.startswith("sha256:")
        image = docker_client.images.get(result.artifact)
        assert image.labels.get("envcapture.test.run") == run
        out = docker_client.containers.run(result.artifact, ["cat", "/made-by-hand"], entrypoint=[], remove=True,
                                           network_disabled=True)
        assert out == b"made-by-hand\n"
    finally:
        # Only the image this build committed (found by its own label): the engine is shared with other runs.
        for image in docker_client.images.list(filters={"label": f"envcapture.test.run={run}"}):
            docker_client.images.remove(image.id, force=True)
