"""Real data sets in temporary folders, a private fingerprint cache, and a manifest that records them.

The manifests start from a real 0.1.0 freeze (tests/fixtures/manifests/plain-venv.json) so `check
--data-only` runs without probing this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BASE_MANIFEST = REPO / "tests" / "fixtures" / "manifests" / "plain-venv.json"


def cli_env(env=None) -> dict:
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def envcapture(*args, env=None, cwd=None, timeout=300, user=None):
    return subprocess.run([sys.executable, "-m", "envcapture", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=cli_env(env), timeout=timeout, user=user)


def make_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


@pytest.fixture
def cache_home(tmp_path, monkeypatch) -> Path:
    """A private XDG cache folder for this test (in-process and for the CLIs it starts)."""
    folder = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def record_manifest(path: Path, specs, project: Path, algorithm: str = "blake3", use_cache: bool = True) -> dict:
    """What `freeze --data` writes, on the recorded base manifest: data section, sidecars, manifest."""
    from envcapture.data import specs as datasets
    from envcapture.manifest import file as manifest

    data = json.loads(BASE_MANIFEST.read_text())
    found = datasets.collect(specs, project, algorithm, use_cache, str(path))
    datasets.add_to_manifest(data, found.section, found.warnings)
    datasets.write_sidecars(found.sidecars, path)
    manifest.validate(data)
    manifest.save(data, path)
    return data


def spec(path, **kwargs):
    from envcapture.data.specs import DataSpec

    return DataSpec(str(path), Path.cwd(), **kwargs)


# ------------------------------------------------------------------------------------------ sandbox
# protect changes modes, and the tests run as root: a bug could damage this machine. So protect runs as an
# unprivileged uid that owns nothing on this machine but the sandbox folder (setpriv drops every privilege;
# a user namespace would not do: as root, `unshare -r` maps to root outside).
SANDBOX_UID = 64999


class Sandbox:
    def __init__(self, root: Path):
        self.root = root
        self.home = root / "home"

    def own(self, *paths: Path) -> None:
        """Give ``paths`` (and all below them) to the sandbox user, links included (never followed)."""
        for top in paths:
            for path in [top, *(top.rglob("*") if top.is_dir() and not top.is_symlink() else [])]:
                os.chown(path, SANDBOX_UID, SANDBOX_UID, follow_symlinks=False)

    def run(self, argv, cwd=None, env=None, timeout=120) -> subprocess.CompletedProcess:
        # setpriv execs the command itself: an `env` in between could not reach an interpreter under /root
        command = ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                   "--inh-caps=-all", *map(str, argv)]
        environment = cli_env({"HOME": str(self.home), "XDG_CACHE_HOME": str(self.root / "cache"), **(env or {})})
        return subprocess.run(command, capture_output=True, text=True, cwd=cwd or self.root, env=environment,
                              timeout=timeout)

    def envcapture(self, *args, cwd=None, timeout=120) -> subprocess.CompletedProcess:
        return self.run([sys.executable, "-m", "envcapture", *args], cwd=cwd, timeout=timeout)

    def python(self, code: str, *args, timeout=300) -> subprocess.CompletedProcess:
        return self.run([sys.executable, "-c", code, *args], timeout=timeout)


@pytest.fixture
def sandbox(tmp_path_factory):
    """A folder owned by the unprivileged sandbox uid, outside pytest's root-only temp folder."""
    import shutil
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("the sandbox switches to an unprivileged uid: run as root")
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to run protect unprivileged", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="envcapture-sandbox-", dir="/tmp"))
    (root / "home").mkdir()
    os.chown(root, SANDBOX_UID, SANDBOX_UID)
    os.chown(root / "home", SANDBOX_UID, SANDBOX_UID)
    yield Sandbox(root)
    subprocess.run(["chmod", "-R", "u+rwX", str(root)], check=False)
    shutil.rmtree(root, ignore_errors=True)
