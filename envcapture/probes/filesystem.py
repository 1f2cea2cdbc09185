"""The ``filesystem`` section: mounts, the project's file tree, and the search paths that shape the
environment (PATH, LD_LIBRARY_PATH, PYTHONPATH, CUDA_HOME, ...), with the home folder written as ``~``.

Inside git the tree is what git tracks plus untracked files that are not ignored (``git ls-files -co
--exclude-standard``), so .gitignore is respected; outside git it is a walk that skips VCS folders, virtual
environments and caches. Either way it stops at ``MAX_FILES`` entries and says so.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from envcapture.manifest import grammar
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning, ToolError, home_relative, run_tool, to_data

SOURCE = "filesystem"
MAX_FILES = 5000
SEARCH_PATH_VARIABLES = ("PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "CUDA_HOME", "CUDA_PATH", "LIBRARY_PATH", "CPATH")
SKIPPED_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".tox", ".nox", ".mypy_cache",
                ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", ".venv", "venv", ".eggs"}
# Filesystems whose size query can hang on a dead server: record them without a size.
NETWORK_FSTYPES = ("nfs", "nfs4", "cifs", "smbfs", "smb3", "sshfs", "fuse.sshfs", "9p", "afs", "ceph", "glusterfs",
                   "lustre", "gpfs")


@dataclass
class Mount:
    mount_point: str
    fstype: str
    size: int | None


@dataclass
class FileEntry:
    path: str
    size: int


@dataclass
class ProjectTree:
    root: str
    files: list[FileEntry] = field(default_factory=list)
    file_count: int = 0
    total_size: int = 0
    truncated: bool = False
    note: str | None = None


@dataclass
class Filesystem:
    mounts: list[Mount]
    project: ProjectTree | None
    search_paths: dict[str, list[str]]


# ---- mounts ------------------------------------------------------------------------------------------------

def mounts(ctx: ProbeContext, warnings: list[ProbeWarning]) -> list[Mount]:
    """Device-backed filesystems (psutil's ``all=False``: no proc, sysfs, cgroup, tmpfs ...) and their sizes."""
    partitions = linux_partitions()
    if partitions is None:
        partitions = psutil_partitions(warnings)
    found, seen = [], set()
    for mount_point, fstype in partitions:
        point = home_relative(mount_point, ctx.home)
        if point in seen or not grammar.is_path(point) or not grammar.is_identifier(fstype or ""):
            continue
        seen.add(point)
        size = None
        if fstype not in NETWORK_FSTYPES:  # statvfs on a dead NFS server can hang
            try:
                stats = os.statvfs(mount_point)
                size = stats.f_blocks * stats.f_frsize
            except OSError:
                size = None
        found.append(Mount(point, fstype, size))
    return found


def _unescape_mount_field(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def linux_partitions() -> list[tuple[str, str]] | None:
    """(mount point, type) from /proc: the same filter as psutil, without its 20-30 ms import."""
    try:
        with open("/proc/filesystems", encoding="utf-8") as handle:
            physical = {line.split()[-1] for line in handle if line.strip() and not line.startswith("nodev")}
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    partitions = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and (fields[2] in physical or fields[2] == "zfs"):
            partitions.append((_unescape_mount_field(fields[1]), fields[2]))
    return partitions


def psutil_partitions(warnings: list[ProbeWarning]) -> list[tuple[str, str]]:
    try:
        import psutil
    except ImportError:
        warnings.append(ProbeWarning(SOURCE, "psutil is not installed: mounts not recorded"))
        return []
    try:
        return [(part.mountpoint, part.fstype) for part in psutil.disk_partitions(all=False)]
    except (OSError, RuntimeError) as exc:
        warnings.append(ProbeWarning(SOURCE, f"could not list mounts: {exc}"))
        return []


# ---- project tree ------------------------------------------------------------------------------------------

def inside_git(folder: Path) -> bool:
    return any((parent / ".git").exists() for parent in (folder, *folder.parents))


def git_files(ctx: ProbeContext) -> list[str]:
    """Tracked and untracked-but-not-ignored files under the project, relative to it."""
    out = run_tool(["git", "-c", "core.quotepath=off", "ls-files", "-co", "--exclude-standard", "-z"],
                   timeout=ctx.timeout, cwd=ctx.project, env=git_env(ctx))
    return [name for name in out.split("\0") if name]


def git_env(ctx: ProbeContext) -> dict[str, str]:
    # No index refresh (it would take index.lock under the user's feet), no prompts, plain messages.
    return {**ctx.env, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def is_virtualenv(folder: str) -> bool:
    return os.path.exists(os.path.join(folder, "pyvenv.cfg")) or os.path.isdir(os.path.join(folder, "conda-meta"))


def walk_files(root: Path, limit: int, warnings: list[ProbeWarning]) -> tuple[list[tuple[str, int]], bool]:
    """(relative path, size) of up to ``limit`` files, sorted per folder, and whether more were left out."""
    found: list[tuple[str, int]] = []
    unreadable: list[str] = []
    stack = [""]
    while stack:
        relative = stack.pop()
        folder = os.path.join(root, relative) if relative else str(root)
        try:
            with os.scandir(folder) as entries:
                entries = sorted(entries, key=lambda e: e.name)
        except OSError:
            unreadable.append(relative or ".")
            continue
        subfolders = []
        for entry in entries:
            path = f"{relative}/{entry.name}" if relative else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIPPED_DIRS and not is_virtualenv(entry.path):
                        subfolders.append(path)
                    continue
                size = entry.stat(follow_symlinks=False).st_size
            except OSError:
                unreadable.append(path)
                continue
            if len(found) >= limit:
                note_unreadable(unreadable, warnings)
                return found, True
            found.append((path, size))
        stack.extend(reversed(subfolders))
    note_unreadable(unreadable, warnings)
    return found, False


def note_unreadable(unreadable: list[str], warnings: list[ProbeWarning]) -> None:
    if not unreadable:
        return
    shown = ", ".join(name for name in unreadable[:3] if grammar.is_path(name))
    warnings.append(ProbeWarning(SOURCE, f"{len(unreadable)} project folder(s) or file(s) could not be read"
                                         + (f" (e.g. {shown})" if shown else "")))


def sized(root: Path, names: list[str], warnings: list[ProbeWarning]) -> list[tuple[str, int]]:
    found, unreadable = [], []
    for name in names:
        try:
            info = os.lstat(os.path.join(root, name))
        except FileNotFoundError:
            continue  # listed by git but deleted from the work tree
        except OSError:
            unreadable.append(name)
            continue
        if not stat.S_ISDIR(info.st_mode):  # a submodule is listed as a folder
            found.append((name, info.st_size))
    note_unreadable(unreadable, warnings)
    return found


def project_tree(ctx: ProbeContext, warnings: list[ProbeWarning]) -> ProjectTree | None:
    root = Path(ctx.project)
    if not root.is_dir():
        warnings.append(ProbeWarning(SOURCE, "the project folder does not exist; tree not recorded"))
        return None
    root_text = home_relative(root, ctx.home)
    if not grammar.is_path(root_text):
        warnings.append(ProbeWarning(SOURCE, "the project path has quotes or shell characters; tree not recorded"))
        return None
    note = None
    names = None
    if inside_git(root):
        try:
            names = git_files(ctx)
        except ToolError as exc:
            warnings.append(ProbeWarning(SOURCE, f"git could not list the project ({exc}); walked the folder "
                                                 "instead, without .gitignore"))
    if names is not None:
        listed = sized(root, names[:MAX_FILES], warnings)
        truncated = len(names) > MAX_FILES
        if truncated:
            note = f"listed the first {MAX_FILES} of {len(names)} files (git ls-files)"
    else:
        listed, truncated = walk_files(root, MAX_FILES, warnings)
        if truncated:
            note = f"stopped after {MAX_FILES} files; the project holds more"
    files, refused = [], 0
    for name, size in listed:
        if grammar.is_path(name):
            files.append(FileEntry(name, size))
        else:
            refused += 1
    if refused:
        warnings.append(ProbeWarning(SOURCE, f"{refused} project file name(s) with quotes, line breaks or shell "
                                             "characters left out of the tree"))
    return ProjectTree(root=root_text, files=files, file_count=len(files),
                       total_size=sum(entry.size for entry in files), truncated=truncated, note=note)


# ---- search paths ------------------------------------------------------------------------------------------

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


def starts_url(pieces: list[str], i: int) -> bool:
    return bool(_SCHEME.match(pieces[i])) and i + 1 < len(pieces) and pieces[i + 1].startswith("//")


def path_entries(value: str) -> tuple[list[str], int]:
    """(entries, number of URL entries) of a ``:``-separated search path. An entry that is a URL
    (``https://user:password@host/lib``) is not split on its own ``:``, which would record its password as an
    entry of its own; it runs up to the next entry that starts with ``/``, ``~`` or ``.``, and is left out:
    no URL is a folder to search."""
    if "://" not in value or os.pathsep != ":":
        return [entry for entry in value.split(os.pathsep) if entry], 0
    entries, urls, pieces, i = [], 0, value.split(":"), 0
    while i < len(pieces):
        piece = pieces[i]
        if starts_url(pieces, i):
            urls += 1
            seen_at = "@" in pieces[i + 1]
            i += 2
            # a password may start with "/": the piece that holds the URL's (first) "@" is still the URL
            while i < len(pieces) and pieces[i] and not starts_url(pieces, i) \
                    and (not pieces[i].startswith(("/", "~", ".")) or ("@" in pieces[i] and not seen_at)):
                seen_at = seen_at or "@" in pieces[i]
                i += 1
            continue
        if piece:
            entries.append(piece)
        i += 1
    return entries, urls


def search_paths(ctx: ProbeContext, warnings: list[ProbeWarning]) -> dict[str, list[str]]:
    paths: dict[str, list[str]] = {}
    for variable in SEARCH_PATH_VARIABLES:
        value = ctx.env.get(variable)
        if value is None:
            continue
        entries, refused = [], 0
        split, urls = path_entries(value)
        if urls:
            warnings.append(ProbeWarning(SOURCE, f"{urls} {variable} entr{'y' if urls == 1 else 'ies'} that "
                                                 f"{'is a URL' if urls == 1 else 'are URLs'} left out"))
        for entry in split:
            entry = home_relative(entry, ctx.home)
            if grammar.is_path(entry):
                entries.append(entry)
            else:
                refused += 1
        if refused:
            warnings.append(ProbeWarning(SOURCE, f"{refused} {variable} entr{'y' if refused == 1 else 'ies'} with "
                                                 "quotes, line breaks or shell characters left out"))
        paths[variable] = entries[:1000]
    return paths


def collect(ctx: ProbeContext) -> ProbeResult:
    warnings: list[ProbeWarning] = []
    section = Filesystem(mounts=mounts(ctx, warnings), project=project_tree(ctx, warnings),
                         search_paths=search_paths(ctx, warnings))
    return ProbeResult(to_data(section), warnings)
