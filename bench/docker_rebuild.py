"""Docker rebuild after a change to project code only: the dependency layers must come from the cache.

    python bench/docker_rebuild.py [--manifest M] [--base-image IMAGE] [--repeat N] [--keep]

Without --manifest, a fresh virtualenv with a few pinned packages (numpy is the heavy one) is made and frozen.
The kit is generated with `envcapture generate docker`, built once without any cache (the cold build a new
machine pays), then a file in the kit's project/ folder changes and the kit is built again; the two
alternate --repeat times (default 3). Prints the medians, how many build steps the rebuild took from the
cache, and the first step it ran again, which must be the COPY of project/. Needs a Docker engine and the
local base image (`bash .ci/make-base-image.sh`; there is no Docker Hub on the CI machines). No timing
assertions: the exit status is 1 only when a dependency step was rebuilt, 3 when the engine or the base
image is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing envcapture

DEFAULT_BASE = os.environ.get("ENVCAPTURE_TEST_BASE_IMAGE", "envcapture-test/debian-bookworm:local")
DEFAULT_PINS = ("requests==2.32.3", "urllib3==2.2.3", "idna==3.10", "certifi==2024.8.30",
                "charset-normalizer==3.4.0", "numpy==2.1.3")
STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def envcapture(*args) -> None:
    subprocess.run([sys.executable, "-m", "envcapture", *map(str, args)], check=True)


def freeze_fresh_venv(work: Path) -> Path:
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *DEFAULT_PINS], check=True)
    manifest = work / "envcapture.json"
    project = work / "project-src"
    project.mkdir()
    envcapture("freeze", "--python", venv / "bin" / "python", "--project", project, "-o", manifest)
    return manifest


class StepLog:
    """Collects the classic builder's log: which steps ran and which came from the cache."""

    def __init__(self):
        self.steps: list[tuple[int, str]] = []
        self.cached: set[int] = set()

    def __call__(self, line: str) -> None:
        match = STEP.match(line)
        if match:
            self.steps.append((int(match.group(1)), match.group(3)))
        elif line.strip() == "---> Using cache" and self.steps:
            self.cached.add(self.steps[-1][0])

    def first_rebuilt(self) -> tuple[int, str] | None:
        return next(((n, text) for n, text in self.steps if n not in self.cached and not text.startswith("FROM")),
                    None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, help="manifest to build (default: freeze a fresh venv)")
    parser.add_argument("--base-image", default=DEFAULT_BASE)
    parser.add_argument("--repeat", type=int, default=3, help="cold build + rebuild pairs (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the images of the last pair")
    args = parser.parse_args(argv)

    from envcapture.build.docker import build_image, connect
    from envcapture.errors import EnvcaptureError

    try:
        client = connect()
    except EnvcaptureError as exc:
        print(f"bench/docker_rebuild.py: {exc}", file=sys.stderr)
        return 3
    if not base_image_present(client, args.base_image):
        how = ("build it with `bash .ci/make-base-image.sh` (debootstrap, as root; the same script CI uses)"
               if args.base_image == DEFAULT_BASE else "pull or build it first")
        print(f"bench/docker_rebuild.py: the base image {args.base_image} is not on this Docker engine; {how}, "
              "or pass --base-image IMAGE", file=sys.stderr)
        return 3
    colds, warms, logs = [], [], []
    with tempfile.TemporaryDirectory(prefix="envcapture-bench-") as tmp:
        work = Path(tmp)
        manifest = args.manifest or freeze_fresh_venv(work)
        kit = work / "kit"
        envcapture("generate", "docker", "-m", manifest, "-o", kit, "--base-image", args.base_image)
        quiet = lambda line: None  # noqa: E731
        for round_number in range(1, args.repeat + 1):  # cold and warm alternate, so drift hits both alike
            tag = f"envcapture-bench/rebuild:{uuid.uuid4().hex[:10]}"
            print(f"[{round_number}/{args.repeat}] cold build of {kit} (no cache) ...", flush=True)
            colds.append(build_image(kit, tag + "-cold", client=client, echo=quiet, nocache=True).seconds)
            project = kit / "project"
            project.mkdir(exist_ok=True)
            (project / "train.py").write_text(f"# changed at {time.time()}\nprint('training')\n")
            log = StepLog()
            print(f"[{round_number}/{args.repeat}] rebuild after a change in project/ ...", flush=True)
            warms.append(build_image(kit, tag + "-warm", client=client, echo=log).seconds)
            logs.append(log)
            if not (args.keep and round_number == args.repeat):
                for name in (tag + "-cold", tag + "-warm"):
                    client.images.remove(name, force=True)

    cold, warm = statistics.median(colds), statistics.median(warms)
    print(f"cold build (median of {len(colds)}):                  {cold:7.1f} s")
    print(f"rebuild after a code change (median of {len(warms)}): {warm:7.1f} s  "
          f"({cold / max(warm, 0.01):.0f}x faster)")
    reused_all = True
    for log in logs:
        first = log.first_rebuilt()
        reused = first is None or "project/" in first[1]
        reused_all &= reused
    log = logs[-1]
    first = log.first_rebuilt()
    print(f"steps taken from the cache:  {len(log.cached)} of {len(log.steps) - 1} (FROM excluded)")
    print(f"first step run again:        {'none' if first is None else f'{first[0]}/{len(log.steps)}: {first[1]}'}")
    print("dependency layers reused:    " + ("yes, in every rebuild" if reused_all
                                              else "NO: a step before the project COPY ran again"))
    return 0 if reused_all else 1


def base_image_present(client, image: str) -> bool:
    import docker

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
