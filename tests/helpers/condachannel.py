"""Real conda environments for the tests: a local channel of tiny packages, indexed, solved and installed by
py-rattler (the library conda's own tools are built on), so conda-meta/ is written by a real installer.

A conda package is a tar.bz2 holding info/index.json, info/paths.json, info/files and the files themselves;
these are written here with tarfile, byte-stable (mtime 0, sorted). The channel has:

- ``greeting-data`` (noarch): a data file;
- ``hello`` (linux-64): a shell script depending on greeting-data;
- ``pip`` (linux-64, only when asked for): the pip running the tests, in the python's dist-packages;
- ``python`` (linux-64): this machine's Debian CPython (the binary and its standard library, without tests,
  tkinter, idle, ensurepip) repackaged. freeze inspects an environment through its interpreter, so a conda
  environment needs one; Debian's build finds its standard library relative to the executable, so the
  copy is a real, relocated interpreter whose sys.prefix is the conda prefix (not a wrapper). It needs the
  system's libz and libexpat, as Debian's python3 does.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path


SUBDIR = "linux-64"
HOST_PYTHON = Path("/usr/bin/python3")
# Left out of the repackaged standard library: big, and nothing freeze or the tests run needs.
_STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "site-packages",
                "dist-packages", "__pycache__"}


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def build_package(channel: Path, subdir: str, name: str, version: str, build: str, depends: list[str],
                  files: dict[str, tuple[bytes, int]]) -> Path:
    """One .tar.bz2 conda package in ``channel/subdir``; ``files``: path in the prefix -> (bytes, mode)."""
    folder = channel / subdir
    folder.mkdir(parents=True, exist_ok=True)
    index = {"name": name, "version": version, "build": build, "build_number": 0, "depends": depends,
             "license": "MIT", "subdir": subdir, "timestamp": 1700000000000}
    if subdir == "noarch":
        index["noarch"] = "generic"
    else:
        index.update(platform="linux", arch="x86_64")
    paths = [{"_path": path, "path_type": "hardlink", "sha256": hashlib.sha256(data).hexdigest(),
              "size_in_bytes": len(data)} for path, (data, _) in sorted(files.items())]
    out = folder / f"{name}-{version}-{build}.tar.bz2"
    with tarfile.open(out, "w:bz2", compresslevel=6) as tar:
        _add(tar, "info/index.json", json.dumps(index, indent=2, sort_keys=True).encode())
        _add(tar, "info/paths.json", json.dumps({"paths": paths, "paths_version": 1}, indent=2).encode())
        _add(tar, "info/files", "".join(path + "\n" for path in sorted(files)).encode())
        for path, (data, mode) in sorted(files.items()):
            _add(tar, path, data, mode)
    return out


def host_python_files() -> tuple[str, dict[str, tuple[bytes, int]]] | None:
    """(version, files) of this machine's Debian CPython as a conda package's payload; None when there is none
    that finds its standard library by its own location."""
    binary = HOST_PYTHON.resolve() if HOST_PYTHON.exists() else None
    if binary is None or not binary.name.startswith("python3."):
        return None
    stdlib = Path("/usr/lib") / binary.name
    if not (stdlib / "os.py").is_file():
        return None
    import subprocess

    version = subprocess.run([str(binary), "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    files = {f"bin/{binary.name}": (binary.read_bytes(), 0o755)}
    for root, dirs, names in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in _STDLIB_SKIP and not d.startswith("config-"))
        for name in sorted(names):
            path = Path(root) / name
            if path.is_symlink() or not path.is_file() or name == "EXTERNALLY-MANAGED":
                continue  # Debian's PEP 668 marker: a conda environment's pip installs into it
            files[f"lib/{binary.name}/{path.relative_to(stdlib)}"] = (path.read_bytes(), 0o644)
    # conda's python package has these as links; copies keep the package plain.
    for alias in ("python", "python3"):
        files[f"bin/{alias}"] = files[f"bin/{binary.name}"]
    return version, files


def running_pip_files(python_minor: str) -> tuple[str, dict[str, tuple[bytes, int]]]:
    """(version, files) of the pip that runs these tests, as a conda package's payload for the repackaged Debian
    python: its dist-packages (Debian's python looks there, not in site-packages), INSTALLER saying conda as in
    conda's own pip package."""
    from importlib.metadata import distribution

    dist = distribution("pip")
    files = {}
    for entry in dist.files or []:
        source = Path(dist.locate_file(entry))
        if entry.parts[0] in ("..", "bin") or "__pycache__" in entry.parts or not source.is_file():
            continue
        data = b"conda\n" if entry.name == "INSTALLER" else source.read_bytes()
        files[f"lib/python{python_minor}/dist-packages/{entry.as_posix()}"] = (data, 0o644)
    return dist.version, files


def make_channel(channel: Path, with_python: bool = True, with_pip: bool = False) -> list[Path]:
    """The test channel, indexed (repodata.json per subdir) with rattler's indexer."""
    made = [
        build_package(channel, "noarch", "greeting-data", "1.0", "0", [],
                      {"share/greeting/hello.txt": (b"hello from a conda package\n", 0o644)}),
        build_package(channel, SUBDIR, "hello", "2.1", "h0_1", ["greeting-data >=1.0"],
                      {"bin/hello": (b'#!/bin/sh\nexec cat "$(dirname "$0")/../share/greeting/hello.txt"\n',
                                     0o755)}),
    ]
    if with_python:
        found = host_python_files()
        if found is None:
            raise RuntimeError(f"{HOST_PYTHON}: no Debian CPython to repackage")
        version, files = found
        made.append(build_package(channel, SUBDIR, "python", version, "0_debian", [], files))
        if with_pip:
            minor = ".".join(version.split(".")[:2])
            pip_version, pip_files = running_pip_files(minor)
            made.append(build_package(channel, SUBDIR, "pip", pip_version, "0_dist", [f"python {minor}.*"],
                                      pip_files))
    (channel / "noarch").mkdir(exist_ok=True)
    in_own_python(_INDEX, str(channel))
    return made


def install_prefix(channel: Path, prefix: Path, specs: list[str], cache: Path) -> None:
    """Solve ``specs`` against the channel and install them into ``prefix`` (conda-meta/ written by rattler)."""
    in_own_python(_SOLVE_AND_INSTALL, channel.as_uri(), str(prefix), str(cache), SUBDIR, *specs)


# py-rattler's index and solve run in a Python of their own that leaves by os._exit: py-rattler 0.28 crashes an
# interpreter that finalizes while its worker threads wind down (about one exit in two after an index or a solve
# here), and that interpreter must not be pytest's. envcapture.render.vendor_conda does the same for its index.
_INDEX = """
import asyncio, sys
from rattler.index import index_fs
asyncio.run(index_fs(sys.argv[1]))
"""
_SOLVE_AND_INSTALL = """
import asyncio, sys
import rattler
channel, prefix, cache, subdir, *specs = sys.argv[1:]

async def solve_and_install():
    records = await rattler.solve([rattler.Channel(channel)], specs, platforms=[subdir, "noarch"],
                                  virtual_packages=[])
    await rattler.install(records, prefix, cache_dir=cache, show_progress=False)

asyncio.run(solve_and_install())
"""
_LEAVE = """
import os, sys, traceback
try:
    exec(compile(sys.argv.pop(1), "<rattler>", "exec"))
except BaseException:
    traceback.print_exc()
    sys.stderr.flush()
    os._exit(1)
os._exit(0)
"""


def in_own_python(script: str, *args: str) -> None:
    done = subprocess.run([sys.executable, "-c", _LEAVE, script, *args], capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"py-rattler in its own Python: exit {done.returncode}\n{done.stderr[-3000:]}")


def real_env(root: Path, specs=("hello", "python")) -> tuple[Path, Path]:
    """(channel, prefix): a channel under root/channel and an environment of ``specs`` under root/env."""
    channel, prefix = root / "channel", root / "env"
    make_channel(channel, with_python="python" in specs, with_pip="pip" in specs)
    install_prefix(channel, prefix, list(specs), root / "pkgs")
    return channel, prefix


if __name__ == "__main__":  # python tests/helpers/condachannel.py DIR: make one by hand
    where = Path(sys.argv[1])
    shutil.rmtree(where, ignore_errors=True)
    print(real_env(where))
