"""Benchmark: `envcapture freeze` against `pip freeze` and `pip inspect`, in the same run, alternating.

Cases: the environment of the Python that runs this script (run it with the machine's default Python for
issue 18's goal: freeze at most 0.35 x pip freeze), and venvs whose site-packages hold 1,000 and 10,000
synthetic distributions (pip gets `--path SITE` on the same folder). Prints medians and the ratios
envcapture/pip. Also times the GPU probe alone (the no-driver case must add under 50 ms), and the
shared-libraries probe alone (ELF headers of every shared object in the environment, dpkg's file lists): cold
(its cache removed) and warm.

Both tools run with their bytecode cached, as an installed package has it (pip compiles a wheel's modules at
install): with PYTHONDONTWRITEBYTECODE set, as in some shells, envcapture run from this checkout would
compile every module from source on each run while pip's site-packages keeps its .pyc files. The cache goes
to a temporary folder (PYTHONPYCACHEPREFIX), never into the checkout. --no-bytecode-cache measures the other.

    python bench/freeze.py [--repeat 5] [--sizes 1000,10000] [--no-bytecode-cache]
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


def timed(argv: list[str], env: dict, cpu: list | None = None) -> float:
    """Wall-clock seconds of one run; its CPU seconds (user + system, the processes it waited for included)
    are appended to ``cpu``: on a shared, loaded machine the CPU time is the steadier measure."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, argv)
    if cpu is not None:
        cpu.append(usage.ru_utime + usage.ru_stime)
    return elapsed


def make_synthetic_venv(root: Path, count: int) -> tuple[Path, Path]:
    """A real venv whose site-packages also holds `count` small but complete dist-info folders."""
    venv = root / f"venv-{count}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    for i in range(count):
        name = f"synthetic_pkg_{i:05d}"
        folder = site / f"{name}-1.{i % 7}.0.dist-info"
        folder.mkdir()
        requires = "".join(f"Requires-Dist: synthetic-pkg-{j:05d}>=1.0\n" for j in range(max(0, i - 3), i))
        (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\n"
                                         f"Version: 1.{i % 7}.0\nSummary: synthetic\n{requires}\nlong description\n")
        (folder / "INSTALLER").write_text("pip\n")
        (folder / "RECORD").write_text(f"{name}/__init__.py,,\n")
        if i % 10 == 0:
            (folder / "REQUESTED").write_text("")
    return venv / "bin" / "python", site


def run_case(label: str, commands: dict[str, list[str]], repeat: int, env: dict) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for name, argv in commands.items():  # warm the page cache once, untimed
        timed(argv, env)
    for _ in range(repeat):
        for name, argv in commands.items():  # alternating, so drift hits every tool alike
            times[name].append(timed(argv, env, cpu[name]))
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    line = ", ".join(f"{name} {value * 1000:.0f} ms" for name, value in medians.items())
    print(f"{label}: {line} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print("  CPU time: " + ", ".join(f"{name} {value * 1000:.0f} ms" for name, value in cpu_medians.items()))
    ours, ours_cpu = medians["envcapture freeze"], cpu_medians["envcapture freeze"]
    for name, value in medians.items():
        if name != "envcapture freeze":
            print(f"  envcapture freeze / {name} = {ours / value:.2f} (CPU time {ours_cpu / cpu_medians[name]:.2f})")
    return medians


def gpu_probe_ms(repeat: int) -> float:
    sys.path.insert(0, str(REPO))
    from envcapture.probes import ProbeContext, gpu

    ctx = ProbeContext()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        gpu.collect(ctx)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def shared_libs_probe_ms(repeat: int, python: str) -> tuple[float, float, int]:
    """(cold ms, warm ms, shared objects read) of the shared_libs probe on ``python``'s environment."""
    sys.path.insert(0, str(REPO))
    from envcapture.probes import ProbeContext, shared_libs
    from envcapture.probes.interpreter import resolve_python, run_probe

    with tempfile.TemporaryDirectory() as home:
        ctx = ProbeContext(home=home, target=run_probe(resolve_python(python, dict(os.environ)), deep=False))
        cache = Path(home) / ".cache" / "envcapture" / shared_libs.CACHE_NAME
        cold, warm, files = [], [], 0
        for _ in range(repeat):
            cache.unlink(missing_ok=True)
            start = time.perf_counter()
            files = shared_libs.collect(ctx).data["files_read"]
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            shared_libs.collect(ctx)
            warm.append(time.perf_counter() - start)
    return statistics.median(cold) * 1000, statistics.median(warm) * 1000, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--shared-libs-python", default=sys.executable,
                        help="the environment whose shared objects the shared-libraries probe reads")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE as it is (envcapture then compiles from source each run)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("VIRTUAL_ENV", None)
    env.pop("CONDA_PREFIX", None)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")
        out = os.path.join(tmp, "m.json")
        medians = run_case(f"default environment ({py})", {
            "envcapture freeze": [py, "-m", "envcapture", "freeze", "--force", "-o", out, "--project", tmp],
            "pip freeze": [py, "-m", "pip", "freeze"],
            "pip inspect": [py, "-m", "pip", "inspect"],
        }, args.repeat, env)
        ratio = medians["envcapture freeze"] / medians["pip freeze"]
        print(f"freeze ratio (default environment): envcapture freeze / pip freeze = {ratio:.2f} (goal: at most 0.35;"
              f" bytecode cache {'off' if args.no_bytecode_cache else 'on'})")
        for size in [int(s) for s in args.sizes.split(",") if s]:
            target, site = make_synthetic_venv(Path(tmp), size)
            run_case(f"synthetic site-packages, {size} distributions", {
                "envcapture freeze": [py, "-m", "envcapture", "freeze", "--force", "-o", out, "--python",
                                      str(target), "--project", tmp],
                "pip freeze": [py, "-m", "pip", "freeze", "--path", str(site)],
                "pip inspect": [py, "-m", "pip", "inspect", "--path", str(site)],
            }, args.repeat, env)
    try:
        print(f"GPU probe alone (this machine): {gpu_probe_ms(args.repeat):.1f} ms median")
    except ImportError as exc:
        print(f"GPU probe not available: {exc}")
    cold, warm, files = shared_libs_probe_ms(args.repeat, args.shared_libs_python)
    print(f"shared-libraries probe alone ({files} shared objects of {args.shared_libs_python}): cold "
          f"{cold:.0f} ms, warm (cached) {warm:.1f} ms median")


if __name__ == "__main__":
    main()
