"""Fixtures for offline restores: a HOME and environment without this machine's index settings, and a
manifest frozen from a venv made here with a package from a local index. uv makes every venv (well under a
second); nothing reaches the network."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from offlinerestore import BASE_PYTHON, INDEX_VARIABLES, VERSION, local_index, offline_environment, uv

from envcapture.manifest import file as manifest


@pytest.fixture
def offline(tmp_path, monkeypatch) -> Path:
    """This test's HOME (a new folder), with the offline environment in os.environ; returns the home."""
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key in INDEX_VARIABLES:
            monkeypatch.delenv(key)
    for key, value in offline_environment(home).items():
        if os.environ.get(key) != value:
            monkeypatch.setenv(key, value)
    return home


@pytest.fixture(scope="module")
def frozen(tmp_path_factory) -> dict:
    """The manifest of a venv holding tinypkg 1.0 from a local index (frozen by the real `envcapture freeze`).

    Returns the manifest data (a fresh copy per test via ``manifest_with``) and the index's URL; the index also
    holds tinypkg 2.0 and otherpkg 1.0, which the venv does not.
    """
    root = tmp_path_factory.mktemp("restore-offline")
    home = root / "home"
    home.mkdir()
    env = offline_environment(home)
    index = local_index(root / "index", {"tinypkg": ["1.0", "2.0"], "otherpkg": ["1.0"]})
    venv = root / "source"
    subprocess.run([uv(), "venv", "-q", "--python", BASE_PYTHON, str(venv)], check=True, env=env, timeout=120)
    subprocess.run([uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--index-url", index,
                    "tinypkg==1.0"], check=True, env=env, timeout=120)
    path = root / "envcapture.json"
    subprocess.run([sys.executable, "-m", "envcapture", "freeze", "--python", str(venv / "bin" / "python"),
                    "-o", str(path)], check=True, env=env, timeout=300, capture_output=True)
    data = manifest.load(path)
    assert [(p["name"], p["version"]) for p in data["python_packages"]] == [("tinypkg", "1.0")]
    assert data["python"]["version"] == VERSION
    return {"data": data, "index": index, "root": root}


