"""Which interpreter to inspect, and running the stdlib-only target probe with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping

from envcapture.errors import BadInput, ToolFailed

TARGET_SCRIPT = Path(__file__).with_name("target.py")


def _python_in(prefix: Path) -> Path:
    for candidate in (prefix / "bin" / "python", prefix / "bin" / "python3", prefix / "python.exe",
                      prefix / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    raise BadInput(f"{prefix}: no Python interpreter found in this environment")


def resolve_python(python: str | None, env: Mapping[str, str]) -> Path:
    """--python PATH (an interpreter or an environment folder), else VIRTUAL_ENV, else CONDA_PREFIX, else us."""
    if python:
        path = Path(python).expanduser()
        if path.is_dir():
            return _python_in(path)
        if not path.exists():
            import shutil

            found = shutil.which(python)
            if not found:
                raise BadInput(f"--python {python}: no such interpreter")
            path = Path(found)
        # Absolute, so that `--python mypython` runs ./mypython and not a `mypython` found on PATH; not
        # resolved, so that a venv's bin/python symlink keeps naming the venv.
        return Path(os.path.abspath(path))
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        if env.get(variable):
            return _python_in(Path(env[variable]))
    return Path(sys.executable)


def is_running_interpreter(python: Path) -> bool:
    """The target is the interpreter running envcapture (same bin folder): no need for a subprocess."""
    try:
        return Path(os.path.abspath(python)).parent == Path(os.path.abspath(sys.executable)).parent \
            and Path(sys.prefix).resolve() == Path(os.path.abspath(python)).parent.parent.resolve()
    except OSError:
        return False


def run_probe(python: Path, deep: bool = False, timeout: float | None = None) -> dict:
    """Facts about ``python`` from target.py, in-process when it is our own interpreter.

    The probe runs in its own process group, killed whole at the timeout: a hanging interpreter (or a wrapper
    script around one) must not leave children behind.
    """
    if is_running_interpreter(python) and not deep:
        from envcapture.probes import target

        return check_target_answer(target.collect(deep=False), str(python))
    from envcapture.probes import _kill_group

    timeout = timeout or (300.0 if deep else 60.0)
    argv = [str(python), str(TARGET_SCRIPT)] + (["--deep"] if deep else [])
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    except FileNotFoundError:
        raise BadInput(f"{python}: no such interpreter") from None
    except PermissionError:
        raise BadInput(f"{python}: not executable") from None
    except OSError as exc:
        raise BadInput(f"{python}: cannot run it ({exc.strerror})") from None
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ToolFailed(f"{python}: the inspection probe did not finish within {timeout:g} s") from None
    except BaseException:
        _kill_group(proc)
        raise
    return parse_probe_output(proc.returncode, stdout, stderr, str(python))


def parse_probe_output(returncode: int, stdout: bytes, stderr: bytes, where: str) -> dict:
    if returncode != 0:
        last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        if "SyntaxError" in last[0] or "invalid syntax" in last[0]:
            raise BadInput(f"{where}: this Python is too old for envcapture's probe (needs 3.8+)")
        raise ToolFailed(f"{where}: the inspection probe failed: {last[0][:300]}")
    try:
        data = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ToolFailed(f"{where}: the inspection probe printed something that is not JSON") from None
    if not isinstance(data, dict) or data.get("probe_version") != 1:
        raise ToolFailed(f"{where}: unexpected answer from the inspection probe")
    return check_target_answer(data, where)


# What python_env reads from the probe's answer, and the JSON type each must have.
ANSWER_SHAPE = {"implementation": str, "version": str, "executable": str, "prefix": str, "base_prefix": str,
                "markers": dict, "site_packages": list, "sys_path": list, "distributions": list}


def check_target_answer(data: dict, where: str) -> dict:
    """The answer has every key python_env reads, with the right type: a lying interpreter or a hostile image
    is one line (exit 3), not a KeyError."""
    for key, kind in ANSWER_SHAPE.items():
        if not isinstance(data.get(key), kind):
            raise ToolFailed(f"{where}: the inspection probe's answer has no valid {key!r}; "
                             "is this a real Python interpreter?")
    bad_lists = [key for key in ("site_packages", "sys_path") if not all(isinstance(p, str) for p in data[key])]
    if bad_lists or not all(isinstance(d, dict) for d in data["distributions"]) \
            or not isinstance(data.get("libc"), (dict, type(None))):
        raise ToolFailed(f"{where}: the inspection probe's answer is malformed "
                         f"({(bad_lists or ['distributions or libc'])[0]})")
    return data
