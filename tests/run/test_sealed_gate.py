"""The gate with sections it sealed before (envcapture run's cached environment): everything is still scanned
for secrets; only the sections collected for this write are conformed and validated again."""

from __future__ import annotations

import copy
import json

import pytest

from envcapture.errors import BadInput
from envcapture.manifest import gate

TOKEN = "ghp_" + "a1B2c3D4" * 5


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict:
    from envcapture.capture.freeze import collect_manifest

    manifest = gate.seal(collect_manifest(python=None, project=tmp_path_factory.mktemp("p"), argv=["freeze"],
                                          env={"PATH": "/usr/bin"}))
    manifest["run"] = None
    return manifest


def test_a_sealed_section_is_not_validated_again_but_the_others_are(clean):
    manifest = copy.deepcopy(clean)
    manifest["hardware"] = {"not": "a hardware section"}  # what a sealed section is never: proves it is skipped
    gate.seal(manifest, sealed=("hardware",))
    with pytest.raises(BadInput):
        gate.seal(copy.deepcopy(manifest))  # the same document, nothing sealed: refused
    manifest["os"] = {"not": "an os section"}
    with pytest.raises(BadInput):
        gate.seal(manifest, sealed=("hardware",))


def test_a_secret_in_a_sealed_section_is_still_redacted_and_then_everything_is_validated(clean):
    manifest = copy.deepcopy(clean)
    manifest["hardware"]["cpu_model"] = f"cpu {TOKEN}"
    manifest["os"] = {"not": "an os section"}
    with pytest.raises(BadInput):  # a secret found: the sealed sections are validated again too
        gate.seal(manifest, sealed=tuple(n for n in clean if n not in ("run", "warnings")))
    manifest = copy.deepcopy(clean)
    manifest["hardware"]["cpu_model"] = f"cpu {TOKEN}"
    sealed = gate.seal(manifest, sealed=("hardware",))
    assert TOKEN not in json.dumps(sealed) and "REDACTED" in sealed["hardware"]["cpu_model"]


@pytest.mark.parametrize("name", ["run.json", "+seed 7.json"])  # a name sorting before "-" (stdout) is a file too
def test_a_split_record_is_written_with_its_shared_environment_and_sidecars_beside_it(clean, tmp_path, monkeypatch,
                                                                                      name):
    """write_manifest's split (envcapture run --share-environment): the data sidecars and the shared environment
    are written next to the record that names them, and the record reads back as the whole sealed manifest."""
    from envcapture.manifest import file as manifest_io
    from envcapture.manifest import shared

    environment_warnings = copy.deepcopy(clean["warnings"])

    def split(sealed: dict):
        content, name, record = shared.split(sealed, environment_warnings)
        return [(name, content)], record

    monkeypatch.chdir(tmp_path)
    output = tmp_path / name
    written = gate.write_manifest(copy.deepcopy(clean), name, sidecars=[("data.files.json.gz", b"records")],
                                  split=split)
    [beside] = tmp_path.glob("environment-*.json")
    assert (tmp_path / "data.files.json.gz").read_bytes() == b"records"
    record = json.loads(output.read_text())
    assert record["environment"]["file"] == beside.name and "python_packages" not in record
    assert manifest_io.load(output) == written == gate.seal(copy.deepcopy(clean))
