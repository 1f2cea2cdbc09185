"""The freeze -> build -> check round trip of issue 5, with a real Docker engine, Packer, PyPI and uv.

1. In a container from the local base image: a venv with pinned PyPI packages (requests pulls four
   dependencies), one package installed from a local git repo and one apt package installed by hand;
   `envcapture freeze` there (envcapture itself in a venv of its own, from a wheel of this tree) gives M.
2. `envcapture build docker -m M --base-image <local>`, then `check --image` reports no drift.
3. A copy of M with one pin changed: `check --image` exits 1 and names the package and both versions.
4. `envcapture build packer -m M` with the docker source builds and checks clean.
5. On the host: `restore` of a host venv's manifest into a new venv, then `check` exits 0.

The local git repository lives in the base image at /srv/git/localpkg (there is no network to a git host
here), so the rebuilt image can install the recorded `git+file://` URL at the recorded commit.
Everything skips with a reason when no engine is reachable (and fails when .ci/run sets
ENVCAPTURE_REQUIRE_TOOLS=1).
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
PINS = {"requests": "2.32.3", "urllib3": "2.2.3", "idna": "3.10", "certifi": "2024.8.30",
        "charset-normalizer": "3.4.0", "six": "1.16.0"}
APT_BY_HAND = "jq"
LOCAL_PACKAGE = "localpkg"
LOCAL_VERSION = "0.3.0"
CHANGED = ("six", "1.16.0", "1.15.0")  # the pin changed in step 3: (package, recorded, changed to)

FREEZE_SCRIPT = textwrap.dedent("""\
    set -euo pipefail
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3 python3-venv {apt} >/dev/null
    python3 -m venv /opt/envcapture
    /opt/envcapture/bin/pip install -q --disable-pip-version-check /wheels/*.whl
    python3 -m venv /work/venv
    /work/venv/bin/pip install -q --disable-pip-version-check {pins}
    /work/venv/bin/pip install -q --disable-pip-version-check "git+file:///srv/git/{local}@{commit}"
    mkdir -p /work/project && cd /work/project
    echo 'print("hello")' > train.py
    /opt/envcapture/bin/envcapture freeze --python /work/venv/bin/python -o /out/envcapture.json
    chmod a+r /out/envcapture.json
    """)


def envcapture(*args, cwd=None, timeout=1200, env=None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it; stdout and stderr captured, both echoed for the test log."""
    proc = subprocess.run([sys.executable, "-m", "envcapture", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=env)
    sys.stdout.write(f"$ envcapture {' '.join(map(str, args))}  -> exit {proc.returncode}\n{proc.stdout}"
                     f"{proc.stderr[-6000:]}\n")
    return proc


def make_local_git_package(root: Path) -> str:
    """A small installable package in a real git repository; returns the commit."""
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{LOCAL_PACKAGE}"
        version = "{LOCAL_VERSION}"
        """))
    (root / f"{LOCAL_PACKAGE}.py").write_text("ANSWER = 42\n")
    git = ["git", "-C", str(root), "-c", "user.name=envcapture tests", "-c", "user.email=tests@invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "localpkg 0.3.0"], check=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def build_wheel(out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO_ROOT)],
                   check=True, timeout=600)
    wheels = list(out.glob("envcapture-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def build_source_base(client, base_image: str, repo: Path, tag: str) -> None:
    """The local base image plus git and the repository at /srv/git/localpkg (the base the user started from)."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        # git is part of this base: uv and pip need it to install the git+file:// requirement.
        dockerfile = (f"FROM {base_image}\n"
                      f"RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                      f"--no-install-recommends git >/dev/null && rm -rf /var/lib/apt/lists/*\n"
                      f"COPY {LOCAL_PACKAGE} /srv/git/{LOCAL_PACKAGE}\n").encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(repo, arcname=LOCAL_PACKAGE)
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, pull=False,
                        labels={"envcapture.test": "1"})


def run_freeze_container(client, image: str, commit: str, wheels: Path, out: Path) -> str:
    script = FREEZE_SCRIPT.format(apt=APT_BY_HAND, pins=" ".join(f"{n}=={v}" for n, v in PINS.items()),
                                  local=LOCAL_PACKAGE, commit=commit)
    container = client.containers.run(
        image, ["bash", "-c", script], detach=True,
        volumes={str(wheels): {"bind": "/wheels", "mode": "ro"}, str(out): {"bind": "/out", "mode": "rw"}})
    try:
        status = container.wait(timeout=900)
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, f"freeze container failed:\n{logs[-4000:]}"
    return logs


def packages_by_name(manifest: dict) -> dict:
    return {package["name"].lower().replace("_", "-"): package for package in manifest["python_packages"]}


@pytest.fixture(scope="module")
def round_trip(docker_client, docker_base_image, tmp_path_factory):
    """The source image, manifest M frozen inside it, and a folder for kits; images removed afterwards."""
    work = tmp_path_factory.mktemp("round-trip")
    commit = make_local_git_package(work / LOCAL_PACKAGE)
    wheels = work / "wheels"
    build_wheel(wheels)
    run_id = uuid.uuid4().hex[:10]
    source_image = f"envcapture-test/e2e-source:{run_id}"
    build_source_base(docker_client, docker_base_image, work / LOCAL_PACKAGE, source_image)
    out = work / "out"
    out.mkdir()
    out.chmod(0o777)
    run_freeze_container(docker_client, source_image, commit, wheels, out)
    state = {"work": work, "commit": commit, "source_image": source_image, "manifest": out / "envcapture.json",
             "docker_tag": f"envcapture-test/e2e-docker:{run_id}",
             "packer_tag": f"envcapture-test/e2e-packer:{run_id}"}
    yield state
    if os.environ.get("ENVCAPTURE_E2E_KEEP") == "1":  # leave the images for a look after a failure
        return
    for tag in (state["docker_tag"], state["packer_tag"], source_image):
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:  # an image a failed step never built
            pass


def test_1_freeze_in_a_container_records_pins_git_source_and_apt_package(round_trip):
    manifest = json.loads(round_trip["manifest"].read_text())
    packages = packages_by_name(manifest)
    for name, version in PINS.items():
        assert packages[name]["version"] == version, name
    local = packages[LOCAL_PACKAGE]
    assert local["version"] == LOCAL_VERSION
    assert round_trip["commit"] in json.dumps(local), local
    assert "envcapture" not in packages, "envcapture's own venv leaked into the manifest"
    system = json.dumps(manifest["system_packages"])
    assert f'"{APT_BY_HAND}"' in system
    assert manifest["python"]["version"].startswith("3.11.")


@pytest.fixture(scope="module")
def docker_built(round_trip):
    kit = round_trip["work"] / "kit-docker"
    proc = envcapture("build", "docker", "-m", round_trip["manifest"], "-o", kit,
                      "--base-image", round_trip["source_image"], "--tag", round_trip["docker_tag"])
    return proc


def test_2_build_docker_then_check_image_reports_no_drift(round_trip, docker_built):
    assert docker_built.returncode == 0, docker_built.stdout + docker_built.stderr[-3000:]
    proc = envcapture("check", "--image", round_trip["docker_tag"], round_trip["manifest"], "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    errors = [d for d in report.get("differences", []) if d.get("grade") == "error"]
    assert errors == []


def test_3_a_changed_pin_is_drift_naming_the_package_and_both_versions(round_trip, docker_built, docker_client):
    # Needs the image of step 2, not its clean verdict: drift elsewhere does not hide this one.
    docker_client.images.get(round_trip["docker_tag"])
    name, recorded, changed = CHANGED
    manifest = json.loads(round_trip["manifest"].read_text())
    edited = copy.deepcopy(manifest)
    for package in edited["python_packages"]:
        if package["name"].lower() == name:
            assert package["version"] == recorded
            package["version"] = changed
    path = round_trip["work"] / "changed-pin.json"
    path.write_text(json.dumps(edited, indent=2))
    proc = envcapture("check", "--image", round_trip["docker_tag"], path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = proc.stdout + proc.stderr
    drift_lines = [line for line in text.splitlines() if name in line]
    assert any(recorded in line and changed in line for line in drift_lines), text


def test_4_build_packer_with_the_docker_source_builds_and_checks_clean(round_trip, packer_tool):
    kit = round_trip["work"] / "kit-packer"
    proc = envcapture("build", "packer", "-m", round_trip["manifest"], "-o", kit,
                      "--base-image", round_trip["source_image"], "--tag", round_trip["packer_tag"])
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    check = envcapture("check", "--image", round_trip["packer_tag"], round_trip["manifest"])
    assert check.returncode == 0, check.stdout + check.stderr


def test_5_restore_of_a_host_venv_manifest_then_check_passes(tmp_path):
    source = tmp_path / "source-venv"
    subprocess.run([sys.executable, "-m", "venv", str(source)], check=True)
    pins = [f"{name}=={PINS[name]}" for name in ("requests", "urllib3", "idna", "certifi", "charset-normalizer")]
    subprocess.run([str(source / "bin" / "python"), "-m", "pip", "install", "-q", *pins], check=True, timeout=600)
    manifest = tmp_path / "host.json"
    freeze = envcapture("freeze", "--python", source / "bin" / "python", "-o", manifest, cwd=tmp_path)
    assert freeze.returncode == 0, freeze.stderr
    restored = tmp_path / "restored"
    restore = envcapture("restore", manifest, "--venv", restored, cwd=tmp_path)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    check = envcapture("check", manifest, "--python", restored / "bin" / "python", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = subprocess.run([str(restored / "bin" / "python"), "-c",
                             "import importlib.metadata as m; print(m.version('requests'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert listed == PINS["requests"]
