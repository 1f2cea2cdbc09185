"""`envcapture protect PATH`: make a raw data folder read-only and record it as raw in the manifest.

"Always work from a copy of your raw data": taking the write bits away turns an accidental overwrite into
an error, and `check` then reports the data set when it becomes writable or changes. It is a guard against
accidents, not against people: root, and the owner with chmod, can still write, and the output says so.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from envcapture.errors import BadInput

WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
ROOT_NOTE = ("note: read-only stops accidents, not people: root (and the owner, with chmod) can still "
             "write to it")


def set_writable(root: Path, writable: bool) -> tuple[int, int]:
    """Take every write bit away (or give the owner's back) on files and folders; links are left alone."""
    files = folders = 0
    for folder, dirnames, filenames in os.walk(root):  # os.walk does not follow links to folders
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(folder, d))]:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                _chmod(path, info.st_mode, writable)
                files += 1
        _chmod(folder, os.lstat(folder).st_mode, writable)
        folders += 1
    if root.is_file():
        _chmod(str(root), os.lstat(root).st_mode, writable)
        files += 1
    return files, folders


def _chmod(path: str, mode: int, writable: bool) -> None:
    new = (mode | stat.S_IWUSR) if writable else (mode & ~WRITE_BITS)
    if stat.S_IMODE(new) != stat.S_IMODE(mode):
        os.chmod(path, stat.S_IMODE(new))


def find_recorded(manifest: dict, absolute: Path, manifest_dir: Path) -> dict | None:
    from envcapture.data.specs import resolve_recorded

    for record in (manifest.get("data") or {}).get("sets", []):
        if os.path.realpath(resolve_recorded(record["path"], manifest_dir)) == os.path.realpath(absolute):
            return record
    return None


def protect_command(args) -> int:
    from envcapture.manifest import file as manifest_io
    from envcapture.data.fingerprint import DataSetError, resolve_data_path

    try:
        target = resolve_data_path(args.path)
    except DataSetError as exc:
        raise BadInput(f"protect {exc}") from None
    manifest_path = Path(args.manifest)
    if args.undo:
        return undo(target, args.path, manifest_path)
    manifest = manifest_io.load(manifest_path)  # before any chmod: a bad manifest changes nothing
    absolute = Path(os.path.abspath(args.path))
    files, folders = set_writable(target, writable=False)
    record = find_recorded(manifest, absolute, manifest_path.parent)
    sidecars = []
    if record is None:
        record, sidecars = fingerprint_as_raw(manifest, absolute, manifest_path, args.hash, not args.no_cache)
        how = f"fingerprinted and recorded as raw data set {record['name']!r}"
    else:
        how = f"recorded data set {record['name']!r} marked raw"
    record["role"], record["read_only"] = "raw", True
    manifest_io.validate(manifest)
    if sidecars:
        from envcapture.data.specs import write_sidecars

        write_sidecars(sidecars, manifest_path)
    manifest_io.save(manifest, manifest_path)
    print(f"envcapture: {args.path}: {files} files and {folders} folders are now read-only; {how} "
          f"in {manifest_path}", file=sys.stderr)
    print(f"envcapture: {ROOT_NOTE}", file=sys.stderr)
    return 0


def fingerprint_as_raw(manifest: dict, absolute: Path, manifest_path: Path, algorithm: str, use_cache: bool):
    from envcapture.data import specs as datasets

    taken = {s["name"] for s in (manifest.get("data") or {}).get("sets", [])}
    spec = datasets.DataSpec(str(absolute), Path.cwd(), name=datasets.default_name(absolute, taken), role="raw",
                             origin="protect")
    found = datasets.collect([spec], manifest_path.parent, algorithm, use_cache, str(manifest_path))
    if manifest.get("data"):
        manifest["data"]["sets"].extend(found.section["sets"])
        datasets.add_to_manifest(manifest, manifest["data"], found.warnings)
    else:
        datasets.add_to_manifest(manifest, found.section, found.warnings)
    return found.section["sets"][0], found.sidecars


def undo(target: Path, shown: str, manifest_path: Path) -> int:
    from envcapture.manifest import file as manifest_io

    manifest = manifest_io.load(manifest_path) if manifest_path.exists() else None
    files, folders = set_writable(target, writable=True)
    note = ""
    record = find_recorded(manifest, Path(os.path.abspath(shown)), manifest_path.parent) if manifest else None
    if record is not None and record.get("read_only"):
        record["read_only"] = False
        manifest_io.save(manifest, manifest_path)
        note = f"; {manifest_path} no longer expects data set {record['name']!r} to be read-only"
    print(f"envcapture: {shown}: the owner can write to {files} files and {folders} folders again{note}",
          file=sys.stderr)
    return 0
