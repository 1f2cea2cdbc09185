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
