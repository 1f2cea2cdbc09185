"""The ``run`` section of a run record, from what the command did and what the in-process hook saw.

Plain data in, plain data out: no process is started here (command.py does that).
"""

from __future__ import annotations

import datetime
import json
import os
import signal
from pathlib import Path

from envcapture.probes import home_relative
from envcapture.text import one_line

MAX_HOOK_BYTES = 64 * 1024 * 1024
SEED_RECORD_KEYS = ("seed", "deterministic", "warn_only", "mode", "seeded", "switches", "environment", "not_set",
                    "waiting")


def utc_text(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def status_of(returncode: int | None) -> tuple[str, int | None, str | None]:
    """(status, exit code, signal name) from Popen's returncode (negative: killed by that signal)."""
    if returncode is None:
        return "not started", None, None
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"SIG{-returncode}"
        return "killed", None, name
    return ("succeeded" if returncode == 0 else "failed"), returncode, None


def shown_path(path: str, project: Path, home: str) -> str:
    """Relative to the project when inside it, else with the home folder as ~ (no user name)."""
    try:
        relative = os.path.relpath(path, project)
    except ValueError:
        relative = None
    if relative is not None and relative != ".." and not relative.startswith(".." + os.sep):
        return relative.replace(os.sep, "/")
    return home_relative(path, home) or path


def read_hook(path: Path) -> tuple[dict | None, str | None]:
    """The hook's record, bounded and checked; (None, why) when there is none."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_HOOK_BYTES + 1)
    except FileNotFoundError:
        return None, ("the in-process hook did not run: not a Python command, or Python started with -E, -I "
                      "or -S (files, libraries and packages used are not recorded)")
    except OSError as exc:
        return None, f"the in-process hook's record could not be read: {exc.strerror}"
    if not raw:
        return None, ("the in-process hook wrote nothing: the process ended without running its exit handlers "
                      "(killed, os._exit or a crash)")
    if len(raw) > MAX_HOOK_BYTES:
        return None, "the in-process hook's record is too large"
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None, "the in-process hook's record is not valid JSON"
    return (data, None) if isinstance(data, dict) and data.get("format") == 1 else (None, "unknown hook record")


def _strings(value, limit: int) -> list[str]:
    return [one_line(item) for item in value[:limit] if isinstance(item, str)] if isinstance(value, list) else []


def clean_seed_record(record) -> dict | None:
    """Only the keys the schema knows, from a record the child wrote (untrusted: conform checks the values)."""
    if not isinstance(record, dict):
        return None
    return {key: record[key] for key in SEED_RECORD_KEYS if key in record}


def _top_levels(dist) -> set[str]:
    names = set((dist.read_text("top_level.txt") or "").split())
    if names:
        return names
    for entry in dist.files or ():
        first = entry.parts[0] if entry.parts else ""
        if first.endswith((".dist-info", ".egg-info", ".data")) or first in ("..", "__pycache__"):
            continue
        names.add(first.split(".")[0] if len(entry.parts) == 1 else first)
    return names


def distributions_of(modules, site_packages: list[str]) -> list[str] | None:
    """The distributions, installed in ``site_packages``, that own the top-level modules the run imported
    from there (a module of the project with a package's name is not that package)."""
    if not isinstance(modules, dict):
        return None
    roots = tuple(os.path.realpath(p).rstrip(os.sep) + os.sep for p in site_packages)
    tops = {name for name, where in modules.items()
            if isinstance(name, str) and isinstance(where, str) and os.path.realpath(where).startswith(roots)}
    found = set()
    if tops:
        from importlib import metadata  # 20 ms of imports (email): only when there is something to look up

        for dist in metadata.distributions(path=list(site_packages)):
            try:
                if _top_levels(dist) & tops:
                    found.add(dist.metadata["Name"])
            except Exception:  # a broken dist-info costs only itself
                continue
    return sorted(found, key=str.lower)


def system_section(owned: dict | None, home: str) -> dict:
    """``shared_objects`` and ``system_packages`` of ``used`` from {mapped path: owner or None}; None: the hook
    could not read the process's maps."""
    if owned is None:
        return {"shared_objects": [], "system_packages": None}
    return {
        "shared_objects": [{"path": one_line(home_relative(path, home) or path), "package": package}
                           for path, package in sorted(owned.items())],
        "system_packages": sorted({package for package in owned.values() if package}),
    }


def used_section(hook: dict | None, problem: str | None, project: Path, home: str,
                 site_packages: list[str], owned: dict | None = None) -> dict:
    if hook is None:
        return {"recorded": False, "python_packages": None, "shared_libraries": [], "files_read": [],
                "files_written": [], "files_not_listed": 0, "problems": [problem] if problem else [],
                **system_section(None, home)}
    distributions = distributions_of(hook.get("modules"), site_packages)
    return {
        "recorded": True,
        "python_packages": _strings(distributions, 20_000) if isinstance(distributions, list) else None,
        "shared_libraries": sorted(set(_strings(hook.get("libraries"), 1000))),
        "files_read": [shown_path(p, project, home) for p in _strings(hook.get("files_read"), 100_000)],
        "files_written": [shown_path(p, project, home) for p in _strings(hook.get("files_written"), 100_000)],
        "files_not_listed": hook.get("files_not_listed") if isinstance(hook.get("files_not_listed"), int) else 0,
        "problems": _strings(hook.get("problems"), 100),
        **system_section(owned, home),
    }


def run_section(*, argv: list[str], cwd: Path, project: Path, home: str, started: datetime.datetime,
                ended: datetime.datetime, duration: float, returncode: int | None, seed: int | None,
                hook: dict | None, hook_problem: str | None, outputs: list,
                warnings: list[str], site_packages: list[str], owned: dict | None = None) -> dict:
    status, exit_code, signal_name = status_of(returncode)
    seed_records = [clean_seed_record(r) for r in (hook or {}).get("seed_records") or []]
    return {
        "argv": [one_line(home_relative(arg, home) if arg.startswith("/") else arg) for arg in argv],
        "working_folder": shown_path(str(cwd), project, home),
        "started": utc_text(started),
        "ended": utc_text(ended),
        "duration_seconds": round(duration, 3),
        "status": status,
        "exit_code": exit_code,
        "signal": signal_name,
        "seed": seed,
        "seed_records": [r for r in seed_records if r is not None],
        "outputs": outputs,
        "used": used_section(hook, hook_problem, project, home, site_packages, owned),
        "warnings": [one_line(w) for w in warnings],
    }
