"""`envcapture freeze`: run the probes and assemble one manifest.

Probes that wait on subprocesses or the disk run in threads beside the target interpreter's probe (the GPU
probe's host part too); the ones that need the target's facts run beside one another after it. A probe that
fails adds a warning and its section falls back to an empty value: freeze itself always finishes.
"""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envcapture import SCHEMA_VERSION, __version__
from envcapture.text import one_line
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning, home_relative

# section -> probe module (envcapture/probes/<module>.py); the order is the manifest's key order.
INDEPENDENT_PROBES = {"os": "os_info", "system_packages": "system_packages", "hardware": "hardware",
                      "filesystem": "filesystem", "code": "git", "scheduler": "scheduler"}
TARGET_PROBES = {"conda": "conda", "determinism": "determinism", "gpu": "gpu", "shared_libraries": "shared_libs"}
# Target probes whose host part (driver, ldconfig, toolkits) comes before their first read of the target's
# facts: they start beside the target probe and wait for its facts when they need them.
EARLY_TARGET_PROBES = ("gpu",)


def empty_section(section: str):
    """What a section holds when its probe failed: valid, and plainly empty."""
    machine = platform.machine() or "unknown"
    return {
        "os": {"system": platform.system() or "unknown", "id": None, "version_id": None, "codename": None,
               "pretty_name": None, "id_like": [], "kernel": None, "machine": machine,
               "libc": {"name": None, "version": None}, "container": None, "wsl": False},
        "system_packages": {"manager": None, "packages": [], "sources": []},
        "hardware": {"cpu_model": None, "vendor": None, "architecture": machine, "physical_cores": None,
                     "logical_cores": None, "flags": [], "memory_total": None},
        "filesystem": {"mounts": [], "project": None, "search_paths": {}},
        "determinism": {"environment": {}, "threads": {}, "deep": None, "warnings": []},
    }.get(section)


_NOT_COLLECTED = "could not collect {section}: "


def not_collected_message(section: str, reason: str) -> str:
    """The warning for a section whose probe failed; ``sections_not_collected`` reads it back."""
    return _NOT_COLLECTED.format(section=section) + reason


def sections_not_collected(messages) -> set[str]:
    """Sections that freeze could not collect, from its warning messages (compare skips them)."""
    import re

    pattern = re.compile(r"^" + re.escape(_NOT_COLLECTED).replace(r"\{section\}", "([a-z_]+)"))
    return {match.group(1) for match in map(pattern.match, messages) if match}


def run_probe(section: str, module: str, ctx: ProbeContext) -> ProbeResult:
    try:
        probe = importlib.import_module(f"envcapture.probes.{module}")
        return probe.collect(ctx)
    except Exception as exc:  # a probe bug must not cost the user the whole manifest
        return ProbeResult(empty_section(section),
                           [ProbeWarning(module.replace("_", "-"),
                                         not_collected_message(section, f"{type(exc).__name__}: {exc}"))])


class PendingTarget(Mapping):
    """The target probe's facts for a probe started before they exist: the first read waits for them."""

    def __init__(self, future):
        self._future = future

    def __getitem__(self, key):
        return self._future.result()[key]

    def __iter__(self):
        return iter(self._future.result())

    def __len__(self) -> int:
        return len(self._future.result())


def run_probes(ctx: ProbeContext, target_probe, python_env) -> dict[str, ProbeResult]:
    """Every probe, each as early as its inputs allow: the host probes and the host part of the GPU probe
    beside the target interpreter's probe (a subprocess), then the probes that read the target's facts
    beside one another. Results in the manifest's order, so the warnings come in the same order each time."""
    import dataclasses

    workers = len(INDEPENDENT_PROBES) + len(TARGET_PROBES) + 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        target = pool.submit(target_probe)
        early_ctx = dataclasses.replace(ctx, target=PendingTarget(target))
        futures = {section: pool.submit(run_probe, section, module, ctx)
                   for section, module in INDEPENDENT_PROBES.items()}
        futures.update({section: pool.submit(run_probe, section, TARGET_PROBES[section], early_ctx)
                        for section in EARLY_TARGET_PROBES})
        ctx.target = target.result()  # a target that cannot be probed fails freeze here, as before
        futures.update({section: pool.submit(run_probe, section, module, ctx)
                        for section, module in TARGET_PROBES.items() if section not in EARLY_TARGET_PROBES})
        python = python_section(python_env, ctx)
        found = {section: future.result() for section, future in futures.items()}
    order = [*INDEPENDENT_PROBES, "python", *TARGET_PROBES]
    return {section: python if section == "python" else found[section] for section in order}


def python_section(python_env, ctx: ProbeContext) -> ProbeResult:
    """The Python probe, guarded like the others: without the packages the interpreter's facts still count."""
    try:
        return python_env.collect(ctx)
    except Exception as exc:  # a probe bug must not cost the user the whole manifest
        result = python_env.collect(ctx, packages_too=False)
        result.warnings.append(ProbeWarning("python", not_collected_message(
            "python_packages", f"{type(exc).__name__}: {exc}")))
        return result


def command_line(argv: list[str], home: str) -> list[str]:
    return ["envcapture"] + [one_line(home_relative(arg, home) if arg.startswith("/") else arg) for arg in argv]


def host_facts() -> dict:
    import getpass
    import socket

    machine_id = None
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            machine_id = Path(path).read_text().strip() or None
            break
        except OSError:
            continue
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return {"hostname": socket.gethostname(), "user": user, "machine_id": machine_id}


def build_manifest(python: str | None = None, project: str | os.PathLike = ".", include_host: bool = False,
                   deep: bool = False, argv: list[str] | None = None, env=None, output: str | None = None) -> dict:
    """The whole manifest of one environment, through the gate (redacted, conformed, validated)."""
    from envcapture.manifest.gate import seal

    return seal(collect_manifest(python, project, include_host, deep, argv, env, output))


def collect_manifest(python: str | None = None, project: str | os.PathLike = ".", include_host: bool = False,
                     deep: bool = False, argv: list[str] | None = None, env=None, output: str | None = None) -> dict:
    """The whole manifest of one environment, as the probes found it: not yet through the gate."""
    from envcapture.probes import python_env
    from envcapture.probes.interpreter import resolve_python, run_probe as run_target_probe

    env = dict(os.environ) if env is None else env
    ctx = ProbeContext(env=env, project=Path(project).resolve(), include_host=include_host, deep=deep,
                       output=os.path.abspath(output) if output and output != "-" else None)
    interpreter = resolve_python(python, env)
    results = run_probes(ctx, lambda: run_target_probe(interpreter, deep=deep), python_env)

    warnings: list[ProbeWarning] = []
    for result in results.values():
        warnings.extend(result.warnings)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "envcapture": {"version": __version__, "command": command_line(argv or ["freeze"], ctx.home)},
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": results["python"].data["python"],
        "python_packages": results["python"].data["python_packages"],
        "conda": results["conda"].data,
        "os": results["os"].data,
        "system_packages": results["system_packages"].data,
        "shared_libraries": results["shared_libraries"].data,
        "hardware": results["hardware"].data,
        "filesystem": results["filesystem"].data,
        "code": results["code"].data,
        "determinism": results["determinism"].data,
        "gpu": results["gpu"].data,
        "scheduler": results["scheduler"].data,
        "host": host_facts() if include_host else None,
        "warnings": [{"source": w.source, "message": one_line(w.message)} for w in warnings],
    }
    return manifest


def freeze_command(args) -> int:
    from envcapture.capture.placeholders import fill
    from envcapture.manifest.gate import write_manifest

    output = fill(args.output, os.environ)  # {node}, {rank}, ... before any work: a bad -o fails fast
    project = Path(args.project)
    if not project.is_dir():
        from envcapture.errors import BadInput

        raise BadInput(f"--project {args.project}: not a folder")
    data_specs = _data_specs(args, project)
    data = collect_manifest(python=args.python, project=project, include_host=args.include_host, deep=args.deep,
                            argv=sys.argv[1:], output=output)
    sidecars = _add_data(data, data_specs, args, project, output) if data_specs is not None else []
    # the one gate, then the writes: a refusal (an existing file that is no manifest) writes no sidecar either
    data = write_manifest(data, output, [(s.file_name, s.content) for s in sidecars], force=args.force)
    _print_data_warnings(data)
    if output != "-":
        count = len(data["python_packages"])
        print(f"envcapture: wrote {output} ({count} Python packages, {len(data['warnings'])} warnings)",
              file=sys.stderr)
    return 0


def _data_specs(args, project: Path) -> list | None:
    """--data paths and the project's [tool.envcapture] data; None (and the data code is not even imported)
    when there are none and the project does not use DVC."""
    paths = getattr(args, "data", None) or []
    has_pyproject = (project / "pyproject.toml").is_file()
    uses_dvc = (project / "dvc.lock").is_file() or (project / ".dvc").is_dir()
    if not paths and not has_pyproject and not uses_dvc:
        return None
    from envcapture.data.specs import DataSpec, specs_from_pyproject

    specs = [DataSpec(path, Path.cwd(), excludes=tuple(args.exclude)) for path in paths]
    specs += specs_from_pyproject(project) if has_pyproject else []
    # empty in a DVC project without data sets: the data section then records only what DVC tracks
    return specs if specs or uses_dvc else None


def _add_data(manifest: dict, specs: list, args, project: Path, output: str) -> list:
    from envcapture.data import specs as datasets
    from envcapture.data.progress import data_progress

    output = None if output == "-" else output
    with data_progress() as progress:
        found = datasets.collect(specs, project, args.hash, not args.no_cache, output,
                                 roles=datasets.previous_roles(output), progress=progress)
    datasets.add_to_manifest(manifest, found.section, found.warnings)
    return found.sidecars


def _print_data_warnings(manifest: dict) -> None:
    """The data warnings as the gate left them (a file name may have held a secret), the first 20."""
    from envcapture.text import printable

    messages = [w["message"] for w in manifest.get("warnings", []) if w.get("source") == "data"]
    for message in messages[:20]:
        print(f"envcapture: warning: {printable(message)}", file=sys.stderr)
