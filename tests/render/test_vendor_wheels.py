"""`generate --vendor` against what a real pip does with odd package indexes (served on loopback, no network):
an index that serves only a local-label build of a pinned version (pip takes `idna-3.7+local1` for `idna==3.7`,
as PyTorch's indexes serve `+cpu` builds) is refused, not vendored as the recorded wheel; a failure pip reports
without naming the requirement (a hash mismatch) is tried one requirement at a time, so the rest is vendored and
the one that failed is named with pip's words; a version the manifest recorded unnormalised (`1.0-beta`) is
vendored from the wheel pip took for it (`1.0b0`, the same PEP 440 version; refused before as another version);
a manifest frozen on another architecture gets the wheels of its own."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from envcapture.render import bases, vendor
from tests.helpers.localwheels import isolate_pip, write_wheel
from tests.render.conftest import MANIFESTS, run_cli
from tests.render.test_vendor import _serve


def _index(root: Path, projects: dict[str, list[tuple[str, str]]]) -> None:
    """A PEP 503 index of ``projects`` (name -> [(version, link fragment[, wheel tag])]) and uv, the offline
    build's installer."""
    uv = write_wheel(root / "uv", "uv", bases.UV_VERSION)
    with zipfile.ZipFile(uv, "a") as archive:  # where the real uv wheel holds its program
        archive.writestr(f"uv-{bases.UV_VERSION}.data/scripts/uv", b"#!/bin/sh\n")
    fragments = {"uv": {uv.name: ""}}
    for name, versions in projects.items():
        fragments[name] = {}
        for version, fragment, *tag in versions:
            wheel = write_wheel(root / name, name, version)
            if tag:  # the tag pip reads from the file's name (the WHEEL file inside still says py3-none-any)
                wheel = wheel.rename(wheel.with_name(f"{name}-{version}-{tag[0]}.whl"))
            fragments[name][wheel.name] = fragment
    for name, files in fragments.items():
        (root / name / "index.html").write_text("".join(f'<a href="{f}{frag}">{f}</a>\n' for f, frag in files.items()))
    (root / "index.html").write_text("".join(f'<a href="{name}/">{name}</a>\n' for name in fragments))


@pytest.fixture
def index_with(tmp_path, monkeypatch):
    """A function: (projects served, pins recorded) -> the work folder holding m.json, which pins them."""
    isolate_pip(monkeypatch, tmp_path / "pip-cache")
    servers = []

    def make(projects, pins: dict[str, str], machine: str | None = None) -> Path:
        _index(tmp_path / "simple", projects)
        server, url = _serve(tmp_path / "simple")
        servers.append(server)
        data = json.loads((MANIFESTS / "plain-venv.json").read_text())
        idna = next(p for p in data["python_packages"] if p["name"] == "idna")
        data["python_packages"] = [{**idna, "name": name, "version": version} for name, version in pins.items()]
        data["python"]["package_indexes"].update(index_url=url, extra_index_urls=[])
        for package in data["system_packages"]["packages"]:
            package["manual"] = False
        if machine:
            data["os"]["machine"] = machine
        work = tmp_path / "work"
        work.mkdir()
        (work / "m.json").write_text(json.dumps(data))
        monkeypatch.chdir(work)
        return work

    yield make
    for server in servers:
        server.shutdown()


def test_a_local_label_build_served_for_a_pinned_version_is_refused(index_with, capsys):
    work = index_with({"idna": [("3.7+local1", "")]}, {"idna": "3.7"})
    code = run_cli(["generate", "docker", "-m", "m.json", "-o", "kit", "--vendor"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "--vendor: idna-3.7+local1-py3-none-any.whl is not version 3.7 of idna" in err
    assert not (work / "kit").exists()


def test_a_failure_pip_names_no_requirement_for_is_tried_one_at_a_time(index_with, capsys):
    work = index_with({"good": [("2.0", "")], "badhash": [("1.0", "#sha256=" + "0" * 64)]},
                      {"good": "2.0", "badhash": "1.0"})
    assert run_cli(["generate", "docker", "-m", "m.json", "-o", "kit", "--vendor"]) == 0
    err = capsys.readouterr().err
    wheels = work / "kit" / "wheels"
    assert (wheels / "good-2.0-py3-none-any.whl").is_file() and not list(wheels.glob("badhash*"))
    pins = [line for line in (wheels / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert pins == ["good==2.0"]
    warning = [line for line in err.splitlines() if "not vendored: badhash==1.0" in line]
    assert len(warning) == 1 and "DO NOT MATCH THE HASHES" in warning[0], err
    skipped = json.loads((work / "kit" / "not-reproduced.json").read_text())["items"]
    assert [i["item"] for i in skipped if i["why"].startswith("not vendored")] == ["badhash"]
    assert vendor.verify_kit(work / "kit") >= 2  # the kit's own check passes on what was vendored


def test_a_version_recorded_unnormalised_is_vendored_from_its_normalised_wheel(index_with, capsys):
    """A project's metadata may spell its version as PEP 440 allows but does not normalise (`1.0-beta`); its wheel's
    name carries the normal form (`1.0b0`), which pip takes for `==1.0-beta`: the same version, vendored."""
    work = index_with({"oddver": [("1.0b0", "")]}, {"oddver": "1.0-beta"})
    code = run_cli(["generate", "docker", "-m", "m.json", "-o", "kit", "--vendor"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert (work / "kit" / "wheels" / "oddver-1.0b0-py3-none-any.whl").is_file()
    assert "not vendored" not in err


def test_wheels_are_for_the_manifests_machine_not_this_one(index_with, capsys):
    """A manifest frozen on aarch64, vendored on a machine of another architecture (x86_64 here): pip is told the
    manifest's platforms, so the aarch64 wheel, the only one the index has, is vendored."""
    aarch64 = "cp311-cp311-manylinux_2_17_aarch64"
    work = index_with({"fastlib": [("1.0", "", aarch64)]}, {"fastlib": "1.0"}, machine="aarch64")
    assert run_cli(["generate", "docker", "-m", "m.json", "-o", "kit", "--vendor"]) == 0
    err = capsys.readouterr().err
    assert "manylinux_2_36_aarch64" in err and "not vendored" not in err, err
    assert (work / "kit" / "wheels" / f"fastlib-1.0-{aarch64}.whl").is_file()
