"""The snapshot date build takes from a manifest: the day of its capture (YYYY-MM-DD), or none when the
manifest has no such date.

Found by bench/mutation.py: ``created[:10]`` -> ``created[:11]`` in the check (so no real timestamp, which
has a time after the day, ever gave a date) survived every fast test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envcapture.build import capture_date

FIXTURES = Path(__file__).parents[1] / "fixtures" / "manifests"


def test_a_real_manifest_gives_the_day_it_was_captured():
    created = json.loads((FIXTURES / "plain-venv.json").read_text())["created"]
    assert len(created) > 10 and created[10] == "T"
    assert capture_date(FIXTURES / "plain-venv.json") == created[:10]


@pytest.mark.parametrize("created, day", [
    ("2026-01-02T03:04:05Z", "2026-01-02"),
    ("2026-01-02T03:04:05.123456+00:00", "2026-01-02"),
    ("2026-01-02", "2026-01-02"),
    ("26-01-02T03:04:05Z", None),
    ("2026-1-2T03:04:05Z", None),
    ("", None),
    (20260102, None),
    (None, None),
])
def test_the_day_or_none(tmp_path, created, day):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"schema_version": 1, "created": created}))
    assert capture_date(manifest) == day


def test_a_file_that_is_no_manifest_gives_none(tmp_path):
    (tmp_path / "m.json").write_text("[1, 2]")
    assert capture_date(tmp_path / "m.json") is None
    assert capture_date(tmp_path / "missing.json") is None
