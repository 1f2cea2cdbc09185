"""Mutation score per module: how many small bugs planted by cosmic-ray the module's own tests catch.

For each module, a copy of the working tree is made (tracked and untracked files, not the ignored ones),
cosmic-ray plants one mutation at a time in the copy (a changed operator, constant, comparison, ...) and
runs the module's own test files against it (``-x``, without the docker and slow tests); a failing run
kills the mutant. Prints killed / (killed + survived) per module against the goal (85% for grammar.py and
redact.py, 75% elsewhere), and with ``--survivors`` each surviving mutation as a diff. Exit 1 when a
module misses its goal.

    pip install -e '.[test,mutation]'
    python bench/mutation.py                          # every module, every mutant (hours on 2 cores)
    python bench/mutation.py --max-mutants 40         # a fixed random sample of 40 per module (--seed)
    python bench/mutation.py -m grammar -m redact --survivors
    python bench/mutation.py --jobs 2                 # two modules at a time, each in its own copy

A mutant that times out counts as killed (cosmic-ray's rule); one that cosmic-ray could not apply
("incompetent") is left out of the score and counted apart. Mutants inside type annotations of a module
that never evaluates them (``from __future__ import annotations``: ``str | None`` -> ``str - None``) are
equivalent by construction and are not run.
"""

from __future__ import annotations

import argparse
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
FAST = ["-m", "not docker and not slow"]
# The property test of test_hostile.py runs 150 examples (~40 s here): too slow to repeat for every mutant.
NO_PROPERTY = ["-k", "not test_accepted_values_never_add_lines_or_instructions"]


@dataclass
class Module:
    name: str
    path: str  # a file, or a package folder (compare.py becomes envcapture/compare/)
    tests: list[str]  # globs, relative to the repository
    pytest_args: list[str] = field(default_factory=list)
    goal: float = 0.75


MODULES = [
    Module("grammar", "envcapture/manifest/grammar.py",
           ["tests/*/test_grammar*.py", "tests/manifest/test_validate.py", "tests/render/test_hostile.py",
            "tests/render/test_renderer_checks*.py"], NO_PROPERTY, goal=0.85),
    Module("redact", "envcapture/manifest/redact.py", ["tests/*/test_redact*.py", "tests/secrets/test_freeze_secrets.py"], goal=0.85),
    Module("manifest", "envcapture/manifest/file.py",
           ["tests/*/test_manifest*.py", "tests/manifest/test_validate.py", "tests/cli/test_bad_input.py"]),
    Module("probes/target", "envcapture/probes/target.py",
           ["tests/probes/test_target.py", "tests/probes/test_python_license.py", "tests/capture/test_freeze_venv.py",
            "tests/cli/test_bad_input.py"]),
    Module("probes/python_env", "envcapture/probes/python_env.py",
           ["tests/probes/test_python_env.py", "tests/probes/test_package_indexes.py",
            "tests/probes/test_python_license.py", "tests/secrets/test_probes.py", "tests/capture/test_freeze_venv.py"]),
    # compare's unit-level files first; then the ones that freeze this interpreter or run the image script, and
    # the views' escaping and the 500-node diff (tests/core, tests/cluster), which exercise compare/ too.
    Module("compare", "envcapture/compare",
           ["tests/compare/test_compare.py", "tests/compare/test_compare_rules.py",
            "tests/compare/test_compare_views.py", "tests/compare/test_compare_grades.py",
            "tests/compare/test_compare_many.py",
            "tests/compare/test_compare*.py", "tests/compare/test_*report*.py", "tests/cli/test_terminal_output.py",
            "tests/cluster/test_diff_many.py"]),
    Module("render/plan", "envcapture/render/plan.py",
           ["tests/render/test_plan*.py", "tests/render/test_base_packages.py", "tests/render/test_project.py",
            "tests/render/test_kit.py", "tests/render/test_golden.py",
            "tests/render/test_devvm.py", "tests/render/test_hostile.py", "tests/render/test_renderer_checks*.py"],
           NO_PROPERTY),
    Module("render/kit", "envcapture/render/kit.py",
           ["tests/render/test_kit.py", "tests/render/test_golden.py", "tests/render/test_hostile.py",
            "tests/render/test_renderer_checks*.py"], NO_PROPERTY),
    Module("render/lock", "envcapture/render/lock.py",
           ["tests/render/test_lock*.py", "tests/render/test_golden.py", "tests/render/test_renderer_checks*.py"]),
    Module("restore", "envcapture/restore.py",
           ["tests/restore/test_restore_decisions.py", "tests/restore/test_trust.py", "tests/restore/test_restore_*.py",
            "tests/restore/test_restore.py"]),
]


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


def report(score: Score, survivors: bool) -> str:
    module = score.module
    if score.error and score.ratio is None:
        return f"{module.name:<18} ERROR: {score.error}"
    if score.ratio is None:
        return f"{module.name:<18} no mutant run yet ({score.total} mutants)"
    tested = score.killed + score.survived
    verdict = "ok" if score.ratio >= module.goal else "BELOW GOAL"
    line = (f"{module.name:<18} {score.ratio:6.1%} killed ({score.killed}/{tested} mutants run of {score.total}; "
            f"{score.incompetent} incompetent)  goal {module.goal:.0%}: {verdict}  [{score.seconds:.0f} s]")
    if survivors and score.survivors:
        line += "\n" + "\n".join("    survived: " + s.replace("\n", "\n        ") for s in score.survivors)
    return line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--module", action="append", choices=[m.name for m in MODULES],
                        help="a module to mutate (repeat; default: all)")
    parser.add_argument("--max-mutants", type=int, default=0, help="a random sample of N mutants per module (0: all)")
    parser.add_argument("--seed", type=int, default=13, help="the sample's seed (same seed, same sample)")
    parser.add_argument("--jobs", type=int, default=1, help="modules run at the same time")
    parser.add_argument("--survivors", action="store_true", help="print each surviving mutation")
    parser.add_argument("--report-only", action="store_true",
                        help="print the scores of the mutants run so far in --keep DIR, run nothing")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one); "
                                                  "run again with the same folder to resume a stopped run")
    args = parser.parse_args(argv)
    try:
        import cosmic_ray  # noqa: F401
    except ImportError:
        print("bench: cosmic-ray is not installed: pip install -e '.[mutation]'", file=sys.stderr)
        return 3
    chosen = [m for m in MODULES if not args.module or m.name in args.module]
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="envcapture-mutation-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        # Every copy is made before the first mutant runs: all modules are measured on the same snapshot,
        # even when the working tree changes during a long run.
        for module in chosen:
            if not tree_of(module, workdir).exists() and not args.report_only:  # an existing one is resumed
                tree_of(module, workdir).mkdir(parents=True)
                copy_tree(tree_of(module, workdir))
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_module, module, workdir, args) for module in chosen]
            scores = []
            for future in futures:
                scores.append(future.result())
                print(report(scores[-1], args.survivors), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(s.ratio is not None and s.ratio >= s.module.goal for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
