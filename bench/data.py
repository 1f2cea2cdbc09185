"""Benchmark: fingerprinting data sets against `sha256sum` and Debian's `b3sum`, in the same run, alternating.

Data: about 2 GB in four large files plus 10,000 small files (1 to 8 KiB), in a temporary folder that is
deleted at the end. Every timing is a whole process over the same files with the page cache warm (one
untimed run of each tool first), so it measures hashing, not the disk. Then:
- the re-check of the unchanged 10,000-file tree with the fingerprint cache (in-process, and the whole
  `envcapture check --data-only` command);
- the size of a manifest recording a 1,000,000-file data set (synthesized records; the per-file records go
  to the sidecar, whose size is printed too).

    python bench/data.py [--dir /tmp] [--repeat 3] [--large-mib 512] [--small 10000]

Goals (issue 11): first fingerprint >= 1.5x faster than sha256sum and within 1.3x of b3sum; re-check
< 0.3 s; a 1,000,000-file manifest < 5 MB. `b3sum` comes from Debian's b3sum package (apt-get install b3sum).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def make_data(root: Path, large_mib: int, large_count: int, small: int) -> None:
    block = os.urandom(64 << 20)  # content does not change hashing speed; repeating a block saves time
    for index in range(large_count):
        with open(root / f"large-{index}.bin", "wb") as handle:
            for _ in range(large_mib // 64):
                handle.write(block)
            handle.write(os.urandom(4096 + index))  # every file different
    for index in range(small):
        folder = root / "small" / f"{index // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part-{index:05d}.csv").write_bytes(os.urandom(1024 + (index * 7919) % 7168))


def all_files(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file())


def timed(argv: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one whole process and its children.

    On a shared machine the wall clock mostly measures the other users; CPU time (user + system) is the
    work itself, and for a multi-threaded hasher it counts every core it kept busy.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fingerprint_argv(root: Path, algorithm: str) -> list[str]:
    code = ("import sys; from envcapture.data.fingerprint import fingerprint; "
            f"print(fingerprint({str(root)!r}, algorithm={algorithm!r}).root_hash)")
    return [sys.executable, "-c", code]


def tool_argv(tool: str, files_list: Path) -> list[str]:
    # xargs splits the 10,004 paths over a few command lines, as a user's `find | xargs` would
    return ["sh", "-c", f"xargs -0 {tool} < {files_list} > /dev/null"]


def run_alternating(commands: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds per command."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for argv in commands.values():
        timed(argv)  # page cache and interpreter warm-up, untimed
    for _ in range(repeat):
        for name, argv in commands.items():
            times[name].append(timed(argv))
    return {name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
            for name, values in times.items()}


def recheck(root: Path, work: Path, repeat: int):
    """(wall, CPU) seconds of the fingerprint with a warm cache in-process, and of `check --data-only`."""
    from envcapture.data import specs as datasets
    from envcapture.manifest import file as manifest
    from envcapture.data.cache import FingerprintCache
    from envcapture.data.fingerprint import fingerprint

    os.environ["XDG_CACHE_HOME"] = ENV["XDG_CACHE_HOME"] = str(work / "cache")
    data = json.loads((REPO / "tests" / "fixtures" / "manifests" / "plain-venv.json").read_text())
    found = datasets.collect([datasets.DataSpec(str(root / "small"), work)], work, "blake3", True,
                             str(work / "m.json"))
    datasets.add_to_manifest(data, found.section, found.warnings)
    datasets.write_sidecars(found.sidecars, work / "m.json")
    manifest.save(data, work / "m.json")
    in_process = []
    for _ in range(repeat):
        cache = FingerprintCache.open()
        start, cpu = time.perf_counter(), time.process_time()
        fingerprint(root / "small", cache=cache)
        in_process.append((time.perf_counter() - start, time.process_time() - cpu))
        cache.close()
    command = [sys.executable, "-m", "envcapture", "check", "--data-only", str(work / "m.json")]
    whole = [timed(command) for _ in range(repeat)]
    median = lambda values, i: statistics.median(v[i] for v in values)  # noqa: E731
    return (median(in_process, 0), median(in_process, 1)), (median(whole, 0), median(whole, 1))


def million_file_manifest(work: Path, count: int) -> tuple[int, int, float]:
    """(manifest bytes, sidecar bytes, seconds to build both) for a synthesized data set of ``count`` files."""
    from envcapture.data import specs as datasets
    from envcapture.manifest import file as manifest
    from envcapture.data.fingerprint import DataSetFacts, FileRecord, root_hash

    start = time.perf_counter()
    records = [FileRecord(f"shard-{i // 10000:03d}/sample-{i:07d}.jpg", 20000 + i % 50000, os.urandom(32).hex())
               for i in range(count)]
    facts = DataSetFacts(work / "images", "folder", "blake3", records, root_hash(records, "blake3"), count,
                         sum(r.size for r in records), False)
    data = json.loads((REPO / "tests" / "fixtures" / "manifests" / "plain-venv.json").read_text())
    record, sidecar = datasets.set_record("images", "data/images", "raw", [], facts, str(work / "big.json"))
    datasets.add_to_manifest(data, {"sets": [record]}, [])
    manifest.validate(data)
    text = manifest.dumps(data)
    elapsed = time.perf_counter() - start
    return len(text.encode()), len(sidecar.content), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where to make the temporary data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large-mib", type=int, default=512)
    parser.add_argument("--large-count", type=int, default=4)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--manifest-files", type=int, default=1_000_000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="envcapture-bench-data-", dir=args.dir))
    try:
        root = work / "data"
        root.mkdir()
        make_data(root, args.large_mib, args.large_count, args.small)
        files = all_files(root)
        listing = work / "files.list"
        listing.write_bytes(b"\0".join(f.encode() for f in files))
        total = sum(os.path.getsize(f) for f in files)
        print(f"data: {len(files)} files, {total / 2**30:.2f} GiB in {root} (page cache warm); "
              f"{os.cpu_count()} CPUs")
        commands = {"envcapture blake3": fingerprint_argv(root, "blake3"),
                    "envcapture sha256": fingerprint_argv(root, "sha256"),
                    "sha256sum": tool_argv("sha256sum", listing)}
        if shutil.which("b3sum"):
            commands["b3sum"] = tool_argv("b3sum", listing)
        else:
            print("b3sum: not installed (apt-get install b3sum); its ratio is left out")
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        medians = run_alternating(commands, args.repeat)
        print(", ".join(f"{name} {wall:.2f} s wall / {cpu:.2f} s CPU" for name, (wall, cpu) in medians.items()))
        for label, index in (("wall", 0), ("CPU", 1)):
            ours = medians["envcapture blake3"][index]
            line = f"  {label}: sha256sum / envcapture blake3 = {medians['sha256sum'][index] / ours:.2f} (goal >= 1.5)"
            if "b3sum" in medians:
                line += f"; envcapture blake3 / b3sum = {ours / medians['b3sum'][index]:.2f} (goal <= 1.3)"
            line += f"; envcapture sha256 / sha256sum = {medians['envcapture sha256'][index] / medians['sha256sum'][index]:.2f}"
            print(line)

        in_process, whole = recheck(root, work, args.repeat)
        print(f"re-check of the unchanged {args.small}-file tree (goal < 0.3 s): fingerprint with a warm cache "
              f"{in_process[0]:.3f} s wall / {in_process[1]:.3f} s CPU; whole `check --data-only` command "
              f"{whole[0]:.3f} s wall / {whole[1]:.3f} s CPU")

        size, sidecar, elapsed = million_file_manifest(work, args.manifest_files)
        print(f"manifest recording a {args.manifest_files}-file data set: {size / 1e6:.3f} MB (goal < 5), "
              f"sidecar {sidecar / 1e6:.1f} MB, built in {elapsed:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
