"""`check --image` reading data sets out of an image that is not what a kit makes (marked `docker`): a link where
a file was recorded (to /etc/passwd), a FIFO, a changed file and a file far larger than recorded. Each is named,
exit 1 or one line; nothing is followed, read past the bound, or left behind."""

from __future__ import annotations

import io
import json
import os
import tempfile
import uuid

import pytest

from envcapture.cli import main as run_cli
from envcapture.data.specs import DataSpec, add_to_manifest, collect
from tests.render.conftest import MANIFESTS

pytestmark = pytest.mark.docker

HOSTILE = """FROM {base}
RUN mkdir -p /data/raw/sub /data/big \\
 && ln -s /etc/passwd /data/raw/a.csv \\
 && mkfifo /data/raw/pipe \\
 && printf 'changed' > /data/raw/sub/b.bin \\
 && truncate -s 80M /data/big/big.bin
"""


def _manifest(tmp_path):
    raw = tmp_path / "data" / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "a.csv").write_text("x,y\n1,2\n")
    (raw / "sub" / "b.bin").write_bytes(b"original")
    (tmp_path / "big.bin").write_bytes(b"small")
    section = collect([DataSpec("data/raw", tmp_path, "raw"), DataSpec("big.bin", tmp_path, "big")], tmp_path,
                      "blake3", use_cache=False, manifest_name="m.json", home=str(tmp_path))
    manifest = json.loads((MANIFESTS / "plain-venv.json").read_text())
    add_to_manifest(manifest, section.section, section.warnings)
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    return tmp_path / "m.json"


def test_an_image_with_links_fifos_and_oversized_data_is_read_safely(tmp_path, docker_client, docker_base_image,
                                                                      capsys):
    manifest = _manifest(tmp_path)
    tag = f"envcapture-test/hostile-data:{uuid.uuid4().hex[:10]}"
    dockerfile = HOSTILE.format(base=docker_base_image).encode()
    try:
        docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True, network_mode="none",
                                   labels={"envcapture.test": "1"})
        before = set(os.listdir(tempfile.gettempdir()))
        assert run_cli(["check", str(manifest), "--image", tag, "--data-only"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"envcapture: image {tag}: /data/big holds more than 67108874 bytes, over twice what the "
                       "manifest records; not read further"]
        assert {n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("envcapture-image-data-")} == set()
        # Without the oversized set: the raw set's link, FIFO and changed file are each named; exit 1.
        data = json.loads(manifest.read_text())
        data["data"]["sets"] = [s for s in data["data"]["sets"] if s["name"] == "raw"]
        manifest.write_text(json.dumps(data))
        assert run_cli(["check", str(manifest), "--image", tag, "--data-only"]) == 1
        out = capsys.readouterr().out
        assert f"data set raw (data/raw, checked at {tag}:/data/raw): 4 differences" in out
        assert "kind       a.csv: in the image, not a regular file or folder" in out
        assert "kind       pipe: in the image, not a regular file or folder" in out
        assert "missing    a.csv: was 8 bytes, now missing" in out
        assert "changed    sub/b.bin: 8 bytes -> 7 bytes" in out
        assert "root:" not in out  # /etc/passwd was not read
    finally:
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:  # noqa: BLE001 - never built
            pass
