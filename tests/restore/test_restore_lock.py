"""restore's lock for local archives: one that exists here is installed from its path with its hash, one
that is gone is named as not restored (never a line pip would fail on)."""

from __future__ import annotations

import copy
from pathlib import Path

from envcapture import restore
from envcapture.manifest import file as manifest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compare"
HASH = "sha256=" + "c" * 64


def archive_package(name: str, url: str) -> dict:
    return {"name": name, "version": "1.0", "requested": True, "installer": "pip", "top_level": True,
            "requires": [], "source": {"kind": "archive", "url": url, "hash": HASH}, "local_label": None,
            "index_url": None}


def test_a_local_archive_is_locked_only_when_it_exists_here(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    present = wheels / "present-1.0-py3-none-any.whl"
    present.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip: only its existence matters here
    data = copy.deepcopy(manifest.load(FIXTURES / "node-1.json"))
    data["python_packages"] += [archive_package("present", present.as_uri()),
                                archive_package("gone", (wheels / "gone-1.0-py3-none-any.whl").as_uri()),
                                archive_package("athome", "file://~/wheels/present-1.0-py3-none-any.whl")]
    assert manifest.problems(data) == []
    lock = restore.build_lock(data, home=str(tmp_path))
    assert f"present @ {present.as_uri()}#{HASH}" in lock.lines
    assert f"athome @ {present.as_uri()}#{HASH}" in lock.lines  # ~ is this user's home
    assert not any(line.startswith("gone") for line in lock.lines)
    assert lock.skipped == [f"gone 1.0: the archive {(wheels / 'gone-1.0-py3-none-any.whl').as_uri()} "
                            "does not exist here"]
    assert lock.count == len(data["python_packages"]) - 1
