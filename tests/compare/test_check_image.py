"""`envcapture check --image`: the stdlib-only probe run inside a real image on a real Docker engine."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest

from envcapture import compare
from envcapture.manifest import file as manifest
from envcapture.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compare"
IMAGE = "envcapture-test/check-image:six-1.16.0"

DOCKERFILE = """\
FROM {base}
RUN apt-get update -q && apt-get install -y -q --no-install-recommends python3 python3-venv \\
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install -q --no-cache-dir six==1.16.0 idna==3.7
"""


@pytest.fixture(scope="module")
def image(docker_client, docker_base_image) -> str:
    """A small image: Debian's python3 (apt, by hand) and a venv with two pins from the index."""
    dockerfile = DOCKERFILE.format(base=docker_base_image).encode()
    docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=IMAGE, rm=True, forcerm=True, timeout=900,
                               labels={"envcapture.test": "1"})
    return IMAGE


@pytest.fixture(scope="module")
def image_manifest_path(image, tmp_path_factory) -> Path:
    """A manifest of the image's venv as freeze would write it inside the image (sections an image can tell)."""
    live, _ = compare.image_manifest(image, python="/opt/venv/bin/python")
    data = manifest.load(FIXTURES / "node-1.json")
    for section in ("python", "python_packages", "os", "system_packages"):
        data[section] = copy.deepcopy(live[section])
    data["python"]["package_indexes"] = data["python"].get("package_indexes") or {
        "index_url": None, "extra_index_urls": [], "find_links": [], "sources": []}
    assert manifest.problems(data) == []
    path = tmp_path_factory.mktemp("check-image") / "image.json"
    manifest.save(data, path)
    return path


@pytest.mark.docker
def test_image_probe_reads_python_os_and_dpkg(image):
    live, skip = compare.image_manifest(image, python="/opt/venv/bin/python")
    names = {p["name"].lower(): p["version"] for p in live["python_packages"]}
    assert names["six"] == "1.16.0" and names["idna"] == "3.7"
    assert live["os"]["id"] == "debian" and live["os"]["version_id"] == "12"
    assert live["system_packages"]["manager"] == "dpkg"
    python3 = next(p for p in live["system_packages"]["packages"] if p["name"] == "python3")
    assert python3["manual"] is True  # apt-get install python3, by hand
    assert {"hardware", "gpu", "os.kernel"} <= set(skip) and "system_packages" not in skip


@pytest.mark.docker
def test_check_image_same_exits_0_and_says_what_was_not_compared(image, image_manifest_path, capsys):
    assert main(["check", str(image_manifest_path), "--image", image, "--python", "/opt/venv/bin/python"]) == 0
    out = capsys.readouterr().out
    assert "OK: image satisfies image.json" in out
    assert "not compared:" in out and "gpu" in out


@pytest.mark.docker
def test_check_image_other_pin_exits_1_naming_package_and_versions(image, image_manifest_path, tmp_path, capsys):
    data = json.loads(image_manifest_path.read_text())
    next(p for p in data["python_packages"] if p["name"] == "six")["version"] = "1.17.0"
    changed = tmp_path / "changed.json"
    manifest.save(data, changed)
    assert main(["check", str(changed), "--image", image, "--python", "/opt/venv/bin/python",
                 "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    (six,) = [d for d in result["differences"] if d["grade"] == "error"]
    assert (six["item"], six["values"]) == ("six", ["1.17.0", "1.16.0"])
    assert {"section": "gpu", "reason": "an image cannot tell"} in result["not_compared"]


@pytest.mark.docker
def test_check_image_with_the_system_python_finds_the_venv_packages_missing(image, image_manifest_path, capsys):
    assert main(["check", str(image_manifest_path), "--image", image]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if " six " in line)
    assert "1.16.0" in row and "error" in row


@pytest.mark.docker
def test_check_image_without_that_python_is_one_line(image, image_manifest_path, capsys):
    assert main(["check", str(image_manifest_path), "--image", image, "--python", "/usr/bin/python9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"envcapture: image {image} has no /usr/bin/python9 (pass --python PATH of the interpreter "
                   "inside the image)"]


@pytest.mark.docker
def test_check_unknown_image_is_one_line(docker_client, capsys):
    assert main(["check", str(FIXTURES / "node-1.json"), "--image", "envcapture-test/no-such-image:1"]) == 2
    assert capsys.readouterr().err.strip() == ("envcapture: image envcapture-test/no-such-image:1 is not available "
                                               "to the Docker engine (build or pull it first)")


def test_check_image_without_an_engine_exits_3_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    assert main(["check", str(FIXTURES / "node-1.json"), "--image", "anything:1"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("envcapture: no Docker engine reachable: start dockerd or set "
                                               "DOCKER_HOST")
