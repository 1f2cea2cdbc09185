"""The manifest gate (envcapture/manifest/gate.py): every section and the warnings are redacted, conformed and
validated; what it claims to have redacted it did; a clean manifest is validated once; what a writer publishes
of a manifest it read is redacted and leaves the reader's copy alone."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from envcapture.manifest.redact import REDACTED

from .corpus import plant

BASE = Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "plain-venv.json"


@pytest.fixture
def manifest() -> dict:
    return json.loads(BASE.read_text())


def data_set(files: list[dict], name: str = "downloads", path: str = "data/downloads") -> dict:
    return {"name": name, "path": path, "kind": "folder", "role": "raw", "algorithm": "sha256",
            "root_hash": "0" * 64, "file_count": len(files), "total_bytes": 2, "unreadable": 0, "excludes": [],
            "read_only": False, "sidecar": None, "files": files}


def test_a_section_the_gate_was_never_told_about_is_redacted_too(manifest):
    from envcapture.manifest.gate import seal

    hf = plant("hugging-face-token", "gate").value
    groq = plant("groq-api-key", "gate").value
    manifest["data"] = {"sets": [data_set([{"path": f"w.safetensors?token={hf}", "size": 2, "hash": "1" * 64},
                                           {"path": "l", "link": f"https://alice:{groq}@h.example.com/x"}])]}
    manifest["warnings"].append({"source": "data", "message": f"data set downloads: skipped {groq}.fifo"})
    manifest["a_section_added_later"] = {"deep": [{"k": hf}]}  # unknown keys are left out by conform, after
    sealed = seal(manifest)
    text = json.dumps(sealed)
    assert hf not in text and groq not in text
    files = sealed["data"]["sets"][0]["files"]
    assert files[0]["path"] == f"w.safetensors?token={REDACTED}"
    assert files[1]["link"] == "https://h.example.com/x"
    assert "a_section_added_later" not in sealed
    claims = sorted(w["message"] for w in sealed["warnings"] if w["source"] == "redact")
    assert claims == ["a Groq API key was found in the collected facts and replaced by REDACTED",
                      "a Hugging Face token was found in the collected facts and replaced by REDACTED",
                      "a credentials in a URL was found in the collected facts and removed"]


def test_no_claim_without_a_replacement(manifest):
    from envcapture.manifest.gate import seal

    sealed = seal(copy.deepcopy(manifest))
    assert [w for w in sealed["warnings"] if w["source"] == "redact"] == []
    assert sealed == manifest


def test_a_clean_manifest_is_validated_once(manifest, monkeypatch):
    from envcapture.manifest import file as manifest_file
    from envcapture.manifest.gate import seal

    calls = []
    real = manifest_file.find_problems
    monkeypatch.setattr(manifest_file, "find_problems", lambda *args: calls.append(1) or real(*args))
    seal(manifest)
    assert len(calls) == 1


def test_a_repair_is_validated_again_and_quotes_no_secret(manifest):
    from envcapture.manifest.gate import seal

    token = plant("github-classic-pat", "gate").value
    manifest["data"] = {"sets": [data_set([{"path": f"evil\u202e{token}.txt", "size": 2, "hash": "1" * 64}])]}
    sealed = seal(manifest)
    assert token not in json.dumps(sealed)
    from envcapture.manifest.file import problems

    assert problems(sealed) == []


def test_publication_redacts_a_copy_and_keeps_clean_bytes(manifest):
    from envcapture.manifest.gate import for_publication

    raw = json.dumps(manifest).encode()
    assert for_publication(manifest, raw) == (manifest, raw)  # nothing to redact: the very bytes
    key = plant("aws-access-key-id", "gate").value
    dirty = copy.deepcopy(manifest)
    dirty["data"] = {"sets": [data_set([{"path": f"f?X-Amz-Credential={key}", "size": 2, "hash": "1" * 64}])]}
    before = copy.deepcopy(dirty)
    data, published = for_publication(dirty, json.dumps(dirty).encode())
    assert dirty == before  # the caller's copy is not touched
    assert key not in published.decode() and key not in json.dumps(data)
    assert json.loads(published) == data


def test_sidecar_records_are_sealed_and_a_bad_one_refused():
    from envcapture.errors import BadInput
    from envcapture.manifest.gate import seal_records

    token = plant("replicate-api-token", "gate").value
    records, warnings = seal_records([{"path": f"{token}.bin", "size": 1, "hash": "a" * 64}], "data set d")
    assert records == [{"path": f"{REDACTED}.bin", "size": 1, "hash": "a" * 64}]
    assert warnings == ["data set d: a Replicate API token was found and replaced by REDACTED"]
    with pytest.raises(BadInput):
        seal_records([{"path": "../etc/passwd", "size": 1, "hash": "a" * 64}], "data set d")
