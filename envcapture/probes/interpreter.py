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
        return path
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
    """Facts about ``python`` from target.py, in-process when it is our own interpreter."""
    if is_running_interpreter(python) and not deep:
        from envcapture.probes import target

        return target.collect(deep=False)
    timeout = timeout or (300.0 if deep else 60.0)
    argv = [str(python), str(TARGET_SCRIPT)] + (["--deep"] if deep else [])
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise BadInput(f"{python}: no such interpreter") from None
    except PermissionError:
        raise BadInput(f"{python}: not executable") from None
    except OSError as exc:
        raise BadInput(f"{python}: cannot run it ({exc.strerror})") from None
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{python}: the inspection probe did not finish within {timeout:g} s") from None
    return parse_probe_output(proc.returncode, proc.stdout, proc.stderr, str(python))


def parse_probe_output(returncode: int, stdout: bytes, stderr: bytes, where: str) -> dict:
    if returncode != 0:
        last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        if "SyntaxError" in last[0] or "invalid syntax" in last[0]:
            raise BadInput(f"{where}: this Python is too old for envcapture's probe (needs 3.8+)")
        raise ToolFailed(f"{where}: the inspection probe failed: {last[0][:300]}")
    try:
        data = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ToolFailed(f"{where}: the inspection probe printed something that is not JSON") from None
    if not isinstance(data, dict) or data.get("probe_version") != 1:
        raise ToolFailed(f"{where}: unexpected answer from the inspection probe")
    return data
