"""The quick start as a user meets it: the wheel installed bare (no extras, no test dependencies) into a fresh
virtualenv, and every command run with it on a real manifest (issue 19: `pip install .` could not run `diff`).

Slow: the wheel's dependencies come from the package index. protect runs as an unprivileged uid (setpriv), as
every test that changes modes does; gather runs on the CI's Slurm when `srun` works, else it is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SANDBOX_UID = 64997
pytestmark = pytest.mark.slow


class Plain:
    def __init__(self, root: Path):
        self.root = root
        self.venv = root / "venv"
        self.bin = self.venv / "bin"

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHOME")}
        env.update(PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}", NO_COLOR="1")
        return env

    def run(self, *args, timeout=300, user=None) -> subprocess.CompletedProcess:
        argv = [str(self.bin / "envcapture"), *map(str, args)]
        if user is not None:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--inh-caps=-all", *argv]
        return subprocess.run(argv, capture_output=True, text=True, cwd=self.root, env=self.env(),
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def ok(self, *args, codes=(0,), **kwargs) -> subprocess.CompletedProcess:
        proc = self.run(*args, **kwargs)
        assert proc.returncode in codes, f"envcapture {' '.join(map(str, args))} exited {proc.returncode}:\n" \
                                         f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc


@pytest.fixture(scope="module")
def plain():
    root = Path(tempfile.mkdtemp(prefix="envcapture-plain-", dir="/tmp"))
    root.chmod(0o755)  # the sandbox uid runs protect from here
    try:
        wheels = root / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
                       check=True, capture_output=True, timeout=600)
        wheel = next(wheels.glob("envcapture-*.whl"))
        subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=300)
        installed = subprocess.run([str(root / "venv" / "bin" / "python"), "-m", "pip", "install", "-q",
                                    str(wheel)], capture_output=True, text=True, timeout=900)
        assert installed.returncode == 0, installed.stderr[-3000:]
        yield Plain(root)
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", str(root)], check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_the_install_is_bare(plain):
    """No test or export dependency came along: otherwise this test could not catch a missing one."""
    for module in ("jsonschema", "pytest", "cyclonedx", "spdx_tools", "rocrate"):
        proc = subprocess.run([str(plain.bin / "python"), "-c", f"import {module}"], capture_output=True,
                              cwd=plain.root, env=plain.env())
        assert proc.returncode != 0, f"{module} is importable in the plain install"


@pytest.fixture(scope="module")
def manifests(plain):
    """This plain venv frozen, with a data set; two more copies that differ in a package and the kernel."""
    data = plain.root / "data"
    data.mkdir()
    (data / "train.csv").write_text("x,y\n1,2\n")
    (data / "sub").mkdir()
    (data / "sub" / "labels.txt").write_text("a\nb\n")
    plain.ok("freeze", "-o", "m1.json", "--data", "data", "--project", plain.root)
    first = json.loads((plain.root / "m1.json").read_text())
    second, third = json.loads(json.dumps(first)), json.loads(json.dumps(first))
    second["python_packages"][0]["version"] = "0.0.1"
    third["os"]["kernel"] = "6.1.0-99-amd64"
    (plain.root / "m2.json").write_text(json.dumps(second, indent=1))
    (plain.root / "m3.json").write_text(json.dumps(third, indent=1))
    return ["m1.json", "m2.json", "m3.json"]


def test_show_validate_schema(plain, manifests):
    assert "Python" in plain.ok("show", "m1.json").stdout
    assert json.loads(plain.ok("show", "m1.json", "--format", "json").stdout)["schema_version"] == 1
    for name in manifests:
        plain.ok("validate", name)
    schema = json.loads(plain.ok("schema").stdout)
    assert schema == json.loads((REPO / "envcapture" / "manifest" / "manifest.schema.json").read_text())


def test_generate_all(plain, manifests):
    plain.ok("generate", "all", "-m", "m1.json", "-o", "kit")
    assert {"Dockerfile", "envcapture.json"} <= {p.name for p in (plain.root / "kit").iterdir()}


def test_check_and_check_data_only(plain, manifests):
    plain.ok("check", "m1.json")
    plain.ok("check", "m1.json", "--data-only")
    (plain.root / "data" / "train.csv").write_text("x,y\n1,3\n")
    try:
        changed = plain.ok("check", "m1.json", "--data-only", codes=(1,))
        assert "train.csv" in changed.stdout
    finally:
        (plain.root / "data" / "train.csv").write_text("x,y\n1,2\n")


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_diff_two_and_three_in_every_format(plain, manifests, fmt):
    assert plain.ok("diff", "m1.json", "m1.json", "--format", fmt).returncode == 0
    two = plain.ok("diff", *manifests[:2], "--format", fmt, codes=(1,))
    three = plain.ok("diff", *manifests, "--format", fmt, codes=(1,))
    if fmt == "json":
        assert json.loads(two.stdout) and json.loads(three.stdout)
    assert "6.1.0-99-amd64" in three.stdout and "0.0.1" in two.stdout


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_report_in_every_format(plain, manifests, fmt):
    assert plain.ok("report", "m1.json", "--format", fmt).stdout.strip()
    assert plain.ok("report", *manifests[:2], "--format", fmt).stdout.strip()


@pytest.mark.parametrize("fmt", ["cyclonedx", "spdx", "ro-crate"])
def test_export_names_the_extra_in_one_line(plain, manifests, fmt):
    proc = plain.run("export", "m1.json", "--format", fmt, "-o", f"out-{fmt}.zip" if fmt == "ro-crate" else "-")
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and "envcapture[export]" in proc.stderr and "Traceback" not in proc.stderr


def test_restore(plain, manifests):
    # envcapture itself came from a wheel file, a source beyond the index: restore asks for --trust-sources
    plain.ok("restore", "m1.json", "--venv", "restored", "--trust-sources", timeout=900)
    assert (plain.root / "restored" / "bin" / "python").exists()


def test_protect_and_undo(plain, manifests):
    if os.geteuid() != 0:
        pytest.skip("protect runs as an unprivileged uid (setpriv): run as root")
    folder = plain.root / "raw"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"\0\1")
    shutil.copy(plain.root / "m1.json", plain.root / "p.json")
    for path in (folder, folder / "a.bin", plain.root / "p.json"):
        os.chown(path, SANDBOX_UID, SANDBOX_UID)
    os.chown(plain.root, SANDBOX_UID, SANDBOX_UID)  # the manifest is replaced atomically in this folder
    try:
        plain.ok("protect", folder, "-m", "p.json", user=SANDBOX_UID)
        assert not os.stat(folder / "a.bin").st_mode & 0o222
        plain.ok("protect", folder, "-m", "p.json", "--undo", user=SANDBOX_UID)
        assert os.stat(folder / "a.bin").st_mode & 0o200
    finally:
        os.chown(plain.root, 0, 0)


def test_gather_on_slurm(plain, manifests):
    srun = shutil.which("srun")
    if srun is None:
        pytest.skip("no srun here: gather needs Slurm (.ci/start-slurm.sh starts one)")
    try:
        works = subprocess.run([srun, "--nodes=1", "true"], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        works = False
    if not works:
        pytest.skip("srun does not run a job here (no Slurm controller answering)")
    proc = plain.ok("gather", "-o", "gathered", "--format", "json", "--", "--nodes=2", codes=(0, 1), timeout=600)
    assert len(list((plain.root / "gathered").glob("*.json"))) == 2, proc.stderr
