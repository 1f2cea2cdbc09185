"""The one bounded reader: every file a command reads that a stranger can hand over goes through here.

A manifest, a data sidecar, a gather frame, a DVC lock: each may come from someone else, and each may be a
FIFO (reading it hangs), ``/dev/zero`` (reading it fills memory), a 3 MB gzip bomb (3 GiB inflated), a 2 GB
file, a 5000-digit integer (Python's int-to-str limit raises far from where it was read) or ``1e309`` (an
infinity no JSON tool writes back). So:

- a file is opened without blocking (``O_NONBLOCK``: a FIFO opens at once) and, where the caller asks, without
  following a symbolic link (``O_NOFOLLOW``); the *open descriptor* is checked with ``fstat`` and only a
  regular file is read, so a path swapped between a check and the open cannot redirect the read;
- its size is checked before reading, and at most ``limit`` bytes are read (a file that grows is refused);
- gzip and zlib data are inflated in chunks and stop past their limit;
- JSON is parsed with hooks that refuse integers of more than ``MAX_INT_DIGITS`` digits, non-finite numbers
  (``1e309``, ``NaN``, ``Infinity``) and nesting deeper than Python's recursion allows.

Every refusal is a ``BadInput`` of one line naming the file.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import zlib

from envcapture.errors import BadInput

MAX_MANIFEST_BYTES = 256 * 1024 * 1024
# A JSON integer holds at most this many digits: 2**64 has 20, so every count, size and id fits, and the
# int-to-str limit of Python (4300 digits) is never reached by anything read.
MAX_INT_DIGITS = 20
_CHUNK = 1024 * 1024


def describe_mode(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def _open_error(exc: OSError, where: str, what: str, follow: bool) -> BadInput:
    if exc.errno == errno.ENOENT:
        if os.path.islink(where):
            return BadInput(f"{where}: is a dangling symbolic link, not a {what}")
        return BadInput(f"{where}: no such file")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return BadInput(f"{where}: permission denied")
    if exc.errno == errno.ELOOP and not follow:
        return BadInput(f"{where}: is a symbolic link; a {what} must be a regular file")
    if exc.errno == errno.ELOOP:
        return BadInput(f"{where}: too many levels of symbolic links")
    if exc.errno == errno.ENOTDIR:
        return BadInput(f"{where}: a part of the path is not a folder")
    if exc.errno == errno.ENAMETOOLONG:
        return BadInput(f"{where}: the path is too long")
    return BadInput(f"{where}: cannot read ({exc.strerror or exc})")


def open_regular(path: str | os.PathLike, what: str = "manifest", follow: bool = True,
                 dir_fd: int | None = None) -> int:
    """A read-only descriptor of ``path``, which must be a regular file; BadInput otherwise.

    ``follow=False`` refuses a symbolic link (data sidecars, which a stranger's manifest names). Before the
    open, ``stat`` refuses a device or FIFO without opening it (opening a device can act); after the open,
    ``fstat`` of the descriptor decides, so a path swapped in between is still caught.
    """
    where = os.fspath(path)
    try:
        before = os.stat(path, dir_fd=dir_fd, follow_symlinks=follow)
    except OSError as exc:
        raise _open_error(exc, where, what, follow) from None
    if not stat.S_ISREG(before.st_mode) and not (stat.S_ISLNK(before.st_mode) and not follow):
        raise BadInput(f"{where}: is {describe_mode(before.st_mode)}, not a {what}")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as exc:
        raise _open_error(exc, where, what, follow) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise BadInput(f"{where}: is {describe_mode(mode)}, not a {what}")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_fd(fd: int, limit: int, where: str, what: str = "manifest") -> bytes:
    """At most ``limit`` bytes of the regular file open on ``fd`` (size checked first; a growing file refused)."""
    size = os.fstat(fd).st_size
    if size > limit:
        raise BadInput(f"{where}: {size} bytes is too large for a {what} (the limit is {limit} bytes)")
    chunks, total = [], 0
    while True:
        try:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        except OSError as exc:
            raise BadInput(f"{where}: cannot read ({exc.strerror or exc})") from None
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise BadInput(f"{where}: more than {limit} bytes (it grew while being read): too large for a {what}")
    return b"".join(chunks)


def read_bytes(path: str | os.PathLike, limit: int = MAX_MANIFEST_BYTES, what: str = "manifest",
               follow: bool = True, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file, at most ``limit`` of them; one-line BadInput for anything else."""
    fd = open_regular(path, what, follow=follow, dir_fd=dir_fd)
    try:
        return read_fd(fd, limit, os.fspath(path), what)
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike, limit: int = MAX_MANIFEST_BYTES, what: str = "manifest",
              follow: bool = True, dir_fd: int | None = None) -> str:
    return decode(read_bytes(path, limit, what, follow, dir_fd), os.fspath(path), what)


def decode(raw: bytes, where: str, what: str = "manifest") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{where}: not UTF-8 text at byte {exc.start}: not an envcapture {what}") from None


def gunzip(raw: bytes, limit: int, where: str, what: str = "file") -> bytes:
    """``raw`` (gzip, one or more members) inflated, refused as soon as it passes ``limit`` bytes."""
    return inflate(raw, limit, where, what, gzip=True)


def inflate(raw: bytes, limit: int, where: str, what: str = "file", gzip: bool = False) -> bytes:
    """``raw`` inflated in chunks, refused as soon as it passes ``limit`` bytes: zlib format (``gzip``
    False: one stream, nothing after it) or gzip (one or more members, as gzip(1) writes them)."""
    out, total = [], 0
    data = raw
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        try:
            while data:
                chunk = inflater.decompress(data, _CHUNK)
                data = inflater.unconsumed_tail
                total += len(chunk)
                if total > limit:
                    raise BadInput(f"{where}: inflates to more than {limit} bytes: refused as a {what}")
                out.append(chunk)
                if inflater.eof:
                    break
        except zlib.error as exc:
            raise BadInput(f"{where}: not valid {'gzip' if gzip else 'zlib'} data ({exc})") from None
        if not inflater.eof:
            raise BadInput(f"{where}: the compressed data is truncated")
        data = inflater.unused_data
        if not data or (gzip and not data.lstrip(b"\0")):
            break  # the end, or zero padding after the last gzip member, as gzip(1) accepts
        if not gzip:
            raise BadInput(f"{where}: data after the end of the compressed stream")
    return b"".join(out)


class _OutOfRange(ValueError):
    pass


def _parse_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise _OutOfRange(f"an integer of {len(text) - text.startswith('-')} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _OutOfRange(f"the number {text[:40]}{'...' if len(text) > 40 else ''} is out of range")
    return value


def _parse_constant(name: str):
    """Python's json reads NaN and Infinity, which are not JSON and which no other tool would read back."""
    raise _OutOfRange(f"{name} is not a JSON number")


DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
# Python's own int parser is three times faster than a hook: used when no run of digits is long enough to be
# an integer past the bound (digits inside strings can only send a text to the slower, checking decoder).
_PLAIN_INTS = json.JSONDecoder(parse_float=_parse_float, parse_constant=_parse_constant)
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_RUN = b"0" * (MAX_INT_DIGITS + 1)
# Numbers that are errors here; the fast reader (compare/many.py) catches them around ``raw_decode``.
NumberOutOfRange = _OutOfRange


def decoder_for(text: str) -> json.JSONDecoder:
    """The decoder with every number bound that ``text`` needs."""
    # bytes.translate and find run at memory speed; a regex for a run of digits took as long as the parse
    data = text.encode("utf-8", "surrogatepass")
    return DECODER if data.translate(_DIGITS_AS_ZERO).find(_LONG_RUN) >= 0 else _PLAIN_INTS


def loads(text: str, where: str, what: str = "manifest"):
    """Parse JSON text with bounded numbers; every failure is one BadInput naming ``where``."""
    try:
        return decoder_for(text).decode(text)
    except RecursionError:
        raise BadInput(f"{where}: JSON nested too deeply: not an envcapture {what}") from None
    except _OutOfRange as exc:
        raise BadInput(f"{where}: not a valid {what}: {exc}") from None
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) - 1 else ""
        raise BadInput(f"{where}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}") from None
    except ValueError as exc:  # anything else the parser refuses: one line, never a traceback
        raise BadInput(f"{where}: not valid JSON ({str(exc)[:200]})") from None


def read_json(path: str | os.PathLike, limit: int = MAX_MANIFEST_BYTES, what: str = "manifest",
              follow: bool = True, dir_fd: int | None = None):
    """A JSON file read through every bound above."""
    where = os.fspath(path)
    return loads(read_text(path, limit, what, follow, dir_fd), where, what)

