"""Benchmark: `envcapture restore` of a ~40-package manifest vs `python -m venv` + `pip install -r`.

Both install the same exact pins into a fresh virtualenv, both with a warm cache (one untimed warm-up run
each), alternating in the same run; prints the medians and the ratio (goal: restore <= 1/3 of pip's time).
`restore` is timed end to end as a user runs it: venv, install, and the check of the result.

    python bench/restore.py [--rounds 3] [--python PATH]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# 42 distributions, resolved together once (`uv pip compile` of 28 common top-level packages, Python 3.11).
PINS = """
attrs==26.1.0 babel==2.19.0 beautifulsoup4==4.15.0 certifi==2026.10.19.post1 charset-normalizer==3.5.3
click==8.5.1 decorator==5.3.1 docutils==0.23 filelock==4.3.1 idna==3.20 iniconfig==2.3.1 jinja2==3.1.6
jsonschema==4.26.0 jsonschema-specifications==2025.9.1 markdown==3.11.3 markdown-it-py==4.3.0
markupsafe==3.0.4 mdurl==0.1.2 more-itertools==11.2.1 packaging==26.4 platformdirs==4.14.8 pluggy==1.7.0
prompt-toolkit==3.0.53 pygments==2.21.0 pytest==9.2.0 python-dateutil==4.0.0 pytz==2026.6 pyyaml==6.0.4
referencing==0.37.0 requests==2.34.2 rich==15.0.0 rpds-py==2026.9.1 six==1.17.0 sortedcontainers==2.4.0
soupsieve==2.10 tabulate==0.10.0 tomli==2.5.0 tqdm==4.70.1 typing-extensions==4.16.0 tzdata==2026.6
urllib3==2.8.0 wcwidth==0.9.4
""".split()


def run(argv: list, **kw) -> None:
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(map(str, argv[:4]))} ... failed ({proc.returncode}):\n{proc.stdout[-2000:]}"
                 f"{proc.stderr[-2000:]}")


def timed(argv_list: list[list]) -> float:
    start = time.perf_counter()
    for argv in argv_list:
        run(argv)
    return time.perf_counter() - start


def setup(root: Path, python: str) -> tuple[Path, Path]:
    """The environment to capture (pip-installed pins), its manifest, and the same pins as requirements."""
    run([python, "-m", "venv", root / "source"])
    requirements = root / "requirements.txt"
    requirements.write_text("\n".join(PINS) + "\n")
    run([root / "source" / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-r", requirements])
    manifest = root / "envcapture.json"
    run([sys.executable, "-m", "envcapture", "freeze", "--python", root / "source" / "bin" / "python",
         "-o", manifest])
    # The same pins restore installs: every distribution of the manifest (pip and setuptools included).
    import json

    packages = json.loads(manifest.read_text())["python_packages"]
    requirements.write_text("".join(f"{p['name']}=={p['version']}\n" for p in packages))
    return manifest, requirements


def pip_way(root: Path, python: str, requirements: Path, n: int) -> float:
    venv = root / f"pip-{n}"
    return timed([[python, "-m", "venv", venv],
                  [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
                   "-r", requirements]])


def restore_way(root: Path, manifest: Path, n: int) -> float:
    return timed([[sys.executable, "-m", "envcapture", "restore", manifest, "--venv", root / f"restore-{n}"]])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="interpreter for both venvs")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="envcapture-bench-restore-"))
    try:
        manifest, requirements = setup(root, args.python)
        count = len(requirements.read_text().split())
        # Warm-up (untimed): fills pip's and uv's caches with these exact wheels.
        pip_way(root, args.python, requirements, 0)
        restore_way(root, manifest, 0)
        pip_times, restore_times = [], []
        for n in range(1, args.rounds + 1):
            pip_times.append(pip_way(root, args.python, requirements, n))
            restore_times.append(restore_way(root, manifest, n))
            print(f"round {n}: pip {pip_times[-1]:.2f} s, envcapture restore {restore_times[-1]:.2f} s", flush=True)
        pip_median, restore_median = statistics.median(pip_times), statistics.median(restore_times)
        print(f"{count} packages, warm caches, {args.rounds} rounds, medians:")
        print(f"  python -m venv + pip install -r requirements.txt       {pip_median:7.2f} s")
        print(f"  envcapture restore (uv venv + uv pip install + check)  {restore_median:7.2f} s")
        ratio = restore_median / pip_median
        print(f"  ratio restore/pip = {ratio:.3f} (goal <= 0.333: {'met' if ratio <= 1 / 3 else 'NOT met'})")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
