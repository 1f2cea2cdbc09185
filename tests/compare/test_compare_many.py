"""`diff` of many manifests reads each file section by section (compare/many.py): it must agree with loading
each file whole, and still refuse every file that `validate` refuses, with the same one line."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from envcapture import compare
from envcapture.manifest import file as manifest
from envcapture.cli import main
from envcapture.compare.many import ManifestSet, NotPlain, split_sections
from envcapture.errors import BadInput

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NODES = [FIXTURES / "compare" / f"node-{i}.json" for i in (1, 2, 3)]
# Every section filled somewhere: conda, CUDA, git and local sources, a dev machine.
VARIED = [FIXTURES / "manifests" / f"{name}.json" for name in ("conda-env", "cuda-11.8", "dev-environment",
                                                                 "mixed-sources", "distro-python")]


@pytest.mark.parametrize("text, members", [
    ('{"a": 1, "bc": {"d": [1, 2]}}', [("a", "1", 1), ("bc", '{"d": [1, 2]}', {"d": [1, 2]})]),
    # Keys ending at odd and even offsets, spaces everywhere JSON allows them.
    (' \n{ "ab" :\t"x" ,"c":null,\r\n"def" : [ ] }\n ', [("ab", '"x"', "x"), ("c", "null", None), ("def", "[ ]", [])]),
    ("{}", []),
    (" {\n} ", []),
])
def test_split_sections_keeps_each_members_exact_text(text, members):
    assert split_sections(text) == members


@pytest.mark.parametrize("text", [
    "[]", "", "null", '"{}"',  # not an object
    "{a: 1}", '{"a": 1, }', "{,}",  # a key that is not a string
    '{"a" 1}', '{"a"}',  # no colon
    '{"a": }', '{"a": tru}',  # no value
    '{"a": 1 "b": 2}', '{"a": 1',  # neither comma nor closing brace
    '{"a": 1}x', '{"a": 1}}', '{} {}', "{}x",  # something after the object
])
def test_split_sections_gives_up_on_anything_else(text):
    with pytest.raises(NotPlain):
        split_sections(text)


def read_fast(paths) -> compare.Comparison:
    found = ManifestSet()
    for path in paths:
        found.add(path)
    labels = [Path(p).stem for p in paths]
    return found.compare(labels, [str(p) for p in paths])


def as_json(result: compare.Comparison) -> dict:
    return result.to_json("diff")


def test_the_fast_reader_agrees_with_loading_each_file():
    paths = NODES + VARIED + [NODES[0]]
    quick = read_fast(paths)
    labels = [p.stem for p in paths]
    slow = compare.compare([manifest.load(p) for p in paths], labels, sources=[str(p) for p in paths])
    assert as_json(quick) == as_json(slow)
    assert quick.differences and quick.not_compared == slow.not_compared


def test_a_section_missing_in_one_manifest_reads_like_an_empty_one(tmp_path):
    """Optional sections (scheduler, data) come and go; a recorded-empty section equals a missing one."""
    with_scheduler = json.loads(NODES[0].read_text())
    with_scheduler["scheduler"] = {"kind": "slurm", "job_id": "9", "node": "n001", "partition": "gpu", "rank": 0,
                                   "node_index": 0, "nodes": 2, "cluster": None, "namespace": None, "pod": None}
    assert manifest.problems(with_scheduler) == []
    (tmp_path / "a.json").write_text(manifest.dumps(with_scheduler))
    assert "scheduler" not in json.loads(NODES[0].read_text())
    (tmp_path / "b.json").write_text(NODES[0].read_text())
    result = read_fast([tmp_path / "a.json", tmp_path / "b.json"])
    assert result.same and result.groups == [["a", "b"]]


def test_a_section_a_freeze_could_not_collect_is_not_compared(tmp_path):
    m = json.loads(NODES[2].read_text())
    m["hardware"].update(cpu_model=None, memory_total=None, flags=[])
    m["warnings"].append({"source": "hardware", "message": "could not collect hardware: OSError: boom"})
    (tmp_path / "node-3.json").write_text(manifest.dumps(m))
    result = read_fast([NODES[0], NODES[1], tmp_path / "node-3.json"])
    assert result.not_compared == {"hardware": "not collected in node-3"}
    assert {d.what for d in result.differences} == {"numpy", "kernel release", "driver"}


def spoilt(tmp_path, spoil) -> Path:
    bad = json.loads(NODES[1].read_text())
    spoil(bad)
    path = tmp_path / "node-2.json"
    path.write_text(json.dumps(bad, indent=2))
    return path


@pytest.mark.parametrize("spoil", [
    lambda m: m["python_packages"][0].update(version="1.0; rm -rf ~"),  # a grammar rule
    lambda m: m["hardware"].update(physical_cores=True),  # True == 1 in Python, but not an integer
    lambda m: m["hardware"].update(surprise=1),  # an unknown key inside a section
    lambda m: m.update(surprise=1),  # an unknown top-level key
    lambda m: m.pop("os"),  # a missing section
    lambda m: m.update(schema_version=99),
    lambda m: m.update(python=[]),  # a section of the wrong type
    # One validator, one verdict (issue 24): the size limit of a free-form section, formats inside object
    # sections, maxima.
    lambda m: m["determinism"].update(deep={"k": ["x" * 4000] * 300}),  # 1.2 MB: past x-max-json-bytes
    lambda m: m["os"].update(codename="bookworm`id`"),
    lambda m: m["os"]["libc"].update(version="2.36 $(id)"),
    lambda m: m["python"].update(base_prefix="/usr'; rm -rf ~"),
    lambda m: m["python"]["package_indexes"].update(index_url="https://user:pw@example.org/simple"),
    lambda m: m["hardware"].update(memory_total=1e300),
    lambda m: m.update(created="2026-02-30T10:00:00Z"),
])
def test_every_file_is_still_validated_with_loads_own_message(tmp_path, capsys, spoil):
    bad = spoilt(tmp_path, spoil)
    with pytest.raises(BadInput) as precise:
        manifest.load(bad)
    with pytest.raises(BadInput) as fast:
        read_fast([NODES[0], bad, NODES[2]])
    assert str(fast.value) == str(precise.value) and "node-2.json: invalid manifest" in str(fast.value)
    assert main(["diff", str(NODES[0]), str(bad)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_section_already_seen_valid_is_not_taken_for_another(tmp_path):
    """Validation is cached per exact section text: a bad copy of a good section is still caught."""
    bad = spoilt(tmp_path, lambda m: m["hardware"].update(physical_cores=-1))
    with pytest.raises(BadInput):
        read_fast([NODES[0], NODES[1], bad])


@pytest.mark.parametrize("content", [b"\xff\xfe not UTF-8", b'{"schema_version": 1, "python": ', b"[]",
                                     b'{"os": {}, "os": {}}', b'{"os": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"],
                         ids=["not-utf8", "truncated", "array", "key-twice", "nested-too-deep"])
def test_unreadable_or_irregular_text_gets_loads_message(tmp_path, content):
    path = tmp_path / "odd.json"
    path.write_bytes(content)
    assert_fast_reader_refuses_like_load(path)


def test_a_missing_file_or_a_folder_gets_loads_message(tmp_path):
    for path in (tmp_path / "gone.json", tmp_path):
        assert_fast_reader_refuses_like_load(path)


@pytest.mark.parametrize("number", ["1e309", "-1e309", "9" * 5000, "1" * 21])
def test_a_number_out_of_range_gets_loads_message(tmp_path, number):
    text = NODES[1].read_text()
    memory = json.loads(text)["hardware"]["memory_total"]
    path = tmp_path / "node-2.json"
    path.write_text(text.replace(f'"memory_total": {memory}', f'"memory_total": {number}', 1))
    assert_fast_reader_refuses_like_load(path)


def test_a_fifo_and_a_device_get_loads_message(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.json")
    for path in (tmp_path / "pipe.json", Path("/dev/zero")):
        assert_fast_reader_refuses_like_load(path)


def test_diff_runs_without_jsonschema(tmp_path):
    """jsonschema is in the test extra only: a plain install has none, and diff must not need it."""
    import subprocess
    import sys

    bad = spoilt(tmp_path, lambda m: m["os"].update(codename="bookworm`id`"))
    script = ("import sys; sys.modules['jsonschema'] = None\n"  # import jsonschema now raises ImportError
              "from envcapture.cli import main\n"
              "raise SystemExit(main(sys.argv[1:]))")
    run = [sys.executable, "-c", script, "diff", "--format", "json"]
    same = subprocess.run(run + [str(NODES[0]), str(NODES[0])], capture_output=True, text=True, timeout=120)
    assert same.returncode == 0, same.stderr
    different = subprocess.run(run + [str(NODES[0]), str(NODES[1])], capture_output=True, text=True, timeout=120)
    assert different.returncode == 1 and json.loads(different.stdout), different.stderr
    refused = subprocess.run(run + [str(NODES[0]), str(bad)], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "os.codename" in refused.stderr and "Traceback" not in refused.stderr


def assert_fast_reader_refuses_like_load(path):
    with pytest.raises(BadInput) as precise:
        manifest.load(path)
    with pytest.raises(BadInput) as fast:
        read_fast([NODES[0], path])
    assert str(fast.value) == str(precise.value)


def test_a_key_written_twice_is_read_as_json_reads_it(tmp_path):
    """JSON keeps the last of two equal keys; the fast reader must not keep the first."""
    text = NODES[0].read_text()
    other = json.loads(NODES[1].read_text())
    doubled = text.rstrip().rstrip("}") + ', "python_packages": ' + json.dumps(other["python_packages"]) + "}"
    (tmp_path / "doubled.json").write_text(doubled)
    assert manifest.load(tmp_path / "doubled.json")["python_packages"] == other["python_packages"]
    result = read_fast([NODES[0], tmp_path / "doubled.json"])
    assert [d.what for d in result.differences] == ["numpy"]


def test_manifests_that_arrive_as_text(tmp_path):
    found = ManifestSet()
    found.add_text(NODES[0].read_text(), "n1 (from srun)")
    found.add_text(NODES[1].read_text(), "n2 (from srun)")
    assert [d.what for d in found.compare(["n1", "n2"], ["n1", "n2"]).differences] == ["numpy", "kernel release"]
    with pytest.raises(BadInput, match=r"^n3 \(from srun\): not valid JSON"):
        found.add_text('{"schema_version": 1,', "n3 (from srun)")
    broken = json.loads(NODES[1].read_text())
    broken["os"]["kernel"] = 7
    with pytest.raises(BadInput, match=r"^n4: invalid manifest \(1 problem\(s\)\)"):
        found.add_text(json.dumps(broken), "n4")


def test_one_manifest_is_not_a_comparison():
    found = ManifestSet()
    found.add(NODES[0])
    with pytest.raises(BadInput, match="at least two manifests"):
        found.compare(["n1"], ["n1"])
    with pytest.raises(BadInput, match="at least two manifests"):
        compare.compare([copy.deepcopy(manifest.load(NODES[0]))], ["n1"])


def test_valid_manifests_are_never_read_twice(monkeypatch):
    """The point of the section reader (500 manifests in seconds): a valid file is not validated whole."""
    from envcapture.manifest import file as manifest_io

    def whole(*args, **kwargs):
        raise AssertionError("the section reader gave up on a valid manifest and validated it whole")
    monkeypatch.setattr(manifest_io, "load", whole)
    monkeypatch.setattr(manifest_io, "problems", whole)
    result = read_fast(NODES + VARIED)
    assert len(result.labels) == 8 and result.differences
