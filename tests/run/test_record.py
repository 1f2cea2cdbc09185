"""The run section's parts from what the hook wrote (run/record.py): the hook's record read bounded and checked,
paths shown relative to the project, the distributions that own what the run imported."""

from __future__ import annotations

import json
import os
import sysconfig
from pathlib import Path

import pytest

from envcapture.run import record


@pytest.mark.parametrize("content", [b'{"format": 0}', b'{"format": 2, "files_read": []}', b'{"format": "1"}',
                                     b"[1]", b'"format"', b"1"])
def test_a_hook_record_of_another_format_or_shape_is_unknown(tmp_path, content):
    path = tmp_path / "hook.json"
    path.write_bytes(content)
    assert record.read_hook(path) == (None, "unknown hook record")


def test_the_hook_record_envcapture_writes_is_read_and_the_missing_or_broken_ones_say_why(tmp_path):
    path = tmp_path / "hook.json"
    path.write_text(json.dumps({"format": 1, "files_read": ["/p/a"]}))
    assert record.read_hook(path) == ({"format": 1, "files_read": ["/p/a"]}, None)
    path.write_bytes(b"")
    assert "wrote nothing" in record.read_hook(path)[1]
    path.write_bytes(b'{"format": 1')
    assert record.read_hook(path) == (None, "the in-process hook's record is not valid JSON")
    with open(path, "wb") as handle:
        handle.truncate(record.MAX_HOOK_BYTES + 1)  # sparse: 64 MiB of zeros, one byte past the bound
    assert record.read_hook(path) == (None, "the in-process hook's record is too large")
    assert "did not run" in record.read_hook(tmp_path / "absent.json")[1]


def test_paths_inside_the_project_are_shown_relative_and_the_others_are_not(tmp_path):
    project, home = tmp_path / "project", str(tmp_path)
    assert record.shown_path(str(project / "data" / "in.csv"), project, home) == "data/in.csv"
    assert record.shown_path(str(project / "..notes"), project, home) == "..notes"  # a name, not a way out
    assert record.shown_path(str(project), project, home) == "."
    assert record.shown_path(str(tmp_path / "elsewhere.txt"), project, home) == "~/elsewhere.txt"
    assert record.shown_path("/etc/hostname", project, home) == "/etc/hostname"


def test_the_distributions_owning_what_the_run_imported_from_site_packages(tmp_path):
    site = sysconfig.get_paths()["purelib"]
    packaging = Path(site) / "packaging" / "__init__.py"
    if not packaging.is_file():
        pytest.skip("packaging is not installed in this environment's site-packages")
    mine = tmp_path / "packaging" / "__init__.py"  # the project's own module with a package's name
    assert record.distributions_of({"packaging": str(packaging), "json": os.__file__}, [site]) == ["packaging"]
    assert record.distributions_of({"packaging": str(mine)}, [site]) == []
    assert record.distributions_of(None, [site]) is None


def test_a_recorded_run_says_so_and_an_unrecorded_one_says_why(tmp_path):
    hook = {"format": 1, "files_read": [str(tmp_path / "a.txt")], "files_written": [], "files_not_listed": 2}
    used = record.used_section(hook, None, tmp_path, "/nonexistent-home", [])
    assert used["recorded"] is True and used["files_read"] == ["a.txt"] and used["files_not_listed"] == 2
    missing = record.used_section(None, "the in-process hook did not run", tmp_path, "/nonexistent-home", [])
    assert missing["recorded"] is False and missing["problems"] == ["the in-process hook did not run"]
