"""Benchmark: `manifest.load` (parse + schema + grammar) on large manifests.

Grows a real manifest (tests/fixtures/manifests/cuda-11.8.json, 0.3 MB) to about 20 MB by repeating its
Python packages, system packages and project files under new names, then times `manifest.load` on it and
on the original. Also times the refusal of a manifest whose free-form `deep` section is oversized.
Prints medians; the goal (issue 8) is under 2 s for 20 MB.

    python bench/validate.py [--megabytes 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from envcapture.manifest import file as manifest  # noqa: E402
from envcapture.errors import BadInput  # noqa: E402

SEED = REPO / "tests" / "fixtures" / "manifests" / "cuda-11.8.json"


def grown_manifest(megabytes: float) -> dict:
    data = json.loads(SEED.read_text())
    packages = data["python_packages"]
    debs = data["system_packages"]["packages"]
    files = data["filesystem"]["project"]["files"]
    seed_py, seed_deb, seed_files = list(packages), list(debs), list(files)
    copies = 0
    while len(manifest.dumps(data)) < megabytes * 1_000_000:
        copies += 1
        for record in seed_py:
            clone = copy.deepcopy(record)
            clone["name"] = f"{record['name']}-copy{copies}"
            packages.append(clone)
        for record in seed_deb:
            debs.append({**record, "name": f"{record['name']}-copy{copies}"})
        for record in seed_files:
            files.append({**record, "path": f"copy{copies}/{record['path']}"})
    data["filesystem"]["project"]["file_count"] = len(files)
    return data


def median_times(path: Path, repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds: on a shared machine the CPU time says what the code costs."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            manifest.load(path)
        except BadInput:
            pass
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=float, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.json"
        big.write_text(manifest.dumps(grown_manifest(args.megabytes)))
        deep = json.loads(SEED.read_text())
        deep["determinism"]["deep"] = {"blob": [[i, [i, [i, [str(i)]]]] for i in range(200_000)]}
        oversized = Path(tmp) / "deep.json"
        oversized.write_text(json.dumps(deep))
        rows = [("seed manifest", SEED), ("grown manifest", big), ("oversized deep section", oversized)]
        manifest.load(SEED)  # compile the schema once, as every later load in a process finds it
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'case':<26} {'MB':>7} {'wall s':>8} {'cpu s':>8}")
        for label, path in rows:
            wall, cpu = median_times(path, args.repeat)
            print(f"{label:<26} {path.stat().st_size / 1e6:7.1f} {wall:8.3f} {cpu:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
