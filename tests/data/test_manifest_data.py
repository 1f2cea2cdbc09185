"""The data section in the manifest: freeze --data and pyproject.toml, inline records and the sidecar,
the schema's grammar, and manifests written by envcapture 0.1.0 (before the section existed)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from .conftest import REPO, cli_env, envcapture, make_tree, record_manifest, spec

V010 = sorted((REPO / "tests" / "fixtures" / "manifests" / "v0.1.0").glob("*.json"))


def test_freeze_data_records_each_set_relative_to_the_project(tmp_path, cache_home):
    project = tmp_path / "proj"
    make_tree(project / "data" / "raw", {"a.csv": "1,2\n", "sub/b.csv": "3,4\n"})
    make_tree(tmp_path / "elsewhere" / "raw", {"c.csv": "5\n"})
    import os

    os.mkfifo(project / "data" / "raw" / "pipe")
    proc = envcapture("freeze", "--data", "data/raw", "--data", tmp_path / "elsewhere" / "raw", "--hash", "sha256",
                      "-o", "m.json", "--project", ".", cwd=project, env={"HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "warning: data set raw: skipped pipe: a FIFO" in proc.stderr
    data = json.loads((project / "m.json").read_text())
    first, second = data["data"]["sets"]
    assert (first["name"], first["path"], first["role"], first["kind"]) == ("raw", "data/raw", "derived", "folder")
    assert (second["name"], second["path"]) == ("raw-2", "~/elsewhere/raw")
    assert first["algorithm"] == "sha256" and first["file_count"] == 2 and first["total_bytes"] == 8
    assert [f["path"] for f in first["files"]] == ["a.csv", "sub/b.csv"] and first["sidecar"] is None
    assert list(data)[-3:] == ["data", "host", "warnings"]
    assert envcapture("validate", project / "m.json").returncode == 0
    shown = envcapture("show", project / "m.json", env={"COLUMNS": "200"}).stdout
    assert "Data raw" in shown and "data/raw (derived): 2 files" in shown


def test_pyproject_data_sets_are_picked_up_by_a_plain_freeze(tmp_path, cache_home):
    project = make_tree(tmp_path / "proj", {"data/raw/a.csv": "1\n", "data/out/b.csv": "2\n", "data/out/x.tmp": "t"})
    (project / "pyproject.toml").write_text(
        '[project]\nname = "p"\n\n[tool.envcapture]\n'
        'data = ["data/raw", {path = "data/out", name = "results", role = "raw", exclude = ["*.tmp"]}]\n')
    proc = envcapture("freeze", "-o", "m.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    sets = json.loads((project / "m.json").read_text())["data"]["sets"]
    assert [(s["name"], s["path"], s["role"], s["file_count"]) for s in sets] == \
        [("raw", "data/raw", "derived", 1), ("results", "data/out", "raw", 1)]
    assert sets[1]["excludes"] == ["*.tmp"]


def test_a_bad_pyproject_entry_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.envcapture]\ndata = [{path = "d", role = "precious"}]\n')
    proc = envcapture("freeze", "-o", "m.json", cwd=tmp_path)
    assert proc.returncode == 2 and "role 'precious' is not raw or derived" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ['"raw data; $(id)"', "7"])
def test_a_pyproject_data_set_name_that_is_not_an_identifier_is_one_line_and_exit_2(tmp_path, name):
    """A name must be text and a plain identifier. Found by bench/mutation.py: ``and`` -> ``or`` (any text
    passed) survived."""
    (tmp_path / "d").mkdir()
    (tmp_path / "pyproject.toml").write_text(f'[tool.envcapture]\ndata = [{{path = "d", name = {name}}}]\n')
    proc = envcapture("freeze", "-o", "m.json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "is not a plain identifier" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "m.json").exists()


def test_a_missing_data_path_is_one_line_and_exit_2(tmp_path):
    proc = envcapture("freeze", "--data", "nope", "-o", "m.json", cwd=tmp_path)
    assert proc.returncode == 2 and "--data" in proc.stderr and "nope" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "m.json").exists()


def test_freeze_without_data_does_not_load_the_data_code(tmp_path):
    script = ("import sys; from envcapture.cli import main; "
              f"main(['freeze', '-o', {str(tmp_path / 'm.json')!r}, '--project', {str(tmp_path)!r}]); "
              "print(sorted(m for m in sys.modules if m in ('blake3', 'sqlite3', 'envcapture.data.specs', "
              "'envcapture.data.fingerprint', 'gzip', 'rich.progress')))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=cli_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_above_the_inline_limit_records_go_to_a_sidecar_named_by_its_hash(tmp_path, cache_home, monkeypatch):
    import hashlib

    from envcapture.data import specs as datasets

    monkeypatch.setattr(datasets, "INLINE_LIMIT", 5)
    root = make_tree(tmp_path / "d", {f"f{i}.txt": f"{i}\n" for i in range(12)})
    path = tmp_path / "m.json"
    data = record_manifest(path, [spec(root)], tmp_path)
    record = data["data"]["sets"][0]
    assert record["files"] is None and record["file_count"] == 12
    sidecar = tmp_path / record["sidecar"]["file"]
    assert hashlib.sha256(sidecar.read_bytes()).hexdigest() == record["sidecar"]["sha256"]
    assert record["sidecar"]["sha256"][:24] in sidecar.name and sidecar.name.startswith("m.d.")
    files, why = datasets.recorded_files(record, tmp_path)
    assert why is None and [f.path for f in files] == sorted(f"f{i}.txt" for i in range(12))

    sidecar.write_bytes(sidecar.read_bytes()[:-3] + b"xyz")  # tampered
    files, why = datasets.recorded_files(record, tmp_path)
    assert files is None and "does not match the sha256" in why
    sidecar.unlink()
    files, why = datasets.recorded_files(record, tmp_path)
    assert files is None and "is not next to the manifest" in why


@pytest.mark.parametrize("bad", ["../etc/passwd", "/etc/passwd", "a/./b", "a\nb", "a//b"])
def test_the_schema_refuses_file_paths_outside_the_data_set(tmp_path, cache_home, bad):
    from envcapture.manifest import file as manifest

    root = make_tree(tmp_path / "d", {"a.csv": "1\n"})
    data = record_manifest(tmp_path / "m.json", [spec(root)], tmp_path)
    hostile = copy.deepcopy(data)
    hostile["data"]["sets"][0]["files"][0]["path"] = bad
    assert any("data.sets[0].files[0].path" in p and "relative path inside a data set" in p
               for p in manifest.problems(hostile))
    hostile = copy.deepcopy(data)
    hostile["data"]["sets"][0]["root_hash"] = "not-hex; rm -rf /"
    assert any("root_hash" in p for p in manifest.problems(hostile))


@pytest.mark.parametrize("change,message", [
    ({"size": -1}, "files[0].size: -1 is less than the minimum of 0"),
    ({"size": "12"}, "files[0].size: \"12\" is not of type 'integer'"),
    ({"hash": "XYZ"}, "files[0].hash: \"XYZ\" is not a hex digest"),
    ({"extra": 1}, "files[0]: unknown key \"extra\""),
    ({"link": "a\u001b[31m"}, "files[0].link: \"a\\u001b[31m\" is not a single line of text"),
])
def test_inline_file_records_are_checked_as_strictly_as_the_schema_says(tmp_path, cache_home, change, message):
    from envcapture.manifest import file as manifest

    root = make_tree(tmp_path / "d", {"a.csv": "1\n"})
    data = record_manifest(tmp_path / "m.json", [spec(root)], tmp_path)
    data["data"]["sets"][0]["files"][0].update(change)
    found = manifest.problems(data)
    assert any(message in p for p in found), found
    del data["data"]["sets"][0]["files"][0]["path"]
    assert "data.sets[0].files[0]: 'path' is a required property" in manifest.problems(data)


@pytest.mark.parametrize("path", V010, ids=lambda p: p.name)
def test_manifests_written_by_0_1_0_still_validate_and_generate(tmp_path, path):
    assert len(V010) >= 4
    proc = envcapture("validate", path)
    assert proc.returncode == 0, proc.stderr
    proc = envcapture("generate", "docker", "-m", path, "-o", tmp_path / "kit")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "kit" / "Dockerfile").is_file()
    proc = envcapture("diff", path, path)
    assert proc.returncode == 0, proc.stderr


def test_a_sidecar_is_read_up_to_its_inflation_bound_and_refused_past_it(tmp_path, cache_home, monkeypatch):
    """A real sidecar of hundreds of records (over 16 KiB compressed: hashes do not compress) reads back whole;
    a sidecar that inflates past 64 times its size plus 1 MiB is refused as damaged before it is parsed.
    Found by bench/mutation.py: the bound's ``+`` -> ``^`` survived (the same number below 16 KiB of sidecar;
    from 16 to 32 KiB, 2 MiB less)."""
    import gzip
    import hashlib
    import os

    from envcapture.data import specs as datasets

    monkeypatch.setattr(datasets, "INLINE_LIMIT", 5)
    root = make_tree(tmp_path / "d", {f"f{i:04d}.bin": os.urandom(8).hex() for i in range(700)})
    path = tmp_path / "m.json"
    data = record_manifest(path, [spec(root)], tmp_path)
    record = data["data"]["sets"][0]
    sidecar = tmp_path / record["sidecar"]["file"]
    assert sidecar.stat().st_size > 16 << 10
    files, why = datasets.recorded_files(record, tmp_path)
    assert why is None and len(files) == 700

    # Incompressible bytes make the sidecar's compressed size (about 17 KiB: the bound's bit 20 set), zeros
    # its inflated size: half a MiB under the bound, then half a MiB over it.
    noise = os.urandom(17 << 10)
    for margin, refused in ((-(1 << 19), False), (1 << 19, True)):
        bomb = gzip.compress(noise, mtime=0)
        for _ in range(6):  # the compressed size moves a little with the zeros: settle it
            inflated = 64 * len(bomb) + (1 << 20) + margin
            bomb = gzip.compress(noise + b"\0" * (inflated - len(noise)), mtime=0)
        assert (inflated > 64 * len(bomb) + (1 << 20)) is refused and 16 << 10 <= len(bomb) < 32 << 10
        sidecar.write_bytes(bomb)
        forged = {**record, "sidecar": {**record["sidecar"], "sha256": hashlib.sha256(bomb).hexdigest()}}
        files, why = datasets.recorded_files(forged, tmp_path)
        assert files is None
        assert ("inflates to more than" in why) is refused, why
