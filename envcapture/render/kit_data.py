"""`generate --vendor --with-data [NAME ...]`: the recorded data sets in the kit, each file checked against its
recorded fingerprint while it is copied.

Only what the manifest recorded is copied (its per-file records, inline or in the sidecar beside it): every
regular file is read once, through a descriptor opened without following links (every folder on the way too),
hashed by the data fingerprint's own hashing (``data.fingerprint.hash_blocks``) as it is written into the
staging folder, and compared with its record. A file that differs stops the copy, names the file, and leaves
nothing in the kit (the staging folder is thrown away; the kit is written only after every set is copied).

A symbolic link in a data set is recorded as a link, never followed: the kit holds no links (a link in a
published archive may point anywhere on a reader's machine), so links are left out and named. A data set
larger than ``--max-data`` is referenced instead: REPRODUCE.md gives its recorded path and fingerprint and how
to check a copy of it.

In the image, each copied set is at ``/data/NAME`` (read-only, owned by root); `check --image` reads it from
there.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from envcapture.errors import BadInput
from envcapture.manifest.grammar import quote_for_message

DATA = "data"
IMAGE_DATA = "/data"
DEFAULT_MAX = "2G"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?([KMGT]?)(?:I?B)?", re.I)


@dataclass
class DataSetInKit:
    name: str
    recorded_path: str
    algorithm: str
    root_hash: str
    file_count: int
    total_bytes: int
    links_left_out: list[str] = field(default_factory=list)
    file_name: str | None = None  # a data set that is one file: its name (under data/NAME/ in the kit)
    dvc_source: str | None = None  # the dvc.lock or .dvc file that tracks it (where a referenced set comes from)

    @property
    def image_path(self) -> str:
        return f"{IMAGE_DATA}/{self.name}" + (f"/{self.file_name}" if self.file_name else "")


@dataclass
class KitData:
    carried: list[DataSetInKit] = field(default_factory=list)
    referenced: list[DataSetInKit] = field(default_factory=list)
    max_bytes: int = 0
    files: dict = field(default_factory=dict)  # kit path -> (staged copy, sha256, size): vendor.StagedFile's fields
    sidecars: dict = field(default_factory=dict)  # file name -> bytes: the per-file records beside envcapture.json

    def warnings(self) -> list[str]:
        found = []
        for data_set in self.carried:
            if data_set.links_left_out:
                shown = ", ".join(data_set.links_left_out[:10])
                more = len(data_set.links_left_out) - 10
                found.append(f"data set {data_set.name}: {len(data_set.links_left_out)} symbolic link(s) left out "
                             f"(a kit holds no links): {shown}{f' and {more} more' if more > 0 else ''}")
        for data_set in self.referenced:
            found.append(f"data set {data_set.name} ({_size_text(data_set.total_bytes)}) is over --max-data "
                         f"{_size_text(self.max_bytes)}: referenced in REPRODUCE.md, not copied")
        return found


def parse_size(text: str) -> int:
    """500M, 2G, 1.5G, 100k, 2GB, 2GiB, 123 (bytes): powers of 1024, as docker and du count."""
    found = _SIZE.fullmatch(str(text).strip())
    if not found:
        raise BadInput(f"--max-data {quote_for_message(str(text))}: not a size (a number with K, M, G or T, "
                       "e.g. 500M or 2G)")
    value = float(found[1]) * _UNITS[found[2].upper()]
    if value > 1 << 62:
        raise BadInput(f"--max-data {quote_for_message(str(text))}: too large")
    return int(value)


def _size_text(size: int) -> str:
    for unit in ("T", "G", "M", "K"):
        if size >= _UNITS[unit]:
            return f"{size / _UNITS[unit]:.1f} {unit}iB"
    return f"{size} bytes"


def select(manifest: dict, names: list[str]) -> list[dict]:
    """The recorded data sets ``--with-data`` names (all of them when it names none)."""
    sets = (manifest.get("data") or {}).get("sets") or []
    if not sets:
        raise BadInput("--with-data: the manifest records no data sets (record them with envcapture freeze "
                       "--data PATH)")
    by_name = {record["name"]: record for record in sets}
    if len(by_name) != len(sets):
        raise BadInput("--with-data: the manifest records a data set name twice; names are unique")
    for name in names:
        if name not in by_name:
            known = ", ".join(sorted(by_name))
            raise BadInput(f"--with-data {quote_for_message(name)}: the manifest records no such data set "
                           f"(recorded: {known})")
    wanted = set(names) or set(by_name)
    return [record for record in sets if record["name"] in wanted]


def stage(manifest: dict, manifest_dir: Path, names: list[str], max_bytes: int, staging: Path, say,
          from_kit: Path | None = None) -> KitData:
    """Copy the chosen data sets into ``staging/data/NAME`` (checked); BadInput naming the first file that
    differs from its record. Nothing goes into the kit here. ``from_kit``: the data/ folder of a kit being
    vendored again (`envcapture vendor KIT`), whose copies are the source, checked the same way. A set's recorded
    path is found where `check` finds it (data.specs.data_places: the recorded project folder, or the manifest's)."""
    from envcapture.data.specs import data_places

    places = data_places(manifest, manifest_dir)
    found = KitData(max_bytes=max_bytes)
    for record in select(manifest, names):
        entry = DataSetInKit(record["name"], record["path"], record["algorithm"], record["root_hash"],
                             record["file_count"], record["total_bytes"])
        found.sidecars.update(_sidecar(record, manifest_dir))
        if record["total_bytes"] > max_bytes:
            entry.dvc_source = _dvc_source(manifest, record["path"])
            found.referenced.append(entry)
            continue
        say(f"copying data set {entry.name} ({record['file_count']} files, {_size_text(record['total_bytes'])}), "
            "each file checked against its recorded fingerprint")
        found.files.update(_copy_set(record, places, staging, entry, from_kit))
        found.carried.append(entry)
    return found


def _dvc_source(manifest: dict, path: str) -> str | None:
    """The DVC file recording an output at the data set's path (both relative to the project), if any."""
    wanted = path.rstrip("/")
    for output in ((manifest.get("data") or {}).get("dvc") or {}).get("outputs") or []:
        if isinstance(output, dict) and str(output.get("path", "")).rstrip("/") == wanted:
            return output.get("source")
    return None


def _sidecar(record: dict, manifest_dir: Path) -> dict:
    """A set's sidecar (its per-file records, over 10,000 files), for the kit: `check` of the kit's manifest then
    names each changed file, not only a different root hash. Read by the one bounded reader, hash checked."""
    from envcapture.data.specs import SidecarProblem, sidecar_bytes

    sidecar = record.get("sidecar")
    if not sidecar:
        return {}
    try:
        content = sidecar_bytes(manifest_dir, sidecar["file"])
    except SidecarProblem as exc:
        raise BadInput(f"--with-data: data set {record['name']}: its sidecar {quote_for_message(sidecar['file'])} "
                       f"{exc}") from None
    if hashlib.sha256(content).hexdigest() != sidecar["sha256"]:
        raise BadInput(f"--with-data: data set {record['name']}: its sidecar {quote_for_message(sidecar['file'])} "
                       "does not match the sha256 the manifest records (edited or replaced)")
    return {sidecar["file"]: content}


def sidecar_names(manifest: dict) -> set[str]:
    """The sidecar files a kit of ``manifest`` may carry beside envcapture.json (what unvendoring removes)."""
    return {s["sidecar"]["file"] for s in (manifest.get("data") or {}).get("sets") or [] if s.get("sidecar")}


def _copy_set(record: dict, places, staging: Path, entry: DataSetInKit, from_kit: Path | None) -> dict:
    from envcapture.data import fingerprint
    from envcapture.data.specs import recorded_files

    name = record["name"]
    where = f"--with-data: data set {name}"
    files, why = recorded_files(record, places.manifest_dir)
    if files is None:
        raise BadInput(f"{where}: its files cannot be checked while copied: {why}")
    unreadable = next((f for f in files if f.error is not None), None)
    if unreadable is not None:
        raise BadInput(f"{where}: {quote_for_message(unreadable.path)} could not be read when the manifest was "
                       "written, so no fingerprint exists to check a copy against (freeze again)")
    try:
        looked = ""
        if from_kit is None:
            source, looked = places.resolve(record["path"]), places.looked(record["path"])
        else:
            first = next((f.path for f in files if f.link is None), "")
            source = from_kit / name / (first if record["kind"] == "file" else "")
        root = fingerprint.resolve_data_path(source)
    except fingerprint.DataSetError as exc:
        raise BadInput(f"{where}: {exc}{f' ({looked})' if looked else ''}") from None
    is_folder = root.is_dir()
    if is_folder != (record["kind"] == "folder"):
        raise BadInput(f"{where}: recorded a {record['kind']}, {root} is not one now")
    top = os.open(root if is_folder else root.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    copied = {}
    try:
        for item in files:
            if item.link is not None:
                entry.links_left_out.append(item.path)
                continue
            parts = _safe_parts(item.path, where)
            if not is_folder and parts != [root.name]:
                raise BadInput(f"{where}: records {quote_for_message(item.path)}, but the file is now "
                               f"{quote_for_message(root.name)}")
            if not is_folder:
                entry.file_name = parts[0]
            target = staging / DATA / name / "/".join(parts)
            sha256, size = _copy_checked(top, parts, target, item, record["algorithm"], where)
            copied[f"{DATA}/{name}/{'/'.join(parts)}"] = (target, sha256, size)
    finally:
        os.close(top)
    return copied


def _safe_parts(path: str, where: str) -> list[str]:
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise BadInput(f"{where}: the recorded path {quote_for_message(path)} is not a plain relative path")
    return parts


def _copy_checked(top: int, parts: list[str], target: Path, item, algorithm: str, where: str) -> tuple[str, int]:
    """Copy one file into ``target``, hashing it on the way; BadInput when it is not what was recorded."""
    from envcapture.data.fingerprint import FileChanged, hash_blocks, new_hasher

    shown = quote_for_message(item.path)
    fd = _open_below(top, parts, where, shown)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{where}: {shown} is no longer a regular file; not copied, nothing was written")
        if info.st_size != item.size:
            raise _changed(where, shown, f"{item.size} bytes recorded, {info.st_size} now")
        target.parent.mkdir(parents=True, exist_ok=True)
        sha256 = hashlib.sha256()
        hasher = new_hasher(algorithm)
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(out, "wb") as sink:
            count = hash_blocks(fd, hasher, (sha256.update, sink.write))
        after = os.fstat(fd)
        if count != item.size or (after.st_size, after.st_mtime_ns) != (info.st_size, info.st_mtime_ns):
            raise FileChanged()
    except FileChanged:
        raise _changed(where, shown, "it changed while it was copied") from None
    finally:
        os.close(fd)
    if hasher.hexdigest() != item.hash:
        raise _changed(where, shown, f"its {algorithm} differs from the recorded fingerprint")
    return sha256.hexdigest(), count


def _changed(where: str, shown: str, detail: str) -> BadInput:
    return BadInput(f"{where}: {shown} changed since the manifest was written ({detail}); copy stopped, nothing "
                    "was written to the kit (freeze again, or restore the file)")


def _open_below(top: int, parts: list[str], where: str, shown: str) -> int:
    """``parts`` opened below the folder ``top``, every step without following a link; O_NONBLOCK so that a
    FIFO put in a file's place cannot hang the copy."""
    current = top
    try:
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            opened = os.open(part, flags, dir_fd=current)
            if current != top:
                os.close(current)
            current = opened
        return current
    except OSError as exc:
        if current != top:
            os.close(current)
        if exc.errno == errno.ENOENT:
            raise BadInput(f"{where}: {shown} is missing (recorded when the manifest was written); nothing was "
                           "written to the kit") from None
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise BadInput(f"{where}: {shown} (or a folder on its way) is now a symbolic link or not a folder; "
                           "not followed, nothing was written to the kit") from None
        raise BadInput(f"{where}: {shown} cannot be read ({exc.strerror}); nothing was written to the kit") \
            from None


def dockerfile_context(kit_data: KitData | None) -> dict:
    """The Dockerfile's data lines: the sets copied into /data, read-only."""
    carried = kit_data.carried if kit_data else []
    return {"data_sets": [d.name for d in carried], "image_data": IMAGE_DATA}
