"""`envcapture protect PATH`: make a raw data folder read-only and record it as raw in the manifest.

"Always work from a copy of your raw data": taking the write bits away turns an accidental overwrite into
an error, and `check` then reports the data set when it becomes writable or changes. It is a guard against
accidents, not against people: root, and the owner with chmod, can still write, and the output says so.

Safety, because protect changes modes and often runs as root:
- everything is decided first (refusals, the data set's name, the manifest, the record of modes); the
  first chmod comes after, so a refusal changes nothing;
- `/`, home folders, system folders and mount roots are refused;
- the walk never goes by path: every folder and file is opened relative to its parent's descriptor with
  O_NOFOLLOW and changed with fchmod, so swapping a file for a symbolic link cannot redirect a chmod; it
  stays on the data set's own mount; a hard-linked file (another name may live outside) is left alone;
- each mode is recorded in the manifest, and `--undo` gives back exactly those, only to what the manifest
  says protect changed and only where nothing changed since (its ctime is older than the protection).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from envcapture.errors import BadInput

WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
MAX_MODE = 0o7777
MAX_EXCEPTIONS = 10_000  # files and folders whose mode differs from the usual one (the schema's bound)
ROOT_NOTE = ("note: read-only stops accidents, not people: root (and the owner, with chmod) can still "
             "write to it")
# Refused with everything inside them: the system itself.
SYSTEM_TREES = ("/etc", "/usr", "/boot", "/proc", "/sys", "/dev", "/bin", "/sbin", "/run", "/var", "/snap",
                "/nix", "/lost+found")
SYSTEM_TREE_EXCEPTIONS = ("/var/tmp",)  # inside these, a data folder is fine
# Refused themselves (and every folder above them): shared roots that hold other people's things.
SYSTEM_FOLDERS = ("/", "/home", "/root", "/opt", "/srv", "/mnt", "/media", "/tmp", "/var/tmp", "/data",
                  "/scratch", "/work")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


# ---------------------------------------------------------------------------------------- refusals

def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def home_folders() -> set[str]:
    """$HOME and the password database's home of the user who runs protect (they can differ under sudo)."""
    found = set()
    for home in (os.environ.get("HOME"), _passwd_home()):
        if home and os.path.isabs(home):
            found.add(os.path.realpath(home))
    return found


def _passwd_home() -> str | None:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError):
        return None


def mount_points() -> set[str]:
    """Every mount point of this process's mount namespace (/proc/self/mountinfo; empty without /proc)."""
    try:
        with open("/proc/self/mountinfo", "rb") as handle:
            text = handle.read(16 << 20).decode("utf-8", "surrogateescape")
    except OSError:
        return set()
    points = set()
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) > 4:
            # mountinfo escapes space, tab, newline and backslash as \ooo
            points.add(parts[4].encode("latin-1", "surrogateescape").decode("unicode_escape", "replace"))
    return points


def refusal(target: str, homes: set[str] | None = None, mounts: set[str] | None = None) -> str | None:
    """Why protect (or --undo) must not touch ``target`` (an absolute path without links), or None."""
    homes = home_folders() if homes is None else homes
    mounts = mount_points() if mounts is None else mounts
    if target == "/":
        return "is the root of the file system"
    for folder in SYSTEM_TREES:
        if _inside(target, folder) and not any(_inside(target, ok) for ok in SYSTEM_TREE_EXCEPTIONS) \
                or _inside(folder, target):
            return f"is a system folder (or inside {folder})" if _inside(target, folder) \
                else f"holds the system folder {folder}"
    top = "/" + target.split("/")[1]
    if top.startswith("/lib"):
        return f"is a system folder (or inside {top})"
    for folder in SYSTEM_FOLDERS:
        if _inside(folder, target):
            return f"is the shared folder {folder}" if folder == target else f"holds {folder}"
    for home in homes:
        if _inside(home, target):
            return "is a home folder" if home == target else f"holds the home folder {home}"
    if target in mounts:
        return "is the root of a mounted file system (protect a folder inside it)"
    return None


# ---------------------------------------------------------------------------------------- the walk

@dataclass
class Entry:
    relative: str  # "" for the data set's own folder or file
    folder: bool
    mode: int  # permission bits, as found (the plan) or as they were before protect took the write bits
    dev: int
    ino: int
    ctime_ns: int = 0


@dataclass
class Walked:
    entries: list[Entry] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)  # "relative: why", for the message


def open_path(path: str) -> int:
    """A descriptor of ``path`` (absolute, no links) opened one component at a time with O_NOFOLLOW: a link
    swapped in anywhere on the way fails the open instead of leading elsewhere."""
    fd = os.open("/", _DIR_FLAGS)
    parts = [p for p in path.split("/") if p]
    try:
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if not last or exc.errno != errno.ENOTDIR:
                    raise
                child = _open_file(part, fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_file(name: str, dir_fd: int) -> int:
    try:
        return os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except PermissionError:  # no read bit for us: a path descriptor still names this very file
        return os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def _mount_id(fd: int) -> int | None:
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as handle:
            for line in handle.read(4096).splitlines():
                if line.startswith(b"mnt_id:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def fchmod(fd: int, mode: int) -> None:
    try:
        os.fchmod(fd, mode)
    except OSError as exc:
        if exc.errno != errno.EBADF:  # an O_PATH descriptor: chmod the very inode through /proc
            raise
        os.chmod(f"/proc/self/fd/{fd}", mode)


def walk(target: str, visit) -> Walked:
    """Call ``visit(fd, relative, info)`` on the data set's own folder or file and on every folder and
    regular file under it, each opened by descriptor relative to its parent; returns what was left alone.

    Links are never followed (nor changed); FIFOs, sockets and devices are left alone; so are hard-linked
    files and everything on another mount (a bind mount of /etc inside the data set must stay untouched).
    """
    walked = Walked()
    try:
        fd = open_path(target)
    except OSError as exc:  # a folder on the way we may not enter, or a link swapped in: nothing changed
        raise BadInput(f"protect {target}: cannot be opened ({exc.strerror}); nothing changed") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            if info.st_nlink > 1:
                walked.left_alone.append(f"{os.path.basename(target)}: has {info.st_nlink} hard links")
            else:
                visit(fd, "", info, walked)
            return walked
        if not stat.S_ISDIR(info.st_mode):
            raise BadInput(f"protect {target}: not a file or folder")
        root_mount = _mount_id(fd)
        visit(fd, "", info, walked)
        _walk_folder(fd, "", info.st_dev, root_mount, visit, walked)
    finally:
        os.close(fd)
    return walked


def _walk_folder(top_fd: int, top_relative: str, dev: int, mount, visit, walked: Walked) -> None:
    stack = [(os.dup(top_fd), top_relative)]
    while stack:
        fd, relative_dir = stack.pop()
        try:
            with os.scandir(fd) as listing:
                names = sorted(entry.name for entry in listing)
            for name in names:
                relative = f"{relative_dir}/{name}" if relative_dir else name
                child = _visit_child(fd, name, relative, dev, mount, visit, walked)
                if child is not None:
                    stack.append((child, relative))
        except OSError as exc:
            walked.left_alone.append(f"{relative_dir or '.'}: could not be listed ({exc.strerror})")
        finally:
            os.close(fd)


def _visit_child(parent: int, name: str, relative: str, dev: int, mount, visit, walked: Walked) -> int | None:
    """Open one entry by descriptor and visit it; returns a folder's descriptor for the walk to go on."""
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except OSError as exc:
        walked.left_alone.append(f"{relative}: could not be examined ({exc.strerror})")
        return None
    if stat.S_ISLNK(info.st_mode):
        return None
    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        walked.left_alone.append(f"{relative}: not a regular file or folder")
        return None
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent) if stat.S_ISDIR(info.st_mode) else _open_file(name, parent)
    except OSError as exc:  # ELOOP: swapped for a link since the stat; nothing is followed
        walked.left_alone.append(f"{relative}: could not be opened ({exc.strerror})")
        return None
    keep = False
    try:
        opened = os.fstat(fd)
        if stat.S_ISDIR(opened.st_mode):
            if opened.st_dev != dev or (mount is not None and _mount_id(fd) != mount):
                walked.left_alone.append(f"{relative}: another mounted file system")
                return None
            visit(fd, relative, opened, walked)
            keep = True
            return fd
        if not stat.S_ISREG(opened.st_mode):
            walked.left_alone.append(f"{relative}: not a regular file or folder")
        elif opened.st_nlink > 1:
            walked.left_alone.append(f"{relative}: has {opened.st_nlink} hard links (another name may be "
                                     "outside the data set)")
        else:
            visit(fd, relative, opened, walked)
        return None
    finally:
        if not keep:
            os.close(fd)


def plan(target: str) -> Walked:
    """Every file and folder protect would change, with its mode now: nothing is changed."""
    from envcapture.manifest import grammar

    def note(fd, relative, info, walked):
        if relative and not grammar.check("data-path", relative):
            walked.left_alone.append(f"{grammar.quote_for_message(relative)}: a name a manifest cannot hold")
            return
        walked.entries.append(Entry(relative, stat.S_ISDIR(info.st_mode), stat.S_IMODE(info.st_mode),
                                    info.st_dev, info.st_ino, info.st_ctime_ns))

    return walk(target, note)


def apply(target: str, planned: list[Entry], writable: bool, expected=None) -> Walked:
    """Change the modes of the planned entries that are still what the plan saw (same inode and mode).

    Taking write bits away (``writable`` False), each entry's mode before the change is recorded in the
    result. Giving them back, ``expected`` maps a relative path to the mode to restore.
    """
    by_path = {entry.relative: entry for entry in planned}

    def change(fd, relative, info, walked):
        entry = by_path.get(relative)
        mode = stat.S_IMODE(info.st_mode)
        if entry is None or (entry.dev, entry.ino, entry.mode) != (info.st_dev, info.st_ino, mode):
            if entry is not None:
                walked.left_alone.append(f"{relative or '.'}: changed while protect ran")
            return
        new = expected[relative] if writable else mode & ~WRITE_BITS
        if new != mode:
            fchmod(fd, new)
        walked.entries.append(Entry(relative, entry.folder, mode, info.st_dev, info.st_ino))

    return walk(target, change)


def make_read_only(target: str) -> Walked:
    """Take every write bit away under ``target``, by descriptor; returns the modes as they were."""
    return apply(target, plan(target).entries, writable=False)


# ---------------------------------------------------------------------------------------- the record

def make_record(entries: list[Entry], at_ns: int) -> dict:
    """The modes before protect, compact: the usual file and folder mode, and the exceptions by path."""
    root = next(e for e in entries if e.relative == "")
    files = Counter(e.mode for e in entries if not e.folder and e.relative)
    folders = Counter(e.mode for e in entries if e.folder and e.relative)
    file_mode = files.most_common(1)[0][0] if files else root.mode
    folder_mode = folders.most_common(1)[0][0] if folders else root.mode
    exceptions = [{"path": e.relative, "mode": e.mode} for e in entries
                  if e.relative and e.mode != (folder_mode if e.folder else file_mode)]
    exceptions.sort(key=lambda x: x["path"].encode("utf-8"))
    return {"at_ns": at_ns, "root": root.mode, "files": file_mode, "folders": folder_mode,
            "exceptions": exceptions, "file_count": sum(1 for e in entries if not e.folder),
            "folder_count": sum(1 for e in entries if e.folder)}


def recorded_mode(record: dict, relative: str, folder: bool, exceptions: dict | None = None) -> int:
    if relative == "":
        return record["root"]
    if exceptions is None:
        exceptions = {x["path"]: x["mode"] for x in record["exceptions"]}
    return exceptions.get(relative, record["folders"] if folder else record["files"])


def check_record(record, where: str) -> dict:
    """A record of modes read from a manifest (a stranger's, perhaps): modes must be permission bits."""
    modes = [record.get("root"), record.get("files"), record.get("folders")]
    modes += [x.get("mode") for x in record.get("exceptions", [])]
    if not all(isinstance(m, int) and not isinstance(m, bool) and 0 <= m <= MAX_MODE for m in modes):
        raise BadInput(f"{where}: its record of file modes holds a mode that is not 0 to 0o7777; nothing changed")
    return record


def merged_with(previous: dict | None, entries: list[Entry]) -> list[Entry]:
    """Protecting again: an entry untouched since the last protect keeps the mode recorded then."""
    if not previous:
        return entries
    exceptions = {x["path"]: x["mode"] for x in previous["exceptions"]}
    out = []
    for entry in entries:
        before = recorded_mode(previous, entry.relative, entry.folder, exceptions)
        if entry.mode == before & ~WRITE_BITS and entry.mode != before:
            entry = Entry(entry.relative, entry.folder, before, entry.dev, entry.ino)
        out.append(entry)
    return out


# ---------------------------------------------------------------------------------------- commands

def find_recorded(manifest: dict, absolute: Path, manifest_dir: Path) -> dict | None:
    from envcapture.data.specs import data_places

    places = data_places(manifest, manifest_dir)
    for record in (manifest.get("data") or {}).get("sets", []):
        if os.path.realpath(places.resolve(record["path"])) == os.path.realpath(absolute):
            return record
    return None


def _target(path_text: str) -> Path:
    from envcapture.data.fingerprint import DataSetError, resolve_data_path
    from envcapture.manifest import grammar

    try:
        target = resolve_data_path(path_text)
    except DataSetError as exc:
        raise BadInput(f"protect {exc}") from None
    why = refusal(str(target))
    if why:
        raise BadInput(f"protect {grammar.quote_for_message(path_text)}: refused: {target} {why}; "
                       "nothing changed")
    return target


def _shown(path_text: str) -> str:
    from envcapture.text import printable

    return printable(path_text)


def protect_command(args) -> int:
    from envcapture.manifest import file as manifest_io

    target = _target(args.path)
    manifest_path = Path(args.manifest)
    if args.undo:
        return undo(target, args.path, manifest_path)
    manifest = manifest_io.load(manifest_path)  # before any chmod: a bad manifest changes nothing
    if _inside(os.path.realpath(manifest_path), str(target)):
        raise BadInput(f"protect {_shown(args.path)}: refused: the manifest {manifest_path} is inside it and "
                       "would become read-only; keep the manifest outside the data; nothing changed")
    absolute = Path(os.path.abspath(args.path))
    record = find_recorded(manifest, absolute, manifest_path.parent)
    sidecars = []
    if record is None:
        record, sidecars = fingerprint_as_raw(manifest, absolute, manifest_path, args.hash, not args.no_cache)
        how = f"fingerprinted and recorded as raw data set {record['name']!r}"
    else:
        how = f"recorded data set {record['name']!r} marked raw"
    previous = record.get("protected") if record.get("read_only") else None
    if previous:
        check_record(previous, str(manifest_path))
    planned = plan(str(target))
    record["role"], record["read_only"] = "raw", True
    record["protected"] = _bounded(make_record(merged_with(previous, planned.entries), time.time_ns()), args.path)
    from envcapture.manifest import gate

    manifest = gate.seal(manifest)  # redacted, conformed, valid: the gate decides before any chmod
    manifest_io.refuse_to_write(manifest_path, False)
    record = next(s for s in manifest["data"]["sets"] if s["name"] == record["name"])
    # Decided: from here on only changes. The modes first, then the sidecar and the manifest that record them.
    done = apply(str(target), planned.entries, writable=False)
    record["protected"] = make_record(merged_with(previous, done.entries), time.time_ns())
    try:
        gate.write_manifest(manifest, str(manifest_path), [(s.file_name, s.content) for s in sidecars])
    except BaseException:
        _give_back(target, done.entries, record["protected"])
        raise
    files = sum(1 for e in done.entries if not e.folder)
    print(f"envcapture: {_shown(args.path)}: {files} files and {len(done.entries) - files} folders are now "
          f"read-only; {how} in {_shown(str(manifest_path))}", file=sys.stderr)
    _report_left_alone(planned.left_alone + done.left_alone)
    print(f"envcapture: {ROOT_NOTE}", file=sys.stderr)
    return 0


def _bounded(record: dict, shown: str) -> dict:
    if len(record["exceptions"]) > MAX_EXCEPTIONS:
        raise BadInput(f"protect {_shown(shown)}: refused: more than {MAX_EXCEPTIONS} files or folders have "
                       "unusual modes, more than a manifest records; nothing changed")
    return record


def _report_left_alone(lines: list[str]) -> None:
    from envcapture.text import printable

    if not lines:
        return
    print(f"envcapture: left as they are ({len(lines)}): " + "; ".join(printable(x) for x in lines[:5])
          + (f"; ... and {len(lines) - 5} more" if len(lines) > 5 else ""), file=sys.stderr)


def _give_back(target: Path, entries: list[Entry], record: dict) -> None:
    """The manifest could not be written: give back the modes just taken (best effort, by descriptor)."""
    try:
        current = plan(str(target)).entries
        apply(str(target), current, writable=True,
              expected={e.relative: recorded_mode(record, e.relative, e.folder) for e in current})
    except (OSError, BadInput):
        pass


def fingerprint_as_raw(manifest: dict, absolute: Path, manifest_path: Path, algorithm: str, use_cache: bool):
    from envcapture.data import specs as datasets

    taken = {s["name"] for s in (manifest.get("data") or {}).get("sets", [])}
    spec = datasets.DataSpec(str(absolute), Path.cwd(), name=datasets.default_name(absolute, taken), role="raw",
                             origin="protect")
    # recorded relative to the folder every reader resolves it against (the project's, as freeze records it)
    base = datasets.data_places(manifest, manifest_path.parent).base
    found = datasets.collect([spec], base, algorithm, use_cache, str(manifest_path))
    if manifest.get("data"):
        manifest["data"]["sets"].extend(found.section["sets"])
        datasets.add_to_manifest(manifest, manifest["data"], found.warnings)
    else:
        datasets.add_to_manifest(manifest, found.section, found.warnings)
    return found.section["sets"][0], found.sidecars


def undo(target: Path, shown: str, manifest_path: Path) -> int:
    """Give back the recorded modes, only where protect's record covers the file and nothing changed since."""
    from envcapture.manifest import file as manifest_io

    manifest = manifest_io.load(manifest_path)
    record = find_recorded(manifest, Path(os.path.abspath(shown)), manifest_path.parent)
    if record is None:
        raise BadInput(f"protect --undo {_shown(shown)}: {manifest_path} records no such data set; "
                       "nothing changed")
    protected = record.get("protected")
    if not record.get("read_only") or not protected:
        raise BadInput(f"protect --undo {_shown(shown)}: {manifest_path} does not record that protect made "
                       f"data set {record['name']!r} read-only (no record of its modes); nothing changed")
    check_record(protected, str(manifest_path))
    exceptions = {x["path"]: x["mode"] for x in protected["exceptions"]}
    found = plan(str(target))
    expected, skipped = {}, list(found.left_alone)
    now = found.entries
    for entry in now:
        want = recorded_mode(protected, entry.relative, entry.folder, exceptions)
        changed_since = entry.ctime_ns > protected["at_ns"]
        if changed_since or entry.mode != want & ~WRITE_BITS:
            skipped.append(f"{entry.relative or '.'}: changed since protect (mode or inode); left as it is")
            continue
        expected[entry.relative] = want
    done = apply(str(target), [e for e in now if e.relative in expected], writable=True, expected=expected)
    record["read_only"], record["protected"] = False, None
    from envcapture.manifest import gate

    gate.write_manifest(manifest, str(manifest_path))
    files = sum(1 for e in done.entries if not e.folder)
    print(f"envcapture: {_shown(shown)}: {files} files and {len(done.entries) - files} folders have their "
          f"recorded modes back; {_shown(str(manifest_path))} no longer expects data set {record['name']!r} "
          "to be read-only", file=sys.stderr)
    _report_left_alone(skipped + done.left_alone)
    return 0
