"""Writing a report or an export where the user asked (-o), as freeze and generate do: a user's file is never
overwritten without --force, nothing is written through a symbolic link or into a device, and the write is atomic
(a temporary file in the same folder, then a rename: an interrupted write leaves the old file as it was)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from envcapture.errors import BadInput
from envcapture.manifest import file as manifest_io
from envcapture.text import printable


def check_target(path: Path, force: bool, what: str = "file") -> None:
    """Refuse, before anything is made, a target that is not a new file or (with --force) a regular file."""
    shown = printable(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise BadInput(f"{shown}: cannot be used ({exc.strerror})") from None
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise BadInput(f"{shown}: is a symbolic link; name a new {what} (nothing is written through a link)")
        if stat.S_ISDIR(info.st_mode):
            raise BadInput(f"{shown}: is a folder; give a {what} name")
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{shown}: is not a regular file; give a {what} name")
        if not force:
            raise BadInput(f"{shown}: already exists; use --force to overwrite it")
    parent = path.parent
    if not parent.is_dir():
        raise BadInput(f"{shown}: the folder {printable(parent)} does not exist (create it first)")


def write_output(path: Path, content: str | bytes, force: bool) -> None:
    check_target(path, force)
    try:
        manifest_io.write_atomically(path, content)
    except OSError as exc:
        raise BadInput(manifest_io.write_error(exc, path)) from None
