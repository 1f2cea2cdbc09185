"""restore's decisions, each on its own: which index options and pins the lock holds, which sources need
--trust-sources, which Python the venv is made with, how a failed command is told to the user.

Real interpreters, real uv and real small commands (true, false, echo, sh); no venv is installed into here
(tests/restore/test_restore_venv.py does that) and nothing reaches the network.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from offlinerestore import BASE_PYTHON, VERSION, uv

from envcapture import restore
from envcapture.errors import BadInput, ToolFailed

PYPI = "https://pypi.org/simple"
MIRROR = "https://mirror.example.org/simple"
EXTRA = "https://extra.example.org/simple"
CU126 = "https://download.pytorch.org/whl/cu126"


def package(name: str, version: str = "1.0", source=None, index_url=None, local_label=None) -> dict:
    return {"name": name, "version": version, "requested": True, "installer": "pip", "top_level": True,
            "requires": [], "source": source or {"kind": "index"}, "local_label": local_label,
            "index_url": index_url}


def manifest(packages=(), index_url=None, extra_index_urls=(), find_links=(), conda=None) -> dict:
    return {"python": {"implementation": "cpython", "version": VERSION,
                       "package_indexes": {"index_url": index_url, "extra_index_urls": list(extra_index_urls),
                                           "find_links": list(find_links), "sources": []}},
            "python_packages": list(packages), "conda": conda}


def lock_of(offline: Path, **fields) -> restore.Lock:
    return restore.build_lock(manifest(**fields), home=str(offline))


# ---------------------------------------------------------------------------------------------- the lock

def test_the_lock_file_holds_the_options_then_the_pins_after_a_comment():
    lock = restore.Lock(lines=["six==1.16.0", "idna==3.7"], options=[f"--index-url {MIRROR}"])
    text = lock.text()
    assert text.endswith("\n") and text.splitlines()[0].startswith("# ")
    assert text.splitlines()[1:] == [f"--index-url {MIRROR}", "six==1.16.0", "idna==3.7"]


def test_only_an_extra_index_asks_for_the_best_match_over_indexes():
    assert restore.Lock(options=[f"--extra-index-url {EXTRA}"]).extra_indexes
    assert not restore.Lock(options=[f"--index-url {MIRROR}", "--find-links file:///srv/wheels"]).extra_indexes


def test_each_package_gives_one_pin_and_the_count(offline):
    lock = lock_of(offline, packages=[package("six", "1.16.0"), package("idna", "3.7")])
    assert lock.lines == ["six==1.16.0", "idna==3.7"] and lock.count == 2
    assert lock.options == [] and lock.outside == [] and lock.skipped == [] and lock.notes == []


def test_what_cannot_be_had_is_skipped_with_its_reason_and_not_counted(offline, tmp_path):
    gone = (tmp_path / "gone-2.0-py3-none-any.whl").as_uri()
    lock = lock_of(offline, packages=[package("gone", "2.0", {"kind": "archive", "url": gone}),
                                      package("six", "1.16.0")])
    assert lock.lines == ["six==1.16.0"] and lock.count == 1
    assert lock.skipped == [f"gone 2.0: the archive {gone} does not exist here"]
    assert lock.outside == []  # nothing is installed from it


def test_a_repository_without_a_commit_is_installed_with_a_note_and_needs_trust(offline):
    url = "git+https://github.com/example/mylib.git"
    lock = lock_of(offline, packages=[package("mylib", "0.2.0", {"kind": "vcs", "vcs": "git", "url": url,
                                                                 "requested_revision": "v0.2.0"})])
    assert lock.lines == [f"mylib @ {url}@v0.2.0"]
    assert len(lock.notes) == 1 and "no commit recorded" in lock.notes[0] and "v0.2.0" in lock.notes[0]
    assert len(lock.outside) == 1 and url in lock.outside[0]


def test_a_local_label_adds_the_pytorch_index_it_implies_without_asking_for_trust(offline):
    lock = lock_of(offline, packages=[package("torch", "2.9.0+cu126", local_label="cu126")])
    assert lock.lines == ["torch==2.9.0+cu126"]
    assert lock.options == [f"--extra-index-url {CU126}"] and lock.outside == [] and lock.extra_indexes


def test_the_users_home_stands_for_tilde_by_default(offline, monkeypatch):
    wheel = offline / "wheels" / "present-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    monkeypatch.setenv("HOME", str(offline))
    data = manifest(packages=[package("present", source={"kind": "archive",
                                                         "url": "file://~/wheels/present-1.0-py3-none-any.whl"})])
    lock = restore.build_lock(data)
    assert lock.lines == [f"present @ {wheel.as_uri()}"] and lock.skipped == []


def test_conda_packages_are_named_as_not_restored_into_a_venv(offline):
    assert lock_of(offline).notes == []
    notes = lock_of(offline, conda={"packages": [{"name": "numpy"}]}).notes
    assert len(notes) == 1 and notes[0].startswith("conda packages are not restored")


# ------------------------------------------------------------------------------------------ trust

@pytest.mark.parametrize("url", [PYPI, PYPI + "/", "https://pypi.python.org/simple"])
def test_pypi_as_the_index_or_an_extra_index_needs_no_trust(offline, url):
    lock = lock_of(offline, index_url=url, extra_index_urls=[url])
    assert lock.options == [f"--index-url {url}", f"--extra-index-url {url}"]
    assert lock.outside == []


def test_a_replaced_primary_index_needs_trust(offline):
    lock = lock_of(offline, index_url=MIRROR, packages=[package("six", "1.16.0")])
    assert lock.options == [f"--index-url {MIRROR}"]
    assert len(lock.outside) == 1 and MIRROR in lock.outside[0] and "primary" in lock.outside[0]


def test_extra_indexes_come_from_the_manifest_then_the_packages_then_local_labels(offline):
    other = "https://other.example.org/simple"
    lock = lock_of(offline, extra_index_urls=[EXTRA], packages=[
        package("b", index_url=other), package("a", index_url=MIRROR), package("c", index_url=other),
        package("torch", "2.9.0+cu126", local_label="cu126", index_url=CU126)])
    # the packages' indexes sorted and each once; the index torch's label implies is the one it recorded
    assert lock.options == [f"--extra-index-url {u}" for u in (EXTRA, CU126, MIRROR, other)]
    assert [u for u in (EXTRA, CU126, MIRROR, other) if any(u in line for line in lock.outside)] == \
        [EXTRA, MIRROR, other]
    assert len(lock.outside) == 3


def test_find_links_need_trust(offline, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    lock = lock_of(offline, find_links=[wheels.as_uri(), "https://wheels.example.org/"])
    assert lock.options == [f"--find-links {wheels.as_uri()}", "--find-links https://wheels.example.org/"]
    assert len(lock.outside) == 2 and wheels.as_uri() in lock.outside[0]
    assert "https://wheels.example.org/" in lock.outside[1]


def test_indexes_this_users_own_pip_configuration_names_are_trusted(offline, monkeypatch, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    config = offline / ".config" / "pip" / "pip.conf"
    config.parent.mkdir(parents=True)
    config.write_text(f"[global]\nfind-links = {wheels.as_uri()}\n")
    monkeypatch.delenv("PIP_CONFIG_FILE")  # pip reads the user's files unless this names one (or /dev/null)
    monkeypatch.setenv("PIP_INDEX_URL", MIRROR)
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", EXTRA)
    lock = lock_of(offline, index_url=MIRROR, extra_index_urls=[EXTRA], find_links=[wheels.as_uri()])
    assert lock.options == [f"--index-url {MIRROR}", f"--extra-index-url {EXTRA}", f"--find-links {wheels.as_uri()}"]
    assert lock.outside == []
    assert restore.configured_here(str(offline)) == {MIRROR, EXTRA, wheels.as_uri()}


def test_a_local_index_that_is_not_here_is_left_out_with_a_note(offline, tmp_path):
    gone = (tmp_path / "gone").as_uri()
    lock = lock_of(offline, index_url=gone + "/simple", extra_index_urls=[gone + "/extra"],
                   find_links=[gone + "/wheels"])
    assert lock.options == [] and lock.outside == []
    assert len(lock.notes) == 3
    assert all(f"{gone}/{part}" in note and "does not exist here" in note
               for part, note in zip(("simple", "extra", "wheels"), lock.notes))


def test_a_local_index_that_is_here_is_used_and_needs_trust(offline, tmp_path):
    (tmp_path / "simple").mkdir()
    here = (tmp_path / "simple").as_uri()
    lock = lock_of(offline, index_url=here, extra_index_urls=[here], find_links=[here])
    assert lock.options == [f"--index-url {here}", f"--extra-index-url {here}", f"--find-links {here}"]
    assert len(lock.outside) == 3 and lock.notes == []


@pytest.mark.parametrize("field, value", [("index_url", "https://evil.example/simple --trusted-host x"),
                                          ("extra_index_urls", ["https://ok.example/simple", "ftp://x y"]),
                                          ("find_links", [PYPI, "https://a.example/\n--index-url x"])])
def test_an_index_that_is_not_a_plain_url_is_refused_naming_its_field(offline, field, value):
    data = manifest()
    data["python"]["package_indexes"][field] = value
    expected = {"index_url": r"\.index_url", "extra_index_urls": r"\.extra_index_urls",
                "find_links": r"\.find_links\[1\]"}[field]
    with pytest.raises(BadInput, match=r"python\.package_indexes" + expected):
        restore.build_lock(data, home=str(offline))


def test_the_refusal_counts_and_lists_every_source():
    restore.refuse_untrusted_sources(restore.Lock(lines=["six==1.16.0"]))  # nothing beyond the index: no refusal
    lock = restore.Lock(outside=["a: the local folder /src/a, built here", f"the extra package index {EXTRA}"])
    with pytest.raises(BadInput, match=r"from 2 source\(s\) beyond the package index.*--trust-sources") as refused:
        restore.refuse_untrusted_sources(lock)
    assert refused.value.problems == lock.outside


# ------------------------------------------------------------------------------------------------ Python

def _link(path: Path, target: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def test_the_interpreter_version_of_a_real_python():
    assert restore.interpreter_version(BASE_PYTHON) == f"cpython {VERSION}"


@pytest.mark.parametrize("program", ["true", "false", "echo", "/nonexistent/python"])
def test_a_program_that_is_not_python_has_no_version(program):
    """true: no output; false: fails; echo: prints its arguments (many words); the last one is not there."""
    assert restore.interpreter_version(shutil.which(program) or program) is None


def test_an_interpreter_that_fails_after_answering_is_not_working(tmp_path):
    """A wrapper (a shim, a module-loading script) that runs the real Python, then fails."""
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\n"{BASE_PYTHON}" "$@"\nexit 1\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    assert restore.interpreter_version(str(wrapper)) is None
    with pytest.raises(BadInput, match="not a working Python interpreter"):
        restore.find_python({"implementation": "cpython", "version": VERSION}, str(wrapper))


@pytest.fixture
def pythons(offline, tmp_path, monkeypatch):
    """A pyenv root with one real interpreter, labelled 3.99.1, and a PATH of a bin and a shims folder."""
    root = tmp_path / "pyenv"
    pyenv_python = _link(root / "versions" / "3.99.1" / "bin" / "python", BASE_PYTHON)
    path_python = _link(tmp_path / "bin" / "python3", BASE_PYTHON)
    _link(tmp_path / "shims" / "python3.99", BASE_PYTHON)  # pyenv's shims fail for unselected versions
    monkeypatch.setenv("PATH", f"{tmp_path / 'shims'}{os.pathsep}{tmp_path / 'bin'}")
    monkeypatch.setenv("PYENV_ROOT", str(root))
    return {"root": root, "pyenv": str(pyenv_python), "path": str(path_python)}


def test_pyenv_versions_come_first_then_path_without_shims(pythons):
    assert restore.candidate_pythons("3.99.1") == [pythons["pyenv"], pythons["path"]]
    assert restore.candidate_pythons("3.98.0") == [pythons["path"]]


def test_pyenv_in_home_is_looked_at_and_each_interpreter_named_once(pythons, monkeypatch):
    monkeypatch.setenv("HOME", str(pythons["root"].parent))
    (pythons["root"].parent / ".pyenv").symlink_to(pythons["root"])
    found = restore.candidate_pythons("3.99.1")
    assert found[0] == pythons["pyenv"] and found[-1] == pythons["path"]
    monkeypatch.setenv("PYENV_ROOT", str(pythons["root"].parent / ".pyenv"))
    assert restore.candidate_pythons("3.99.1") == [str(pythons["root"].parent / ".pyenv" / "versions" / "3.99.1"
                                                       / "bin" / "python"), pythons["path"]]


def test_python_on_path_is_looked_for_by_its_minor_version(pythons, tmp_path):
    minor = _link(tmp_path / "bin" / "python3.98", BASE_PYTHON)
    assert restore.candidate_pythons("3.98.0") == [str(minor), pythons["path"]]


def test_the_recorded_version_is_found_where_it_is_installed(pythons, tmp_path):
    _link(pythons["root"] / "versions" / VERSION / "bin" / "python", BASE_PYTHON)
    path = str(pythons["root"] / "versions" / VERSION / "bin" / "python")
    assert restore.find_python({"implementation": "cpython", "version": VERSION}, None) == (path, [])
    assert restore.find_python({"version": VERSION}, None) == (path, [])  # CPython unless recorded otherwise


def recorded(implementation: str, version: str) -> dict:
    """The manifest's python section as read from its file (strings made by the parser, not literals)."""
    return json.loads(json.dumps({"implementation": implementation, "version": version}))


@pytest.mark.parametrize("version", ["3.99.1", "3.0.1"])
def test_an_interpreter_of_another_version_is_not_taken(pythons, version):
    """The folder says VERSION but the interpreter in it is not: uv is asked for that version instead."""
    if version != "3.99.1":
        _link(pythons["root"] / "versions" / version / "bin" / "python", BASE_PYTHON)
    assert restore.find_python(recorded("cpython", version), None) == (version, [])
    assert restore.find_python(recorded("pypy", VERSION), None) == (f"pypy@{VERSION}", [])


def test_a_requested_python_is_found_on_path_and_its_version_compared(pythons):
    assert restore.find_python({"implementation": "cpython", "version": VERSION}, "python3") == (pythons["path"], [])
    for version in ("3.99.1", "3.0.1"):  # newer and older than this one
        path, notes = restore.find_python(recorded("cpython", version), BASE_PYTHON)
        assert path == BASE_PYTHON
        assert notes == [f"--python {BASE_PYTHON} is cpython {VERSION}; the manifest recorded cpython {version}"]


@pytest.mark.parametrize("requested", ["/nonexistent/python", "false"])
def test_a_requested_python_that_does_not_run_is_refused(pythons, requested):
    with pytest.raises(BadInput, match=f"--python {requested}: not a working Python interpreter"):
        restore.find_python({"implementation": "cpython", "version": VERSION}, requested)


# ------------------------------------------------------------------------------------------- commands

def test_a_command_streams_its_merged_output_and_returns_its_status():
    seen = []
    code, lines = restore.run_streaming(["sh", "-c", "echo one; echo two >&2; exit 3"], 60, on_line=seen.append)
    assert (code, lines) == (3, ["one", "two"]) and seen == ["one", "two"]
    assert restore.run_streaming(["sh", "-c", "echo ok"], 60) == (0, ["ok"])


def test_a_missing_command_is_a_tool_failure():
    with pytest.raises(ToolFailed, match="^/nonexistent/uv: not found$"):
        restore.run_streaming(["/nonexistent/uv", "venv"], 60)


def test_a_command_past_its_time_is_killed_and_reported_with_its_output():
    with pytest.raises(ToolFailed, match=r"^sleep did not finish within 0\.5 s$"):
        restore.run_streaming(["sleep", "30"], 0.5)
    with pytest.raises(ToolFailed) as slow:
        restore.run_streaming(["sh", "-c", "echo started; exec sleep 30"], 0.5)
    assert slow.value.tail == "started"


def test_a_command_past_its_time_shows_its_last_ten_lines():
    with pytest.raises(ToolFailed) as slow:
        restore.run_streaming(["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line $i; done; exec sleep 30"],
                              0.5)
    assert slow.value.tail.splitlines() == [f"line {i}" for i in range(3, 13)]


def test_a_command_killed_by_another_signal_reports_its_own_status():
    assert restore.run_streaming(["sh", "-c", "echo bye; kill -9 $$"], 60) == (-9, ["bye"])


def test_each_step_line_gives_the_time_it_took(monkeypatch, capsys):
    clock = iter([100.0, 102.5])
    monkeypatch.setattr(restore, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    with restore.Steps() as steps:
        task = steps.start("creating a virtualenv")
        assert not steps.progress.tasks[0].finished
        steps.done(task, "created the virtualenv")
    assert capsys.readouterr().err == "envcapture: created the virtualenv (2.5 s)\n"  # stderr is not a terminal
    assert steps.progress.tasks[0].finished and steps.progress.tasks[0].description == "created the virtualenv"


def test_a_step_runs_on_through_the_installers_lines_until_it_is_done(capsys):
    """Each line the installer prints updates the step's description; the step stays running (on a terminal: the
    spinner turns and the clock counts) until done, not finished at the first line."""
    with restore.Steps() as steps:
        task = steps.start("installing 3 packages")
        for line in ("Resolved 3 packages in 5ms", "Prepared 3 packages in 1ms", "Installed 3 packages in 2ms"):
            steps.update(task, f"installing 3 packages: {line}")
            assert not steps.progress.tasks[0].finished, line
        steps.done(task, "installed 3 packages with uv")
    assert steps.progress.tasks[0].finished
    assert capsys.readouterr().err.startswith("envcapture: installed 3 packages with uv (")


# What uv 0.13.9 and pip 23.2.1 printed here for each failure (tinypkg from a local index; port 9 closed).
UV_UNREACHABLE = """Using Python 3.11.7 environment at: v6
error: Failed to fetch: http://127.0.0.1:9/simple/tinypkg/
  cause: error sending request for url (http://127.0.0.1:9/simple/tinypkg/)
  cause: client error (Connect)
  cause: tcp connect error
  cause: Connection refused (os error 111)""".splitlines()
UV_NOT_FOUND = """Using Python 3.11.7 environment at: v
error: No solution found when resolving dependencies
  cause: Because there is no version of tinypkg==2.0 and you require tinypkg==2.0, we can conclude that your \
requirements are unsatisfiable.""".splitlines()
UV_04_NOT_FOUND = """  × No solution found when resolving dependencies:
  ╰─▶ Because there is no version of tinypkg==2.0 and you require tinypkg==2.0, we can conclude that your \
requirements are unsatisfiable.""".splitlines()
PIP_NOT_FOUND = """Looking in indexes: file:///tmp/uvproto/simple
ERROR: Could not find a version that satisfies the requirement tinypkg==2.0 (from versions: 1.0)
ERROR: No matching distribution found for tinypkg==2.0""".splitlines()
UV_NOT_A_PROJECT = """Using Python 3.11.7 environment at: v6
error: `/tmp/uvproto/emptydir` does not appear to be a Python project, as neither `pyproject.toml` nor \
`setup.py` are present in the directory""".splitlines()


def test_an_unreachable_index_is_named():
    failure = restore.install_failure(UV_UNREACHABLE, "uv", restore.Lock())
    assert str(failure).startswith("the package index is unreachable (http://127.0.0.1:9/simple/tinypkg/): check "
                                   "the network")
    assert str(failure).endswith("(uv could not download the packages)")
    quiet = restore.install_failure(["ERROR: Network is unreachable"], "pip", restore.Lock())
    assert str(quiet).startswith("the package index is unreachable: check")


@pytest.mark.parametrize("lines, because", [
    (UV_NOT_FOUND, "Because there is no version of tinypkg==2.0 and you require tinypkg==2.0"),
    (UV_04_NOT_FOUND, "Because there is no version of tinypkg==2.0 and you require tinypkg==2.0"),
    (PIP_NOT_FOUND, "ERROR: Could not find a version that satisfies the requirement tinypkg==2.0 (from versions: 1.0)"),
])
def test_a_pin_the_indexes_do_not_have_is_named_with_the_reason(lines, because):
    message = str(restore.install_failure(lines, "uv", restore.Lock()))
    assert message.startswith(f"a recorded package version is not on the package indexes: {because}")


def test_any_other_failure_gives_the_first_error_line_and_the_last_lines_of_output():
    failure = restore.install_failure(UV_NOT_A_PROJECT, "uv", restore.Lock())
    assert str(failure) == f"uv could not install the packages: {UV_NOT_A_PROJECT[1]}"
    many = [f"line {i}" for i in range(20)]
    failure = restore.install_failure(many + ["error: the last straw"], "pip", restore.Lock())
    assert str(failure) == "pip could not install the packages: error: the last straw"
    assert failure.tail.splitlines() == many[6:] + ["error: the last straw"]


def test_without_an_error_line_the_last_line_says_why():
    lines = ["Collecting tinypkg==1.0", "  Downloading tinypkg-1.0-py3-none-any.whl", "Killed"]
    assert str(restore.install_failure(lines, "pip", restore.Lock())) == "pip could not install the packages: Killed"
    assert str(restore.install_failure([], "pip", restore.Lock())) == "pip could not install the packages: no output"


def test_a_long_reason_is_cut_to_one_readable_line():
    long = "error: " + "x" * 500
    assert len(str(restore.install_failure([long], "uv", restore.Lock()))) == \
        len("uv could not install the packages: ") + 300
    because = "Because " + "y" * 500 + " is not on any index"
    message = str(restore.install_failure(["No solution found", because], "uv", restore.Lock()))
    assert message == "a recorded package version is not on the package indexes: " + because[:300]


# ---------------------------------------------------------------------------------------------- venvs

@pytest.mark.parametrize("python", ["3.99.1", "/nonexistent/python3.99"])
def test_uv_without_the_recorded_python_says_how_to_get_it(offline, tmp_path, python):
    with pytest.raises(ToolFailed) as missing:
        restore.create_venv(python, tmp_path / "venv", uv(), "3.99.1")
    assert str(missing.value) == restore.python_missing_message(python, "3.99.1")
    assert "uv python install 3.99.1" in str(missing.value) and "--python PATH" in str(missing.value)
    assert not (tmp_path / "venv").exists()


def test_a_python_version_uv_cannot_use_is_missing_whatever_uv_says(offline, tmp_path, monkeypatch):
    """A pyenv shim of an unselected version fails when uv asks it; uv's message is then its own, not one of
    'not found', but a bare version that did not give a venv is still a Python that is not here."""
    shims = tmp_path / "shims"
    _link(shims / "python3.99", shutil.which("false"))
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ToolFailed) as missing:
        restore.create_venv("3.99.1", tmp_path / "venv", uv(), "3.99.1")
    assert str(missing.value) == restore.python_missing_message("3.99.1", "3.99.1")


def test_uv_failing_on_an_interpreter_that_is_not_python_names_uvs_error(offline, tmp_path):
    false = shutil.which("false")
    with pytest.raises(ToolFailed, match=f"^uv venv failed: error: .*`{false}`") as failed:
        restore.create_venv(false, tmp_path / "venv", uv(), VERSION)
    assert false in failed.value.tail


@pytest.mark.parametrize("output, reason", [("", "no output"), ("echo one; echo two; echo three; ", "three")])
def test_uv_killed_by_a_signal_is_a_failure_not_a_venv(offline, tmp_path, output, reason):
    """The last line it printed says how far it got (or that it printed nothing)."""
    crashing = tmp_path / "uv"
    crashing.write_text(f"#!/bin/sh\n{output}kill -9 $$\n")
    crashing.chmod(crashing.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(ToolFailed) as failed:
        restore.create_venv(BASE_PYTHON, tmp_path / "venv", str(crashing), VERSION)
    assert str(failed.value) == f"uv venv failed: {reason}"


def test_without_uv_a_python_killed_by_a_signal_is_a_failure_not_a_venv(tmp_path):
    crashing = tmp_path / "python"
    crashing.write_text("#!/bin/sh\nkill -9 $$\n")
    crashing.chmod(crashing.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(ToolFailed, match="^python -m venv failed: no output$"):
        restore.create_venv(str(crashing), tmp_path / "venv", None, VERSION)


def test_without_uv_a_python_that_is_not_here_cannot_be_downloaded(tmp_path):
    with pytest.raises(ToolFailed) as missing:
        restore.create_venv("3.99.1", tmp_path / "venv", None, "3.99.1")
    assert str(missing.value) == (restore.python_missing_message("3.99.1", "3.99.1")
                                  + " (uv, which could download it, is not installed)")


def test_without_uv_a_failing_venv_module_gives_its_last_line(tmp_path):
    with pytest.raises(ToolFailed, match="^python -m venv failed: no output$"):
        restore.create_venv(shutil.which("false"), tmp_path / "venv", None, VERSION)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ToolFailed, match=r"^python -m venv failed: Error: \[Errno 20\] Not a directory") as failed:
        restore.create_venv(BASE_PYTHON, tmp_path / "a-file" / "venv", None, VERSION)
    assert "Not a directory" in failed.value.tail


def test_without_uv_the_venv_modules_last_line_is_the_reason(tmp_path, monkeypatch):
    """Python warns about a bad PYTHONWARNINGS first, then venv fails: the reason is the last line."""
    monkeypatch.setenv("PYTHONWARNINGS", "ignore::NoSuchWarning")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ToolFailed, match=r"^python -m venv failed: Error: \[Errno 20\] Not a directory") as failed:
        restore.create_venv(BASE_PYTHON, tmp_path / "a-file" / "venv", None, VERSION)
    assert "NoSuchWarning" in failed.value.tail


def test_an_installer_killed_by_a_signal_is_a_failure(tmp_path):
    crashing = tmp_path / "uv"
    crashing.write_text("#!/bin/sh\necho Resolved 1 package\nkill -9 $$\n")
    crashing.chmod(crashing.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(ToolFailed, match="^uv could not install the packages: Resolved 1 package$"):
        restore.install(Path(BASE_PYTHON), tmp_path / "lock.txt", restore.Lock(), str(crashing), None)


def test_uv_on_path_serves_when_the_uv_package_is_not_installed(tmp_path, monkeypatch):
    real = uv()
    monkeypatch.setitem(sys.modules, "uv", None)  # `import uv` fails
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert restore.uv_binary() is None
    on_path = _link(tmp_path / "bin" / "uv", real)
    assert restore.uv_binary() == str(on_path)


def test_the_new_venvs_interpreter(tmp_path):
    with pytest.raises(ToolFailed, match="the new virtualenv has no Python interpreter"):
        restore.venv_python(tmp_path)
    windows = tmp_path / "Scripts" / "python.exe"
    windows.parent.mkdir()
    windows.write_text("")
    assert restore.venv_python(tmp_path) == windows
    posix = _link(tmp_path / "bin" / "python", sys.executable)
    assert restore.venv_python(tmp_path) == posix
