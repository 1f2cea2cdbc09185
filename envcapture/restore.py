"""`envcapture restore`: a fresh virtualenv holding exactly the manifest's Python packages, then a check.

Steps: find the recorded Python (X.Y.Z), make the venv with `uv venv`, write a lock file of exact pins
(index packages as ``name==version``, VCS installs at their commit, archives with their hash, local folders
when they still exist), install it with `uv pip install` (pip when uv is missing), and compare the new venv
with the manifest. What could not be restored is listed, never silently dropped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from envcapture.errors import BadInput, ToolFailed
from envcapture.manifest.grammar import require
from envcapture.manifest.indexes import PYTORCH_INDEX
from envcapture.render.lock import local_path, requirement_line

VENV_TIMEOUT = 600
INSTALL_TIMEOUT = 3600


# ------------------------------------------------------------------------------------------- the lock

@dataclass
class Lock:
    lines: list[str] = field(default_factory=list)  # requirement lines
    options: list[str] = field(default_factory=list)  # --index-url / --extra-index-url / --find-links lines
    skipped: list[str] = field(default_factory=list)  # what cannot be restored, and why
    outside: list[str] = field(default_factory=list)  # sources beyond the package index (need --trust-sources)
    implied_indexes: list[str] = field(default_factory=list)  # PyTorch indexes that +cu126-style labels imply
    notes: list[str] = field(default_factory=list)  # restored, but not quite as recorded
    count: int = 0

    def text(self) -> str:
        header = ["# written by envcapture restore: exact pins of the manifest's Python packages"]
        return "\n".join(header + self.options + self.lines) + "\n"

    @property
    def extra_indexes(self) -> bool:
        return any(line.startswith("--extra-index-url") for line in self.options)


def requirement_for(package: dict, home: str, lock: Lock, where: str = "python_packages[?]") -> str | None:
    """One lock line for a package record (the builder `generate` uses, with local sources allowed), or None
    (and a note in ``lock.skipped``) when it cannot be had."""
    found = requirement_line(package, where, local_sources=True, exact=False, home=home)
    lock.notes.extend(found.notes)
    if found.line is None:
        lock.skipped.append(f"{package['name']} {package['version']}: {found.omitted}")
        return None
    if found.outside:
        lock.outside.append(found.outside)
    if found.index:
        lock.implied_indexes.append(found.index)
    return found.line


def _is_default_index(url: str) -> bool:
    return url.rstrip("/") in ("https://pypi.org/simple", "https://pypi.python.org/simple")


def configured_here(home: str) -> set[str]:
    """The indexes and find-links this user's own pip configuration names: already trusted here."""
    from envcapture.probes.python_env import package_indexes

    found = package_indexes(sys.prefix, os.environ, home, [])
    return set(filter(None, [found.index_url, *found.extra_index_urls, *found.find_links]))


def index_options(data: dict, home: str, lock: Lock) -> list[str]:
    """The recorded indexes (those that can exist here), plus the PyTorch indexes that local labels imply.

    An index the manifest names beyond PyPI, PyTorch's and those this user's own pip configuration names is
    a source a stranger chose: it goes to ``lock.outside``.
    """
    indexes = (data.get("python") or {}).get("package_indexes") or {}
    where = "python.package_indexes"
    options = []
    trusted = configured_here(home)

    def usable(url: str, field: str) -> bool:
        require("url", url, field)
        if url.startswith("file:"):
            path = local_path(url, home)
            if path is None or not path.exists():
                lock.notes.append(f"recorded package index {url} does not exist here; not used")
                return False
        return True

    primary = indexes.get("index_url")
    if primary and usable(primary, f"{where}.index_url"):
        options.append(f"--index-url {primary}")
        if not _is_default_index(primary) and primary not in trusted:
            lock.outside.append(f"the primary package index is replaced by {primary}: every package comes from it")
    extra = list(indexes.get("extra_index_urls") or [])
    extra += sorted({p["index_url"] for p in data.get("python_packages") or [] if p.get("index_url")})
    for url in dict.fromkeys(extra + lock.implied_indexes):
        if usable(url, f"{where}.extra_index_urls"):
            options.append(f"--extra-index-url {url}")
            if not (_is_default_index(url) or url.startswith(PYTORCH_INDEX) or url in trusted):
                lock.outside.append(f"the extra package index {url}: any package may be taken from it")
    for i, url in enumerate(indexes.get("find_links") or []):
        if usable(url, f"{where}.find_links[{i}]"):
            options.append(f"--find-links {url}")
            if url not in trusted:
                lock.outside.append(f"the find-links location {url}: any package may be taken from it")
    return options


def build_lock(data: dict, home: str | None = None) -> Lock:
    home = home or os.path.expanduser("~")
    lock = Lock()
    for i, package in enumerate(data.get("python_packages") or []):
        line = requirement_for(package, home, lock, f"python_packages[{i}]")
        if line:
            lock.lines.append(line)
            lock.count += 1
    lock.options = index_options(data, home, lock)
    if (data.get("conda") or {}).get("packages"):
        lock.notes.append("conda packages are not restored into a virtualenv (use `envcapture generate docker`); "
                          "their Python packages are installed from the package index")
    return lock


def refuse_untrusted_sources(lock: Lock) -> None:
    """A stranger's manifest must not run build code from places it chose without the user saying so."""
    if lock.outside:
        raise BadInput(f"the manifest installs from {len(lock.outside)} source(s) beyond the package index, whose "
                       "code runs here while installing; review them, then rerun with --trust-sources to install "
                       "from them", problems=lock.outside)


# ---------------------------------------------------------------------------------------------- Python

def interpreter_version(python: str) -> str | None:
    try:
        out = subprocess.run([python, "-c", "import platform; print(platform.python_implementation().lower(), "
                                            "platform.python_version())"],
                             capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    parts = out.stdout.split()
    return " ".join(parts) if len(parts) == 2 else None


def candidate_pythons(version: str) -> list[str]:
    """Where an interpreter of exactly ``version`` may live: pyenv's folders, then pythonX.Y on PATH.

    uv finds interpreters on PATH and its own managed ones, but not pyenv versions that are not selected
    (their shims fail), so look there first.
    """
    minor = ".".join(version.split(".")[:2])
    roots = [os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv")]
    found = []
    for root in filter(None, roots):
        path = Path(root) / "versions" / version / "bin" / "python"
        if path.exists():
            found.append(str(path))
    for name in (f"python{minor}", "python3", "python"):
        path = shutil.which(name)
        if path and "/shims/" not in path:
            found.append(path)
    return list(dict.fromkeys(found))


def find_python(recorded: dict, requested: str | None) -> tuple[str, list[str]]:
    """The interpreter (a path, or a request uv resolves) for the venv, and notes about it."""
    implementation = recorded.get("implementation") or "cpython"
    version = recorded.get("version") or ""
    if requested:
        path = shutil.which(requested) or requested
        found = interpreter_version(path)
        if found is None:
            raise BadInput(f"--python {requested}: not a working Python interpreter")
        notes = []
        if found != f"{implementation} {version}":
            notes.append(f"--python {requested} is {found}; the manifest recorded {implementation} {version}")
        return path, notes
    for path in candidate_pythons(version):
        if interpreter_version(path) == f"{implementation} {version}":
            return path, []
    # Let uv look (and download a managed build where it may): `uv venv --python 3.11.7`.
    return (version if implementation == "cpython" else f"{implementation}@{version}"), []


def python_missing_message(request: str, version: str) -> str:
    return (f"Python {version} is not available here: install it with `uv python install {version}` "
            f"or `pyenv install {version}`, or pass --python PATH to use another interpreter")


# ------------------------------------------------------------------------------------------ commands

def uv_binary() -> str | None:
    try:
        import uv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def run_streaming(argv: list[str], timeout: float, on_line=None, env=None) -> tuple[int, list[str]]:
    """Run a command, feeding each output line to ``on_line``; kill it after ``timeout`` seconds."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                text=True, errors="replace", env=env)
    except FileNotFoundError:
        raise ToolFailed(f"{argv[0]}: not found") from None
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    # Whether the timer fired is recorded, not guessed from the timer thread (still alive for a moment after
    # cancel()): a command killed by another signal is reported with its own exit status, not as too slow.
    timer = threading.Timer(timeout, kill)
    timer.start()
    lines = []
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            if on_line:
                on_line(line)
        proc.wait()
    finally:
        timer.cancel()
    if timed_out.is_set():
        raise ToolFailed(f"{Path(argv[0]).name} did not finish within {timeout:g} s", tail="\n".join(lines[-10:]))
    return proc.returncode, lines


_UNREACHABLE = re.compile(r"(dns error|failed to lookup address|Connection refused|Could not connect|"
                          r"error sending request|Failed to establish a new connection|Network is unreachable|"
                          r"connection timed out|operation timed out|Max retries exceeded|NewConnectionError|"
                          r"Temporary failure in name resolution)", re.I)
_INDEX_URL = re.compile(r"(https?://[^\s`'\"]+)")
# How uv marks the line that says why (0.4: "  ╰─▶ Because ...", 0.13: "  cause: Because ...").
_UV_CAUSE = re.compile(r"^[\s╰─▶]*(cause:\s*)?")
_NOT_FOUND = re.compile(r"(No solution found|not found in the package registry|there is no version of|"
                        r"Could not find a version that satisfies|No matching distribution found|"
                        r"was not found in the provided package locations)", re.I)


def install_failure(lines: list[str], tool: str, lock: Lock) -> ToolFailed:
    """One clear line for why installing failed (the index is unreachable, a pin does not exist, ...)."""
    text = "\n".join(lines)
    errors = [line.strip() for line in lines if re.match(r"\s*(error|ERROR|×|╰─▶|Caused by|  Caused by)", line)]
    if _UNREACHABLE.search(text):
        urls = [u.rstrip(".,:)") for u in _INDEX_URL.findall(text)]
        where = f" ({urls[0]})" if urls else ""
        return ToolFailed(f"the package index is unreachable{where}: check the network, the index URL or your "
                          f"proxy settings ({tool} could not download the packages)")
    if _NOT_FOUND.search(text):
        detail = next((line.strip() for line in lines if _NOT_FOUND.search(line)), "")
        because = next((_UV_CAUSE.sub("", line).rstrip() for line in lines if "Because" in line or "because" in line),
                       detail)
        return ToolFailed(f"a recorded package version is not on the package indexes: {because[:300]}")
    summary = errors[0] if errors else (lines[-1] if lines else "no output")
    return ToolFailed(f"{tool} could not install the packages: {summary[:300]}", tail="\n".join(lines[-15:]))


class Steps:
    """A rich progress display on stderr: one line per step with a spinner and the elapsed time."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                 console=self.console, transient=False,
                                 disable=not self.console.is_terminal)

    def __enter__(self):
        # Off a terminal the display is never started: rich 13 (which roc-validator pins) still ends a disabled
        # display with an empty line, and a log gets one line per step and nothing else.
        if self.console.is_terminal:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.console.is_terminal:
            self.progress.__exit__(*exc)

    def start(self, description: str):
        self.started = time.monotonic()
        return self.progress.add_task(description, total=1)

    def update(self, task, description: str) -> None:
        self.progress.update(task, description=description)

    def done(self, task, description: str) -> None:
        seconds = time.monotonic() - self.started
        self.progress.update(task, description=description, completed=1)
        if not self.console.is_terminal:
            # one line per step in a log, however long the venv's path (rich would wrap it at 80 columns)
            self.console.print(f"envcapture: {description} ({seconds:.1f} s)", highlight=False, soft_wrap=True)


def create_venv(python: str, venv: Path, uv: str | None, version: str) -> None:
    if uv:
        env = dict(os.environ)
        code, lines = run_streaming([uv, "venv", "--python", python, str(venv)], VENV_TIMEOUT,
                                    env=env)
        if code != 0:
            text = "\n".join(lines)
            if re.search(r"No interpreter found|No download found|Failed to download|Request failed|"
                         r"not found in (the )?(managed installations|search path)|Python downloads are not "
                         r"allowed|No Python at", text, re.I) or "/" not in python:
                raise ToolFailed(python_missing_message(python, version))
            reason = next((line for line in lines if "error" in line.lower()), lines[-1] if lines else "no output")
            raise ToolFailed(f"uv venv failed: {reason}", tail="\n".join(lines[-10:]))
        return
    if "/" not in python:
        raise ToolFailed(python_missing_message(python, version) + " (uv, which could download it, is not "
                                                                   "installed)")
    code, lines = run_streaming([python, "-m", "venv", str(venv)], VENV_TIMEOUT)
    if code != 0:
        raise ToolFailed(f"python -m venv failed: {lines[-1] if lines else 'no output'}", tail="\n".join(lines[-10:]))


def install(venv_python: Path, lock_path: Path, lock: Lock, uv: str | None, on_line) -> str:
    # --no-deps: the lock is the whole recorded set; a resolver would only add what the manifest did not have.
    if uv:
        argv = [uv, "pip", "install", "--no-deps", "--python", str(venv_python), "-r", str(lock_path)]
        if lock.extra_indexes:
            # pip's behaviour: the best match over every index (uv's default stops at the first index that
            # has the name, which would take torch from PyPI rather than the recorded +cu126 index).
            argv += ["--index-strategy", "unsafe-best-match"]
        tool = "uv"
    else:
        argv = [str(venv_python), "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "--no-input",
                "-r", str(lock_path)]
        tool = "pip"
    code, lines = run_streaming(argv, INSTALL_TIMEOUT, on_line=on_line)
    if code != 0:
        raise install_failure(lines, tool, lock)
    return tool


def venv_python(venv: Path) -> Path:
    for candidate in (venv / "bin" / "python", venv / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    raise ToolFailed(f"{venv}: the new virtualenv has no Python interpreter")


def restore(data: dict, venv: Path, python: str | None = None, steps: Steps | None = None,
            trust_sources: bool = False):
    """Make ``venv`` from the manifest ``data``; return (the check's Comparison, the Lock)."""
    from envcapture import compare

    lock = build_lock(data)
    if not trust_sources:
        refuse_untrusted_sources(lock)
    uv = uv_binary()
    recorded = data.get("python") or {}
    version = recorded.get("version", "")
    interpreter, notes = find_python(recorded, python)
    lock.notes[:0] = notes
    task = steps.start(f"creating a virtualenv with Python {version}") if steps else None
    create_venv(interpreter, venv, uv, version)
    target = venv_python(venv)
    if steps:
        steps.done(task, f"created {venv} ({interpreter_version(str(target)) or version})")
    lock_path = venv / "envcapture-lock.txt"
    lock_path.write_text(lock.text(), encoding="utf-8")
    task = steps.start(f"installing {lock.count} packages") if steps else None

    def on_line(line: str) -> None:
        if steps and line.strip() and not line.startswith((" ", "warning")):
            steps.update(task, f"installing {lock.count} packages: {line.strip()[:80]}")

    tool = install(target, lock_path, lock, uv, on_line)
    if steps:
        steps.done(task, f"installed {lock.count} packages with {tool}")
        task = steps.start("checking the new virtualenv against the manifest")
    result = compare.check_python_env(data, str(target))
    if steps:
        steps.done(task, "checked the new virtualenv against the manifest")
    return result, lock


def _refuse_existing(venv: Path) -> None:
    if venv.exists() and (not venv.is_dir() or any(venv.iterdir())):
        raise BadInput(f"--venv {venv}: exists and is not empty; restore makes a fresh virtualenv (pick a new "
                       "folder or remove this one)")


def restore_command(args) -> int:
    from envcapture import compare
    from envcapture.manifest import file as manifest_io

    data = manifest_io.load(args.manifest)
    venv = Path(args.venv).absolute()
    _refuse_existing(venv)
    created = not venv.exists()
    try:
        with Steps() as steps:
            result, lock = restore(data, venv, args.python, steps, trust_sources=getattr(args, "trust_sources", False))
    except BaseException:
        if created:  # a half-made venv is worse than none: the next try would refuse the folder
            shutil.rmtree(venv, ignore_errors=True)
        raise
    from envcapture.text import printable

    for line in lock.skipped:
        print(f"envcapture: not restored: {printable(line)}", file=sys.stderr)
    for line in lock.notes:
        print(f"envcapture: note: {printable(line)}", file=sys.stderr)
    compare.render_text(result, "check")
    print(f"envcapture: restored {lock.count} of {len(data.get('python_packages') or [])} packages into {venv} "
          f"(activate with `. {venv}/bin/activate`)", file=sys.stderr)
    return 0 if result.ok else 1
