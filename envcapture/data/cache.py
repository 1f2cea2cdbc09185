"""The fingerprint cache: file hashes remembered by (device, inode, size, mtime_ns, ctime_ns), as DVC's state
database does, so fingerprinting an unchanged tree costs one ``stat`` per file.

It lives in the user's cache folder (``$XDG_CACHE_HOME/envcapture``, default ``~/.cache/envcapture``), never
beside the data: raw data may be read-only, and a cache inside a data set would change its fingerprint.
An entry is used only when every key matches; ctime catches a write whose mtime was put back (``os.utime``
sets ctime to now, and nothing but the kernel can set ctime).

SQLite in WAL mode lets two freezes read and write it at once; a cache that cannot be opened or written
is skipped with a warning, never an error: it only saves time.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS hashes (
    dev INTEGER NOT NULL, ino INTEGER NOT NULL, algorithm TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (dev, ino, algorithm)
) WITHOUT ROWID
"""
BUSY_TIMEOUT_S = 30.0
LOOKUP_BATCH = 500  # host parameters per query (old SQLite allows 999)
# sqlite integers are signed 64-bit; a device or inode number above that (rare, but seen on network
# filesystems) is folded into range rather than refused.
_INT64 = 1 << 63


def cache_dir(env=None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "envcapture"


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= _INT64 else value


class FingerprintCache:
    """Open with ``FingerprintCache.open(...)``; ``None`` stands for "no cache" everywhere."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.connection = connection
        self.path = path
        self._pending: list[tuple] = []

    @classmethod
    def open(cls, folder: Path | None = None, warn=None) -> "FingerprintCache | None":
        folder = cache_dir() if folder is None else Path(folder)
        path = folder / "fingerprints.sqlite3"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                         check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            if warn:
                warn(f"fingerprint cache {path} not used: {exc}")
            return None
        return cls(connection, path)

    def lookup_many(self, infos: list[os.stat_result], algorithm: str) -> dict[tuple[int, int], str]:
        """Digests of every file in ``infos`` the cache knows unchanged, by (st_dev, st_ino).

        One query per few hundred files: a tree of 10,000 unchanged files costs a few dozen queries.
        """
        try:
            return self._lookup_many(infos, algorithm)
        except sqlite3.Error:  # a damaged or locked cache only costs time
            return {}

    def _lookup_many(self, infos: list[os.stat_result], algorithm: str) -> dict[tuple[int, int], str]:
        found: dict[tuple[int, int], str] = {}
        by_key = {(_int64(i.st_dev), _int64(i.st_ino)): i for i in infos}
        keys = list(by_key)
        for start in range(0, len(keys), LOOKUP_BATCH):
            batch = keys[start:start + LOOKUP_BATCH]
            devices = {dev for dev, _ in batch}
            for dev in devices:
                inodes = [ino for d, ino in batch if d == dev]
                query = ("SELECT ino, size, mtime_ns, ctime_ns, digest FROM hashes WHERE dev=? AND algorithm=? "
                         f"AND ino IN ({','.join('?' * len(inodes))})")
                for ino, size, mtime_ns, ctime_ns, digest in self.connection.execute(query, (dev, algorithm, *inodes)):
                    info = by_key[(dev, ino)]
                    if (size, mtime_ns, ctime_ns) == (info.st_size, info.st_mtime_ns, info.st_ctime_ns):
                        found[(info.st_dev, info.st_ino)] = digest
        return found

    def remember(self, info: os.stat_result, algorithm: str, digest: str) -> None:
        self._pending.append((_int64(info.st_dev), _int64(info.st_ino), algorithm, info.st_size,
                              info.st_mtime_ns, info.st_ctime_ns, digest))
        if len(self._pending) >= 5000:
            self.flush()

    def flush(self, warn=None) -> None:
        """Write remembered hashes in one transaction (one fsync instead of one per file)."""
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        try:
            with self.connection:
                self.connection.execute("BEGIN IMMEDIATE")
                self.connection.executemany("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            if warn:
                warn(f"fingerprint cache {self.path} not updated: {exc}")

    def close(self, warn=None) -> None:
        self.flush(warn)
        self.connection.close()
