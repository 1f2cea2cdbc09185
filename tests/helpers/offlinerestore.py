"""Offline restores: package indexes made of local wheels (a PEP 503 folder named by a file:// URL), and an
environment in which neither pip nor uv sees this machine's own index, find-links or pyenv settings."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from localwheels import write_wheel

from envcapture import restore
from envcapture.manifest import file as manifest

# The interpreter behind the test's own venv: real, and of a version that is certainly installed here.
BASE_PYTHON = getattr(sys, "_base_executable", None) or sys.executable
VERSION = ".".join(map(str, sys.version_info[:3]))
INDEX_VARIABLES = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONFIG_FILE", "UV_INDEX_URL",
                   "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_FIND_LINKS", "PYENV_ROOT")


def uv() -> str:
    found = restore.uv_binary()
    if found is None:
        pytest.skip("uv is not installed (pip install -e '.[test]')")
    return found


def local_index(root: Path, wheels: dict[str, list[str]]) -> str:
    """A PEP 503 index in ``root`` holding a wheel for each name and version; returns its file:// URL."""
    for name, versions in wheels.items():
        page = root / name
        page.mkdir(parents=True, exist_ok=True)
        links = [write_wheel(page, name, version).name for version in versions]
        (page / "index.html").write_text("".join(f'<a href="{link}">{link}</a>\n' for link in links))
    return root.as_uri()


def offline_environment(home: Path) -> dict:
    """os.environ without any index, find-links or pyenv setting, with ``home`` as HOME and uv kept local."""
    env = {k: v for k, v in os.environ.items() if k not in INDEX_VARIABLES}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CONFIG_DIRS=str(home / "xdg"),
               PIP_CONFIG_FILE=os.devnull, UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never",
               UV_CACHE_DIR=str(home / "uv-cache"), UV_HTTP_RETRIES="0")
    return env


def manifest_with(frozen: dict, folder: Path, *, index_url: str | None = "same", packages=None,
                  extra_index_urls=(), find_links=(), version: str | None = None) -> Path:
    """The frozen manifest with its package indexes (default: the local index) and packages replaced;
    written to ``folder``/envcapture.json."""
    data = json.loads(json.dumps(frozen["data"]))
    data["python"]["package_indexes"] = {
        "index_url": frozen["index"] if index_url == "same" else index_url,
        "extra_index_urls": list(extra_index_urls), "find_links": list(find_links), "sources": []}
    if packages is not None:
        data["python_packages"] = packages
    if version is not None:
        data["python"]["version"] = version
    path = folder / "envcapture.json"
    manifest.save(data, path)
    return path
