"""The DVC reader's bounds on what a stranger's project holds: sizes and counts that are no count, a YAML
error quoted at most 200 characters, and the walk for .dvc files stopped after its entry limit, counting
folders and files.

Found by bench/mutation.py: in ``envcapture/data/dvc.py`` ``isinstance(size, int) and ...`` -> ``or`` (a
negative size or ``true`` recorded), the YAML error cut at 201 characters, and ``len(dirnames) +
len(filenames)`` -> ``*``, ``^``, ``<<`` survived every test.
"""

from __future__ import annotations

import pytest

from envcapture.data import dvc

MD5 = "ef5b0ff5762bac4466f906872710eb34"


def dvc_file(project, name: str, size_line: str) -> None:
    (project / name).write_text(f"outs:\n- md5: {MD5}\n{size_line}  hash: md5\n  path: raw.csv\n")


@pytest.mark.parametrize("value", ["-1", "true", "false", "'19'", "1.5", "-0.0", "null", "[19]"])
def test_a_size_or_file_count_that_is_no_count_is_not_recorded(tmp_path, value):
    dvc_file(tmp_path, "raw.csv.dvc", f"  size: {value}\n  nfiles: {value}\n")
    facts = dvc.collect(tmp_path)
    assert [(o.path, o.md5, o.size, o.nfiles) for o in facts.outputs] == [("raw.csv", MD5, None, None)]


@pytest.mark.parametrize("value, count", [("0", 0), ("19", 19), (str(2 ** 53), 2 ** 53)])
def test_a_count_is_recorded_as_it_is(tmp_path, value, count):
    dvc_file(tmp_path, "raw.csv.dvc", f"  size: {value}\n  nfiles: {value}\n")
    facts = dvc.collect(tmp_path)
    assert [(o.size, o.nfiles) for o in facts.outputs] == [(count, count)]


def test_a_yaml_error_is_one_warning_of_at_most_200_characters_of_the_error(tmp_path, monkeypatch):
    import yaml

    # PyYAML without libyaml (its pure-Python loader) quotes the offending lines: messages over 200 characters
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    (tmp_path / "raw.csv.dvc").write_text("outs:\n- path: " + "a" * 300 + "\n  md5: [unclosed " + "b" * 300 + "\n")
    facts = dvc.collect(tmp_path)
    assert facts.outputs == [] and len(facts.warnings) == 1
    head = "raw.csv.dvc is not valid YAML: "
    assert facts.warnings[0].startswith(head + "while parsing a flow sequence")
    assert len(facts.warnings[0]) - len(head) == 200  # yaml's own message here is 201 characters


def project_of(tmp_path, extra: bool):
    """4 entries at the top (2 folders, 2 files), 1 in d1, none or 1 in d2: 5 or 6 entries in all."""
    for folder in ("d1", "d2"):
        (tmp_path / folder).mkdir()
    dvc_file(tmp_path, "raw.csv.dvc", "  size: 19\n")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "d1" / "a.txt").write_text("x")
    if extra:
        (tmp_path / "d2" / "b.txt").write_text("x")
    return tmp_path


@pytest.mark.parametrize("extra, stopped", [(False, False), (True, True)])
def test_the_walk_stops_after_its_limit_of_folders_and_files(tmp_path, monkeypatch, extra, stopped):
    monkeypatch.setattr(dvc, "MAX_WALK_ENTRIES", 5)
    warnings = []
    found = dvc.dvc_files(project_of(tmp_path, extra), warnings)
    assert warnings == (["stopped looking for .dvc files after 5 entries"] if stopped else [])
    assert found == ["raw.csv.dvc"]
