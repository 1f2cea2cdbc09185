"""manifest.load's size cap and the check freeze uses before overwriting a file (is it a manifest?)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envcapture import manifest
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
