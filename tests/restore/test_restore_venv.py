"""`envcapture restore` end to end, offline: the real uv (and pip) install from package indexes made of local
wheels into venvs made here, then restore's check runs on the new venv. Each restore takes about a second.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from offlinerestore import BASE_PYTHON, VERSION, local_index, manifest_with

from envcapture import restore
from envcapture.manifest import file as manifest
from envcapture.cli import main
from envcapture.errors import BadInput


def installed(venv: Path) -> dict:
    out = subprocess.run([str(venv / "bin" / "python"), "-I", "-c",
                          "import json, importlib.metadata as m; "
                          "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return json.loads(out)


@pytest.fixture
def trusted(offline, frozen, monkeypatch) -> str:
    """The local index is this user's own (PIP_INDEX_URL): restoring from it needs no --trust-sources."""
    monkeypatch.setenv("PIP_INDEX_URL", frozen["index"])
    return frozen["index"]


def test_restore_installs_the_recorded_pins_and_checks_them(trusted, frozen, tmp_path, capsys):
    path = manifest_with(frozen, tmp_path)
    venv = tmp_path / "restored"
    assert main(["restore", str(path), "--venv", str(venv), "--python", BASE_PYTHON]) == 0
    out, err = capsys.readouterr()
    assert "OK" in out
    assert installed(venv) == {"tinypkg": "1.0"}
    assert (venv / "envcapture-lock.txt").read_text().splitlines()[1:] == [f"--index-url {trusted}", "tinypkg==1.0"]
    # stderr is not a terminal: no progress display, one line per step with its time, then the summary
    steps, summary = err.splitlines()[:-1], err.splitlines()[-1]
    assert [re.sub(r" \(\d+\.\d s\)$", "", line) for line in steps] == [
        f"envcapture: created {venv} (cpython {VERSION})", "envcapture: installed 1 packages with uv",
        "envcapture: checked the new virtualenv against the manifest"]
    assert summary == f"envcapture: restored 1 of 1 packages into {venv} (activate with `. {venv}/bin/activate`)"


def test_restore_returns_the_check_and_the_lock(trusted, frozen, tmp_path):
    data = manifest.load(manifest_with(frozen, tmp_path))
    venv = tmp_path / "restored"
    venv.mkdir()  # an empty folder is taken
    result, lock = restore.restore(data, venv, BASE_PYTHON)
    assert result.ok
    assert lock.lines == ["tinypkg==1.0"] and lock.count == 1 and lock.skipped == []
    assert (venv / "envcapture-lock.txt").read_text() == lock.text()
    assert installed(venv) == {"tinypkg": "1.0"}


class Recorded(restore.Steps):
    """The progress display, with what it was told to show written down."""

    def __init__(self):
        super().__init__()
        self.shown = []

    def start(self, description):
        self.shown.append(("start", description))
        return super().start(description)

    def update(self, task, description):
        self.shown.append(("update", description))
        super().update(task, description)

    def done(self, task, description):
        self.shown.append(("done", description))
        super().done(task, description)


def test_the_progress_display_follows_the_steps_and_the_installers_lines(trusted, frozen, tmp_path, capsys):
    data = manifest.load(manifest_with(frozen, tmp_path))
    venv = tmp_path / "restored"
    started = time.monotonic()
    with Recorded() as steps:
        restore.restore(data, venv, BASE_PYTHON, steps)
    took = time.monotonic() - started
    shown = [(what, text) for what, text in steps.shown if what != "update"]
    assert shown == [("start", f"creating a virtualenv with Python {VERSION}"),
                     ("done", f"created {venv} (cpython {VERSION})"), ("start", "installing 1 packages"),
                     ("done", "installed 1 packages with uv"),
                     ("start", "checking the new virtualenv against the manifest"),
                     ("done", "checked the new virtualenv against the manifest")]
    # while installing: uv's latest line, cut to fit one row; not its indented detail (" + tinypkg==1.0")
    updates = [text.removeprefix("installing 1 packages: ") for what, text in steps.shown if what == "update"]
    assert updates and all(0 < len(u) <= 80 and not u.startswith(("+", "warning")) for u in updates)
    assert any(len(u) == 80 for u in updates)  # "Using Python ... environment at: <the long venv path>", cut
    assert all(task.finished for task in steps.progress.tasks) and len(steps.progress.tasks) == 3
    # each step's line gives its own time, within the whole run's
    seconds = [float(s) for s in re.findall(r"\((\d+\.\d) s\)$", capsys.readouterr().err, re.M)]
    assert len(seconds) == 3 and all(0 <= s <= took + 0.05 for s in seconds)


def test_restore_refuses_sources_beyond_the_index_unless_told(offline, frozen, tmp_path):
    data = manifest.load(manifest_with(frozen, tmp_path))  # the local index, which this user did not configure
    with pytest.raises(BadInput, match="--trust-sources"):
        restore.restore(data, tmp_path / "restored", BASE_PYTHON)
    assert not (tmp_path / "restored").exists()


def test_a_python_that_is_not_here_exits_3_saying_how_to_get_it(trusted, frozen, tmp_path, capsys):
    path = manifest_with(frozen, tmp_path, version="3.99.1")
    venv = tmp_path / "restored"
    assert main(["restore", str(path), "--venv", str(venv)]) == 3
    assert capsys.readouterr().err.splitlines() == ["envcapture: " + restore.python_missing_message("3.99.1", "3.99.1")]
    assert not venv.exists()


def test_an_index_the_user_did_not_configure_needs_trust(offline, frozen, tmp_path, capsys):
    path = manifest_with(frozen, tmp_path)
    venv = tmp_path / "restored"
    assert main(["restore", str(path), "--venv", str(venv), "--python", BASE_PYTHON]) == 2
    err = capsys.readouterr().err
    assert frozen["index"] in err and "--trust-sources" in err and "Traceback" not in err
    assert not venv.exists()
    assert main(["restore", str(path), "--venv", str(venv), "--python", BASE_PYTHON, "--trust-sources"]) == 0
    assert installed(venv) == {"tinypkg": "1.0"}


def test_the_recorded_python_is_found_without_being_named(trusted, frozen, tmp_path, monkeypatch, capsys):
    """pyenv's folder for the recorded version: the venv is made with that interpreter."""
    pyenv = tmp_path / "pyenv" / "versions" / VERSION / "bin" / "python"
    pyenv.parent.mkdir(parents=True)
    pyenv.symlink_to(BASE_PYTHON)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    venv = tmp_path / "restored"
    assert main(["restore", str(manifest_with(frozen, tmp_path)), "--venv", str(venv)]) == 0
    assert f"created {venv} (cpython {VERSION})" in capsys.readouterr().err
    assert (venv / "pyvenv.cfg").exists() and installed(venv) == {"tinypkg": "1.0"}


def test_what_cannot_be_restored_is_named_and_the_check_fails(trusted, frozen, tmp_path, capsys):
    gone = (tmp_path / "gone-2.0-py3-none-any.whl").as_uri()
    packages = frozen["data"]["python_packages"] + [
        dict(frozen["data"]["python_packages"][0], name="gone", version="2.0",
             source={"kind": "archive", "url": gone}, purl="pkg:pypi/gone@2.0")]
    path = manifest_with(frozen, tmp_path, packages=packages)
    venv = tmp_path / "restored"
    assert main(["restore", str(path), "--venv", str(venv), "--python", BASE_PYTHON]) == 1
    out, err = capsys.readouterr()
    assert f"envcapture: not restored: gone 2.0: the archive {gone} does not exist here" in err.splitlines()
    assert f"envcapture: restored 1 of 2 packages into {venv}" in err
    assert any(" gone " in row and "2.0" in row for row in out.splitlines())
    assert installed(venv) == {"tinypkg": "1.0"}  # the rest is restored, the venv kept


def test_notes_say_what_differs_from_the_record_python_first(trusted, frozen, tmp_path, capsys):
    gone = [(tmp_path / name).as_uri() for name in ("gone-index", "gone-too")]
    path = manifest_with(frozen, tmp_path, extra_index_urls=gone, version="3.99.1")
    venv = tmp_path / "restored"
    assert main(["restore", str(path), "--venv", str(venv), "--python", BASE_PYTHON]) == 1  # another Python
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("envcapture: note: ")]
    assert notes == [f"envcapture: note: --python {BASE_PYTHON} is cpython {VERSION}; the manifest recorded "
                     "cpython 3.99.1",
                     *[f"envcapture: note: recorded package index {url} does not exist here; not used" for url in gone]]
    assert installed(venv) == {"tinypkg": "1.0"}


def test_an_extra_index_does_not_hide_the_recorded_version_on_another(offline, frozen, tmp_path, capsys):
    """uv by default takes a name from the first index that has it; restore asks for pip's best match, so
    tinypkg 1.0 comes from the primary index although the extra one (searched first) has only 2.0."""
    extra = local_index(tmp_path / "extra", {"tinypkg": ["2.0"]})
    path = manifest_with(frozen, tmp_path, extra_index_urls=[extra])
    venv = tmp_path / "restored"
    assert main(["restore", str(path), "--venv", str(venv), "--python", BASE_PYTHON, "--trust-sources"]) == 0
    assert installed(venv) == {"tinypkg": "1.0"}


@pytest.mark.parametrize("existing", [False, True])
def test_a_failed_install_exits_3_saying_why_and_removes_only_the_venv_it_made(trusted, frozen, tmp_path, capsys,
                                                                               existing):
    packages = [dict(frozen["data"]["python_packages"][0], version="3.0", purl="pkg:pypi/tinypkg@3.0")]
    path = manifest_with(frozen, tmp_path, packages=packages)
    venv = tmp_path / "restored"
    if existing:
        venv.mkdir()
    assert main(["restore", str(path), "--venv", str(venv), "--python", BASE_PYTHON]) == 3
    err = capsys.readouterr().err
    assert "envcapture: a recorded package version is not on the package indexes: Because there is no version of " \
           "tinypkg==3.0" in err
    assert venv.exists() == existing  # a folder the user made is left to the user


def test_an_unreachable_index_exits_3_naming_it(offline, frozen, tmp_path, capsys):
    path = manifest_with(frozen, tmp_path, index_url="http://127.0.0.1:9/simple")  # nothing listens on port 9
    venv = tmp_path / "restored"
    assert main(["restore", str(path), "--venv", str(venv), "--python", BASE_PYTHON, "--trust-sources"]) == 3
    err = capsys.readouterr().err
    assert "envcapture: the package index is unreachable (http://127.0.0.1:9/simple" in err
    assert not venv.exists()


def test_a_local_folder_that_is_not_a_project_exits_3_with_uvs_error(trusted, frozen, tmp_path, capsys):
    folder = tmp_path / "not-a-project"
    folder.mkdir()
    packages = [dict(frozen["data"]["python_packages"][0], name="localpkg",
                     source={"kind": "directory", "url": folder.as_uri()}, purl="pkg:pypi/localpkg@1.0")]
    path = manifest_with(frozen, tmp_path, packages=packages)
    venv = tmp_path / "restored"
    assert main(["restore", str(path), "--venv", str(venv), "--python", BASE_PYTHON, "--trust-sources"]) == 3
    err = capsys.readouterr().err
    assert "envcapture: uv could not install the packages: error: Failed to build `localpkg" in err
    assert "does not appear to be a Python project" in err  # in uv's output, after the message


def test_a_path_that_is_a_file_is_refused(frozen, tmp_path, capsys):
    target = tmp_path / "venv"
    target.write_text("mine")
    assert main(["restore", str(manifest_with(frozen, tmp_path)), "--venv", str(target)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert target.read_text() == "mine"
