"""One small subprocess wrapper for the external build tools (packer, vagrant, docker CLI).

What every call gets: the tool looked up on PATH with a clear message when it is not installed, output
streamed line by line as it comes (a build takes minutes, silence looks like a hang), a timeout that kills
the tool's whole process group (packer starts plugin processes), and on failure a ToolFailed (exit 3)
carrying the tool's last lines.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from envcapture.errors import ToolFailed

TAIL_LINES = 25

INSTALL_HINTS = {
    "packer": "install Packer (https://developer.hashicorp.com/packer/install, or `apt-get install packer` "
              "on Debian)",
    "vagrant": "install Vagrant (https://developer.hashicorp.com/vagrant/install, or `apt-get install vagrant` "
               "on Debian)",
    "docker": "install Docker (https://docs.docker.com/engine/install/)",
}


@dataclass
class ToolRun:
    argv: list[str]
    returncode: int
    tail: list[str] = field(default_factory=list)
    # Every line, kept only when the caller asked for it (to parse an artifact id, a version).
    lines: list[str] = field(default_factory=list)


def find_tool(name: str) -> str:
    """Absolute path of ``name`` on PATH, or ToolFailed saying how to install it."""
    path = shutil.which(name)
    if path is None:
        hint = INSTALL_HINTS.get(name, f"install {name}")
        raise ToolFailed(f"{name} is not installed (not found on PATH): {hint}")
    return path


def tool_version(path: str, args: Sequence[str] = ("version",), timeout: float = 60) -> tuple[int, ...]:
    """The first dotted version number that ``path ARGS`` prints, as a tuple; () when it prints none."""
    try:
        proc = subprocess.run([path, *args], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "CHECKPOINT_DISABLE": "1", "VAGRANT_CHECKPOINT_DISABLE": "1"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolFailed(f"could not run `{Path(path).name} {' '.join(args)}`: {exc}") from exc
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", proc.stdout + proc.stderr)
    return tuple(int(part) for part in match.groups() if part is not None) if match else ()


def _echo_to(stream) -> Callable[[str], None]:
    def echo(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return echo


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, PermissionError):
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_streamed(argv: Sequence[str], *, cwd: str | os.PathLike | None = None, env: Mapping[str, str] | None = None,
                 timeout: float = 3600, what: str | None = None, echo: Callable[[str], None] | None = None,
                 keep_lines: bool = False, check: bool = True) -> ToolRun:
    """Run ``argv``, stream each output line to ``echo`` (default: stderr), raise ToolFailed on failure.

    ``what`` names the step in messages ("packer build"). stdout and stderr are merged so the tail shows
    the tool's own error in order. The child gets its own session so a timeout can kill all it started.
    """
    argv = [str(part) for part in argv]
    what = what or " ".join([Path(argv[0]).name, *argv[1:2]])
    echo = echo or _echo_to(sys.stderr)
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    lines: list[str] = []
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                bufsize=1, start_new_session=True)
    except FileNotFoundError as exc:
        raise ToolFailed(f"{what}: {argv[0]} is not installed: {INSTALL_HINTS.get(Path(argv[0]).name, '')}".rstrip(": ")) from exc
    except OSError as exc:
        raise ToolFailed(f"{what}: cannot start {argv[0]}: {exc}") from exc

    def pump() -> None:
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            if keep_lines:
                lines.append(line)
            echo(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        reader.join(timeout=5)
        raise ToolFailed(f"{what} did not finish within {timeout:g} s and was stopped; its last lines:",
                         tail="\n".join(tail)) from None
    except KeyboardInterrupt:
        _kill_group(proc)
        raise
    reader.join()
    run = ToolRun(argv, proc.returncode, list(tail), lines)
    if check and proc.returncode != 0:
        raise ToolFailed(f"{what} failed (exit {proc.returncode}); its last lines:", tail="\n".join(tail))
    return run
