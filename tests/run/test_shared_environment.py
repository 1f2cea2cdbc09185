"""Run records sharing one environment (manifest/shared.py): every reader resolves it through the bounded
reader, a changed or missing shared file is refused in one line, a lone record stays whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.runrecords import CLI

from envcapture.errors import BadInput
from envcapture.manifest import file as manifest_io


def envcapture(args: list[str], cwd: Path, command: str = "run") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHASHSEED", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(cwd.parent / f"{cwd.name}-cache")
    return subprocess.run([*CLI, command, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def shared_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("environment-*.json"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """a.json asks to share; b.json shares because the folder holds the same environment; c.json refuses."""
    project = tmp_path_factory.mktemp("project")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    for name, options, code in (("lone", [], "pass"), ("a", ["--share-environment"], "pass"),
                                ("b", [], "print(1)"), ("c", ["--self-contained"], "pass")):
        done = envcapture(["-o", f"{name}.json", *options, "--", sys.executable, "-c", code], project)
        assert done.returncode == 0, done.stderr
        if name == "lone":
            assert shared_files(project) == []  # a single record stays self-contained by default
    return project


def test_records_of_one_environment_share_it_and_read_back_whole(folder):
    [shared] = shared_files(folder)
    a_text, c_text = (folder / "a.json").read_text(), (folder / "c.json").read_text()
    assert "python_packages" not in json.loads(a_text) and "python_packages" in json.loads(c_text)
    assert len(a_text) * 20 < len(c_text)
    assert json.loads(a_text)["environment"]["file"] == shared.name
    assert "python_packages" not in json.loads((folder / "b.json").read_text())  # shared, not asked
    a, b, c = (manifest_io.load(folder / f"{n}.json") for n in "abc")
    for name in ("python", "python_packages", "system_packages", "hardware", "warnings"):
        assert a[name] == c[name] == b[name] or name == "warnings"
    assert "environment" not in a and list(a) == list(c)  # whole, in a manifest's own order
    assert [w for w in a["warnings"]] == [w for w in c["warnings"]]


def test_every_command_reads_the_shared_record(folder):
    assert envcapture(["a.json"], folder, "validate").returncode == 0
    diff = envcapture(["a.json", "c.json"], folder, "diff")
    assert "different: 0 errors, 1 warning" in diff.stdout and "duration" in diff.stdout, diff.stdout
    assert envcapture(["a.json"], folder, "check").returncode == 0
    report = envcapture(["a.json", "b.json", "-o", "report.md"], folder, "report")
    assert report.returncode == 0, report.stderr
    kit = envcapture(["--only-used", "b.json", "-o", "kit", "docker"], folder, "generate")
    assert kit.returncode == 0, kit.stderr
    published = manifest_io.load(folder / "kit" / "envcapture.json")  # whole: it travels without the file
    assert "environment" not in json.loads((folder / "kit" / "envcapture.json").read_text())
    assert published["python"] == manifest_io.load(folder / "c.json")["python"]


@pytest.mark.parametrize("fault", ["changed", "missing", "renamed link"])
def test_a_changed_or_missing_shared_environment_is_refused_in_one_line(folder, tmp_path, fault):
    for path in [folder / "a.json", *shared_files(folder)]:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    [shared] = shared_files(tmp_path)
    if fault == "changed":
        shared.write_bytes(shared.read_bytes().replace(b'"python_packages":[', b'"python_packages":[ ', 1))
    elif fault == "missing":
        shared.unlink()
    else:
        os.rename(shared, tmp_path / "elsewhere.json")
        os.symlink(tmp_path / "elsewhere.json", shared)  # not followed: a race could redirect a link
    with pytest.raises(BadInput) as refused:
        manifest_io.load(tmp_path / "a.json")
    message = str(refused.value)
    assert "\n" not in message and shared.name in message
    assert ("does not match the SHA-256" if fault == "changed" else "cannot be read") in message
    for command, args in (("validate", ["a.json"]), ("diff", ["a.json", "a.json"]), ("report", ["a.json"])):
        done = envcapture(args, tmp_path, command)
        assert done.returncode == 2 and "Traceback" not in done.stderr and shared.name in done.stderr


def test_a_record_naming_another_file_is_refused(folder, tmp_path):
    record = json.loads((folder / "a.json").read_text())
    (tmp_path / "secret.json").write_text("{}")
    record["environment"]["file"] = "../secret.json"
    (tmp_path / "a.json").write_text(json.dumps(record, indent=2))
    with pytest.raises(BadInput, match="not one envcapture writes"):
        manifest_io.load(tmp_path / "a.json")
