"""Mutation score per module: how many small bugs planted by cosmic-ray the tests that exercise a module catch.

Every module of the package is measured by default: they are found by walking envcapture/, not listed. Each
is run against the test files that exercise it: those that import it, then those that reach it through
what they import or through the CLI commands they run (cli.py imports each command's module inside its
branch; a test file that runs the CLI and names a command reaches that command's modules). A few modules
keep an explicit, hand-ordered list (EXPLICIT). The test files are ordered fast-first: the direct
importers, then the others, smallest first.

For each module, a copy of the working tree is made (tracked and untracked files, not the ignored ones),
cosmic-ray plants one mutation at a time in the copy (a changed operator, constant, comparison, ...) and
runs the module's test files against it (``-x``, without the docker and slow tests); a failing run kills
the mutant. Prints one table: module, mutants (run of all), killed, score, goal (90% for the trust-critical
modules, 80% elsewhere), and with ``--survivors`` each surviving mutation as a diff. Exit 1 when a module
misses its goal.

    pip install -e '.[test,mutation]'
    python bench/mutation.py --list                   # the modules and the test files each is run against
    python bench/mutation.py                          # every module, every mutant (days on 2 cores)
    python bench/mutation.py --max-mutants 15         # a fixed random sample of 15 per module (--seed)
    python bench/mutation.py -m manifest/grammar -m manifest/redact --survivors
    python bench/mutation.py --jobs 2 --direct-only   # two modules at a time; only the importing test files

A mutant that times out counts as killed (cosmic-ray's rule); one that cosmic-ray could not apply
("incompetent") is left out of the score and counted apart. Mutants inside type annotations of a module
that never evaluates them (``from __future__ import annotations``: ``str | None`` -> ``str - None``) are
equivalent by construction and are not run.
"""

from __future__ import annotations

import argparse
import ast
import glob
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
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


@dataclass
class Module:
    name: str  # the module's path inside the package, without .py: manifest/grammar, compare/many
    path: str  # a file, relative to the repository
    tests: list[str]  # globs, relative to the repository, in the order they run
    pytest_args: list[str] = field(default_factory=list)
    goal: float = GOAL
    direct: int = 0  # how many of the test files import the module itself


# Hand-ordered lists kept from the first runs (the fast unit files first).
EXPLICIT = {
    "manifest/grammar": ["tests/*/test_grammar*.py", "tests/manifest/test_validate.py", "tests/render/test_hostile.py",
                         "tests/render/test_renderer_checks*.py"],
    "manifest/redact": ["tests/*/test_redact*.py", "tests/secrets/test_freeze_secrets.py"],
    "manifest/file": ["tests/*/test_manifest*.py", "tests/manifest/test_validate.py", "tests/cli/test_bad_input.py"],
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
    "restore": ["tests/restore/test_restore_decisions.py", "tests/restore/test_trust.py",
                "tests/restore/test_restore_*.py", "tests/restore/test_restore.py"],
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
        found.append(Module(short, rel, tests, args, TRUST_GOAL if short in TRUST_CRITICAL else GOAL,
                            len(importers)))
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

    @property
    def ratio(self) -> float | None:
        tested = self.killed + self.survived
        return self.killed / tested if tested else None


def copy_tree(destination: Path) -> None:
    """The working tree as git sees it (tracked and untracked, not ignored): what CI would test."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        source = REPO / rel
        if source.is_file():
            (destination / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / rel)


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


def run_module(module: Module, workdir: Path, args) -> Score:
    score = Score(module)
    started = time.perf_counter()
    tree = tree_of(module, workdir)
    path = module_path(tree, module)
    files = test_files(tree, module)
    if path is None or not files:
        score.error = f"no module at {module.path}" if path is None else "no test files"
        return score
    command = test_command(files, module)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
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
        baseline = subprocess.run(command, cwd=tree, capture_output=True, text=True, env=env)
        if baseline.returncode != 0:
            score.error = "the tests fail without any mutation:\n" + baseline.stdout[-1500:]
            return score
        if (tree / path).is_dir():
            shutil.copytree(tree / path, pristine)
        else:
            shutil.copy2(tree / path, pristine)
        # The baseline's duration bounds each mutant's run: a mutant that makes the tests hang counts as killed.
        write_config(tree, path, command, max(60.0, 4 * (time.perf_counter() - started)))
        subprocess.run([*cosmic_ray, "init", str(config), str(session)], cwd=tree, check=True, capture_output=True)
        skip_equivalent_and_all_but_a_sample(session, tree, args.max_mutants, args.seed)
    score.total = count_mutants(session)
    done = subprocess.run([*cosmic_ray, "exec", str(config), str(session)], cwd=tree, capture_output=True,
                          text=True, env=env)
    if done.returncode != 0:
        score.error = "cosmic-ray exec failed:\n" + done.stderr[-1500:]
    read_results(session, score)
    score.seconds = time.perf_counter() - started
    return score


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
    args = parser.parse_args(argv)
    chosen = [m for m in modules if not args.module or m.name in args.module]
    if args.direct_only:
        for module in chosen:
            if module.direct and module.name not in EXPLICIT:
                module.tests = module.tests[:module.direct]
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
    try:
        # Every copy is made before the first mutant runs: all modules are measured on the same snapshot,
        # even when the working tree changes during a long run.
        for module in chosen:
            if not tree_of(module, workdir).exists() and not args.report_only:  # an existing one is resumed
                tree_of(module, workdir).mkdir(parents=True)
                copy_tree(tree_of(module, workdir))
        print(f"sample: {args.max_mutants or 'all'} mutants per module, seed {args.seed}", flush=True)
        print(HEADER, flush=True)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_module, module, workdir, args) for module in chosen]
            scores = []
            for future in futures:
                scores.append(future.result())
                print(report(scores[-1], args.survivors), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    measured = [s for s in scores if s.ratio is not None]
    killed, tested = sum(s.killed for s in measured), sum(s.killed + s.survived for s in measured)
    print(f"{len(measured)} of {len(scores)} modules measured; {killed}/{tested} mutants killed"
          + (f" ({killed / tested:.1%})" if tested else ""), flush=True)
    return 0 if all(s.ratio is not None and s.ratio >= s.module.goal for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
