"""requirements.lock: every recorded Python package pinned, with the indexes it came from.

`name==version` for index installs; `name @ git+URL@commit` for VCS installs; `name @ URL#sha256=...` for
archives; local folders and editable installs cannot be pinned and are listed as omitted, with the reason,
for REPRODUCE.md. A `+cu126`/`+cpu`/`+rocm6.3` local version means the wheel came from PyTorch's index.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field

from envcapture.errors import BadInput, ToolFailed
from envcapture.grammar import canonical_name, require
from envcapture.indexes import implied_index
_GPU_LABEL = re.compile(r"^(cu[0-9]+|rocm[0-9.]+)$")
_CUDA_WHEEL = re.compile(r"^nvidia-[a-z0-9-]+-cu[0-9]+$")
# Packages PyTorch publishes as +cpu builds on its CPU index (used where no GPU exists, e.g. Binder).
_CPU_BUILDS = {"torch", "torchvision", "torchaudio"}


@dataclass
class Omitted:
    name: str
    reason: str


@dataclass
class Lock:
    requirements: list[str] = field(default_factory=list)
    extra_index_urls: list[str] = field(default_factory=list)
    omitted: list[Omitted] = field(default_factory=list)
    swapped_to_cpu: list[str] = field(default_factory=list)
    has_vcs: bool = False
    index_url: str | None = None
    local_indexes: list[str] = field(default_factory=list)

    def option_lines(self) -> list[str]:
        head = [f"--index-url {self.index_url}"] if self.index_url else []
        return head + [f"--extra-index-url {url}" for url in self.extra_index_urls]

    def body(self) -> str:
        return "".join(line + "\n" for line in self.option_lines() + self.requirements)


def build_lock(manifest: dict, cpu_only: bool = False) -> Lock:
    """Pin every package that a Python installer put there (conda's own records go to the conda files)."""
    lock = Lock()
    indexes: set[str] = set()
    in_conda = manifest.get("conda") is not None
    cuda_wheels = {canonical_name(w["name"]) for w in ((manifest.get("gpu") or {}).get("cuda_wheels") or [])}
    entries = []
    for i, package in enumerate(manifest["python_packages"]):
        where = f"python_packages[{i}]"
        name = require("dist-name", package["name"], f"{where}.name")
        version = require("pep440-version", package["version"], f"{where}.version")
        if in_conda and (package.get("installer") or "") == "conda":
            continue
        if cpu_only and (canonical_name(name) in cuda_wheels or _CUDA_WHEEL.match(canonical_name(name))):
            lock.omitted.append(Omitted(name, "CUDA runtime wheel, not needed by the CPU build"))
            continue
        line, index = _requirement_line(package, name, version, where, cpu_only, lock)
        if line is None:
            continue
        if index:
            indexes.add(index)
        entries.append((canonical_name(name), line))
    lock.requirements = [line for _, line in sorted(entries)]
    _configured_indexes(manifest, lock, indexes)
    lock.extra_index_urls = sorted(indexes)
    return lock


def _configured_indexes(manifest, lock, indexes) -> None:
    """pip's configured indexes; local ones (file://) cannot be reached from an image and are reported."""
    config = manifest["python"].get("package_indexes") or {}
    where = "python.package_indexes"
    index_url = config.get("index_url")
    if index_url:
        require("url", index_url, f"{where}.index_url")
        if index_url.startswith(("https://", "http://")):
            lock.index_url = index_url
        else:
            lock.local_indexes.append(index_url)
    for i, url in enumerate(config.get("extra_index_urls") or []):
        require("url", url, f"{where}.extra_index_urls[{i}]")
        if url.startswith(("https://", "http://")):
            indexes.add(url)
        else:
            lock.local_indexes.append(url)


def _requirement_line(package, name, version, where, cpu_only, lock):
    source = package.get("source") or {"kind": "index"}
    kind = source.get("kind", "index")
    if kind == "vcs":
        return _vcs_line(source, name, where, lock), None
    if kind == "archive":
        return _archive_line(source, name, where, lock), None
    if kind in ("directory", "editable"):
        path = source.get("url")
        if path is not None:
            require("url", path, f"{where}.source.url")
        lock.omitted.append(Omitted(name, f"installed from a local folder ({kind}); its source is not in the "
                                          "kit: copy it into project/ and install it there"))
        return None, None
    index = None
    if package.get("index_url") is not None:
        index = require("url", package["index_url"], f"{where}.index_url")
    from packaging.version import Version

    label = Version(version).local
    if implied_index(label):
        if cpu_only and _GPU_LABEL.match(label) and canonical_name(name) in _CPU_BUILDS:
            version = f"{Version(version).public}+cpu"
            label = "cpu"
            lock.swapped_to_cpu.append(name)
        index = implied_index(label)
    return f"{name}=={version}", index


def _vcs_line(source, name, where, lock):
    url = require("url", source.get("url"), f"{where}.source.url")
    if source.get("vcs") != "git":
        lock.omitted.append(Omitted(name, f"installed from {source.get('vcs')} ({url}); only git is pinned"))
        return None
    commit = source.get("commit")
    if commit is None:
        lock.omitted.append(Omitted(name, f"installed from git ({url}) without a recorded commit"))
        return None
    require("git-commit", commit, f"{where}.source.commit")
    lock.has_vcs = True
    line = f"{name} @ {url if url.startswith('git+') else 'git+' + url}@{commit}"
    return line + _subdirectory(source, where)


def _archive_line(source, name, where, lock):
    url = require("url", source.get("url"), f"{where}.source.url")
    if not url.startswith(("https://", "http://")):
        lock.omitted.append(Omitted(name, f"installed from a local archive ({url}), not in the kit"))
        return None
    line = f"{name} @ {url}"
    if source.get("hash"):
        line += "#" + require("hash", source["hash"], f"{where}.source.hash")
    return line + _subdirectory(source, where)


def _subdirectory(source, where) -> str:
    sub = source.get("subdirectory")
    if not sub:
        return ""
    require("subdirectory", sub, f"{where}.source.subdirectory")
    return f"#subdirectory={sub}"


def hashed_body(lock: Lock, python_version: str) -> str:
    """The lock with sha256 hashes for every distribution, computed by `uv pip compile --generate-hashes`.

    --no-deps keeps exactly the recorded set (no resolution beyond it); VCS lines stay unhashed because
    a git checkout has no archive hash (pip's --require-hashes refuses them: REPRODUCE.md says so).
    """
    import os
    import tempfile

    uv = _uv_binary()
    with tempfile.TemporaryDirectory(prefix="envcapture-lock-") as tmp:
        source = os.path.join(tmp, "requirements.in")
        with open(source, "w", encoding="utf-8") as handle:
            handle.write(lock.body())
        command = [uv, "pip", "compile", source, "--generate-hashes", "--no-deps", "--no-header",
                   "--no-annotate", "--quiet", "--python-version", ".".join(python_version.split(".")[:2])]
        if lock.extra_index_urls:
            command += ["--index-strategy", "unsafe-best-match"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                  env={**os.environ, "UV_NO_CONFIG": "1"})
        except subprocess.TimeoutExpired:
            raise ToolFailed("uv pip compile --generate-hashes timed out after 600 s") from None
    if done.returncode != 0:
        raise ToolFailed("uv pip compile --generate-hashes failed (is the package index reachable?)",
                         tail="\n".join(done.stderr.splitlines()[-15:]))
    return _strip_compiled_options(done.stdout)


def _strip_compiled_options(text: str) -> str:
    """uv repeats the index options at the top; keep only requirement lines (our header adds the options)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith(("--", "#"))]
    return "".join(line + "\n" for line in lines)


def _uv_binary() -> str:
    import shutil

    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise ToolFailed("--hashes needs uv (pip install uv): it was not found")
