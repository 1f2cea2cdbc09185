"""Data sets: walk a folder (or one file), hash every file, and sum it up in one root hash.

The root hash is the data set's hash algorithm over the sorted per-file lines
``path NUL size NUL hash LF`` (a symbolic link: ``path NUL link NUL target LF``; an unreadable file:
``path NUL size NUL unreadable LF``), paths relative to the data set and ``/``-separated, sorted by their
UTF-8 bytes. Two people who hold the same files get the same string, whatever their folder is called.
Paths and link targets are taken as recorded: a secret in a name is replaced by REDACTED (the manifest gate's
rules, ``recordable``) and C1 or bidi characters are written as escapes, the same way in freeze and check.

Walking never follows a symbolic link (a link is recorded with its target, so a loop cannot trap the walk
and nothing outside the data set is read); sockets, FIFOs and devices are skipped with a warning; a file
that cannot be read, or keeps changing while it is read, is recorded as unreadable with a warning.
This module returns plain records and knows nothing of manifests or output formats.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from envcapture.manifest import grammar
from envcapture.text import printable

ALGORITHMS = ("blake3", "sha256")
# Above this size BLAKE3 hashes a memory map on all cores; below it one read() and one call are faster.
MMAP_MIN_BYTES = 1 << 20
CHUNK_BYTES = 1 << 20
WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


class DataSetError(Exception):
    """The data set's own path cannot be fingerprinted (missing, a loop, not a file or folder)."""


@dataclass(slots=True)
class FileRecord:
    path: str  # relative to the data set, '/'-separated
    size: int | None = None
    hash: str | None = None
    link: str | None = None  # a symbolic link's target, as readlink gives it
    error: str | None = None  # why the file could not be read

    def line(self) -> str:
        """This file's line in the root hash."""
        if self.link is not None:
            return f"{self.path}\0link\0{self.link}\n"
        if self.error is not None:
            return f"{self.path}\0{self.size}\0unreadable\n"
        return f"{self.path}\0{self.size}\0{self.hash}\n"

    def to_json(self) -> dict:
        out: dict = {"path": self.path}
        if self.link is not None:
            out["link"] = self.link
            return out
        out["size"] = self.size
        if self.error is not None:
            out["error"] = self.error
        else:
            out["hash"] = self.hash
        return out


@dataclass
class DataSetFacts:
    path: Path  # what was fingerprinted, absolute
    kind: str  # "folder" or "file"
    algorithm: str
    files: list[FileRecord]
    root_hash: str
    file_count: int
    total_bytes: int
    read_only: bool  # no write bit on any file or folder
    writable: list[str] = field(default_factory=list)  # the first few files or folders that have one
    warnings: list[str] = field(default_factory=list)


@dataclass
class Progress:
    """What the caller's progress display is told after each file."""

    files_total: int = 0
    bytes_total: int = 0
    files_done: int = 0
    bytes_done: int = 0


# ---------------------------------------------------------------------------------------------- hashing

def new_hasher(algorithm: str, large: bool = False):
    if algorithm == "blake3":
        from blake3 import blake3  # imported only when data is fingerprinted: freeze stays fast

        return blake3(max_threads=blake3.AUTO) if large else blake3()
    if algorithm == "sha256":
        return hashlib.sha256()
    raise ValueError(f"unknown hash algorithm {algorithm!r}")


def root_hash(records: list[FileRecord], algorithm: str) -> str:
    hasher = new_hasher(algorithm)
    for record in records:
        hasher.update(record.line().encode("utf-8"))
    return hasher.hexdigest()


class FileChanged(Exception):
    pass


def _same_file_state(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_ino, before.st_size, before.st_mtime_ns) == (after.st_ino, after.st_size, after.st_mtime_ns)


def hash_file(path: str, info: os.stat_result, algorithm: str) -> str:
    """Hash one regular file; FileChanged when it is not the file ``info`` describes by the end of the read.

    O_NONBLOCK and O_NOFOLLOW: a file swapped for a FIFO or a link after the walk's ``lstat`` must not
    block the read or lead it outside the data set.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or not _same_file_state(info, opened):
            raise FileChanged()
        large = opened.st_size >= MMAP_MIN_BYTES
        hasher = new_hasher(algorithm, large)
        if large and algorithm == "blake3":
            # update_mmap takes a path: reopen this very file through /proc so a rename cannot swap it
            proc_path = f"/proc/self/fd/{fd}"
            hasher.update_mmap(proc_path if os.path.exists(proc_path) else path)
        elif large:
            hash_blocks(fd, hasher)
        else:
            hasher.update(_read_all(fd, opened.st_size))
        if not _same_file_state(opened, os.fstat(fd)):
            raise FileChanged()
    finally:
        os.close(fd)
    return hasher.hexdigest()


def hash_blocks(fd: int, hasher, sinks=()) -> int:
    """Feed what ``fd`` holds from its offset to ``hasher`` in CHUNK_BYTES blocks, and each block to every sink
    too (a copy being written, a second digest): a copy checked against the fingerprint reads its source once,
    through the same hashing as freeze and check. Returns the number of bytes read."""
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    total = 0
    with os.fdopen(os.dup(fd), "rb", buffering=0) as handle:
        while True:
            count = handle.readinto(buffer)
            if not count:
                return total
            block = view[:count]
            hasher.update(block)
            for sink in sinks:
                sink(block)
            total += count


def _read_all(fd: int, size: int) -> bytes:
    """A small file in one read; a different length means it changed under us."""
    data = os.read(fd, size + 1)
    if len(data) != size:
        raise FileChanged()
    return data


# ---------------------------------------------------------------------------------------------- walking

@dataclass
class _Entry:
    relative: str
    absolute: str
    info: os.stat_result


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
# What the schema's data-path rule refuses besides line breaks: written as escapes, so the file is still covered
_INVISIBLE = re.compile(r"[\x80-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _relative_name(name: str, parent: str, warnings: list[str]) -> str | None:
    """``parent/name``, or None (with a warning) for a name a manifest cannot hold.

    scandir never yields ``.``, ``..`` or a name with ``/``, so only line breaks and non-UTF-8 bytes are
    left to refuse: one regex search per name, not the full data-path rule (this runs once per file).
    """
    if _INVISIBLE.search(name):  # C1 controls and bidi marks: recorded as \x85 / \u202e text, like printable()
        name = printable(name)
    relative = f"{parent}/{name}" if parent else name
    if _CONTROL.search(name):
        warnings.append(f"skipped {grammar.quote_for_message(relative)}: its name has control characters")
        return None
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        warnings.append(f"skipped {relative.encode('utf-8', 'surrogateescape')!r}: its name is not UTF-8")
        return None
    return relative


def excluded(relative: str, patterns: tuple[str, ...]) -> bool:
    """A pattern matches the whole relative path or the last part of it (``*.tmp``, ``cache/*``, ``.git``)."""
    if not patterns:
        return False
    name = relative.rpartition("/")[2]
    return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def walk(root: str, excludes: tuple[str, ...], warnings: list[str],
         writable: list[str]) -> tuple[list[_Entry], list[_Entry], bool]:
    """Regular files and links under ``root`` (sorted), and whether every file and folder is read-only."""
    files: list[_Entry] = []
    links: list[_Entry] = []
    read_only = True
    root_info = os.stat(root)
    if root_info.st_mode & WRITE_BITS:
        read_only = False
        writable.append(".")
    stack = [("", root)]
    while stack:
        relative_dir, folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                listing = list(entries)
        except OSError as exc:
            warnings.append(f"folder {relative_dir or '.'} could not be listed: {exc.strerror}")
            continue
        for entry in listing:
            relative = _relative_name(entry.name, relative_dir, warnings)
            if relative is None or excluded(relative, excludes):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as exc:
                warnings.append(f"{relative}: could not be examined: {exc.strerror}")
                continue
            mode = info.st_mode
            if stat.S_ISLNK(mode):
                links.append(_Entry(relative, entry.path, info))
                continue
            if mode & WRITE_BITS:
                read_only = False
                if len(writable) < 5:
                    writable.append(relative)
            if stat.S_ISDIR(mode):
                stack.append((relative, entry.path))
            elif stat.S_ISREG(mode):
                files.append(_Entry(relative, entry.path, info))
            else:
                warnings.append(f"skipped {relative}: a {_kind(mode)}, not a regular file")
    return files, links, read_only


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def link_record(entry: _Entry, root: str, home: str, warnings: list[str]) -> FileRecord | None:
    from envcapture.probes import home_relative

    try:
        target = os.readlink(entry.absolute)
    except OSError as exc:
        warnings.append(f"{entry.relative}: symbolic link could not be read: {exc.strerror}")
        return None
    target = home_relative(target, home) if target.startswith("/") else target
    if not grammar.is_text(target):
        warnings.append(f"skipped link {entry.relative}: its target has control characters")
        return None
    try:
        os.stat(entry.absolute)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            warnings.append(f"{entry.relative}: symbolic link loop (recorded as a link, not followed)")
    return FileRecord(entry.relative, link=target)


# ---------------------------------------------------------------------------------------------- the probe

def resolve_data_path(path: str | os.PathLike) -> Path:
    """The data set's own path, with a link given by the user followed (that is their choice of data)."""
    try:
        resolved = Path(os.path.realpath(path, strict=True))
    except TypeError:  # Python < 3.10 has no strict=
        resolved = Path(os.path.realpath(path))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataSetError(f"{path}: symbolic link loop") from None
        raise DataSetError(f"{path}: {exc.strerror.lower() if exc.strerror else exc}") from None
    try:
        info = os.stat(resolved)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataSetError(f"{path}: symbolic link loop") from None
        raise DataSetError(f"{path}: {exc.strerror.lower() if exc.strerror else exc}") from None
    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        raise DataSetError(f"{path}: not a file or folder")
    return resolved


def fingerprint(path: str | os.PathLike, algorithm: str = "blake3", excludes: tuple[str, ...] = (),
                cache=None, home: str = "", on_progress: Callable[[Progress], None] | None = None) -> DataSetFacts:
    """Fingerprint one data set. ``cache`` is a FingerprintCache or None; DataSetError for a bad ``path``."""
    if algorithm not in ALGORITHMS:
        raise DataSetError(f"unknown hash algorithm {algorithm!r} (choose {' or '.join(ALGORITHMS)})")
    root = resolve_data_path(path)
    warnings: list[str] = []
    writable: list[str] = []
    if root.is_dir():
        kind = "folder"
        files, links, read_only = walk(str(root), tuple(excludes), warnings, writable)
    else:
        kind = "file"
        info = os.stat(root)
        files, links = [_Entry(root.name, str(root), info)], []
        read_only = not info.st_mode & WRITE_BITS
        if not read_only:
            writable.append(root.name)
    progress = Progress(files_total=len(files), bytes_total=sum(e.info.st_size for e in files))
    records = [record for record in (link_record(e, str(root), home, warnings) for e in links) if record]
    known = cache.lookup_many([e.info for e in files], algorithm) if cache is not None else {}
    for entry in files:
        digest = known.get((entry.info.st_dev, entry.info.st_ino))
        if digest is not None:
            records.append(FileRecord(entry.relative, entry.info.st_size, digest))
        else:
            records.append(file_record(entry, algorithm, cache, warnings))
        if on_progress is not None:
            progress.files_done += 1
            progress.bytes_done += entry.info.st_size
            on_progress(progress)
    records = recordable(records)
    records.sort(key=lambda r: r.path.encode("utf-8"))
    warnings = recordable_warnings(warnings)
    return DataSetFacts(path=root, kind=kind, algorithm=algorithm, files=records,
                        root_hash=root_hash(records, algorithm), file_count=len(records),
                        total_bytes=sum(r.size or 0 for r in records if r.link is None),
                        read_only=read_only, writable=writable, warnings=warnings)


def recordable(records: list[FileRecord]) -> list[FileRecord]:
    """Records as a manifest may hold them: a secret in a name or a link's target (wget names a download
    after the presigned URL's query, ``?X-Amz-Credential=AKIA...``; a link may point at ``https://user:pw@``)
    is replaced by REDACTED with the manifest gate's rules. Done here, where records are made, so that the root
    hash covers the names as recorded and `check` (which fingerprints the same way) compares like with like."""
    from envcapture.manifest.redact import may_hold_secret, redact_text

    if not may_hold_secret("\n".join(r.path if r.link is None else f"{r.path}\n{r.link}" for r in records)):
        return records
    for record in records:
        record.path = redact_text(record.path)
        if record.link is not None:
            record.link = redact_text(record.link)
    return records


def recordable_warnings(warnings: list[str]) -> list[str]:
    """Warnings quote names: the same redaction (they are printed by freeze and check as they are made)."""
    from envcapture.manifest.redact import may_hold_secret, redact_text

    return [redact_text(w) for w in warnings] if may_hold_secret("\n".join(warnings)) else warnings


def file_record(entry: _Entry, algorithm: str, cache, warnings: list[str]) -> FileRecord:
    info = entry.info
    for attempt in range(2):
        try:
            digest = hash_file(entry.absolute, info, algorithm)
        except FileChanged:
            try:
                info = os.stat(entry.absolute, follow_symlinks=False)
            except OSError:
                break
            if not stat.S_ISREG(info.st_mode):
                break
            continue
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            warnings.append(f"{entry.relative}: unreadable ({reason})")
            return FileRecord(entry.relative, info.st_size, error=reason)
        if cache is not None:
            cache.remember(info, algorithm, digest)
        return FileRecord(entry.relative, info.st_size, digest)
    warnings.append(f"{entry.relative}: changed while being read (recorded as unreadable)")
    return FileRecord(entry.relative, info.st_size, error="changed while being read")
