"""manifest.load's size cap and the check freeze uses before overwriting a file (is it a manifest?)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envcapture.manifest import file as manifest
from envcapture.errors import BadInput

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "plain-venv.json"


def test_a_file_over_256_mib_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "huge.json"
    with open(big, "wb") as handle:  # sparse: no disk space used
        handle.truncate(256 * 2**20 + 1)
    with pytest.raises(BadInput, match=f"{256 * 2**20 + 1} bytes is too large for a manifest"):
        manifest.load(big)


@pytest.mark.parametrize("content", [
    b"envcapture\n",
    b'"envcapture"\n',
    b'{"schema_version": "1.0"}\n',
    b"# my notes about envcapture and its schema_version\n",
    b"",
])
def test_a_file_that_only_mentions_envcapture_is_not_a_manifest(tmp_path, content):
    path = tmp_path / "envcapture.json"
    path.write_bytes(content)
    assert manifest.is_manifest_file(path) is False


def test_what_envcapture_wrote_is_a_manifest(tmp_path):
    assert manifest.is_manifest_file(EXAMPLE) is True
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(json.loads(EXAMPLE.read_text()), separators=(",", ":")))
    assert manifest.is_manifest_file(compact) is True
    assert manifest.is_manifest_file(tmp_path / "absent.json") is False


def test_save_writes_the_layout_envcapture_writes(tmp_path):
    """Indented JSON with one compact line per record of a long list: a manifest written by envcapture comes
    back byte for byte through load and save (a layout change shows up in every diff of every manifest)."""
    written = EXAMPLE.parent.parent / "compare" / "node-1.json"
    data = manifest.load(written)
    assert manifest.dumps(data) == written.read_text(encoding="utf-8")
    out = tmp_path / "again.json"
    manifest.save(data, out)
    assert out.read_bytes() == written.read_bytes()
    nested = manifest.dumps({"a": {"b": [{"c": 1}, {"d": []}]}, "e": {}, "f": [{"g": i, "h": "é"} for i in range(9)]})
    assert nested == ('{\n  "a": {\n    "b": [\n      {\n        "c": 1\n      },\n      {\n        "d": []\n      }\n'
                      '    ]\n  },\n  "e": {},\n  "f": [\n'
                      + ",\n".join(f'    {{"g": {i}, "h": "é"}}' for i in range(9)) + "\n  ]\n}\n")


def test_a_list_of_records_turns_compact_past_eight():
    """Eight records or fewer stay indented (a short list of objects reads better so), nine or more are one
    compact line each. Found by bench/mutation.py: ``> 8`` -> ``>= 8`` survived (no test wrote exactly eight)."""
    eight = manifest.dumps({"f": [{"g": i} for i in range(8)]})
    assert eight == '{\n  "f": [\n' + ",\n".join(f'    {{\n      "g": {i}\n    }}' for i in range(8)) + "\n  ]\n}\n"
    nine = manifest.dumps({"f": [{"g": i} for i in range(9)]})
    assert nine == '{\n  "f": [\n' + ",\n".join(f'    {{"g": {i}}}' for i in range(9)) + "\n  ]\n}\n"
