"""Python projects and wheels made inside a test, with no network and no setuptools.

Each project carries a tiny PEP 517/660 build backend (stdlib only, below), so the real pip builds, installs,
installs editable and installs from git+file:// with ``--no-index --no-build-isolation``: the fast suite needs
no package index. ``write_wheel`` writes a wheel file directly, for packages that stand in for index packages
(installed with ``--no-index --find-links``, pip records them like index installs: no direct_url.json).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import textwrap
import zipfile
from pathlib import Path

OFFLINE = ["--no-index", "--no-build-isolation", "--disable-pip-version-check"]

BACKEND = textwrap.dedent('''
    """A minimal PEP 517/660 build backend for test projects (project.json holds name, version, requires)."""
    import base64, hashlib, json, os, zipfile

    def _project():
        with open("project.json", encoding="utf-8") as handle:
            return json.load(handle)

    def _record_line(path, data):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        return "%s,sha256=%s,%d" % (path, digest, len(data))

    def _write(wheel_directory, files):
        project = _project()
        dist = project["name"].replace("-", "_")
        info = "%s-%s.dist-info" % (dist, project["version"])
        metadata = "Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n" % (project["name"], project["version"])
        metadata += "".join("Requires-Dist: %s\\n" % r for r in project["requires"])
        files = dict(files)
        files[info + "/METADATA"] = metadata.encode()
        files[info + "/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: test-backend\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
        record = [_record_line(path, data) for path, data in files.items()] + [info + "/RECORD,,"]
        files[info + "/RECORD"] = ("\\n".join(record) + "\\n").encode()
        name = "%s-%s-py3-none-any.whl" % (dist, project["version"])
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
            for path, data in files.items():
                archive.writestr(path, data)
        return name

    def get_requires_for_build_wheel(config_settings=None):
        return []

    get_requires_for_build_editable = get_requires_for_build_wheel

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        module = _project()["name"].replace("-", "_")
        files = {}
        for folder, _, names in os.walk(module):
            for name in sorted(names):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    with open(path, "rb") as handle:
                        files[path.replace(os.sep, "/")] = handle.read()
        return _write(wheel_directory, files)

    def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
        module = _project()["name"].replace("-", "_")
        return _write(wheel_directory, {"__editable__.%s.pth" % module: (os.getcwd() + "\\n").encode()})
    ''')


def make_project(folder: Path, name: str, version: str = "0.1.0", requires=()) -> Path:
    """A buildable project in ``folder``: one module named after it, built by the backend above."""
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text('[build-system]\nrequires = []\nbuild-backend = "test_backend"\n'
                                           'backend-path = ["."]\n')
    (folder / "test_backend.py").write_text(BACKEND)
    (folder / "project.json").write_text(json.dumps({"name": name, "version": version, "requires": list(requires)}))
    module = folder / name.replace("-", "_")
    module.mkdir()
    (module / "__init__.py").write_text(f"VALUE = {name!r}\n")
    return folder


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def write_wheel(folder: Path, name: str, version: str, requires=()) -> Path:
    """A pure-Python wheel file for ``name`` written directly (no build step), with one module."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {f"{dist}/__init__.py": f"VALUE = {name!r}\n".encode(), f"{info}/METADATA": metadata.encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [_record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def offline_env() -> dict:
    """pip's environment with the machine's index and find-links settings removed: only what a test names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def isolate_pip(monkeypatch, cache: Path) -> None:
    """The test's own process and its children run pip as ``offline_env`` does, with their own cache."""
    for key in list(os.environ):
        if key.startswith("PIP_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_CACHE_DIR", str(cache))


def pip_install(python: Path, *args, find_links: Path | None = None) -> None:
    """Install with the real pip and no index: ``find_links`` is the only place packages come from."""
    argv = [str(python), "-m", "pip", "install", "-q", *OFFLINE]
    if find_links is not None:
        argv += ["--find-links", str(find_links)]
    subprocess.run(argv + [str(a) for a in args], check=True, capture_output=True, text=True, env=offline_env(),
                   timeout=300)
