"""Benchmark: `generate --vendor --with-data`'s data copy against `cp -r` followed by `b3sum` of the copies, in
the same run, alternating.

Data: about 1 GB in four large files plus 2,000 small files (1 to 8 KiB), recorded as a data set the way freeze
records it, in a temporary folder deleted at the end. envcapture's side is what generate does with the data: each
recorded file copied into a staging folder while it is hashed (BLAKE3, compared with its record) and its sha256
taken for the kit index, then written into the kit (kitfiles.write_kit). The peer copies the folder and hashes
the copies with b3sum (a copy, then a check of it). Every timing is a whole process with the page cache warm
(one untimed run of each first); medians of --repeat runs, wall and CPU seconds, and the ratios.

    python bench/kit_data.py [--dir /tmp] [--repeat 3] [--large-mib 256] [--small 2000]
"""

from __future__ import annotations

import argparse
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

# generate's data path, alone: stage (copy + check) then write the kit's files (the staged copies moved in).
DRIVER = """
import json, sys, tempfile
from pathlib import Path
from envcapture.render import kit_data, kitfiles
from envcapture.render.vendor import StagedFile
work, out = Path(sys.argv[1]), Path(sys.argv[2])
manifest = json.loads((work / "m.json").read_text())
with tempfile.TemporaryDirectory(dir=work) as staging:
    found = kit_data.stage(manifest, work, [], 1 << 40, Path(staging), say=lambda line: None)
    kitfiles.write_kit(out, {rel: StagedFile(*staged) for rel, staged in found.files.items()})
"""


def make_data(root: Path, large_mib: int, small: int) -> None:
    block = os.urandom(64 << 20)
    for index in range(4):
        with open(root / f"large-{index}.bin", "wb") as handle:
            for _ in range(large_mib // 64):
                handle.write(block)
            handle.write(os.urandom(4096 + index))
    for index in range(small):
        folder = root / "small" / f"{index // 500:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part-{index:05d}.csv").write_bytes(os.urandom(1024 + (index * 7919) % 7168))


def record(work: Path) -> None:
    import json

    from envcapture.data.specs import DataSpec, add_to_manifest, collect, write_sidecars

    section = collect([DataSpec("data", work, "data")], work, "blake3", use_cache=False, manifest_name="m.json",
                      home=str(work))
    manifest = {"data": None}
    add_to_manifest(manifest, section.section, section.warnings)
    (work / "m.json").write_text(json.dumps(manifest))
    write_sidecars(section.sidecars, work / "m.json")


def timed(argv: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=ENV, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def envcapture_run(work: Path) -> tuple[float, float]:
    out = work / "kit"
    shutil.rmtree(out, ignore_errors=True)
    return timed([sys.executable, "-c", DRIVER, str(work), str(out)])


def peer_run(work: Path) -> tuple[float, float]:
    out = work / "copy"
    shutil.rmtree(out, ignore_errors=True)
    script = f"cp -r {work / 'data'} {out} && find {out} -type f -print0 | xargs -0 b3sum > /dev/null"
    return timed(["bash", "-c", script])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--small", type=int, default=2000)
    args = parser.parse_args()
    if shutil.which("b3sum") is None:
        print("needs b3sum (apt-get install b3sum)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="envcapture-bench-kit-data-", dir=args.dir) as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        make_data(work / "data", args.large_mib, args.small)
        record(work)
        size = sum(p.stat().st_size for p in (work / "data").rglob("*") if p.is_file())
        print(f"data: {size / 1e6:.0f} MB, {4 + args.small} files; load average {os.getloadavg()[0]:.1f}")
        envcapture_run(work), peer_run(work)  # warm the page cache
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(envcapture_run(work))
            theirs.append(peer_run(work))
        for label, runs in (("envcapture --with-data copy", ours), ("cp -r + b3sum", theirs)):
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print(f"{label:<30} wall {wall:6.2f} s  cpu {cpu:6.2f} s  {size / 1e6 / wall:7.0f} MB/s")
        ratio_wall = statistics.median(r[0] for r in ours) / statistics.median(r[0] for r in theirs)
        ratio_cpu = statistics.median(r[1] for r in ours) / statistics.median(r[1] for r in theirs)
        print(f"ratio envcapture / peer: wall {ratio_wall:.2f}, cpu {ratio_cpu:.2f}; "
              f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
