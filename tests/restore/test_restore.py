"""`envcapture restore` with real venvs, uv and pip, real git repositories and the real index."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envcapture import restore
from envcapture.manifest import file as manifest
from envcapture.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compare"
PINS = ["six==1.16.0", "idna==3.7"]


def run(*argv, cwd=None) -> str:
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True, timeout=300,
                          cwd=cwd).stdout


def pip(python: Path, *args) -> None:
    run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *args)


def installed(python: Path) -> dict:
    out = run(python, "-c", "import json, importlib.metadata as m; "
                            "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")
    return json.loads(out)


@pytest.fixture(scope="module")
def source_env(tmp_path_factory):
    """A venv with two pins from the index, frozen by `envcapture freeze`."""
    root = tmp_path_factory.mktemp("restore-src")
    run(sys.executable, "-m", "venv", root / "venv")
    python = root / "venv" / "bin" / "python"
    pip(python, *PINS)
    path = root / "envcapture.json"
    assert main(["freeze", "--python", str(python), "-o", str(path)]) == 0
    return python, path


# ------------------------------------------------------------------------------ lock (no network)

def test_lock_pins_index_vcs_and_skips_what_is_gone(tmp_path):
    data = manifest.load(FIXTURES / "node-1.json")
    data["python_packages"].append({
        "name": "gone", "version": "1.0", "requested": True, "installer": "pip", "top_level": True, "requires": [],
        "source": {"kind": "editable", "url": f"file://{tmp_path}/does-not-exist"}, "local_label": None,
        "index_url": None})
    data["python_packages"].append({
        "name": "wheelpkg", "version": "2.0", "requested": True, "installer": "pip", "top_level": True,
        "requires": [], "source": {"kind": "archive", "url": "https://example.org/wheelpkg-2.0-py3-none-any.whl",
                                   "hash": "sha256=" + "ab" * 32}, "local_label": None, "index_url": None})
    assert manifest.problems(data) == []
    lock = restore.build_lock(data, home=str(tmp_path))
    assert "six==1.16.0" in lock.lines and "numpy==2.1.3" in lock.lines
    assert "mylib @ git+https://github.com/example/mylib.git@0123456789abcdef0123456789abcdef01234567" in lock.lines
    assert f"wheelpkg @ https://example.org/wheelpkg-2.0-py3-none-any.whl#sha256={'ab' * 32}" in lock.lines
    assert lock.skipped == [f"gone 1.0: editable install from file://{tmp_path}/does-not-exist, a folder that "
                            "does not exist here"]
    assert lock.count == len(data["python_packages"]) - 1


def test_lock_adds_the_index_a_local_label_implies(tmp_path):
    data = manifest.load(FIXTURES / "node-1.json")
    data["python_packages"].append({
        "name": "torch", "version": "2.9.0+cu126", "requested": True, "installer": "pip", "top_level": True,
        "requires": [], "source": {"kind": "index"}, "local_label": "cu126",
        "index_url": "https://download.pytorch.org/whl/cu126"})
    lock = restore.build_lock(data, home=str(tmp_path))
    assert "--extra-index-url https://download.pytorch.org/whl/cu126" in lock.options
    assert "torch==2.9.0+cu126" in lock.lines and lock.extra_indexes


# ------------------------------------------------------------------------------- real restores

@pytest.mark.slow
def test_restore_then_check_exits_0(source_env, tmp_path, capsys):
    python, path = source_env
    venv = tmp_path / "restored"
    assert main(["restore", str(path), "--venv", str(venv)]) == 0
    out = capsys.readouterr()
    assert "OK: restored satisfies manifest" in out.out
    assert installed(venv / "bin" / "python")["six"] == "1.16.0"
    assert main(["check", str(path), "--python", str(venv / "bin" / "python")]) == 0
    assert installed(venv / "bin" / "python") == installed(python)


@pytest.mark.slow
def test_restore_with_pip_when_uv_is_missing(source_env, tmp_path, monkeypatch, capsys):
    python, path = source_env
    monkeypatch.setattr(restore, "uv_binary", lambda: None)
    venv = tmp_path / "restored-pip"
    assert main(["restore", str(path), "--venv", str(venv)]) == 0
    assert "packages with pip" in capsys.readouterr().err
    assert installed(venv / "bin" / "python") == installed(python)


@pytest.mark.slow
def test_restore_git_and_local_folder_sources(tmp_path, capsys):
    """A git+file:// install comes back at its commit; a local folder that is gone is named as not restored."""
    repo = tmp_path / "gitpkg"
    (repo / "gitpkg").mkdir(parents=True)
    (repo / "gitpkg" / "__init__.py").write_text("VALUE = 1\n")
    (repo / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=61"]\n'
                                         'build-backend = "setuptools.build_meta"\n'
                                         '[project]\nname = "gitpkg"\nversion = "0.1.0"\n')
    run("git", "init", "-q", repo)
    run("git", "-C", repo, "add", ".")
    run("git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "one")
    commit = run("git", "-C", repo, "rev-parse", "HEAD").strip()
    local = tmp_path / "localpkg"
    (local / "localpkg").mkdir(parents=True)
    (local / "localpkg" / "__init__.py").write_text("")
    (local / "pyproject.toml").write_text((repo / "pyproject.toml").read_text().replace("gitpkg", "localpkg"))

    run(sys.executable, "-m", "venv", tmp_path / "src")
    python = tmp_path / "src" / "bin" / "python"
    pip(python, f"git+file://{repo}@{commit}", str(local))
    path = tmp_path / "m.json"
    assert main(["freeze", "--python", str(python), "-o", str(path)]) == 0
    shutil.rmtree(local)

    venv = tmp_path / "restored"
    assert main(["restore", str(path), "--venv", str(venv)]) == 2  # a git+file:// source: asks for trust
    assert "--trust-sources" in capsys.readouterr().err and not venv.exists()
    assert main(["restore", str(path), "--venv", str(venv), "--trust-sources"]) == 1  # localpkg is gone
    out, err = capsys.readouterr()
    assert "not restored: localpkg 0.1.0: directory install from" in err
    row = next(line for line in out.splitlines() if " localpkg " in line)
    assert "error" in row and "0.1.0" in row
    lock = (venv / "envcapture-lock.txt").read_text()
    assert f"gitpkg @ git+file://{repo}@{commit}" in lock
    assert installed(venv / "bin" / "python")["gitpkg"] == "0.1.0"
    data = json.loads(json.dumps(manifest.load(path)))
    data["python_packages"] = [p for p in data["python_packages"] if p["name"] != "localpkg"]
    trimmed = tmp_path / "trimmed.json"
    manifest.save(data, trimmed)
    # Same commit, same URL: the git source matches.
    assert main(["check", str(trimmed), "--python", str(venv / "bin" / "python")]) == 0


# ---------------------------------------------------------------------------------- failure modes

def test_restore_refuses_a_non_empty_folder(tmp_path, capsys):
    path = FIXTURES / "node-1.json"  # refused before any install: a recorded manifest is enough (no network)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert main(["restore", str(path), "--venv", str(tmp_path / "full")]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_restore_python_not_available_exits_3_saying_what_provides_it(source_env, tmp_path, monkeypatch, capsys):
    _, path = source_env
    data = json.loads(path.read_text())
    data["python"]["version"] = "3.9.99"
    other = tmp_path / "old.json"
    manifest.save(data, other)
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")  # no GitHub here: do not spend 10 s failing to download
    venv = tmp_path / "never"
    assert main(["restore", str(other), "--venv", str(venv)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["envcapture: Python 3.9.99 is not available here: install it with `uv python install 3.9.99` "
                   "or `pyenv install 3.9.99`, or pass --python PATH to use another interpreter"]
    assert not venv.exists()


@pytest.mark.slow
def test_restore_unreachable_index_exits_3_with_one_line(source_env, tmp_path, monkeypatch, capsys):
    _, path = source_env
    data = json.loads(path.read_text())
    data["python"]["package_indexes"] = {"index_url": "http://127.0.0.1:9/simple", "extra_index_urls": [],
                                         "find_links": [], "sources": []}
    other = tmp_path / "private-index.json"
    manifest.save(data, other)
    monkeypatch.setenv("UV_NO_CONFIG", "1")  # the machine's uv.toml must not offer another index
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    venv = tmp_path / "unreachable"
    assert main(["restore", str(other), "--venv", str(venv)]) == 2  # a replaced primary index needs trust
    assert "--trust-sources" in capsys.readouterr().err
    assert main(["restore", str(other), "--venv", str(venv), "--trust-sources"]) == 3
    err = [l for l in capsys.readouterr().err.splitlines() if l.startswith("envcapture: ") and "(" not in l[:30]
           or "unreachable" in l]
    assert any("the package index is unreachable (http://127.0.0.1:9/simple" in l for l in err), err
    assert not venv.exists()


def test_restore_bad_manifest_exits_2(tmp_path, capsys):
    bad = tmp_path / "m.json"
    bad.write_text("\x00\x01 not json")
    assert main(["restore", str(bad), "--venv", str(tmp_path / "v")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_restore_with_a_python_that_does_not_run_exits_2(tmp_path, capsys):
    path = FIXTURES / "node-1.json"
    assert main(["restore", str(path), "--venv", str(tmp_path / "v"), "--python", "/nonexistent/python",
                 "--trust-sources"]) == 2  # node-1 names a git repository
    assert "not a working Python interpreter" in capsys.readouterr().err
