"""Bad input gets one clear line and the right exit code, never a traceback; nothing is lost."""

import json
import os
import shutil
from pathlib import Path

import pytest

from clirun import envcapture, freeze


def test_broken_dist_infos_become_warnings(sample_venv, tmp_path):
    site = next((sample_venv["venv"] / "lib").glob("python*/site-packages"))
    broken = {
        "nometa-1.0.dist-info": None,
        "garbage-2.0.dist-info": b"\x00\x01 not metadata at all",
        "latin-3.0.dist-info": "Metadata-Version: 2.1\nName: latin\nVersion: 3.0\nSummary: caf\xe9\n".encode("latin-1"),
    }
    for folder, content in broken.items():
        (site / folder).mkdir()
        if content is not None:
            (site / folder / "METADATA").write_bytes(content)
    try:
        proc = freeze("--python", sample_venv["python"], "-o", "-", "--project", tmp_path)
    finally:
        for folder in broken:
            shutil.rmtree(site / folder)
    data = json.loads(proc.stdout)
    names = {p["name"]: p["version"] for p in data["python_packages"]}
    # nothing lost: the folder name still says what was there
    assert names["nometa"] == "1.0" and names["garbage"] == "2.0" and names["latin"] == "3.0"
    messages = " ".join(w["message"] for w in data["warnings"])
    assert "nometa-1.0.dist-info" in messages and "latin-3.0.dist-info: METADATA: not UTF-8" in messages
    assert "Traceback" not in proc.stderr


def test_refuses_to_overwrite_a_foreign_file(tmp_path):
    target = tmp_path / "envcapture.json"
    target.write_text("my notes\n")
    proc = freeze("-o", target, "--project", tmp_path, check=False)
    assert proc.returncode == 2
    assert "--force" in proc.stderr and "Traceback" not in proc.stderr
    assert target.read_text() == "my notes\n"
    freeze("-o", target, "--project", tmp_path, "--force")
    assert json.loads(target.read_text())["schema_version"] == 1
    freeze("-o", target, "--project", tmp_path)  # an envcapture manifest may be replaced


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    freeze("-o", tmp_path / "m.json", "--project", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_missing_python_is_one_line(tmp_path):
    proc = freeze("--python", tmp_path / "nope" / "python", "-o", "-", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such interpreter" in proc.stderr


def test_project_must_be_a_folder(tmp_path):
    proc = freeze("--project", tmp_path / "missing", "-o", "-", check=False)
    assert proc.returncode == 2 and "not a folder" in proc.stderr


@pytest.mark.parametrize("version", ["3.8.18", "3.9.18", "3.10.13", "3.12.1", "3.13.0"])
def test_target_probe_runs_on_old_and_new_pythons(version, tmp_path):
    python = f"/root/.pyenv/versions/{version}/bin/python"
    if not os.path.exists(python):
        pytest.skip(f"Python {version} is not installed here (pyenv)")
    data = json.loads(freeze("--python", python, "-o", "-", "--project", tmp_path).stdout)
    assert data["python"]["version"] == version
    assert data["python"]["origin"] == "pyenv"
    assert "pip" in {p["name"] for p in data["python_packages"]}


def test_usage_error_exits_2():
    proc = envcapture("freeze", "--no-such-flag")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_a_failing_probe_becomes_a_one_line_warning(monkeypatch, tmp_path):
    """A probe bug (here: an exception with line breaks) costs one section, not the manifest."""
    from envcapture.capture import freeze as freeze_module
    from envcapture.manifest import file as manifest
    from envcapture.probes import hardware

    def broken(ctx):
        raise RuntimeError("first line\nsecond line\r\nthird")

    monkeypatch.setattr(hardware, "collect", broken)
    data = freeze_module.build_manifest(project=tmp_path)
    assert manifest.problems(data) == []
    assert data["hardware"]["flags"] == []
    assert {"source": "hardware", "message": "could not collect hardware: RuntimeError: first line second line "
                                             "third"} in data["warnings"]


def test_a_missing_dependency_is_one_line_with_exit_3(tmp_path):
    import subprocess
    import sys

    manifest_path = tmp_path / "m.json"
    freeze("-o", manifest_path, "--project", tmp_path)
    code = ("import sys; sys.modules['packaging'] = None; from envcapture.cli import main; "
            f"sys.exit(main(['validate', {str(manifest_path)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.returncode == 3
    assert "'packaging' is missing" in proc.stderr and "Traceback" not in proc.stderr
