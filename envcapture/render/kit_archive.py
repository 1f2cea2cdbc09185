"""`generate --archive KIT.tar.gz`: the kit as one file, for a data repository (Zenodo) or a paper's
supplementary material.

gzip, not zstandard: the bulk of a vendored kit is wheels (zip) and .debs (xz), already compressed, so zstd
would save little; a .tar.gz needs no extra dependency here and opens everywhere a reviewer may look (Zenodo's
preview, any tar, Windows' own tar). The archive holds exactly the files the kit's index vouches for, each
checked against its recorded sha256 while it is read (a changed file stops the archive and is named), in
sorted order with fixed owners, modes and times: the same kit gives a byte-identical archive.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tarfile
from pathlib import Path

from envcapture.errors import BadInput

SUFFIXES = (".tar.gz", ".tgz")


def check_target(path: Path, force: bool) -> None:
    """Refused before anything is vendored: a name envcapture does not write, or a file it would overwrite."""
    if not str(path).endswith(SUFFIXES):
        raise BadInput(f"--archive {path}: name a .tar.gz file (gzip: wheels and .debs are compressed already, "
                       "and a .tar.gz opens everywhere)")
    if os.path.lexists(path) and not force:
        raise BadInput(f"--archive {path}: exists; use --force to replace it")
    if os.path.lexists(path) and not stat.S_ISREG(os.lstat(path).st_mode):
        raise BadInput(f"--archive {path}: exists and is not a regular file")


def write_archive(kit: Path, target: Path, mtime: int) -> list[tuple[int, str]]:
    """Write ``target`` from the files of ``kit``'s index; returns (size, path) of each entry, largest first."""
    from envcapture.render.kitfiles import INDEX_NAME, read_index

    recorded = read_index(kit)
    if not recorded:
        raise BadInput(f"{kit}/{INDEX_NAME}: missing or unreadable; only a kit envcapture wrote can be archived")
    prefix = kit.resolve().name
    entries = []
    from envcapture.manifest.file import atomic_output

    with atomic_output(target) as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for rel in sorted(recorded) + [INDEX_NAME]:
            size = _add(archive, kit, rel, recorded.get(rel), prefix, mtime)
            entries.append((size, rel))
    return sorted(entries, key=lambda e: (-e[0], e[1]))


def _add(archive: tarfile.TarFile, kit: Path, rel: str, digest: str | None, prefix: str, mtime: int) -> int:
    path = kit / rel
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read for the archive ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{path}: not a regular file")
        entry = tarfile.TarInfo(f"{prefix}/{rel}")
        entry.size = info.st_size
        entry.mtime = mtime
        entry.mode = 0o755 if info.st_mode & 0o111 else 0o644
        entry.uid = entry.gid = 0
        entry.uname = entry.gname = ""
        reader = _Hashing(handle)
        archive.addfile(entry, reader)
    if digest is not None and reader.hash.hexdigest() != digest:
        raise BadInput(f"{path}: differs from the sha256 the kit's index recorded; not archived (regenerate the kit)")
    return entry.size


class _Hashing:
    """A file object that hashes what tarfile reads from it (one pass: large wheels are never held in memory)."""

    def __init__(self, handle):
        self.handle = handle
        self.hash = hashlib.sha256()

    def read(self, size=-1):
        block = self.handle.read(size)
        self.hash.update(block)
        return block


def summary(target: Path, entries: list[tuple[int, str]], largest: int = 5) -> list[str]:
    size = target.stat().st_size
    total = sum(s for s, _ in entries)
    lines = [f"wrote {target}: {_mb(size)} ({len(entries)} files, {_mb(total)} before compression)"]
    for entry_size, rel in entries[:largest]:
        lines.append(f"  {_mb(entry_size):>10}  {rel}")
    return lines


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"
