"""envcapture/report/facts.py on real manifests whose every reported field is set and differs: each fact the
report states is read back and compared with a value written out here, not computed by the code under test."""

from __future__ import annotations

import copy
import json

from envcapture.cli import main
from envcapture.manifest import file as manifest_io
from envcapture.report.facts import build_report, data_sets, determinism_rows, differences, software

from .conftest import FIXTURES

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def data_set(name, role, read_only, count, size, digest):
    return {"name": name, "path": f"/srv/{name}", "kind": "folder", "role": role, "algorithm": "sha256",
            "root_hash": digest, "file_count": count, "total_bytes": size, "unreadable": 0, "excludes": [],
            "read_only": read_only, "files": None, "sidecar": None}


def first() -> dict:
    """plain-venv.json (a real capture) with some packages not asked for and every optional fact set."""
    m = json.loads((FIXTURES / "plain-venv.json").read_text())
    m["python"]["package_indexes"]["extra_index_urls"] = []
    for p in m["python_packages"]:
        p["requested"] = p["top_level"] = p["name"] in ("six", "idna", "pip")
    m["determinism"]["environment"] = {"PYTHONHASHSEED": None, "OMP_NUM_THREADS": "4"}
    m["code"] = {"commit": COMMIT, "branch": "main", "dirty": True, "dirty_files": 3,
                 "remote": "https://example.org/p.git"}
    m["data"] = {"sets": [data_set("train", "derived", False, 12, 3 * 1024 ** 2, "e" * 64),
                          data_set("labels", "raw", True, 1, 100, "d" * 64)]}
    manifest_io.validate(m)
    return m


def second() -> dict:
    """The same capture with every fact the report compares changed."""
    m = copy.deepcopy(first())
    m["python"].update({"version": "3.12.1"})
    m["os"].update({"pretty_name": "Ubuntu 24.04 LTS", "machine": "aarch64", "kernel": "6.1.0", "container": None})
    m["os"]["libc"] = {"name": "glibc", "version": "2.39"}
    m["hardware"].update({"cpu_model": "Ampere Altra", "physical_cores": 64, "logical_cores": 64,
                          "memory_total": 512 * 1024 ** 3})
    m["system_packages"]["packages"] = m["system_packages"]["packages"][:10]
    m["python_packages"] = [p for p in m["python_packages"] if p["name"] != "setuptools"]
    six = next(p for p in m["python_packages"] if p["name"] == "six")
    six["version"] = "1.17.0"
    m["determinism"]["environment"] = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "4"}
    m["code"] = {"commit": "f" * 40, "branch": "dev", "dirty": False, "dirty_files": 0, "remote": None}
    m["data"]["sets"][0]["root_hash"] = "c" * 64
    m["created"] = "2031-05-06T07:08:09Z"
    manifest_io.validate(m)
    return m


def test_the_software_table_is_what_was_asked_for_without_installers():
    assert [(p.name, p.version, p.source) for p in software(first())] == [("idna", "3.7", "PyPI"),
                                                                          ("six", "1.16.0", "PyPI")]
    report = build_report([first()], ["a.json"])
    assert [p.name for p in report.packages] == ["idna", "packaging", "pip", "setuptools", "six"]
    assert "2 of 5" in report.software_note


def test_an_unset_variable_reads_not_set_never_none():
    assert determinism_rows(first()) == [("OMP_NUM_THREADS", "4"), ("PYTHONHASHSEED", "not set")]


def test_a_data_set_states_its_file_count_size_hash_and_state():
    train, labels = data_sets(first())
    assert (train.name, train.files, train.size, train.hash, train.state) == \
        ("train", "12 files", "3.0 MiB", "sha256:" + "e" * 64, "not protected")
    assert (labels.name, labels.files, labels.size, labels.hash, labels.state) == \
        ("labels", "1 file", "100 B", "sha256:" + "d" * 64, "read-only (protected)")


def test_every_differing_fact_is_listed_with_each_manifests_value():
    rows = dict(differences([first(), second()]))
    assert set(rows) == {"Python", "Operating system", "C library", "Container", "CPU", "Memory",
                         "System packages", "Python packages", "Code", "data set train", "variable PYTHONHASHSEED",
                         "package setuptools", "package six", "source of setuptools"}
    assert rows["Python"] == ["CPython 3.11.7", "CPython 3.12.1"]
    assert rows["Operating system"] == ["Debian GNU/Linux 12 (bookworm), x86_64, Linux 6.18.44-fc-v595",
                                        "Ubuntu 24.04 LTS, aarch64, Linux 6.1.0"]
    assert rows["C library"] == ["glibc 2.36", "glibc 2.39"]
    assert rows["Container"] == ["docker", "absent"]
    assert rows["CPU"] == ["AMD EPYC, 2 cores", "Ampere Altra, 64 cores"]
    assert rows["Memory"] == ["23.5 GiB", "512.0 GiB"]
    assert rows["System packages"] == ["1150 dpkg packages", "10 dpkg packages"]
    assert rows["Python packages"] == ["5 installed", "4 installed"]
    assert rows["Code"] == [f"git commit {COMMIT[:12]} (branch main), with uncommitted changes, "
                            "https://example.org/p.git", "git commit ffffffffffff (branch dev)"]
    assert rows["variable PYTHONHASHSEED"] == ["not set", "0"]
    assert rows["package six"] == ["1.16.0", "1.17.0"]
    assert rows["package setuptools"][1] == "absent" and rows["source of setuptools"] == ["PyPI", "absent"]
    assert rows["data set train"] == [f"sha256:{'e' * 64} (12 files, 3.0 MiB)", f"sha256:{'c' * 64} (12 files, 3.0 MiB)"]


def test_the_capture_time_is_stated_for_each_and_never_a_difference():
    later = first()
    later["created"] = "2031-05-06T07:08:09Z"
    report = build_report([first(), later], ["a.json", "b.json"])
    assert report.differences == []
    assert report.captures == ["A: captured 2026-11-26 21:02 UTC, envcapture 0.1.0.",
                               "B: captured 2031-05-06 07:08 UTC, envcapture 0.1.0."]
    assert differences([first(), first()]) == []


def test_the_rebuild_command_quotes_the_manifest_name():
    assert build_report([first()], ["/x/my env's.json"]).rebuild == \
        "envcapture build docker -m 'my env'\"'\"'s.json'"


def test_the_markdown_report_says_each_fact(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(first()))
    out = tmp_path / "r.md"
    assert main(["report", str(path), "--format", "markdown", "-o", str(out)]) == 0
    text = out.read_text()
    assert "PYTHONHASHSEED" in text and "not set" in text and "None" not in text
    assert "12 files" in text and "3.0 MiB" in text and "1 file" in text
    assert "| six | 1.16.0 |" in text


def test_past_26_manifests_each_keeps_a_label_of_its_own():
    """A gather of 28 nodes reported together: A to Z, then the manifest's number (27, 28), each label once."""
    manifests = []
    for index in range(28):
        m = first()
        m["determinism"]["environment"]["OMP_NUM_THREADS"] = str(index + 1)
        manifests.append(m)
    report = build_report(manifests, [f"node{i}.json" for i in range(28)])
    assert report.labels == [chr(c) for c in range(ord("A"), ord("Z") + 1)] + ["27", "28"]
    assert [c.split(":")[0] for c in report.captures] == report.labels
    assert dict(report.differences)["variable OMP_NUM_THREADS"] == [str(i + 1) for i in range(28)]


def test_differences_come_environment_first_then_data_variables_packages_sources():
    keys = [key for key, _ in differences([first(), second()])]
    groups = ["data set " if k.startswith("data set ") else "variable " if k.startswith("variable ") else
              "package " if k.startswith("package ") else "source of " if k.startswith("source of ") else "" for k in keys]
    order = ["", "data set ", "variable ", "package ", "source of "]
    assert set(groups) == set(order), keys
    assert groups == sorted(groups, key=order.index), keys
