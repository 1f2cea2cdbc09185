"""Vendored kits (`generate --vendor`): size next to ReproZip's pack and the image, offline build time next to
the networked one, both from a cold Docker cache.

    python bench/vendor.py [--base-image IMAGE] [--base-os ID:VERSION] [--apt NAME ...] [--keep]

A fresh virtualenv of Debian's python3 (the Python the local base image installs) gets a real scientific stack
(numpy, scipy, pandas, scikit-learn, matplotlib and what they pull in) and a small analysis script that uses
them; a few hand-installed apt packages stay marked manual (--apt, default file, sqlite3 and unzip). It is
frozen, then:

- the script is run under `reprozip trace` and packed with `reprozip pack` (ReproZip's answer: every file the
  run touched), in a virtualenv of its own;
- `envcapture generate docker --vendor` writes the vendored kit (timed: downloading is a one-off cost);
- `envcapture generate docker` writes the networked kit;
- both are built with no layer cache (nocache, base image present): the vendored one with network_mode none.

Both kits get `--base-os debian:12`: a --base-image's distribution is otherwise unknown to the plan, which then
installs none of the recorded system packages (`--system-packages` included) in either kit.

Prints sizes (kit, the package files it holds, ReproZip's .rpz, image) and times, with the ratios the issue sets
as goals (offline build under 60 s and at most half the networked one; kit at most 1.2 x the files it holds).
No assertions: exit 0 after printing, 3 when Docker, the base image, reprozip or the index is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing envcapture

DEFAULT_BASE = os.environ.get("ENVCAPTURE_TEST_BASE_IMAGE", "envcapture-test/debian-bookworm:local")
PINS = ("numpy==2.1.3", "scipy==1.14.1", "pandas==2.2.3", "scikit-learn==1.5.2", "matplotlib==3.9.2")
SCRIPT = """\
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LinearRegression

rng = np.random.default_rng(0)
frame = pd.DataFrame({"x": rng.normal(size=500)})
frame["y"] = 3 * frame["x"] + rng.normal(scale=0.5, size=500)
model = LinearRegression().fit(frame[["x"]], frame["y"])
print("slope", round(float(model.coef_[0]), 3), "pearson", round(float(stats.pearsonr(frame.x, frame.y)[0]), 3))
frame.plot.scatter(x="x", y="y")
plt.savefig("fit.png")
"""


def run(*argv, cwd=None, quiet=True) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], check=True, cwd=cwd, text=True,
                          capture_output=quiet)


def envcapture(*args) -> float:
    started = time.monotonic()
    run(sys.executable, "-m", "envcapture", *args, quiet=False)
    return time.monotonic() - started


def folder_bytes(folder: Path, under: tuple[str, ...] = ()) -> int:
    total = 0
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).parts
        if path.is_file() and not path.is_symlink() and (not under or rel[0] in under):
            total += path.stat().st_size
    return total


def mb(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


def make_environment(work: Path, apt: list[str]) -> tuple[Path, Path]:
    venv = work / "venv"
    run("/usr/bin/python3", "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", *PINS)
    project = work / "project"
    project.mkdir()
    (project / "analysis.py").write_text(SCRIPT)
    manifest = work / "envcapture.json"
    envcapture("freeze", "--python", venv / "bin" / "python", "--project", project, "-o", manifest)
    data = json.loads(manifest.read_text())
    for package in data["system_packages"]["packages"]:
        package["manual"] = package["name"] in apt
    manifest.write_text(json.dumps(data))
    return venv, manifest


def reprozip_pack(work: Path, venv: Path) -> int | None:
    tools = work / "reprozip-venv"
    try:
        run("/usr/bin/python3", "-m", "venv", tools)
        run(tools / "bin" / "pip", "install", "-q", "--disable-pip-version-check", "reprozip")
        trace = work / "trace"
        run(tools / "bin" / "reprozip", "trace", "-d", trace, venv / "bin" / "python", "analysis.py",
            cwd=work / "project")
        pack = work / "analysis.rpz"
        run(tools / "bin" / "reprozip", "pack", "-d", trace, pack)
    except subprocess.CalledProcessError as exc:
        print(f"reprozip failed: {exc.stderr[-400:] if exc.stderr else exc}", file=sys.stderr)
        return None
    return pack.stat().st_size


class StepTimes:
    """Seconds between the classic builder's `Step N/M : ...` lines: where a build spends its time."""

    def __init__(self):
        self.steps: list[tuple[str, float]] = []
        self.last = time.monotonic()
        self.current = "context upload"

    def __call__(self, line: str) -> None:
        if line.startswith("Step "):
            now = time.monotonic()
            self.steps.append((self.current, now - self.last))
            self.current, self.last = line.split(" : ", 1)[-1][:70], now

    def slowest(self, n: int = 4) -> list[tuple[str, float]]:
        self.steps.append((self.current, time.monotonic() - self.last))
        self.current, self.last = "(done)", time.monotonic()
        return sorted(self.steps, key=lambda s: -s[1])[:n]


def not_installed(kit: Path, apt: list[str]) -> list[str]:
    """The --apt packages the vendored kit does not install, each with the kit's own reason."""
    items = json.loads((kit / "not-reproduced.json").read_text())["items"] \
        if (kit / "not-reproduced.json").is_file() else []
    return [f"{i['item']} ({i['why'][:90]})" for i in items if i["item"] in apt]


def cold_build(kit: Path, tag: str, offline: bool) -> tuple[float, list[tuple[str, float]]]:
    from envcapture.build.docker import build_image

    steps = StepTimes()
    built = build_image(kit, tag, nocache=True, network_mode="none" if offline else None, echo=steps)
    return built.seconds, steps.slowest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-image", default=DEFAULT_BASE)
    parser.add_argument("--base-os", default="debian:12", help="the base image's distribution (ID:VERSION)")
    parser.add_argument("--apt", nargs="*", default=["file", "sqlite3", "unzip"],
                        help="apt packages kept as hand-installed")
    parser.add_argument("--keep", action="store_true", help="keep the images and the work folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("ENVCAPTURE_IMAGE_LABELS", "envcapture.test=1")

    from envcapture.build.docker import connect
    from envcapture.errors import EnvcaptureError

    try:
        client = connect()
        client.images.get(args.base_image)
    except Exception as exc:  # noqa: BLE001 - any reason the engine or the image is not there
        print(f"bench/vendor.py: needs a Docker engine and {args.base_image} ({exc})", file=sys.stderr)
        return 3
    load_at_start = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="envcapture-bench-vendor-"))
    tags = {kind: f"envcapture-bench/vendor:{kind}-{uuid.uuid4().hex[:8]}" for kind in ("online", "offline")}
    try:
        venv, manifest = make_environment(work, args.apt)
        rpz = reprozip_pack(work, venv)
        base = ["--base-image", args.base_image, "--base-os", args.base_os, "-m", manifest]
        if args.apt:
            base += ["--system-packages", *args.apt]
        vendor_seconds = envcapture("generate", "docker", *base, "-o", work / "kit-vendored", "--vendor")
        envcapture("generate", "docker", *base, "-o", work / "kit-online")
        online, online_steps = cold_build(work / "kit-online", tags["online"], offline=False)
        offline, offline_steps = cold_build(work / "kit-vendored", tags["offline"], offline=True)
        image = client.images.get(tags["offline"]).attrs["Size"]
        kit = work / "kit-vendored"
        kit_bytes = folder_bytes(kit)
        held = folder_bytes(kit, ("wheels", "debs"))
        wheels = len(list((kit / "wheels").glob("*.whl")))
        debs = len(list((kit / "debs").glob("*.deb"))) if (kit / "debs").is_dir() else 0
        left_out = not_installed(kit, args.apt)
        engine = client.version().get("Version", "?")
    except (EnvcaptureError, subprocess.CalledProcessError) as exc:
        print(f"bench/vendor.py: {exc}", file=sys.stderr)
        return 3
    finally:
        if not args.keep:
            for tag in tags.values():
                try:
                    client.images.remove(tag, force=True)
                except Exception:  # noqa: BLE001 - never built
                    pass
    print(f"environment: {', '.join(PINS)} (+ dependencies); apt kept manual: {', '.join(args.apt) or 'none'}"
          + (f"; not installed: {'; '.join(left_out)}" if left_out else ""))
    print(f"Docker engine {engine}, classic builder (the docker SDK, as `envcapture build` uses); base {args.base_image}")
    print(f"vendored kit: {mb(kit_bytes)} ({wheels} wheels, {debs} .debs: {mb(held)} of package files); "
          f"kit / package files = {kit_bytes / held:.3f} (goal <= 1.2)")
    print(f"ReproZip pack of one run: {mb(rpz) if rpz else 'failed'}"
          + (f"; vendored kit / ReproZip = {kit_bytes / rpz:.2f}" if rpz else ""))
    print(f"image (vendored build): {mb(image)}; kit / image = {kit_bytes / image:.2f}")
    print(f"vendoring (generate --vendor, downloads included): {vendor_seconds:.1f} s, once")
    print(f"cold build, networked: {online:.1f} s; cold build, --network none from the kit: {offline:.1f} s; "
          f"offline / networked = {offline / online:.2f} (goals: offline < 60 s, ratio <= 0.5)")
    for name, steps in (("networked", online_steps), ("offline", offline_steps)):
        print(f"slowest steps, {name}: " + "; ".join(f"{text} {seconds:.0f} s" for text, seconds in steps))
    print(f"load average (1 min): {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
          f"on {os.cpu_count()} cores")
    if args.keep:
        print(f"kept: {work}, images {', '.join(tags.values())}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
