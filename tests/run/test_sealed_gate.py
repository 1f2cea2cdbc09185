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
