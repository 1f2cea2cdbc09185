"""Mutation score per module: how many small bugs planted by cosmic-ray the tests that exercise a module catch.

Every module of the package is measured by default: they are found by walking envcapture/, not listed. Each
mutant is run against the tests that execute the line it changed, known from a coverage map: the fast suite
run once under coverage.py with one context per test (its subprocesses, such as ``python -m envcapture``,
measured too), cached by the content of the tree (~/.cache/envcapture/mutation). A mutant outside every
function body (a constant, a decorator, a default) runs against every test that executes any line of its
module. Where the map names no test for a line (only an unmeasured process runs it, or nothing does), the
mutant runs against the module's test files, as found before the map existed: those that import the module,
then those that reach it through what they import or through the CLI commands they run (a few modules keep
an explicit, hand-ordered list, EXPLICIT), fast-first. ``--selection files`` runs every mutant that way.

For each module, a copy of the working tree is made (tracked and untracked files, not the ignored ones);
cosmic-ray lists the mutations (a changed operator, constant, comparison, ...), and each is planted in the
copy in turn and its tests run (``-x``, without the docker and slow tests); a failing run kills the mutant.
The selected tests run once unmutated first: one that fails or skips there is left out. Prints one table:
module, mutants (run of all), killed, score, goal (90% for the trust-critical modules, 80% elsewhere), and
with ``--survivors`` each surviving mutation as a diff. Exit 1 when a module misses its goal.

    pip install -e '.[test,mutation]'
    python bench/mutation.py --list                   # the modules and the test files each falls back to
    python bench/mutation.py --map-only               # make the coverage map of this tree (the fast suite once)
    python bench/mutation.py --max-mutants 10         # a fixed random sample of 10 per module (--seed)
    python bench/mutation.py -m manifest/grammar -m manifest/redact --survivors
    python bench/mutation.py --map newest ...         # a map of an earlier tree, where it still holds
    python bench/mutation.py --selection files --verdicts a.json   # the file-level run, to compare verdicts

A mutant that times out counts as killed (cosmic-ray's rule); one that cosmic-ray could not apply
("incompetent") is left out of the score and counted apart. Mutants inside type annotations of a module
that never evaluates them (``from __future__ import annotations``: ``str | None`` -> ``str - None``) are
equivalent by construction and are not run.
"""

from __future__ import annotations

import argparse
import ast
import base64
import glob
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "envcapture"
FAST = ["-m", "not docker and not slow"]
# The property test of test_hostile.py runs 150 examples (~40 s here): too slow to repeat for every mutant.
NO_PROPERTY = ["-k", "not test_accepted_values_never_add_lines_or_instructions"]
TRUST_GOAL, GOAL = 0.90, 0.80
# What a stranger's manifest or data tree goes through first: the gate (validator, grammar, redact, conform),
# the readers of data sets and sidecars, protect, and gather's framing of many manifests.
TRUST_CRITICAL = {"manifest/validator", "manifest/grammar", "manifest/redact", "manifest/conform", "manifest/file",
                  "manifest/reader", "data/specs", "data/fingerprint", "data/dvc", "data/check", "data/protect",
                  "gather"}
# Modules whose code runs only against the Docker engine (reading an image, building one): measured with the
# docker tests too (-m "not slow"), against their whole test files (the coverage map is of the fast suite).
ENGINE_ONLY = {"compare/image_data", "build/docker", "build/packer"}
WITH_ENGINE = ["-m", "not slow"]  # pytest's last -m wins over FAST's


@dataclass
class Module:
    name: str  # the module's path inside the package, without .py: manifest/grammar, compare/many
    path: str  # a file, relative to the repository
    tests: list[str]  # globs, relative to the repository, in the order they run
    pytest_args: list[str] = field(default_factory=list)
    goal: float = GOAL
    direct: int = 0  # how many of the test files import the module itself
    engine: bool = False  # measured with the docker tests, see ENGINE_ONLY


# Hand-ordered lists kept from the first runs (the fast unit files first).
EXPLICIT = {
    "manifest/grammar": ["tests/*/test_grammar*.py", "tests/manifest/test_validate.py", "tests/render/test_hostile.py",
                         "tests/render/test_renderer_checks*.py"],
    "manifest/redact": ["tests/*/test_redact*.py", "tests/secrets/test_freeze_secrets.py"],
    "manifest/file": ["tests/*/test_manifest*.py", "tests/manifest/test_validate.py", "tests/cli/test_bad_input.py",
                      "tests/manifest/test_validator.py"],
    "data/protect": ["tests/data/test_protect_messages.py", "tests/data/test_protect_open_flags.py",
                     "tests/data/test_protect.py", "tests/data/test_protect_mounts.py", "tests/data/test_project_place.py"],
    "probes/target": ["tests/probes/test_target.py", "tests/probes/test_python_license.py",
                      "tests/capture/test_freeze_venv.py", "tests/cli/test_bad_input.py"],
    "probes/python_env": ["tests/probes/test_python_env.py", "tests/probes/test_package_indexes.py",
                          "tests/probes/test_python_license.py", "tests/secrets/test_probes.py",
                          "tests/capture/test_freeze_venv.py"],
    "render/plan": ["tests/render/test_plan*.py", "tests/render/test_base_packages.py", "tests/render/test_project.py",
                    "tests/render/test_kit.py", "tests/render/test_golden.py", "tests/render/test_devvm.py",
                    "tests/render/test_hostile.py", "tests/render/test_renderer_checks*.py"],
    "render/kit": ["tests/render/test_kit.py", "tests/render/test_golden.py", "tests/render/test_hostile.py",
                   "tests/render/test_renderer_checks*.py"],
    "render/lock": ["tests/render/test_lock*.py", "tests/render/test_golden.py", "tests/render/test_renderer_checks*.py"],
    "compare/image_data": ["tests/compare/test_image_data_modes.py", "tests/compare/test_image_data_hostile.py",
                           "tests/build/test_vendor_data_docker.py"],
    "build/docker": ["tests/build/test_build_messages.py", "tests/build/test_docker.py",
                     "tests/build/test_vendor_docker.py"],
    "build/packer": ["tests/build/test_vm_tools.py", "tests/build/test_packer_artifact.py",
                     "tests/build/test_vendor_packer.py"],
    # Tests newer than the coverage map, or reaching the module only through the CLI (data places, the problem cap)
    "manifest/validator": ["tests/manifest/test_validator_keywords.py", "tests/manifest/test_validator.py",
                           "tests/run/test_seed.py"],
    "data/check": ["tests/data/test_check_data.py", "tests/data/test_check_faults.py", "tests/data/test_project_place.py"],
    "data/specs": ["tests/data/test_manifest_data.py", "tests/data/test_project_place.py", "tests/data/test_check_data.py",
                   "tests/data/test_freeze_data_gate.py", "tests/render/test_kit_data.py", "tests/data/test_check_faults.py"],
    "data/dvc": ["tests/data/test_dvc.py", "tests/data/test_dvc_bounds.py", "tests/data/test_project_place.py"],
    "restore": ["tests/restore/test_restore_decisions.py", "tests/restore/test_trust.py",
                "tests/restore/test_restore_*.py", "tests/restore/test_restore.py"],
    # envcapture run: its code runs in the CLI the tests start (and the hook in the program it runs), so no test
    # file imports it; the files that run it come first.
    "run/command": ["tests/run/test_run.py", "tests/run/test_shared_environment.py", "tests/run/test_sealed_gate.py",
                    "tests/run/test_system_used.py"],
    "run/hook/_envcapture_hook": ["tests/run/test_run.py", "tests/run/test_system_used.py"],
    "run/hook/sitecustomize": ["tests/run/test_run.py"],
    "run/record": ["tests/run/test_record.py", "tests/run/test_run.py"],
    "seed": ["tests/run/test_seed.py", "tests/run/test_run.py"],
    "manifest/shared": ["tests/run/test_shared_environment.py", "tests/run/test_sealed_gate.py"],
    # the exit codes: the README's contract first (35 test files import errors, most for BadInput)
    "errors": ["tests/cli/test_internal_error.py", "tests/cli/test_bad_input.py", "tests/build/test_tool_hints.py"],
}


def dotted(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(root: Path) -> dict[str, Path]:
    """Every module of the package, by dotted name (a package by its __init__.py)."""
    return {dotted(path, root): path for path in sorted((root / PACKAGE).rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path], package: str | None = None) -> set[str]:
    """The package's modules that ``path`` imports anywhere (at the top or inside a function), by dotted name."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and package:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:  # import a.b.c where c is a function: a.b
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def command_modules(root: Path, modules: dict[str, Path]) -> dict[str, set[str]]:
    """CLI command -> the modules cli.py imports in that command's branch."""
    tree = ast.parse((root / PACKAGE / "cli.py").read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)):
            continue
        names = [c.value for c in ast.walk(node.test.comparators[0]) if isinstance(c, ast.Constant)
                 and isinstance(c.value, str)]
        if not (isinstance(node.test.left, ast.Name) and node.test.left.id == "command"):
            continue
        body = ast.Module(body=node.body, type_ignores=[])
        imported = set()
        for item in ast.walk(body):
            if isinstance(item, ast.ImportFrom) and item.module:
                for alias in item.names:
                    name = f"{item.module}.{alias.name}"
                    imported.add(name if name in modules else item.module)
        for name in names:
            found[name] = imported
    return found


def closure(start: set[str], graph: dict[str, set[str]]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for name in graph.get(todo.pop(), ()):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def test_reach(root: Path, modules: dict[str, Path]) -> dict[str, tuple[set[str], set[str]]]:
    """Test file -> (the modules it imports, the modules it reaches through those and the CLI)."""
    graph = {name: imports_of(path, modules, name if path.name == "__init__.py" else name.rpartition(".")[0])
             for name, path in modules.items()}
    graph[f"{PACKAGE}.cli"] = set()  # the CLI reaches only the commands a test names (below)
    commands = command_modules(root, modules)
    helpers = {path.stem: path for path in (root / "tests" / "helpers").glob("*.py")}
    reach = {}
    for test in sorted((root / "tests").rglob("test_*.py")):
        sources = [test, *[folder / "conftest.py" for folder in test.parents
                           if (folder / "conftest.py").is_file() and root / "tests" in (folder, *folder.parents)]]
        text = "\n".join(source.read_text(encoding="utf-8", errors="replace") for source in sources)
        direct = set()
        for source in sources:
            direct |= imports_of(source, modules)
        for stem, helper in helpers.items():
            if f"import {stem}" in text or f"from {stem} import" in text:
                direct |= imports_of(helper, modules)
        runs_cli = f"{PACKAGE}.cli" in direct or "clirun" in text or '"-m", "envcapture"' in text or "run_cli" in text
        if "clirun" in text or '"-m", "envcapture"' in text:  # a subprocess: python -m envcapture
            direct.add(f"{PACKAGE}.__main__")
        named = {c.value for source in sources for c in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
                 if isinstance(c, ast.Constant) and isinstance(c.value, str)} if runs_cli else set()
        through = set()
        for command, imported in commands.items():
            if command in named:
                through |= imported
        reached = closure((direct | through) - {f"{PACKAGE}.cli"}, graph) | ({f"{PACKAGE}.cli"} if runs_cli else set())
        reach[str(test.relative_to(root))] = (direct, reached)
    return reach


def has_code(path: Path) -> bool:
    """Whether a module holds anything but a docstring and imports (an empty package has nothing to mutate)."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return any(not (isinstance(node, (ast.Import, ast.ImportFrom)) or
                    isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body)


def discover(root: Path = REPO) -> list[Module]:
    modules = package_modules(root)
    reach = test_reach(root, modules)
    sizes = {test: (root / test).stat().st_size for test in reach}
    found = []
    for name, path in modules.items():
        if not has_code(path):
            continue
        short = str(path.relative_to(root / PACKAGE).with_suffix(""))
        short = short.removesuffix("/__init__") if short != "__init__" else PACKAGE
        rel = str(path.relative_to(root))
        importers = sorted((t for t, (direct, _) in reach.items() if name in direct), key=sizes.get)
        others = sorted((t for t, (direct, reached) in reach.items() if name in reached and name not in direct),
                        key=sizes.get)
        tests = EXPLICIT.get(short, importers + others)
        args = NO_PROPERTY if any("test_hostile" in t for t in tests) else []
        engine = short in ENGINE_ONLY
        found.append(Module(short, rel, tests, args + (WITH_ENGINE if engine else []),
                            TRUST_GOAL if short in TRUST_CRITICAL else GOAL, len(importers), engine))
    return found


@dataclass
class Score:
    module: Module
    total: int = 0
    killed: int = 0
    survived: int = 0
    incompetent: int = 0
    seconds: float = 0.0
    survivors: list[str] = field(default_factory=list)
    error: str = ""
    verdicts: dict[str, list[str]] = field(default_factory=dict)  # mutant -> [outcome, which tests ran]

    @property
    def ratio(self) -> float | None:
        tested = self.killed + self.survived
        return self.killed / tested if tested else None


def copy_tree(destination: Path) -> None:
    """The working tree as git sees it (tracked and untracked, not ignored): what CI would test."""
    for rel in listed_files(REPO):
        source = REPO / rel
        if source.is_file():
            (destination / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / rel)


# ---------------------------------------------------------------------------------------------------------------
# Which tests execute which line: collected once per tree with coverage.py, one context per test.
#
# The whole fast suite runs once under coverage with this file loaded as a pytest plugin (``-p mutation``):
# before each test the plugin switches coverage's context to ``T:<node id>``; a fixture wider than a function
# (module, session) is set up under ``F:<where>::<name>``, since its work serves every test that uses it; the
# subprocesses a test starts (``python -m envcapture ...``) are measured too, under the same context
# (coverage's patch=subprocess, the context written into the configuration they inherit). The result, line ->
# contexts, is cached by the content of the tree (bench/ and *.md left out: they change no test's verdict).
# ---------------------------------------------------------------------------------------------------------------

MAP_VERSION = 2
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "envcapture" / "mutation"
RECORD_ENV, SELECT_ENV = "ENVCAPTURE_MUTATION_RECORD", "ENVCAPTURE_MUTATION_SELECT"


def listed_files(root: Path) -> list[str]:
    """The files git sees in a checkout (tracked and untracked, not ignored); every file in a copy."""
    if not (root / ".git").exists():  # a copy made by copy_tree holds exactly those
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return sorted(rel for rel in listed if rel and (root / rel).is_file())


def counts_for_tests(rel: str) -> bool:
    """Whether a file can change a test's verdict (the bench scripts and the prose cannot)."""
    return not (rel.startswith("bench/") or rel.endswith(".md"))


def file_digests(root: Path) -> dict[str, str]:
    return {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in listed_files(root)
            if counts_for_tests(rel)}


def tree_digest(digests: dict[str, str]) -> str:
    return hashlib.sha256("".join(f"{rel}\0{d}\n" for rel, d in sorted(digests.items())).encode()).hexdigest()


try:
    import pytest as _pytest
except ImportError:  # bench/mutation.py itself runs without pytest; only the plugin needs it
    _pytest = None


def _with_context(context: str) -> None:
    """Record what runs from now on under ``context``, here and in the subprocesses started from now on."""
    import coverage

    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(context)
    inherited = os.environ.get("COVERAGE_PROCESS_CONFIG")
    if inherited:  # coverage's patch=subprocess: a child reads its whole configuration from this variable
        config = json.loads(base64.b64decode(inherited))
        config["context"] = context
        os.environ["COVERAGE_PROCESS_CONFIG"] = base64.b64encode(json.dumps(config).encode()).decode()


def _wide_fixtures(item) -> list[str]:
    info = getattr(item, "_fixtureinfo", None)
    keys = []
    for name, defs in (info.name2fixturedefs.items() if info else ()):
        if defs and str(defs[-1].scope) not in ("function", "Scope.Function"):
            keys.append(f"{defs[-1].baseid}::{name}")
    return keys


if _pytest is not None:
    class _Recorder:
        """Loaded under coverage for the map (and for a baseline): contexts, outcomes, durations."""

        def __init__(self, out: str):
            self.out, self.tests, self.stack = out, {}, [""]

        def pytest_collection_modifyitems(self, items):
            for item in items:
                self.tests[item.nodeid] = {"passed": True, "seconds": 0.0, "fixtures": _wide_fixtures(item)}

        @_pytest.hookimpl(wrapper=True)
        def pytest_runtest_protocol(self, item):
            self.stack = [f"T:{item.nodeid}"]
            _with_context(self.stack[-1])
            try:
                return (yield)
            finally:
                self.stack = [""]
                _with_context("")

        @_pytest.hookimpl(wrapper=True)
        def pytest_fixture_setup(self, fixturedef, request):
            if str(fixturedef.scope) in ("function", "Scope.Function"):
                return (yield)
            self.stack.append(f"F:{fixturedef.baseid}::{fixturedef.argname}")
            _with_context(self.stack[-1])
            try:
                return (yield)
            finally:
                self.stack.pop()
                _with_context(self.stack[-1])

        def pytest_runtest_logreport(self, report):
            test = self.tests.setdefault(report.nodeid, {"passed": True, "seconds": 0.0, "fixtures": []})
            test["seconds"] += report.duration
            if report.failed or (report.when == "call" and report.skipped):
                test["passed"] = False

        def pytest_sessionfinish(self):
            Path(self.out).write_text(json.dumps(self.tests))

    class _Selector:
        """Runs only the tests named in a file, in its order (the fast ones first)."""

        def __init__(self, path: str):
            self.order = {nodeid: n for n, nodeid in enumerate(Path(path).read_text().splitlines())}

        def pytest_collection_modifyitems(self, config, items):
            def place(item):  # a test named, or a file named whole
                return self.order.get(item.nodeid, self.order.get(item.nodeid.split("::")[0]))

            kept = sorted((item for item in items if place(item) is not None), key=place)  # stable: a file keeps its order
            dropped = [item for item in items if place(item) is None]
            if dropped:
                config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_configure(config):
        if os.environ.get(RECORD_ENV):
            config.pluginmanager.register(_Recorder(os.environ[RECORD_ENV]), "envcapture-mutation-recorder")
        if os.environ.get(SELECT_ENV):
            config.pluginmanager.register(_Selector(os.environ[SELECT_ENV]), "envcapture-mutation-selector")


def tree_env(tree: Path, *first: Path) -> dict[str, str]:
    """The environment of a test run in ``tree``: the tree first on PYTHONPATH, so that the CLI a test starts
    (``python -m envcapture`` from a temporary folder) runs the mutant, not the checkout the editable install
    points at (tests that clear PYTHONPATH put their own repository root back, tests/helpers/clirun.py)."""
    path = os.pathsep.join(p for p in (*map(str, first), str(tree), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": path}


def plugin_env(tree: Path, **extra: str) -> dict[str, str]:
    """The environment of a test run that loads this file as a plugin (``-p mutation``)."""
    return {**tree_env(tree, tree / "bench"), **extra}


def collect_map(tree: Path, digests: dict[str, str], targets: tuple[str, ...] = ("tests",),
                shards: int = 2) -> dict:
    """Run the fast suite once in ``tree`` under coverage, one context per test; the map of line -> tests."""
    import coverage

    work = Path(tempfile.mkdtemp(prefix="envcapture-coverage-"))
    try:
        rc = work / "coveragerc"
        rc.write_text(f"[run]\nsource = {tree / PACKAGE}\npatch = subprocess\nparallel = true\n"
                      f"data_file = {work / 'data' / '.coverage'}\n")
        (work / "data").mkdir()
        # Some tests run the CLI as an unprivileged uid (setpriv): it must read the tree and write its data.
        for folder, mode in ((tree, 0o755), (work, 0o755), (work / "data", 0o1777)):
            folder.chmod(mode)
        started = time.perf_counter()
        print(f"coverage map: running the fast suite once in {tree} (one context per test, {shards} shards)",
              flush=True)
        # The tree itself first on the path, as ``python -m pytest`` in it has it: under ``coverage run`` the
        # editable install's finder would otherwise import the package from the checkout, unmeasured.
        env = plugin_env(tree)
        env["PYTHONPATH"] = os.pathsep.join([str(tree), env["PYTHONPATH"]])
        if targets == ("tests",):
            files = sorted((str(p.relative_to(tree)) for p in (tree / "tests").rglob("test_*.py")
                            if not {"fixtures", "golden"} & set(p.parts)),
                           key=lambda f: -(tree / f).stat().st_size)
            parts = [files[n::shards] for n in range(shards)]
        else:
            parts = [list(targets)]
        runs = []
        for n, part in enumerate(parts):
            record = work / f"tests-{n}.json"
            runs.append((record, subprocess.Popen(
                [sys.executable, "-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest", "-q", "-p",
                 "no:cacheprovider", "-p", "no:randomly", "-p", "mutation", *FAST, *part], cwd=tree,
                env={**env, RECORD_ENV: str(record)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
        tests = {}
        for record, run in runs:
            tail = run.communicate()[0].strip().splitlines()[-1:]
            print(f"coverage map: a shard done after {time.perf_counter() - started:.0f} s (exit {run.returncode}): "
                  + "".join(tail), flush=True)
            tests.update(json.loads(record.read_text()) if record.exists() else {})
        subprocess.run([sys.executable, "-m", "coverage", "combine", f"--rcfile={rc}", "-q"], cwd=work,
                       capture_output=True, check=True)
        data = coverage.CoverageData(basename=str(work / "data" / ".coverage"))
        data.read()
        contexts: dict[str, int] = {}
        lines: dict[str, dict[int, list[int]]] = {}
        for measured in data.measured_files():
            try:
                rel = str(Path(measured).resolve().relative_to(tree.resolve()))
            except ValueError:
                continue
            by_line = data.contexts_by_lineno(measured)
            lines[rel] = {line: sorted({contexts.setdefault(c, len(contexts)) for c in found if c})
                          for line, found in by_line.items()}
        return {"version": MAP_VERSION, "digest": tree_digest(digests), "files": digests, "tests": tests,
                "contexts": sorted(contexts, key=contexts.get), "lines": lines,
                "seconds": round(time.perf_counter() - started)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load_or_collect_map(tree: Path) -> dict:
    """The map of this tree's content: from the cache, else the newest cached map (used only where it is
    still right, see Selection), else collected now."""
    digests = file_digests(tree)
    digest = tree_digest(digests)
    CACHE.mkdir(parents=True, exist_ok=True)
    exact = CACHE / f"map-{digest}.json.gz"
    if exact.exists():
        found = json.loads(gzip.decompress(exact.read_bytes()))
        if found.get("version") == MAP_VERSION:
            return found
    found = collect_map(tree, digests)
    partial = exact.with_suffix(".tmp")
    partial.write_bytes(gzip.compress(json.dumps(found).encode()))
    partial.replace(exact)
    return found


def newest_cached_map() -> dict | None:
    maps = sorted(CACHE.glob("map-*.json.gz"), key=lambda p: p.stat().st_mtime) if CACHE.is_dir() else []
    for path in reversed(maps):
        found = json.loads(gzip.decompress(path.read_bytes()))
        if found.get("version") == MAP_VERSION:
            return found
    return None


def definition_lines(path: Path) -> set[int]:
    """The lines that run when the module is imported (outside every function body): constants, class bodies,
    decorators, default values. They run once per process, under whichever test imported the module first."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            body = node.body if isinstance(node.body, list) else [node.body]
            inside |= set(range(body[0].lineno, max(getattr(b, "end_lineno", b.lineno) for b in body) + 1))
    total = len(path.read_text(encoding="utf-8").splitlines())
    return set(range(1, total + 1)) - inside


def source_by_digest(path: str, digest: str) -> str | None:
    """The text of ``path`` as it was when its SHA-256 was ``digest``, from this repository's history."""
    commits = subprocess.run(["git", "log", "--all", "--format=%H", "-n", "200", "--", path], cwd=REPO,
                             capture_output=True, text=True).stdout.split()
    for commit in commits:
        blob = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=REPO, capture_output=True).stdout
        if hashlib.sha256(blob).hexdigest() == digest:
            return blob.decode("utf-8")
    return None


def same_lines(old: str, new: str) -> dict[int, int]:
    """New line number -> old line number, for the lines difflib finds unchanged between the two texts."""
    import difflib

    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    return {b + k + 1: a + k + 1 for a, b, size in matcher.get_matching_blocks() for k in range(size)}


class Selection:
    """Per mutant, the test ids that execute its lines (from the map), else None: the module's test files.

    A line in a function body takes the tests that executed it; a line outside every function body (a
    constant, a decorator, a default) takes every test that executed any line of the module. A map made on
    another tree (``--map newest``) is used where it still holds: a line of the module that is unchanged since
    (matched with difflib against the module as the map saw it, found in git by its SHA-256) takes the tests
    the map names, a changed line falls back to the module's test files; the module's test files that are new
    or changed since the map are run whole as well."""

    def __init__(self, themap: dict, tree: Path, path: str, module_files: list[str]):
        self.tree, self.path = tree, path
        raw_bytes = (tree / path).read_bytes()
        text, now = raw_bytes.decode("utf-8"), hashlib.sha256(raw_bytes).hexdigest()
        then = themap["files"].get(path)
        if then == now:
            self.old_line = {n: n for n in range(1, len(text.splitlines()) + 1)}
        else:
            old_text = source_by_digest(path, then) if then else None
            self.old_line = same_lines(old_text, text) if old_text is not None else {}
        self.usable = bool(self.old_line)
        tests = themap["tests"]
        self.passed = {t for t, info in tests.items() if info["passed"]}
        self.seconds = {t: info["seconds"] for t, info in tests.items()}
        self.order = {t: n for n, t in enumerate(tests)}
        users = defaultdict(set)
        for test, info in tests.items():
            for key in info["fixtures"]:
                users[key].add(test)
        contexts = themap["contexts"]

        def tests_of(index: int) -> set[str]:
            context = contexts[index]
            return {context[2:]} if context.startswith("T:") else users.get(context[2:], set())

        raw = themap["lines"].get(path, {})
        self.by_line = {int(line): set().union(*map(tests_of, found)) & self.passed
                        for line, found in raw.items()} if self.usable else {}
        self.whole_module = set().union(*self.by_line.values()) if self.by_line else set()
        self.definitions = definition_lines(tree / path) if self.usable else set()
        current = {rel: hashlib.sha256((tree / rel).read_bytes()).hexdigest() for rel in module_files}
        self.changed_files = [rel for rel in module_files if themap["files"].get(rel) != current[rel]]

    def select(self, spec) -> list[str] | None:
        if not self.usable:
            return None
        lines = range(spec.start_pos[0], spec.end_pos[0] + 1)
        if any(line not in self.old_line for line in lines):
            return None  # changed since the map was made
        chosen: set[str] = set()
        for line in lines:
            chosen |= self.whole_module if line in self.definitions else self.by_line.get(self.old_line[line], set())
        if not chosen:
            return None  # no instrumented test runs it: maybe one outside coverage's sight does
        by_file = defaultdict(list)
        for test in sorted(chosen, key=self.order.get):
            if test.split("::")[0] not in self.changed_files and (self.tree / test.split("::")[0]).is_file():
                by_file[test.split("::")[0]].append(test)
        # The files whose chosen tests are quickest first (a module's tests kept together and in their
        # order, so its fixtures are set up once), then the changed files whole.
        files = sorted(by_file, key=lambda f: sum(self.seconds.get(t, 0.0) for t in by_file[f]))
        return [test for f in files for test in by_file[f]] + self.changed_files or None

    def seconds_of(self, selected: list[str]) -> float:
        """The map's time for the selected tests; a file run whole (changed since the map) counts with every
        test the map knows in it, and a file the map does not know with 60 s: a run past the timeout counts as
        a kill, so a whole file must not be cut short by the time of the single tests beside it."""
        tests = {t for t in selected if "::" in t}
        whole = {t for t in selected if "::" not in t}
        known = defaultdict(float)
        for test, seconds in self.seconds.items():
            known[test.split("::")[0]] += seconds
        return (sum(self.seconds.get(t, 0.0) for t in tests)
                + sum(known[f] if f in known else 60.0 for f in whole))


def module_path(tree: Path, module: Module) -> str | None:
    for candidate in (module.path, module.path + ".py", module.path.removesuffix(".py")):
        if (tree / candidate).exists():
            return candidate
    return None


def test_files(tree: Path, module: Module) -> list[str]:
    """The module's test files in the order of its globs: its fast unit tests first, so that with ``-x`` most
    mutants are killed before the slower end-to-end files start."""
    found = [str(Path(p).relative_to(tree)) for pattern in module.tests for p in sorted(glob.glob(str(tree / pattern)))]
    return list(dict.fromkeys(found))


def test_command(files: list[str], module: Module) -> list[str]:
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *FAST,
            *module.pytest_args, *files]


def write_config(tree: Path, path: str, command: list[str], timeout: float) -> Path:
    import shlex

    config = tree / "cosmic-ray.toml"
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {path!r}\n"
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {shlex.join(command)!r}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n')
    return config


def count_mutants(session: Path) -> int:
    from cosmic_ray.work_db import WorkDB, use_db

    with use_db(str(session), WorkDB.Mode.open) as db:
        return db.num_work_items


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the type annotations of a module are, when the module never evaluates them
    (``from __future__ import annotations``): a mutant there (``str | None`` -> ``str - None``) is equivalent."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    if not any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
               and any(alias.name == "annotations" for alias in node.names) for node in tree.body):
        return []
    spans = []
    for node in ast.walk(tree):
        annotation = node.annotation if isinstance(node, (ast.arg, ast.AnnAssign)) else \
            node.returns if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if annotation is not None:
            spans.append(((annotation.lineno, annotation.col_offset),
                          (annotation.end_lineno, annotation.end_col_offset)))
    return spans


def skip_equivalent_and_all_but_a_sample(session: Path, tree: Path, keep: int, seed: int) -> int:
    """Mark the mutants inside unevaluated annotations, then all but a fixed random sample of the rest, as
    skipped; returns how many were in annotations."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        spans: dict[str, list] = {}
        in_annotations = []
        for item in db.work_items:
            spec = item.mutations[0]
            key = str(spec.module_path)
            if key not in spans:
                spans[key] = annotation_spans(tree / key)
            if any(start <= tuple(spec.start_pos) < end for start, end in spans[key]):
                in_annotations.append(item.job_id)
        if in_annotations:
            db.set_multiple_results(in_annotations, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                               output="in a type annotation that is never evaluated"))
        # cosmic-ray names its jobs with random UUIDs: sample from the mutations themselves, in an order that an
        # edit adding or removing no mutable code leaves alone, so that the same seed draws the same mutants.
        keys = {item.job_id: _sample_key(item.mutations[0]) for item in db.work_items}
        jobs = sorted(set(keys) - set(in_annotations), key=keys.get)
        if keep and keep < len(jobs):
            kept = set(random.Random(seed).sample(jobs, keep))
            skipped = [job for job in jobs if job not in kept]
            db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                        output="not in the sample (--max-mutants)"))
        return len(in_annotations)


def _sample_key(spec) -> tuple:
    return (str(spec.module_path), spec.operator_name, repr(sorted(spec.operator_args.items())), spec.occurrence)


def read_results(session: Path, score: Score) -> None:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    with use_db(str(session), WorkDB.Mode.open) as db:
        items = {item.job_id: item for item in db.work_items}
        for job_id, result in db.results:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            spec = items[job_id].mutations[0]
            ran = (result.output or "").partition("\n")[0]
            outcome = result.test_outcome.value if result.test_outcome else str(result.worker_outcome.value)
            score.verdicts[f"{spec.module_path}:{spec.start_pos[0]}:{'|'.join(map(str, _sample_key(spec)[1:]))}"] = \
                [outcome, ran]
            if result.test_outcome == TestOutcome.SURVIVED:
                score.survived += 1
                spec = items[job_id].mutations[0]
                where = f"{spec.module_path}:{spec.start_pos[0]} {spec.operator_name}"
                score.survivors.append(f"{where}\n{result.diff or ''}")
            elif result.test_outcome == TestOutcome.KILLED:
                score.killed += 1
            else:
                score.incompetent += 1


def tree_of(module: Module, workdir: Path) -> Path:
    return workdir / module.name.replace("/", "-")


def run_module(module: Module, workdir: Path, args, themap: dict | None = None) -> Score:
    score = Score(module)
    started = time.perf_counter()
    tree = tree_of(module, workdir)
    path = module_path(tree, module)
    files = test_files(tree, module)
    if path is None or not (files or themap):
        score.error = f"no module at {module.path}" if path is None else "no test files"
        return score
    session = tree / "session.sqlite"
    config = tree / "cosmic-ray.toml"
    cosmic_ray = [sys.executable, "-c", "from cosmic_ray.cli import main; main()"]
    pristine = tree / ".pristine"
    if args.report_only:
        if session.exists():
            score.total = count_mutants(session)
            read_results(session, score)
        else:
            score.error = "not run yet"
        return score
    if session.exists():
        # Resuming (--keep): a run stopped mid-mutant leaves its mutation in place; put the module back first.
        if pristine.is_dir():
            shutil.copytree(pristine, tree / path, dirs_exist_ok=True)
        else:
            shutil.copy2(pristine, tree / path)
    else:
        if (tree / path).is_dir():
            shutil.copytree(tree / path, pristine)
        else:
            shutil.copy2(tree / path, pristine)
        write_config(tree, path, test_command(files, module), 60.0)  # cosmic-ray plants; run_pending runs
        subprocess.run([*cosmic_ray, "init", str(config), str(session)], cwd=tree, check=True, capture_output=True)
        skip_equivalent_and_all_but_a_sample(session, tree, args.max_mutants, args.seed)
    score.total = count_mutants(session)
    run_pending(module, tree, path, files, session, None if module.engine else themap, score, args.no_baseline)
    read_results(session, score)
    score.seconds = time.perf_counter() - started
    return score


def run_tests(command: list[str], tree: Path, env: dict, timeout: float) -> tuple[str, str, float]:
    """Run a test command: ('killed' | 'survived' | 'incompetent', output, seconds). A run past the timeout
    is killed with its whole process group and counts as killed (cosmic-ray's rule); a run that selected no
    test at all (pytest's exit 5) tells nothing."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        output = proc.communicate(timeout=timeout)[0].decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, 9)
        except OSError:
            proc.kill()
        proc.communicate()
        return "killed", f"timeout after {timeout:.0f} s", time.perf_counter() - started
    took = time.perf_counter() - started
    if proc.returncode == 0:
        return "survived", output, took
    # pytest's 3 (internal error), 4 (usage error: a test file not there) and 5 (no test ran) tell nothing
    return ("incompetent" if proc.returncode in (3, 4, 5) else "killed"), output, took


def selected_command(tree: Path, module: Module, selected: list[str], record: Path | None = None,
                     stop_first: bool = True) -> tuple[list[str], dict]:
    """pytest on the files of the selected tests, this file's plugin keeping only those tests, in order."""
    listing = tree / (".selected-baseline" if record else ".selected")
    listing.write_text("\n".join(selected) + "\n")
    files = list(dict.fromkeys(t.split("::")[0] for t in selected))
    command = [sys.executable, "-m", "pytest", *(["-x"] if stop_first else []), "-q", "-p", "no:cacheprovider",
               "-p", "no:randomly", "-p", "mutation", *FAST, *module.pytest_args, *files]
    extra = {SELECT_ENV: str(listing), **({RECORD_ENV: str(record)} if record else {})}
    return command, plugin_env(tree, **extra)


def run_pending(module: Module, tree: Path, path: str, files: list[str], session: Path, themap: dict | None,
                score: Score, no_baseline: bool = False) -> None:
    """Plant each pending mutant in turn and run the tests that execute its lines (per the coverage map),
    or the module's test files where the map names none."""
    from cosmic_ray.mutating import _make_diff, use_mutation
    from cosmic_ray.plugins import get_operator
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        pending = list(db.pending_work_items)
    if not pending:
        return
    selection = Selection(themap, tree, path, files) if themap else None
    plans = {item.job_id: selection.select(item.mutations[0]) if selection else None for item in pending}
    union = list(dict.fromkeys(t for plan in plans.values() if plan for t in plan))
    if union and not no_baseline:
        # Baseline of the selected tests, unmutated: one that fails or skips here could kill nothing fairly.
        record = tree / ".baseline.json"
        command, env = selected_command(tree, module, union, record, stop_first=False)
        run_tests(command, tree, env, 3600)
        outcomes = json.loads(record.read_text()) if record.exists() else {}
        bad = {t for t, info in outcomes.items() if not info["passed"]}
        if bad:
            print(f"  {module.name}: {len(bad)} selected test(s) fail or skip unmutated, left out: "
                  + ", ".join(sorted(bad)[:3]), file=sys.stderr, flush=True)
        plans = {job: ([t for t in plan if t not in bad] or None) if plan else None for job, plan in plans.items()}
    file_timeout = None
    if any(plan is None for plan in plans.values()) and not files:
        score.error = "no test file to fall back to (the map names no test for some lines)"
    elif any(plan is None for plan in plans.values()):
        command = test_command(files, module)
        verdict, output, took = run_tests(command, tree, tree_env(tree), 7200)
        if verdict != "survived":
            score.error = "the tests fail without any mutation:\n" + output[-1500:]
        else:
            file_timeout = max(60.0, 4 * took)  # a mutant that makes the tests hang counts as killed
    seconds = selection.seconds_of if selection else (lambda _: 0.0)
    for item in pending:
        plan = plans[item.job_id]
        if plan is None and file_timeout is None:
            continue
        spec = item.mutations[0]
        operator = get_operator(spec.operator_name)(**spec.operator_args)
        with use_mutation(tree / spec.module_path, operator, spec.occurrence) as (original, mutated):
            if mutated is None:
                result = WorkResult(worker_outcome=WorkerOutcome.NO_TEST)
            else:
                if plan is None:
                    command, env, timeout, how = (test_command(files, module),
                                                  tree_env(tree), file_timeout,
                                                  f"the module's {len(files)} test files")
                else:
                    command, env = selected_command(tree, module, plan)
                    timeout, how = 30 + 3 * seconds(plan), f"{len(plan)} selected tests"
                verdict, output, took = run_tests(command, tree, env, timeout)
                outcome = {"killed": TestOutcome.KILLED, "survived": TestOutcome.SURVIVED}.get(
                    verdict, TestOutcome.INCOMPETENT)
                diff = "\n".join(_make_diff(original, mutated, spec.module_path))
                result = WorkResult(output=f"ran: {how} in {took:.1f} s\n{output[-4000:]}", diff=diff,
                                    test_outcome=outcome, worker_outcome=WorkerOutcome.NORMAL)
        with use_db(str(session), WorkDB.Mode.open) as db:
            db.set_result(item.job_id, result)


HEADER = f"{'module':<24} {'mutants':>12} {'killed':>7} {'score':>7} {'goal':>5}  verdict"


def report(score: Score, survivors: bool) -> str:
    """One row of the table: module, mutants run (of all), killed, score, goal, verdict."""
    module = score.module
    tested = score.killed + score.survived
    mutants = f"{tested}/{score.total}"
    if score.ratio is None:
        why = score.error.splitlines()[0] if score.error else "no mutant run"
        line = f"{module.name:<24} {mutants:>12} {'-':>7} {'-':>7} {module.goal:>5.0%}  {why}"
    else:
        verdict = "ok" if score.ratio >= module.goal else "BELOW GOAL"
        extra = f" ({score.incompetent} incompetent)" if score.incompetent else ""
        line = (f"{module.name:<24} {mutants:>12} {score.killed:>7} {score.ratio:>7.1%} {module.goal:>5.0%}  "
                f"{verdict}{extra}  [{score.seconds:.0f} s]")
    if score.error and score.ratio is not None:
        line += "\n    error: " + score.error.splitlines()[0]
    if survivors and score.survivors:
        line += "\n" + "\n".join("    survived: " + s.replace("\n", "\n        ") for s in score.survivors)
    return line


def markdown_table(scores: list[Score], args) -> str:
    rows = ["| module | goal | mutants run (of all) | killed | score | survivors |", "|---|---|---|---|---|---|"]
    for score in scores:
        tested = score.killed + score.survived
        ratio = f"{score.ratio:.0%}" if score.ratio is not None else "-"
        survivors = "; ".join(s.splitlines()[0].split(" ", 1)[0].rpartition("/")[2] + " "
                              + s.splitlines()[0].split(" ", 1)[1].removeprefix("core/") for s in score.survivors)
        note = survivors or (score.error.splitlines()[0] if score.error else "")
        rows.append(f"| {score.module.name} | {score.module.goal:.0%} | {tested}/{score.total} | {score.killed} | "
                    f"{ratio} | {note} |")
    return (f"Sample: {args.max_mutants or 'all'} mutants per module, seed {args.seed}.\n\n" + "\n".join(rows) + "\n")


def main(argv=None) -> int:
    modules = discover()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--module", action="append", choices=[m.name for m in modules], metavar="MODULE",
                        help="a module to mutate, as manifest/grammar (repeat; default: all)")
    parser.add_argument("--max-mutants", type=int, default=0, help="a random sample of N mutants per module (0: all)")
    parser.add_argument("--seed", type=int, default=13, help="the sample's seed (same seed, same sample)")
    parser.add_argument("--jobs", type=int, default=1, help="modules run at the same time")
    parser.add_argument("--direct-only", action="store_true",
                        help="run each module only against the test files that import it (when there are any)")
    parser.add_argument("--survivors", action="store_true", help="print each surviving mutation")
    parser.add_argument("--list", action="store_true", help="print each module and its test files, run nothing")
    parser.add_argument("--report-only", action="store_true",
                        help="print the scores of the mutants run so far in --keep DIR, run nothing")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one); "
                                                  "run again with the same folder to resume a stopped run")
    parser.add_argument("--selection", choices=["lines", "files"], default="lines",
                        help="lines (default): per mutant, the tests that execute its lines (coverage map, cached by "
                             "the tree's content); files: the module's whole test files for every mutant")
    parser.add_argument("--map", choices=["collect", "newest"], default="collect",
                        help="without a map of this very tree: collect one (the fast suite once under coverage), or "
                             "use the newest cached map where it still holds (the module unchanged; its changed "
                             "test files run whole)")
    parser.add_argument("--only", choices=["trust-critical", "others"],
                        help="only the trust-critical modules (goal 90%%), or only the others")
    parser.add_argument("--max-fallback-files", type=int, default=0,
                        help="where the map names no test for a mutant's line, run at most this many of the "
                             "module's test files (the fast, importing ones first; 0: all)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="do not run the selected tests unmutated first (the map's own run already "
                             "left out the tests that failed or skipped)")
    parser.add_argument("--markdown", type=Path, help="write the table in Markdown too, each survivor named")
    parser.add_argument("--verdicts", type=Path, help="write each mutant's verdict and the tests it ran (JSON)")
    parser.add_argument("--map-only", action="store_true",
                        help="make (or find) the coverage map of the working tree, run no mutant")
    args = parser.parse_args(argv)
    if args.map_only:
        with tempfile.TemporaryDirectory(prefix="envcapture-coverage-tree-") as copy:
            copy_tree(Path(copy))
            found = load_or_collect_map(Path(copy))
        print(f"coverage map {found['digest'][:12]}: {len(found['tests'])} tests, "
              f"{sum(len(v) for v in found['lines'].values())} lines, {len(found['contexts'])} contexts")
        return 0
    chosen = [m for m in modules if not args.module or m.name in args.module]
    chosen.sort(key=lambda m: m.goal != TRUST_GOAL)  # the trust-critical modules first (a stable sort)
    if args.only:
        chosen = [m for m in chosen if (m.goal == TRUST_GOAL) == (args.only == "trust-critical")]
    if args.direct_only:
        for module in chosen:
            if module.direct and module.name not in EXPLICIT:
                module.tests = module.tests[:module.direct]
    if args.max_fallback_files:
        for module in chosen:
            module.tests = module.tests[:args.max_fallback_files]
    if args.list:
        for module in chosen:
            files = test_files(REPO, module)
            print(f"{module.name} (goal {module.goal:.0%}; {module.direct} importing, {len(files)} in all): "
                  + (" ".join(files) or "NO TEST FILE"))
        return 0
    try:
        import cosmic_ray  # noqa: F401
    except ImportError:
        print("bench: cosmic-ray is not installed: pip install -e '.[mutation]'", file=sys.stderr)
        return 3
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="envcapture-mutation-"))
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)  # tests that run the CLI as an unprivileged uid read the copies
    try:
        # Every copy is made before the first mutant runs: all modules are measured on the same snapshot,
        # even when the working tree changes during a long run.
        for module in chosen:
            if not tree_of(module, workdir).exists() and not args.report_only:  # an existing one is resumed
                tree_of(module, workdir).mkdir(parents=True)
                copy_tree(tree_of(module, workdir))
        themap = None
        if args.selection == "lines" and not args.report_only:
            exact = CACHE / f"map-{tree_digest(file_digests(REPO))}.json.gz"
            if exact.exists():
                themap = json.loads(gzip.decompress(exact.read_bytes()))
            elif args.map == "collect":
                with tempfile.TemporaryDirectory(prefix="envcapture-coverage-tree-") as copy:
                    copy_tree(Path(copy))
                    themap = load_or_collect_map(Path(copy))
            else:
                themap = newest_cached_map()
            if themap:
                print(f"coverage map {themap['digest'][:12]}" + (" (of another tree)" if not exact.exists() else ""),
                      flush=True)
        print(f"sample: {args.max_mutants or 'all'} mutants per module, seed {args.seed}", flush=True)
        print(HEADER, flush=True)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_module, module, workdir, args, themap) for module in chosen]
            scores = []
            for future in futures:
                scores.append(future.result())
                print(report(scores[-1], args.survivors), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.markdown:
        args.markdown.write_text(markdown_table(scores, args))
    if args.verdicts:
        args.verdicts.write_text(json.dumps({s.module.name: s.verdicts for s in scores}, indent=1, sort_keys=True))
    measured = [s for s in scores if s.ratio is not None]
    killed, tested = sum(s.killed for s in measured), sum(s.killed + s.survived for s in measured)
    print(f"{len(measured)} of {len(scores)} modules measured; {killed}/{tested} mutants killed"
          + (f" ({killed / tested:.1%})" if tested else ""), flush=True)
    return 0 if all(s.ratio is not None and s.ratio >= s.module.goal for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
