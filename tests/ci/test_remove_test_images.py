"""CI removes the images its tests built and nothing else: a labelled test image goes, someone else's dangling
image stays (real engine, marked docker)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / ".ci" / "remove-test-images.sh"


def test_ci_never_prunes_the_whole_engine():
    for path in (REPO_ROOT / ".ci").iterdir():
        for line in path.read_text().splitlines():
            code = line.split("#", 1)[0]
            assert "prune" not in code or "--filter" in code, f"{path.name}: {line.strip()}"


def build(tmp_path: Path, docker_client, base: str, tag: str, marker: str, label_env: str | None, monkeypatch):
    from envcapture.build.docker import build_image

    context = tmp_path / marker
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base}\nRUN echo {marker} > /marker\n")
    if label_env is None:
        monkeypatch.delenv("ENVCAPTURE_IMAGE_LABELS", raising=False)
    else:
        monkeypatch.setenv("ENVCAPTURE_IMAGE_LABELS", label_env)
    return build_image(context, tag, client=docker_client, echo=lambda line: None).image_id


@pytest.mark.docker
def test_only_the_labelled_images_are_removed(docker_client, docker_base_image, tmp_path, monkeypatch):
    import docker

    run = uuid.uuid4().hex[:12]
    # A private label value: the script run here must not remove images other tests are using right now.
    label = f"envcapture.test.run={run}"
    ours = build(tmp_path, docker_client, docker_base_image, f"envcapture-test/labelled:{run}", "ours",
                 f"envcapture.test=1,{label}", monkeypatch)
    assert docker_client.images.get(ours).labels.get("envcapture.test") == "1"
    # Someone else's image made dangling: rebuilt under the same tag, the first build loses its name.
    theirs_tag = f"envcapture-test/not-ours:{run}"
    theirs = build(tmp_path, docker_client, docker_base_image, theirs_tag, "theirs-1", None, monkeypatch)
    newer = build(tmp_path, docker_client, docker_base_image, theirs_tag, "theirs-2", None, monkeypatch)
    try:
        assert docker_client.images.get(theirs).tags == []  # dangling
        subprocess.run(["bash", str(SCRIPT), label], check=True, timeout=120)
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(ours)
        assert docker_client.images.get(theirs).id == theirs
        assert docker_client.images.get(docker_base_image)
    finally:
        for image in (newer, theirs, ours):
            try:
                docker_client.images.remove(image, force=True)
            except docker.errors.ImageNotFound:
                pass
