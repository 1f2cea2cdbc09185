"""Dates are parsed, not matched; counts and sizes have a maximum (what validate accepts, every command reads)."""

import datetime
import json
from pathlib import Path

import pytest

from envcapture.manifest import file as manifest_file
from envcapture.manifest import grammar
from envcapture.manifest.schema import MAX_INT

FIXTURE = Path(__file__).parents[1] / "fixtures" / "manifests" / "plain-venv.json"


@pytest.mark.parametrize("value", ["2026-02-30T10:00:00Z", "2025-02-29T10:00:00Z", "2026-13-01T10:00:00Z",
                                   "2026-01-01T24:00:00Z", "2026-01-01T10:60:00Z", "2026-01-01T10:00:60Z",
                                   "0000-01-01T00:00:00Z", "2026-01-01T10:00:00.1234567890Z",
                                   "2026-01-01T10:00:00+00:00", "2026-01-01 10:00:00Z", "٢٠٢٦-01-01T10:00:00Z"])
def test_impossible_or_foreign_timestamps_are_refused(value):
    assert not grammar.check("iso-datetime", value)
    assert grammar.parse_iso_datetime(value) is None


@pytest.mark.parametrize("value, expected", [
    ("2024-02-29T23:59:59Z", datetime.datetime(2024, 2, 29, 23, 59, 59, tzinfo=datetime.timezone.utc)),
    ("2026-12-07T08:00:00.5Z", datetime.datetime(2026, 12, 7, 8, 0, 0, 500000, tzinfo=datetime.timezone.utc)),
    ("2026-12-07T08:00:00.123456789Z",
     datetime.datetime(2026, 12, 7, 8, 0, 0, 123456, tzinfo=datetime.timezone.utc)),
])
def test_real_timestamps_parse_to_the_instant_they_name(value, expected):
    assert grammar.check("iso-datetime", value)
    assert grammar.parse_iso_datetime(value) == expected


def manifest_with(path: tuple, value):
    data = json.loads(FIXTURE.read_text())
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


SIZES = [("hardware", "memory_total"), ("hardware", "logical_cores")]


@pytest.mark.parametrize("path", SIZES)
@pytest.mark.parametrize("value", [MAX_INT + 1, 1e300, 9.3e18])
def test_a_count_or_size_past_the_maximum_is_refused(path, value):
    found = manifest_file.problems(manifest_with(path, value))
    assert found == [f"{'.'.join(path)}: {json.dumps(value)} is greater than the maximum of {MAX_INT}"]


@pytest.mark.parametrize("path", SIZES)
def test_the_maximum_itself_is_accepted(path):
    assert manifest_file.problems(manifest_with(path, MAX_INT)) == []


def test_the_published_schema_has_the_maximum_on_every_count():
    schema = json.loads((Path(manifest_file.__file__).parent / "manifest.schema.json").read_text())
    hardware = schema["properties"]["hardware"]["properties"]
    assert hardware["memory_total"]["maximum"] == MAX_INT == 2 ** 63 - 1
    data_set = schema["properties"]["data"]["properties"]["sets"]["items"]["properties"]
    assert data_set["total_bytes"]["maximum"] == MAX_INT
