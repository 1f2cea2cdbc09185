"""Benchmark: `envcapture freeze` against `pip freeze` and `pip inspect`, in the same run, alternating.

Cases: this machine's default environment, and venvs whose site-packages hold 1,000 and 10,000 synthetic
distributions (pip gets `--path SITE` on the same folder). Prints medians and the ratios envcapture/pip.
Also times the GPU probe alone (the no-driver case must add under 50 ms), and the shared-libraries probe alone
(ELF headers of every shared object in the environment, dpkg's file lists): cold (its cache removed) and warm.

    python bench/freeze.py [--repeat 5] [--sizes 1000,10000]
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


def timed(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


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
    for name, argv in commands.items():  # warm the page cache once, untimed
        timed(argv, env)
    for _ in range(repeat):
        for name, argv in commands.items():  # alternating, so drift hits every tool alike
            times[name].append(timed(argv, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    line = ", ".join(f"{name} {value * 1000:.0f} ms" for name, value in medians.items())
    print(f"{label}: {line}")
    ours = medians["envcapture freeze"]
    for name, value in medians.items():
        if name != "envcapture freeze":
            print(f"  envcapture freeze / {name} = {ours / value:.2f}")
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
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("VIRTUAL_ENV", None)
    env.pop("CONDA_PREFIX", None)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "m.json")
        run_case(f"default environment ({py})", {
            "envcapture freeze": [py, "-m", "envcapture", "freeze", "--force", "-o", out, "--project", tmp],
            "pip freeze": [py, "-m", "pip", "freeze"],
            "pip inspect": [py, "-m", "pip", "inspect"],
        }, args.repeat, env)
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
