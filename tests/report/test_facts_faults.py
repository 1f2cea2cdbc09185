"""envcapture/report/facts.py on real manifests whose every field is set and differs: each fact the report
states is read back and compared with a value written out here, not computed by the code under test."""

from __future__ import annotations

import copy
import json

from envcapture.cli import main
from envcapture.manifest import file as manifest_io
from envcapture.report.facts import build_report, data_sets, determinism_rows, differences, rebuild_commands

from .conftest import FIXTURES

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def first() -> dict:
    """plain-venv.json (a real capture) with a few packages not top level and every optional fact set."""
    m = json.loads((FIXTURES / "plain-venv.json").read_text())
    for p in m["python_packages"]:
        p["top_level"] = p["name"] in ("six", "idna")
    m["determinism"]["environment"] = {"PYTHONHASHSEED": None, "OMP_NUM_THREADS": "4"}
    m["determinism"]["threads"] = {"cpu_count": 2}
    m["determinism"]["deep"] = {"torch": {"deterministic_algorithms": True, "cudnn_benchmark": False,
                                          "num_threads": 2, "version": "2.5.0"}}
    m["code"] = {"commit": COMMIT, "branch": "main", "dirty": True, "dirty_files": 3,
                 "remote": "https://example.org/p.git"}
    m["data"] = {"sets": [{"name": "train", "path": "/srv/train", "kind": "folder", "role": "raw",
                           "algorithm": "sha256", "root_hash": "e" * 64, "file_count": 12, "total_bytes": 3 * 1024 ** 2,
                           "unreadable": 0, "excludes": [], "read_only": False, "files": None, "sidecar": None}]}
    manifest_io.validate(m)
    return m


def second() -> dict:
    """The same capture with every field of the report changed."""
    m = copy.deepcopy(first())
    m["python"].update({"version": "3.12.1", "origin": "official", "is_virtualenv": False})
    m["os"].update({"pretty_name": "Ubuntu 24.04 LTS", "machine": "aarch64", "kernel": "6.1.0", "container": None})
    m["os"]["libc"] = {"name": "glibc", "version": "2.39"}
    m["hardware"].update({"cpu_model": "Ampere Altra", "physical_cores": 64, "logical_cores": 64,
                          "memory_total": 512 * 1024 ** 3})
    m["system_packages"]["packages"] = m["system_packages"]["packages"][:10]
    m["python_packages"] = [p for p in m["python_packages"] if p["name"] != "pip"]
    six = next(p for p in m["python_packages"] if p["name"] == "six")
    six["version"] = "1.17.0"
    m["code"] = {"commit": "f" * 40, "branch": "dev", "dirty": False, "dirty_files": 0, "remote": None}
    m["created"] = "2031-05-06T07:08:09Z"
    m["envcapture"]["version"] = "0.2.0"
    manifest_io.validate(m)
    return m


def test_top_level_packages_are_the_ones_marked_so():
    report = build_report([first()], ["a.json"])
    assert [(p.name, p.version) for p in report.top_level] == [("idna", "3.7"), ("six", "1.16.0")]
    assert [p.name for p in report.packages] == ["idna", "packaging", "pip", "setuptools", "six"]
    assert dict(report.environment)["Python packages"] == "5 installed, 2 top level"


def test_an_unset_variable_reads_unset_never_none():
    rows = determinism_rows(first())
    assert ("PYTHONHASHSEED", "unset") in rows and ("OMP_NUM_THREADS", "4") in rows
    assert ("threads: cpu_count", "2") in rows
    assert ("torch: deterministic_algorithms", "True") in rows and ("torch: cudnn_benchmark", "False") in rows
    assert not any(name.startswith("torch: ") and name.endswith(("num_threads", "version")) for name, _ in rows)
    assert not any(value == "None" for _, value in rows)


def test_a_data_set_states_its_file_count_and_its_size():
    (train,) = data_sets(first())
    assert (train.name, train.role, train.files, train.size, train.algorithm, train.root_hash) == \
        ("train", "raw", "12", "3.0 MiB", "sha256", "e" * 64)


def test_every_differing_fact_is_listed_with_each_manifests_value():
    rows = dict(differences([first(), second()]))
    assert rows == {
        "Python": ["cpython 3.11.7 (pyenv, virtualenv)", "cpython 3.12.1 (official)"],
        "Operating system": ["Debian GNU/Linux 12 (bookworm) (x86_64), kernel 6.18.44-fc-v595",
                             "Ubuntu 24.04 LTS (aarch64), kernel 6.1.0"],
        "C library": ["glibc 2.36", "glibc 2.39"],
        "CPU": ["AMD EPYC, 2 cores / 2 threads", "Ampere Altra, 64 cores / 64 threads"],
        "Memory": ["23.5 GiB", "512.0 GiB"],
        "Container": ["docker", "absent"],
        "System packages": ["1150 dpkg packages, 99 installed by hand",
                            rows["System packages"][1]],
        "Python packages": ["5 installed, 2 top level", "4 installed, 2 top level"],
        "Code": ["0123456789ab on main, dirty (3 files), https://example.org/p.git", "ffffffffffff on dev, clean"],
        "package pip": ["23.2.1", "absent"],
        "package six": ["1.16.0", "1.17.0"],
    }
    assert rows["System packages"][1].startswith("10 dpkg packages, ")


def test_the_same_capture_twice_has_no_difference_but_the_time_is_never_one():
    later = first()
    later["created"] = "2031-05-06T07:08:09Z"
    assert differences([first(), first()]) == []
    assert differences([first(), later]) == []


def test_rebuild_commands_quote_the_manifest_name_and_clone_the_commit():
    commands = rebuild_commands(first(), "my env's.json")
    assert commands[0] == f"git clone https://example.org/p.git project && git -C project checkout {COMMIT}"
    assert commands[1] == "envcapture generate docker -m 'my env'\"'\"'s.json' -o reproduce"
    assert commands[-1] == "envcapture check 'my env'\"'\"'s.json'"
    no_commit = first()
    no_commit["code"]["commit"] = None  # a clone of an unknown commit would rebuild the wrong code
    assert not any(c.startswith("git clone") for c in rebuild_commands(no_commit, "m.json"))


def test_the_markdown_report_says_each_fact(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(first()))
    out = tmp_path / "r.md"
    assert main(["report", str(path), "--format", "markdown", "-o", str(out)]) == 0
    text = out.read_text()
    assert "| PYTHONHASHSEED | unset |" in text and "None" not in text
    assert "| train | raw | 12 | 3.0 MiB |" in text
    assert "### Top-level Python packages (2)" in text
