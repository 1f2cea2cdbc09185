"""requirements.lock: every recorded Python package pinned, with the indexes it came from.

`name==version` for index installs; `name @ git+URL@commit` for VCS installs; `name @ URL#sha256=...` for
archives; local folders and editable installs cannot be pinned and are listed as omitted, with the reason,
for REPRODUCE.md. A `+cu126`/`+cpu`/`+rocm6.3` local version means the wheel came from PyTorch's index.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from envcapture.errors import ToolFailed
from envcapture.manifest.grammar import canonical_name, require
from envcapture.manifest.indexes import implied_index
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
        require("pep440-version", package["version"], f"{where}.version")
        if in_conda and (package.get("installer") or "") == "conda":
            continue
        if cpu_only and (canonical_name(name) in cuda_wheels or _CUDA_WHEEL.match(canonical_name(name))):
            lock.omitted.append(Omitted(name, "CUDA runtime wheel, not needed by the CPU build"))
            continue
        found = requirement_line(package, where, local_sources=False, exact=True, cpu_only=cpu_only)
        if found.swapped_to_cpu:
            lock.swapped_to_cpu.append(name)
        if found.line is None:
            lock.omitted.append(Omitted(name, found.omitted or "not pinned"))
            continue
        lock.has_vcs = lock.has_vcs or found.vcs
        if found.index:
            indexes.add(found.index)
        entries.append((canonical_name(name), found.line))
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


# ------------------------------------------------------------------ one requirement line, for generate and restore

@dataclass
class Requirement:
    """One package's requirement line, or why it has none.

    ``outside`` names a source beyond the package indexes whose build code an install runs (a local folder, a
    git repository, an archive URL): restore lists these and installs them only with --trust-sources.
    """
    line: str | None = None
    omitted: str | None = None  # why there is no line
    index: str | None = None  # the index the line needs (PyTorch's, implied by a +cu126 label)
    notes: list[str] = field(default_factory=list)  # installed, but not quite as recorded
    outside: str | None = None
    vcs: bool = False
    swapped_to_cpu: bool = False


# A local path written into a requirement line: letters (any script), digits and . _ + , @ % = ~ / -.
# Anything else (a space, #, ;, quotes) would let a requirements parser split it into an option or a comment.
_PLAIN_LOCAL_PATH = re.compile(r"^/[\w.+,@%=~/-]*$")


def requirement_line(package: dict, where: str, *, local_sources: bool, exact: bool, home: str | None = None,
                     cpu_only: bool = False) -> Requirement:
    """The lock line of one package record; every value in it is checked against its grammar here.

    ``local_sources``: folders and file:// archives of this machine may be installed (restore) or not (an
    image cannot see them: generate). ``exact``: only a git commit pins a VCS install (generate); restore
    also takes a recorded branch, tag or hg/svn revision, with a note. ``home`` stands for ``~`` in paths.
    """
    name = require("dist-name", package.get("name"), f"{where}.name")
    version = require("pep440-version", package.get("version"), f"{where}.version")
    source = package.get("source") or {"kind": "index"}
    kind = source.get("kind", "index")
    url = source.get("url")
    if url is not None:
        require("url", url, f"{where}.source.url")
    subdirectory = _subdirectory(source, where)
    if kind == "vcs" and url:
        return _vcs_requirement(source, name, url, subdirectory, where, exact)
    if kind == "archive" and url:
        return _archive_requirement(source, name, url, subdirectory, where, local_sources, home)
    if kind in ("directory", "editable"):
        return _folder_requirement(source, name, kind, url, subdirectory, where, local_sources, home)
    return _index_requirement(package, name, version, where, cpu_only)


def _index_requirement(package, name, version, where, cpu_only) -> Requirement:
    index = None
    if package.get("index_url") is not None:
        index = require("url", package["index_url"], f"{where}.index_url")
    from packaging.version import Version

    label = Version(version).local
    swapped = False
    if implied_index(label):
        if cpu_only and _GPU_LABEL.match(label) and canonical_name(name) in _CPU_BUILDS:
            version = f"{Version(version).public}+cpu"
            label = "cpu"
            swapped = True
        index = implied_index(label)
    return Requirement(f"{name}=={version}", index=index, swapped_to_cpu=swapped)


def _vcs_requirement(source, name, url, subdirectory, where, exact) -> Requirement:
    vcs = source.get("vcs") or "git"
    where_from = "a local repository" if "file://" in url else "a repository"
    outside = f"{name}: {where_from} {url}, built here"
    if exact and vcs != "git":
        return Requirement(omitted=f"installed from {vcs} ({url}); only git is pinned")
    commit = source.get("commit")
    notes = []
    if commit is not None:
        revision = require("git-commit" if exact else "identifier", commit, f"{where}.source.commit")
    elif exact:
        return Requirement(omitted=f"installed from git ({url}) without a recorded commit")
    elif source.get("requested_revision"):
        revision = require("git-ref", source["requested_revision"], f"{where}.source.requested_revision")
        notes.append(f"{name}: no commit recorded for {url}; installed from {revision}, which may have moved")
    else:
        revision = None
        notes.append(f"{name}: no commit recorded for {url}; installed from its default branch")
    if not url.startswith(f"{vcs}+"):
        url = f"{vcs}+{url}"
    line = f"{name} @ {url}" + (f"@{revision}" if revision else "") + subdirectory
    return Requirement(line, notes=notes, outside=outside, vcs=True)


def _archive_requirement(source, name, url, subdirectory, where, local_sources, home) -> Requirement:
    digest = "#" + require("hash", source["hash"], f"{where}.source.hash") if source.get("hash") else ""
    if url.startswith(("https://", "http://")):
        return Requirement(f"{name} @ {url}{digest}{subdirectory}", outside=f"{name}: the archive {url}, built here")
    if not local_sources:
        return Requirement(omitted=f"installed from a local archive ({url}), not in the kit")
    path = local_path(url, home or "")
    if path is None or not path.exists():
        return Requirement(omitted=f"the archive {url} does not exist here")
    if not _PLAIN_LOCAL_PATH.match(str(path)):
        return Requirement(omitted=f"the archive path {path} has characters a lock line cannot hold")
    return Requirement(f"{name} @ {path.as_uri()}{digest}{subdirectory}",
                       outside=f"{name}: the local archive {path}, built here")


def _folder_requirement(source, name, kind, url, subdirectory, where, local_sources, home) -> Requirement:
    if not local_sources:
        return Requirement(omitted=f"installed from a local folder ({kind}); its source is not in the kit: copy it "
                                   "into project/ and install it there")
    path = local_path(url or "", home or "")
    if path is None or not path.is_dir():
        return Requirement(omitted=f"{kind} install from {url}, a folder that does not exist here")
    notes = []
    checkout = source.get("checkout") or {}
    recorded = source.get("commit") or checkout.get("commit")
    if recorded:
        head = _git_head(path)
        if head and head != recorded:
            notes.append(f"{name}: {path} is now at commit {head[:12]}, the manifest recorded {recorded[:12]}")
    if checkout.get("dirty"):
        notes.append(f"{name}: the checkout had uncommitted changes when the manifest was made")
    if subdirectory:
        path = path / subdirectory.partition("=")[2]  # checked by _subdirectory: relative, no ..
    if not _PLAIN_LOCAL_PATH.match(str(path)):
        return Requirement(omitted=f"the folder {path} has characters a lock line cannot hold")
    line = f"-e {path}" if kind == "editable" else f"{name} @ {path.as_uri()}"
    return Requirement(line, notes=notes, outside=f"{name}: the local folder {path}, built here")


def _subdirectory(source, where) -> str:
    sub = source.get("subdirectory")
    if not sub:
        return ""
    return "#subdirectory=" + require("subdirectory", sub, f"{where}.source.subdirectory")


def local_path(url_or_path: str, home: str) -> Path | None:
    """A file:// URL (or a path) from the manifest as a path here; ``~`` is this user's home."""
    text = url_or_path
    if text.startswith("file://"):
        text = unquote(urlsplit(text).path) if not text.startswith("file://~") else unquote(text[len("file://"):])
    if text.startswith("~"):
        text = home + text[1:]
    return Path(text) if text.startswith("/") else None


def _git_head(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


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
