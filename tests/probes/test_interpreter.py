"""--python: a relative name of a file in the current folder, a hanging interpreter (its whole process group is
killed), and an interpreter whose answer lacks keys (one line, exit 3, no KeyError)."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from envcapture.errors import ToolFailed
from envcapture.probes.interpreter import run_probe

from clirun import freeze


def script(path, body: str):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("spelling", ["mypython", "./mypython"])
def test_a_relative_interpreter_in_the_current_folder(tmp_path, spelling):
    script(tmp_path / "mypython", f'exec {sys.executable} "$@"\n')
    out = tmp_path / "m.json"
    proc = freeze("--python", spelling, "-o", out, "--project", tmp_path, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["python"]["version"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is dead too
        return handle.read().split(")")[-1].split()[0] != "Z"


def test_a_hanging_interpreter_is_killed_with_its_children(tmp_path):
    pids = tmp_path / "pids"
    hang = script(tmp_path / "hang", f"sleep 300 & echo $! > {pids}\nsleep 300\n")
    start = time.monotonic()
    with pytest.raises(ToolFailed, match="did not finish within 2 s"):
        run_probe(hang, timeout=2)
    assert time.monotonic() - start < 30
    child = int(pids.read_text())
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child), "the hanging probe's child was left running"


ANSWER = {"probe_version": 1, "implementation": "cpython", "version": "3.11.7", "executable": "/usr/bin/python3",
          "prefix": "/usr", "base_prefix": "/usr", "markers": {}, "site_packages": [], "sys_path": [],
          "distributions": [], "libc": None, "deep": None}


@pytest.mark.parametrize("broken", [
    {"prefix": None}, {"markers": "x"}, {"distributions": [1]}, {"site_packages": [3]}, {"libc": 5},
    {"version": None, "implementation": None},
])
def test_a_lying_interpreter_is_one_line_and_exit_3(tmp_path, broken):
    answer = {key: value for key, value in {**ANSWER, **broken}.items() if value is not None}
    liar = script(tmp_path / "liar", f"cat <<'EOF'\n{json.dumps(answer)}\nEOF\n")
    proc = freeze("--python", liar, "-o", tmp_path / "m.json", "--project", tmp_path, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "inspection probe's answer" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_an_environment_folder_names_its_interpreter(tmp_path):
    """--python FOLDER and VIRTUAL_ENV: a real venv's bin/python (the link itself, so it keeps naming the venv);
    a folder with no interpreter is a one-line refusal."""
    import subprocess

    from envcapture.errors import BadInput
    from envcapture.probes.interpreter import resolve_python

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    assert resolve_python(str(venv), {}) == venv / "bin" / "python"
    assert resolve_python(None, {"VIRTUAL_ENV": str(venv)}) == venv / "bin" / "python"
    (venv / "bin" / "python").unlink()
    assert resolve_python(str(venv), {}) == venv / "bin" / "python3"
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="no Python interpreter found"):
        resolve_python(str(tmp_path / "empty"), {})
