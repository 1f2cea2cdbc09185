"""Benchmark: what `envcapture run` adds to a command.

1. Fixed overhead: `envcapture run -o RECORD -- python -c pass` against `python -c pass` (goal: under 0.3 s
   added). The run waits for the environment manifest, collected while the command runs, so on a short command
   this is freeze's time; it is also printed alone (`envcapture freeze -o -`) for comparison.
2. The in-process hook (the sitecustomize and its audit hook) on a workload that imports numpy and opens and
   reads 10,000 files under the project folder: the same interpreter with and without the hook, the hook
   exactly as `envcapture run` sets it up (goal: under 5 % added).

Runs alternate between the variants (A B A B ...) so a busy machine slows both alike; medians of --repeat,
wall time and CPU time (user + system, the children's included: what a busy machine hides in wall time).
envcapture's bytecode is compiled first, as installing the wheel does (an editable install under
PYTHONDONTWRITEBYTECODE=1 would compile every module from source on each run and measure that instead).

    python bench/run.py [--repeat 7] [--files 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORKLOAD = """
import os, sys
import numpy
total = 0
folder = sys.argv[1]
for name in sorted(os.listdir(folder)):
    with open(os.path.join(folder, name), "rb") as handle:
        total += len(handle.read())
print(total, numpy.__version__)
"""


CPU: dict = {}  # variant -> CPU seconds (user + system) of each run, the children's included


def timed(argv: list[str], env: dict, cwd: Path, name: str = "") -> float:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(name, []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"bench/run.py: {' '.join(argv[:6])} failed: {done.stderr.strip()[-500:]}")
    return elapsed


def alternate(variants: dict, repeat: int, cwd: Path, before=None) -> dict:
    times = {name: [] for name in variants}
    for _ in range(repeat):
        for name, (argv, env) in variants.items():
            if before:
                before()
            times[name].append(timed(argv, env, cwd, name))
    return {name: statistics.median(values) for name, values in times.items()}


def fixed_overhead(repeat: int, work: Path) -> None:
    env = dict(os.environ)
    python = sys.executable
    record = work / "run.json"
    medians = alternate({
        "python -c pass": ([python, "-c", "pass"], env),
        "envcapture run -- python -c pass": ([python, "-m", "envcapture", "run", "-o", str(record), "--", python,
                                              "-c", "pass"], env),
        "envcapture freeze -o -": ([python, "-m", "envcapture", "freeze", "-o", "-"], env),
    }, repeat, work)
    plain, run, freeze = medians.values()
    cpu = {name: statistics.median(values) for name, values in CPU.items()}
    print("1. fixed overhead (medians of %d)" % repeat)
    print(f"   python -c pass                     {plain:7.3f} s   (CPU {cpu['python -c pass']:.3f} s)")
    print(f"   envcapture run -- python -c pass   {run:7.3f} s   added {run - plain:6.3f} s   ratio {run / plain:5.1f}x"
          f"   (goal: under 0.3 s added; CPU {cpu['envcapture run -- python -c pass']:.3f} s; the environment "
          "from the run cache after the first run)")
    print(f"   envcapture freeze -o - (alone)     {freeze:7.3f} s")


def hook_overhead(repeat: int, files: int, work: Path) -> None:
    from envcapture.run.command import child_environment

    project = work / "project"
    folder = project / "files"
    folder.mkdir(parents=True)
    for number in range(files):
        (folder / f"f{number:05d}.txt").write_bytes(b"x" * 64)
    (project / "workload.py").write_text(WORKLOAD)
    plain_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    hook_out = work / "hook.json"
    hooked_env, _ = child_environment(None, [str(project)], hook_out)
    hooked_env = {**plain_env, **{k: v for k, v in hooked_env.items()
                                  if k.startswith("ENVCAPTURE_RUN_") or k == "PYTHONPATH"}}
    argv = [sys.executable, "workload.py", str(folder)]

    def fresh():
        hook_out.unlink(missing_ok=True)  # the hook claims a new record each time, as in a real run

    medians = alternate({"without": (argv, plain_env), "with": (argv, hooked_env)}, repeat, project, fresh)
    import json

    seen = json.loads(hook_out.read_text())
    plain, hooked = medians["without"], medians["with"]
    print(f"2. audit hook: import numpy + open {files} files (medians of {repeat})")
    cpu_plain, cpu_hooked = statistics.median(CPU["without"]), statistics.median(CPU["with"])
    print(f"   without the hook   {plain:7.3f} s wall   {cpu_plain:7.3f} s CPU")
    print(f"   with the hook      {hooked:7.3f} s wall   {cpu_hooked:7.3f} s CPU   added {100 * (hooked - plain) / plain:5.1f} % "
          f"wall, {100 * (cpu_hooked - cpu_plain) / cpu_plain:5.1f} % CPU   (goal: under 5 %)")
    print(f"   ratios with/without: wall {hooked / plain:.3f}, CPU {cpu_hooked / cpu_plain:.3f}; CPU of all "
          f"{repeat} runs: {sum(CPU['with']):.2f} s against {sum(CPU['without']):.2f} s")
    print(f"   the hook recorded {len(seen['files_read'])} files read, modules {len(seen['modules'] or {})}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    try:
        import numpy  # noqa: F401
    except ImportError:
        print("bench/run.py: numpy is missing (pip install numpy)", file=sys.stderr)
        return 3
    import compileall

    compileall.compile_dir(str(REPO / "envcapture"), quiet=1)
    print("load average %.2f %.2f %.2f (before)" % os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="envcapture-bench-run-") as work:
        fixed_overhead(args.repeat, Path(work))
        hook_overhead(args.repeat, args.files, Path(work))
    print("load average %.2f %.2f %.2f (after)" % os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
