"""Real projects round-trip: install, test, freeze, rebuild with envcapture, test again, check.

    python bench/real_projects.py [--host] [--base-image IMAGE] [--only NAME ...] [--keep]

--host: the field, not the lab. The project is installed and frozen on this machine as it is (its hundreds of
apt packages, hand-installed ones from bookworm-security included), in a venv of the machine's own python3, and
a code change is measured the usual way: a commit, `envcapture freeze` again, `envcapture build docker
--with-code` (the whole command, check included). The size ratio is image / (base + venv + the system packages
the kit installs: its apt packages and their recorded dependencies the base lacks, by the host's Installed-Size).

Without --host:

For each project (its PyPI sdist, made a git repository as a user's checkout is): in a container from the
local base image, a virtualenv gets pinned dependencies, the project editable (`pip install -e .`) and
pytest; a subset of the project's own tests runs; `envcapture freeze` records it. Then on the host
`envcapture build docker --with-code` builds the kit from that manifest (cold: the first build of this
manifest), `check --image` gives its verdict (the build's exit status), the same tests run in the rebuilt
image (the tests that fail only there are named), a pin changed inside the rebuilt image with its own pip must
make `check --image` exit 1 naming that package, a file of the kit's project/ changes and the kit is built again
(the rebuild time). Prints one row per project, and the image size next to the base image plus what the
original container installed (apt Installed-Size and the virtualenv). A bench, not a test: no assertions on
times.

The project folder is bind-mounted at the same path in the container as on the host, so the path the
manifest records is where `--with-code` finds the repository.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_BASE = "envcapture-test/debian-bookworm:local"


@dataclass
class Project:
    name: str
    version: str
    pins: tuple[str, ...]  # dependencies, pinned
    tests: tuple[str, ...]  # test files, relative to the project


PROJECTS = (
    Project("emcee", "3.1.6", ("numpy==2.2.6",),
            ("src/emcee/tests/unit/test_ensemble.py", "src/emcee/tests/unit/test_stretch.py",
             "src/emcee/tests/unit/test_state.py", "src/emcee/tests/unit/test_autocorr.py")),
    Project("lmfit", "1.3.4", ("numpy==2.2.6", "scipy==1.15.3", "asteval==1.0.6", "uncertainties==3.2.3",
                               "dill==0.4.0"),
            ("tests/test_parameters.py", "tests/test_basicfit.py", "tests/test_lineshapes.py",
             "tests/test_model.py")),
    Project("imbalanced-learn", "0.14.2", ("numpy==2.2.6", "scipy==1.15.3", "scikit-learn==1.7.2",
                                           "joblib==1.5.2", "threadpoolctl==3.6.0", "sklearn-compat==0.1.6"),
            ("imblearn/over_sampling/tests/test_random_over_sampler.py",
             "imblearn/under_sampling/_prototype_selection/tests/test_random_under_sampler.py",
             "imblearn/metrics/tests/test_classification.py")),
)
PYTEST = "pytest==8.4.2"
# Projects for --host that are not in the clean-container set: each needs a system library it opens by name.
HOST_PROJECTS = (
    Project("cairocffi", "1.7.1", ("cffi==1.17.1", "pikepdf==9.4.2"), ("cairocffi/test_cairo.py",)),
)

CONTAINER_SCRIPT = textwrap.dedent("""\
    set -euo pipefail
    export DEBIAN_FRONTEND=noninteractive
    before=$(dpkg-query -W -f '${{Installed-Size}}\\n' | awk '{{s+=$1}} END {{print s}}')
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3 python3-venv git >/dev/null
    after=$(dpkg-query -W -f '${{Installed-Size}}\\n' | awk '{{s+=$1}} END {{print s}}')
    python3 -m venv /opt/envcapture
    /opt/envcapture/bin/pip install -q --disable-pip-version-check /wheels/*.whl
    python3 -m venv /work/venv
    /work/venv/bin/pip install -q --disable-pip-version-check {pins} {pytest}
    /work/venv/bin/pip install -q --disable-pip-version-check --no-deps -e {project}
    cd {project}
    /work/venv/bin/python -m pytest -q -p no:cacheprovider -o addopts= {tests} > /out/tests-before.txt 2>&1 || true
    git -C {project} status --porcelain >/dev/null
    /opt/envcapture/bin/envcapture freeze --python /work/venv/bin/python --project {project} -o /out/envcapture.json
    echo "{{\\"apt_kib\\": $((after - before)), \\"venv_bytes\\": $(du -sb /work/venv | cut -f1)}}" > /out/sizes.json
    chmod -R a+rwX /out {project}
    """)
PASSED = re.compile(r"(\d+) passed")
FAILED = re.compile(r"^FAILED (\S+)", re.M)
# The pin changed inside the rebuilt image: pytest's small dependency, to a version other than the recorded one.
CHANGED_PIN = ("iniconfig", ("2.0.0", "1.1.1"))
# -o addopts=: the projects' own pytest options name plugins (pytest-cov) that are not part of the subset.


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def envcapture(*args) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "envcapture", *args], timeout=3600)


def fetch_project(project: Project, work: Path) -> Path:
    """The sdist unpacked and committed: a checkout at a known commit, as a user's project is."""
    done = run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
                f"{project.name}=={project.version}", "-d", work / "sdists"], timeout=600)
    if done.returncode:
        raise SystemExit(f"pip download {project.name}: {done.stderr[-500:]}")
    sdist = next((work / "sdists").glob(f"{project.name.replace('-', '_')}-{project.version}.tar.gz"), None) \
        or next((work / "sdists").glob(f"{project.name}-{project.version}.tar.gz"))
    with tarfile.open(sdist) as archive:
        archive.extractall(work / "src", filter="data")
    folder = next(p for p in (work / "src").iterdir() if p.name.endswith(project.version))
    git = ["git", "-C", folder, "-c", "user.name=bench", "-c", "user.email=bench@invalid"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "sdist"]):
        run([*git, *args], check=True)
    return folder


def build_wheel(out: Path) -> None:
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, REPO], check=True, timeout=600)


def original(client, base: str, project: Project, folder: Path, wheels: Path, out: Path) -> None:
    script = CONTAINER_SCRIPT.format(pins=shlex.join(project.pins), pytest=PYTEST,
                                     project=shlex.quote(str(folder)), tests=shlex.join(project.tests))
    container = client.containers.run(base, ["bash", "-c", script], detach=True, volumes={
        str(wheels): {"bind": "/wheels", "mode": "ro"}, str(out): {"bind": "/out", "mode": "rw"},
        str(folder): {"bind": str(folder), "mode": "rw"}})
    try:
        status = container.wait(timeout=3600)
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    if status["StatusCode"]:
        raise SystemExit(f"{project.name}: the original container failed:\n{logs[-3000:]}")


def tests_in_image(client, tag: str, project: Project) -> str:
    """The same tests in the rebuilt image, as its user, from the project folder the kit copied there."""
    command = "python -m pytest -q -p no:cacheprovider -o addopts= " + " ".join(project.tests) + " 2>&1; true"
    out = client.containers.run(tag, ["sh", "-c", command], remove=True, network_disabled=True)
    return out.decode(errors="replace")


def passed(text: str) -> str:
    match = PASSED.search(text)
    failed = re.search(r"(\d+) failed", text)
    return f"{match.group(1) if match else 0}" + (f" ({failed.group(1)} failed)" if failed else "")


def changed_pin_caught(client, tag: str, manifest: Path) -> str:
    """`check --image` of a copy of the rebuilt image where pip installed another version of one package: it must
    exit 1 and name the package with both versions; anything else is reported as missed."""
    name, candidates = CHANGED_PIN
    recorded = next(p["version"] for p in json.loads(manifest.read_text())["python_packages"]
                    if p["name"].lower() == name)
    other = next(v for v in candidates if v != recorded)
    container = client.containers.run(tag, ["python", "-m", "pip", "install", "-q", "--no-deps",
                                            "--disable-pip-version-check", f"{name}=={other}"],
                                      user="root", detach=True)
    try:
        if container.wait(timeout=600)["StatusCode"]:
            raise SystemExit(f"pip in {tag}: {container.logs().decode(errors='replace')[-2000:]}")
        changed = f"{tag}-changed-pin"
        container.commit(*changed.rsplit(":", 1))
    finally:
        container.remove(force=True)
    try:
        checked = envcapture("check", manifest, "--image", changed)
    finally:
        client.images.remove(changed, force=True)
    named = any(name in line and recorded in line and other in line for line in checked.stdout.splitlines())
    verdict = "caught" if checked.returncode == 1 and named else "MISSED"
    return f"{verdict} ({name} {recorded} -> {other}: exit {checked.returncode})"


def bench_project(client, base: str, project: Project, work: Path, wheels: Path, keep: bool) -> dict:
    from envcapture.build.docker import build_image

    folder = fetch_project(project, work)
    out = work / f"out-{project.name}"
    out.mkdir()
    out.chmod(0o777)
    original(client, base, project, folder, wheels, out)
    before = (out / "tests-before.txt").read_text()
    tag = f"envcapture-test/bench-{project.name}:{uuid.uuid4().hex[:8]}"
    kit = work / f"kit-{project.name}"
    started = time.monotonic()
    built = envcapture("build", "docker", "-m", out / "envcapture.json", "-o", kit, "--tag", tag,
                       "--base-image", base, "--with-code")
    cold = time.monotonic() - started
    verdict = next((line for line in built.stdout.splitlines() if line.startswith(("OK:", "DRIFT:"))), None)
    if built.returncode not in (0, 1):
        raise SystemExit(f"{project.name}: build failed ({built.returncode}):\n{built.stderr[-3000:]}")
    after = tests_in_image(client, tag, project)
    (out / "tests-after.txt").write_text(after)
    (out / "build.txt").write_text(built.stdout + built.stderr)
    changed_pin = changed_pin_caught(client, tag, out / "envcapture.json")
    # A code change: one more line in a source file of the kit's project/.
    source = next(p for p in sorted((kit / "project").rglob("*.py")) if "test" not in p.name)
    source.write_text(source.read_text() + "\n# changed by bench/real_projects.py\n")
    started = time.monotonic()
    build_image(kit, tag, client=client, echo=lambda line: None)
    rebuild = time.monotonic() - started
    sizes = json.loads((out / "sizes.json").read_text())
    image = client.images.get(tag).attrs["Size"]
    base_size = client.images.get(base).attrs["Size"]
    installed = sizes["apt_kib"] * 1024 + sizes["venv_bytes"]
    if not keep:
        client.images.remove(tag, force=True)
    return {"project": f"{project.name} {project.version}", "tests_before": passed(before),
            "tests_after": passed(after), "failed_only_after": sorted(set(FAILED.findall(after))
                                                                      - set(FAILED.findall(before))),
            "check": verdict or f"exit {built.returncode}", "changed_pin": changed_pin,
            "check_exit": built.returncode, "cold_build_s": round(cold, 1), "rebuild_s": round(rebuild, 1),
            "image_mb": round(image / 1e6), "base_plus_installed_mb": round((base_size + installed) / 1e6),
            "ratio": round(image / (base_size + installed), 2)}


def host_original(project: Project, folder: Path, work: Path) -> tuple[Path, Path, str]:
    """The project in a venv of this machine's python3, its tests run, frozen into the checkout."""
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    venv = work / f"venv-{project.name}"
    run([python, "-m", "venv", venv], check=True)
    pip = [venv / "bin" / "pip", "install", "-q", "--disable-pip-version-check"]
    for argv in ([*pip, *project.pins, PYTEST], [*pip, "--no-deps", "-e", folder]):
        done = run(argv, timeout=1800)
        if done.returncode:
            raise SystemExit(f"{project.name}: {' '.join(map(str, argv))}: {done.stderr[-2000:]}")
    before = run([venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                  *project.tests], cwd=folder, timeout=1800).stdout
    ignore = folder / ".gitignore"
    ignore.write_text((ignore.read_text() if ignore.exists() else "") + "*.egg-info/\n__pycache__/\n")
    git = ["git", "-C", folder, "-c", "user.name=bench", "-c", "user.email=bench@invalid"]
    run([*git, "add", "-A"], check=True)
    run([*git, "commit", "-q", "-m", "ignore build files"], check=True)
    manifest = folder / "envcapture.json"
    froze = envcapture("freeze", "--python", venv / "bin" / "python", "--project", folder, "-o", manifest)
    if froze.returncode:
        raise SystemExit(f"{project.name}: freeze: {froze.stderr[-2000:]}")
    return venv, manifest, before


def needed_system_bytes(client, base: str, kit: Path, manifest: Path) -> int:
    """Installed-Size on this machine of the packages the kit's apt line names and their recorded dependencies
    that the base image lacks: what a minimal image must add for the environment."""
    from envcapture.build.docker import image_packages

    dockerfile = (kit / "Dockerfile").read_text()
    step = dockerfile.split("RUN set --", 1)[1].split("&&", 1)[0] if "RUN set --" in dockerfile else ""
    wanted = {word.split("=")[0] for word in step.replace("\\", " ").split()}
    packages = {p["name"]: p for p in json.loads(manifest.read_text())["system_packages"]["packages"]}
    in_base = image_packages(base, client) or frozenset()
    todo, seen = [n for n in wanted if n in packages], set()
    while todo:
        name = todo.pop()
        if name in seen or name in in_base:
            continue
        seen.add(name)
        todo += [d for d in packages[name].get("depends") or () if d in packages]
    sizes = run(["dpkg-query", "-W", "-f", "${Package}\t${Installed-Size}\n", *sorted(seen)]).stdout
    return sum(int(size or 0) * 1024 for _, size in (line.split("\t") for line in sizes.splitlines()))


def bench_host_project(client, base: str, project: Project, work: Path, keep: bool) -> dict:
    folder = fetch_project(project, work)
    venv, manifest, before = host_original(project, folder, work)
    tag = f"envcapture-test/bench-{project.name}:{uuid.uuid4().hex[:8]}"
    kit = work / f"kit-{project.name}"
    build = ["build", "docker", "-m", manifest, "-o", kit, "--tag", tag, "--base-image", base,
             "--base-os", "debian:12", "--with-code"]
    started = time.monotonic()
    built = envcapture(*build)
    cold = time.monotonic() - started
    verdict = next((line for line in built.stdout.splitlines() if line.startswith(("OK:", "DRIFT:"))), None)
    if built.returncode not in (0, 1):
        raise SystemExit(f"{project.name}: build failed ({built.returncode}):\n{built.stderr[-3000:]}")
    after = tests_in_image(client, tag, project)
    changed_pin = changed_pin_caught(client, tag, manifest)
    # A code change the usual way: edit, commit, freeze, build.
    source = next(p for p in sorted(folder.rglob("*.py")) if "test" not in p.name and ".git" not in p.parts)
    source.write_text(source.read_text() + "\n# changed by bench/real_projects.py\n")
    git = ["git", "-C", folder, "-c", "user.name=bench", "-c", "user.email=bench@invalid"]
    run([*git, "commit", "-q", "-am", "a code change"], check=True)
    started = time.monotonic()
    froze = envcapture("freeze", "--python", venv / "bin" / "python", "--project", folder, "-o", manifest)
    rebuilt = envcapture(*build, "--force")
    rebuild = time.monotonic() - started
    if froze.returncode or rebuilt.returncode not in (0, 1):
        raise SystemExit(f"{project.name}: rebuild after a commit failed:\n{froze.stderr[-1000:]}"
                         f"{rebuilt.stderr[-3000:]}")
    image = client.images.get(tag).attrs["Size"]
    base_size = client.images.get(base).attrs["Size"]
    venv_bytes = int(run(["du", "-sb", venv]).stdout.split()[0])
    system = needed_system_bytes(client, base, kit, manifest)
    if not keep:
        client.images.remove(tag, force=True)
    return {"project": f"{project.name} {project.version} (host)", "tests_before": passed(before),
            "tests_after": passed(after), "failed_only_after": sorted(set(FAILED.findall(after))
                                                                      - set(FAILED.findall(before))),
            "check": verdict or f"exit {built.returncode}", "changed_pin": changed_pin,
            "check_exit": built.returncode, "cold_build_s": round(cold, 1), "rebuild_s": round(rebuild, 1),
            "rebuild_check_exit": rebuilt.returncode, "image_mb": round(image / 1e6),
            "base_plus_installed_mb": round((base_size + venv_bytes + system) / 1e6),
            "ratio": round(image / (base_size + venv_bytes + system), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-image", default=DEFAULT_BASE)
    parser.add_argument("--only", nargs="*", help="project names to run (default: all three)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and the images")
    parser.add_argument("--host", action="store_true", help="freeze on this machine as it is, and rebuild after a "
                        "commit the usual way (commit, freeze, build)")
    args = parser.parse_args()
    import docker

    client = docker.from_env(timeout=3600)
    work = Path(tempfile.mkdtemp(prefix="envcapture-real-"))
    rows = []
    try:
        wheels = work / "wheels"
        if not args.host:
            build_wheel(wheels)
        for project in PROJECTS + (HOST_PROJECTS if args.host else ()):
            if args.only and project.name not in args.only:
                continue
            if args.host:
                row = bench_host_project(client, args.base_image, project, work, args.keep)
            else:
                row = bench_project(client, args.base_image, project, work, wheels, args.keep)
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("| project | tests passed before / after | check --image | a changed pin | cold build "
          f"| rebuild after {'a commit (commit, freeze, build)' if args.host else 'a code change'} "
          f"| image / (base + {'venv + needed system packages' if args.host else 'installed'}) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['project']} | {r['tests_before']} / {r['tests_after']} | {r['check']} | {r['changed_pin']} "
              f"| {r['cold_build_s']} s | {r['rebuild_s']} s "
              f"| {r['image_mb']} MB / {r['base_plus_installed_mb']} MB = {r['ratio']} |")
    for r in rows:
        if r["failed_only_after"]:
            print(f"{r['project']}: failed only in the rebuilt image: {', '.join(r['failed_only_after'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
