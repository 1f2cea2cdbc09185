"""Benchmark: `envcapture diff` over a cluster's worth of manifests against just parsing them.

Makes N manifests (default 500) from the real H100 capture in tests/fixtures/manifests/pytorch-pip-gpu.json
(about 310 kB each), one per node, the way `envcapture gather` writes them: each has its own creation time,
scheduler section and memory size (a few MiB apart); a handful of nodes really differ (numpy on three, an
older driver on one, a kernel on five, a system package on two). Then times, each in a fresh interpreter:

- baseline: `json.load` of every file;
- `envcapture diff FOLDER --format json|text|markdown|html` (validates every file, compares, renders).

Prints wall and CPU seconds (medians of --repeat runs), the peak resident memory of each command and the
ratios diff/baseline. The targets of issue 10: under 15 s, under 1 GB, at most 5x the baseline.

    python bench/diff_many.py [--count 500] [--repeat 3] [--formats json,text,markdown,html]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "tests" / "fixtures" / "manifests" / "pytorch-pip-gpu.json"
LOAD_ALL = "import json, pathlib, sys\nfor p in sorted(pathlib.Path(sys.argv[1]).glob('*.json')):\n" \
           "    with open(p, 'rb') as f: json.load(f)\n"


def node_manifest(base: dict, index: int) -> dict:
    m = copy.deepcopy(base)
    name = f"n{index:03d}"
    start = datetime.datetime(2026, 11, 29, 12, 0, 0)
    m["created"] = (start + datetime.timedelta(seconds=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
    m["scheduler"] = {"kind": "slurm", "job_id": "81234", "node": name, "partition": "gpu", "rank": index,
                      "node_index": index, "nodes": 500, "cluster": "bench", "namespace": None, "pod": None}
    m["hardware"]["memory_total"] -= (index % 7) * 3 * 2**20  # firmware reservations: same whole GiB
    if index in (17, 233, 301):
        next(p for p in m["python_packages"] if p["name"] == "numpy")["version"] = "2.1.3"
    if index == 42:
        m["gpu"]["driver"]["version"] = "550.54.15"
    if 100 <= index < 105:
        m["os"]["kernel"] = "6.1.0-27-amd64"
    if index in (450, 451):
        m["system_packages"]["packages"][10]["version"] += "+local1"
    return m


def make_cluster(folder: Path, count: int) -> None:
    sys.path.insert(0, str(REPO))
    from envcapture.manifest import file as manifest

    base = json.loads(BASE.read_text())
    for index in range(1, count + 1):
        (folder / f"n{index:03d}.json").write_text(manifest.dumps(node_manifest(base, index)))


def run(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one command in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {code}: {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default="json,text,markdown,html")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="envcapture-bench-diff-") as tmp:
        folder = Path(tmp)
        make_cluster(folder, args.count)
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"{args.count} manifests, {size / args.count / 1000:.0f} kB each, {size / 1e6:.0f} MB in all; "
              f"{os.cpu_count()} CPUs")
        cases = {"json.load": [sys.executable, "-c", LOAD_ALL, str(folder)]}
        for fmt in args.formats.split(","):
            cases[f"diff --format {fmt}"] = [sys.executable, "-m", "envcapture", "diff", str(folder),
                                             "--format", fmt]
        times: dict = {name: [] for name in cases}
        cpu: dict = {name: [] for name in cases}
        peaks: dict = {name: 0.0 for name in cases}
        for _ in range(args.repeat):  # alternate the cases, so a busy machine slows them alike
            for name, argv in cases.items():
                wall, seconds, peak = run(argv)
                times[name].append(wall)
                cpu[name].append(seconds)
                peaks[name] = max(peaks[name], peak)
        # CPU seconds too: on a shared machine the wall clock also measures the neighbours.
        base_wall, base_cpu = statistics.median(times["json.load"]), statistics.median(cpu["json.load"])
        print(f"{'case':<24} {'wall s':>7} {'cpu s':>7} {'peak MB':>8} {'wall ratio':>11} {'cpu ratio':>10}")
        for name in cases:
            wall, seconds = statistics.median(times[name]), statistics.median(cpu[name])
            print(f"{name:<24} {wall:7.2f} {seconds:7.2f} {peaks[name]:8.0f} {wall / base_wall:11.2f} "
                  f"{seconds / base_cpu:10.2f}")


if __name__ == "__main__":
    main()
