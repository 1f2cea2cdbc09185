"""Probes: one module per source of facts (python, conda, dpkg, rpm, apk, os, hardware, filesystem, git,
determinism, gpu).

Contract, the same for every probe:
- ``collect(ctx: ProbeContext) -> ProbeResult``; ``result.data`` is the probe's manifest section (typed
  records from ``dataclasses`` turned into JSON data with ``to_data``, or already plain JSON data).
- A probe never raises into freeze: what it cannot read becomes a ``ProbeWarning`` saying what and why.
- A probe knows nothing about other probes or about output formats. Paths it reads are under ``ctx.root``
  so tests can point it at a recorded root filesystem; commands run through ``run_tool`` (always a timeout).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


@dataclass
class ProbeWarning:
    source: str
    message: str


@dataclass
class ProbeResult:
    data: Any
    warnings: list[ProbeWarning] = field(default_factory=list)


@dataclass
class ProbeContext:
    root: Path = Path("/")
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    home: str = field(default_factory=lambda: os.path.expanduser("~"))
    project: Path = field(default_factory=Path.cwd)
    include_host: bool = False
    deep: bool = False
    # What the stdlib-only target probe (probes/target.py) reported about the inspected interpreter.
    target: dict = field(default_factory=dict)
    timeout: float = 5.0
    # The file freeze is writing (absolute), so a probe does not count it as part of the project's state.
    output: str | None = None

    def path(self, absolute: str) -> Path:
        """``absolute`` (e.g. /var/lib/dpkg/status) inside ``root``."""
        return self.root / absolute.lstrip("/")


_PRIMITIVES = (str, int, float, bool, type(None))


def to_data(record: Any) -> Any:
    """Dataclass records (nested, in lists) to plain JSON data."""
    fields = getattr(type(record), "__dataclass_fields__", None)  # cheaper than is_dataclass on 10k records
    if fields is not None:
        out = {}
        for name in fields:
            value = getattr(record, name)
            out[name] = value if type(value) in _PRIMITIVES else to_data(value)
        return out
    if isinstance(record, (list, tuple)):
        return [item if type(item) in _PRIMITIVES else to_data(item) for item in record]
    if isinstance(record, dict):
        return {key: to_data(value) for key, value in record.items()}
    return record


class ToolError(Exception):
    """A command a probe needed was missing, failed, or timed out; the message says which."""


def run_tool(argv: list[str], timeout: float = 5.0, env: Mapping[str, str] | None = None,
             cwd: str | os.PathLike | None = None) -> str:
    """Run a command with a hard timeout and return its stdout; raise ToolError with a one-line reason.

    The command gets its own process group, killed whole on timeout: a hung wrapper script (nvidia-smi
    behind a shell script, say) must not leave its children behind.
    """
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                env=None if env is None else dict(env), cwd=cwd, start_new_session=True)
    except FileNotFoundError:
        raise ToolError(f"{argv[0]} not found") from None
    except OSError as exc:
        raise ToolError(f"{argv[0]} could not run: {exc.strerror}") from None
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ToolError(f"{argv[0]} did not answer within {timeout:g} s") from None
    if proc.returncode != 0:
        last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise ToolError(f"{argv[0]} exited {proc.returncode}: {last[0][:200]}")
    return stdout.decode("utf-8", "replace")


def _kill_group(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):  # already gone, or no process groups (Windows)
        proc.kill()
    try:
        proc.communicate(timeout=1)
    except subprocess.TimeoutExpired:
        pass


def home_relative(path: str | os.PathLike | None, home: str) -> str | None:
    """Write the home folder as ``~`` so a manifest does not carry the user name."""
    if path is None:
        return None
    text = str(path)
    if home and home != "/" and (text == home or text.startswith(home.rstrip("/") + "/")):
        return "~" + text[len(home.rstrip("/")):]
    return text
