"""`envcapture run [-o run.json] [--seed N] [--data PATH ...] [--output PATH ...] -- COMMAND [ARGS...]`.

The command runs as a child with envcapture's stdin, stdout and stderr; its exit code (or the signal that
killed it) becomes envcapture's. While it starts, the environment manifest of the Python that runs it is
collected in a thread. A ``sitecustomize`` on the child's PYTHONPATH (hook/) records what the run opened,
loaded and imported, and seeds each framework on import with ``--seed``. The record is written whatever
happens to the child: a crash is recorded as ``failed`` or ``killed``.

Signals: Ctrl-C goes from the terminal to the whole foreground process group, so the child receives it
itself; envcapture ignores SIGINT and SIGQUIT while the child runs (it must live to write the record) and
forwards SIGTERM and SIGHUP, which are usually sent to envcapture alone.
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envcapture.errors import BadInput
from envcapture.run import record as run_record

HOOK_DIR = Path(__file__).resolve().parent / "hook"
SEED_MODULE = Path(__file__).resolve().parent.parent / "seed.py"
CUBLAS_VALUE = ":4096:8"
FORWARDED = (signal.SIGTERM, signal.SIGHUP)
IGNORED = (signal.SIGINT, signal.SIGQUIT)
EXIT_NOT_FOUND, EXIT_NOT_EXECUTABLE = 127, 126


def command_argv(raw: list[str]) -> list[str]:
    argv = raw[1:] if raw and raw[0] == "--" else list(raw)
    if not argv:
        raise BadInput("run needs a command: envcapture run [-o run.json] [--seed N] -- COMMAND [ARGS...]")
    return argv


def python_of(argv0: str, env: dict) -> str | None:
    """The interpreter that runs the command: argv[0] itself (python, python3.11, a venv's bin/python) or the
    #! line of a script or console script; None for anything else (the active environment is recorded)."""
    found = shutil.which(argv0, path=env.get("PATH")) if os.sep not in argv0 else argv0
    if not found:
        return None
    if Path(found).name.startswith("python"):
        return os.path.abspath(found)
    try:
        with open(found, "rb") as handle:
            first = handle.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode("utf-8", "replace").split()
    if words and Path(words[0]).name == "env" and len(words) > 1:
        words = words[1:]
    if words and Path(words[0]).name.startswith("python"):
        return shutil.which(words[0], path=env.get("PATH")) or words[0]
    return None


def child_environment(seed: int | None, roots: list[str], hook_out: Path) -> tuple[dict, dict]:
    """(the child's environment, the environment as the program will see it once the hook removed itself)."""
    seen = dict(os.environ)
    if seed is not None:
        seen["PYTHONHASHSEED"] = str(seed)
        if seen.get("CUBLAS_WORKSPACE_CONFIG") not in (":4096:8", ":16:8"):
            seen["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_VALUE
    child = dict(seen)
    original = seen.get("PYTHONPATH")
    child["PYTHONPATH"] = str(HOOK_DIR) + (os.pathsep + original if original else "")
    if original is None:
        child["ENVCAPTURE_RUN_PYTHONPATH_UNSET"] = "1"
    else:
        child["ENVCAPTURE_RUN_PYTHONPATH"] = original
    child["ENVCAPTURE_RUN_OUT"] = str(hook_out)
    child["ENVCAPTURE_RUN_ROOTS"] = os.pathsep.join(roots)
    if seed is not None:
        child["ENVCAPTURE_RUN_SEED"] = str(seed)
        child["ENVCAPTURE_RUN_SEED_MODULE"] = str(SEED_MODULE)
    return child, seen


def check_output_path(output: Path, force: bool = False) -> None:
    """Refuse a bad -o before the command runs (the gate's own test): a refusal afterwards would lose the record."""
    from envcapture.manifest.file import refuse_to_write

    refuse_to_write(output, force=force)


def fingerprint(paths: list[str], project: Path, output: Path, warnings: list[str], no_cache: bool):
    from envcapture.data import specs as datasets

    specs = [datasets.DataSpec(path, Path.cwd()) for path in paths]
    found = datasets.collect(specs, project, "blake3", not no_cache, str(output),
                             roles=datasets.previous_roles(str(output)))
    if warnings is not None:
        warnings.extend(found.warnings)
    return found


def run_command(args) -> int:
    argv = command_argv(args.argv)
    output = Path(args.output)
    check_output_path(output, args.force)
    project = Path(os.path.abspath(args.project))
    if not project.is_dir():
        raise BadInput(f"--project {args.project}: not a folder")
    for path in list(args.data) + list(args.output_path):
        if not path:
            raise BadInput("--data and --output need a path")
    for path in args.data:
        if not os.path.lexists(path):
            raise BadInput(f"--data {path}: no such file or folder")
    warnings: list[str] = []
    inputs = fingerprint(args.data, project, output, None, args.no_cache) if args.data else None
    roots = [str(project)] + [os.path.abspath(p) for p in list(args.data) + list(args.output_path)]
    with tempfile.TemporaryDirectory(prefix="envcapture-run-") as private:
        hook_out = Path(private) / "hook.json"
        child_env, seen_env = child_environment(args.seed, roots, hook_out)
        code = _code_at_start(project, seen_env)
        with ThreadPoolExecutor(max_workers=1) as pool:
            started = datetime.datetime.now(datetime.timezone.utc)
            clock = time.monotonic()
            with signals_held():
                returncode, failure = _run_child(argv, child_env)
                if failure is None:
                    _CHILD.append(returncode)
                    manifest_future = pool.submit(_environment, argv, project, seen_env, output, not args.no_cache)
                    returncode = _wait(returncode)
            duration = time.monotonic() - clock
            ended = datetime.datetime.now(datetime.timezone.utc)
            environment = (manifest_future.result() if failure is None
                           else _environment(argv, project, seen_env, output, not args.no_cache))
            manifest = environment.manifest
        hook, hook_problem = run_record.read_hook(hook_out)
    if failure is not None:
        warnings.append(failure[1])
    outputs = fingerprint(args.output_path, project, output, warnings, args.no_cache) if args.output_path else None
    home = os.path.expanduser("~")
    owned = _owners(hook, seen_env, home, warnings)
    section = run_record.run_section(
        argv=argv, cwd=Path.cwd(), project=project, home=home, started=started, ended=ended, duration=duration,
        returncode=None if failure else returncode.returncode, seed=args.seed, hook=hook,
        hook_problem=hook_problem, outputs=outputs.section["sets"] if outputs else [], warnings=warnings,
        site_packages=[os.path.expanduser(p) for p in (manifest.get("python") or {}).get("site_packages") or []],
        owned=owned)
    sharing = "asked" if args.share_environment else "never" if args.self_contained else "if held"
    _save(environment, code, inputs, outputs, section, output, args.force, sharing)
    if failure is not None:
        print(f"envcapture: {failure[1]}", file=sys.stderr)
        return failure[0]
    return _exit_like(returncode.returncode)


def _owners(hook: dict | None, env: dict, home: str, warnings: list[str]) -> dict | None:
    """{shared object the run mapped: the system package that owns it, or None}; None when not recorded."""
    mapped = (hook or {}).get("mapped")
    if not isinstance(mapped, list):
        return None
    from envcapture.run import system_used

    try:
        return system_used.owners(mapped, env, home)[0]
    except Exception as exc:  # the package database is not ours: an unreadable one costs only this part
        warnings.append(f"the system packages owning the shared objects the run mapped: {type(exc).__name__}")
        return None


def _code_at_start(project: Path, env: dict):
    """The git state before the command can change it (freeze's own probe runs while the command does)."""
    from envcapture.capture.freeze import run_probe
    from envcapture.probes import ProbeContext

    return run_probe("code", "git", ProbeContext(env=env, project=project))


class Environment:
    """The environment part of the record, and how the gate treats it: ``sealed`` (from the cache: sections
    that came out of the gate unchanged before) or to be stored in the cache under ``store_key`` once the
    gate has sealed the record, if it changes nothing in them."""

    def __init__(self, manifest: dict, sealed=(), store_key: str | None = None, env: dict | None = None):
        self.manifest, self.sealed, self.store_key, self.env = manifest, tuple(sealed), store_key, env
        self.collected = None
        if store_key:
            import json

            from envcapture.run import envcache

            self.warnings = list(manifest["warnings"])
            self.collected = json.dumps({name: manifest.get(name) for name in envcache.REUSED}, sort_keys=True)

    def remember(self, sealed_record: dict) -> None:
        import json

        from envcapture.run import envcache

        if self.store_key and json.dumps({name: sealed_record.get(name) for name in envcache.REUSED},
                                         sort_keys=True) == self.collected:
            envcache.store(self.store_key, self.env, sealed_record, self.warnings)


def _environment(argv: list[str], project: Path, env: dict, output: Path, use_cache: bool) -> Environment:
    """As the probes found it, or from the environment cache when nothing it was read from has changed since
    the last run (then already sealed by the gate)."""
    from envcapture.capture.freeze import collect_manifest
    from envcapture.run import envcache

    python = python_of(argv[0], env)
    entry_key = envcache.key(python, env, project) if use_cache else None
    entry = envcache.load(entry_key, env) if entry_key else None
    if entry is not None:
        return Environment(_from_cache(entry, project, env, output), sealed=envcache.REUSED)
    try:
        manifest = collect_manifest(python=python, project=project, argv=sys.argv[1:], env=env, output=str(output))
    except BadInput:  # an interpreter that cannot be probed: record the active environment instead
        entry_key = None
        manifest = collect_manifest(python=None, project=project, argv=sys.argv[1:], env=env, output=str(output))
    manifest["warnings"] = _ordered_warnings(manifest["warnings"])
    return Environment(manifest, store_key=entry_key, env=env)


def _ordered_warnings(warnings: list) -> list:
    """The environment's warnings, then the project files' (the same order from the cache as from the probes);
    the git state's come from the probe taken before the command started."""
    return ([w for w in warnings if w.get("source") not in ("filesystem", "git")]
            + [w for w in warnings if w.get("source") == "filesystem"])


def _from_cache(entry: dict, project: Path, env: dict, output: Path) -> dict:
    from envcapture import SCHEMA_VERSION, __version__
    from envcapture.capture.freeze import command_line, run_probe
    from envcapture.probes import ProbeContext

    ctx = ProbeContext(env=env, project=project, output=str(output))
    files = run_probe("filesystem", "filesystem", ctx)
    sections = entry["sections"]
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "envcapture": {"version": __version__, "command": command_line(sys.argv[1:], ctx.home)},
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for name in ("python", "python_packages", "conda", "os", "system_packages", "shared_libraries", "hardware"):
        manifest[name] = sections[name]
    manifest["filesystem"] = files.data
    manifest["code"] = None  # the state taken before the command started replaces it
    for name in ("determinism", "gpu", "scheduler"):
        manifest[name] = sections[name]
    manifest["host"] = None
    manifest["warnings"] = _ordered_warnings(list(entry.get("warnings") or []) + [
        {"source": w.source, "message": w.message} for w in files.warnings])
    return manifest


def _run_child(argv: list[str], env: dict):
    try:
        return subprocess.Popen(argv, env=env), None
    except FileNotFoundError:
        return None, (EXIT_NOT_FOUND, f"{argv[0]}: command not found")
    except PermissionError:
        return None, (EXIT_NOT_EXECUTABLE, f"{argv[0]}: permission denied (not executable)")
    except OSError as exc:
        return None, (EXIT_NOT_EXECUTABLE, f"{argv[0]}: cannot run it ({exc.strerror})")


def _wait(child: subprocess.Popen) -> subprocess.Popen:
    try:
        child.wait()
    finally:
        _CHILD[:] = []
    return child


_CHILD: list = []


def _on_signal(signum, frame):
    """SIGINT, SIGQUIT: the terminal sent them to the child too, wait for it; SIGTERM, SIGHUP: pass them on.
    A handler, not SIG_IGN: an ignored signal would stay ignored in the child across exec."""
    if signum in FORWARDED:
        for child in _CHILD:
            try:
                child.send_signal(signum)
            except OSError:
                pass


class signals_held:
    """From before the child starts (a Ctrl-C in the first millisecond must not kill envcapture) to the end."""

    def __enter__(self):
        self.previous = {signum: signal.signal(signum, _on_signal) for signum in IGNORED + FORWARDED}
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _shared(sealed: dict, environment_warnings: list, output: Path, asked: bool):
    """The record naming its environment in environment-<sha256>.json beside it: when asked, or when that
    folder already holds the same environment (then nothing more is written); None: the record stays whole."""
    from envcapture.manifest import shared

    if not asked and not _holds_some_environment(output.parent):
        return None  # the usual case, decided without serializing the environment
    parts = shared.split(sealed, environment_warnings)
    if parts is None:
        return None
    content, name, record = parts
    if shared.holds(output.parent, name, content):
        return [], record
    return ([(name, content)], record) if asked else None


def _holds_some_environment(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(entry.name.startswith("environment-") for entry in entries)
    except OSError:
        return False


def _save(environment: Environment, code, inputs, outputs, section: dict, output: Path, force: bool,
          sharing: str) -> None:
    from envcapture.manifest.gate import write_manifest
    from envcapture.text import one_line

    manifest = environment.manifest
    environment_warnings = [w for w in manifest["warnings"] if w.get("source") not in ("filesystem", "git")]
    manifest["code"] = code.data
    manifest["warnings"].extend({"source": "git", "message": one_line(w.message)} for w in code.warnings)
    if inputs is not None:
        from envcapture.data import specs as datasets

        datasets.add_to_manifest(manifest, inputs.section, inputs.warnings)
    tail = manifest.pop("warnings")
    manifest["run"] = section
    manifest["warnings"] = tail
    sidecars = (inputs.sidecars if inputs else []) + (outputs.sidecars if outputs else [])
    sealed = write_manifest(manifest, str(output), [(s.file_name, s.content) for s in sidecars], force=force,
                            sealed=environment.sealed, split=None if sharing == "never" else
                            lambda whole: _shared(whole, environment_warnings, output, sharing == "asked"))
    environment.remember(sealed)
    status = section["status"]
    print(f"envcapture: wrote {output} (run {status}, {section['duration_seconds']:.2f} s)", file=sys.stderr)


def _exit_like(returncode: int) -> int:
    """The child's exit code; killed by a signal: die of the same signal, so a shell sees what it would have."""
    if returncode >= 0:
        return returncode
    signum = -returncode
    sys.stdout.flush()
    sys.stderr.flush()
    if signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGKILL, signal.SIGSEGV,
                  signal.SIGABRT, signal.SIGPIPE, signal.SIGBUS, signal.SIGFPE, signal.SIGILL):
        try:
            if signum != signal.SIGKILL:  # its handler cannot be changed (and is always the default)
                signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        except (OSError, ValueError):
            pass
    return 128 + signum
