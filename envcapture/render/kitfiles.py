"""Writing a kit into its folder: which files envcapture may replace, and writing them safely.

Ownership is decided by content, never by a name: the kit's index (``.envcapture-files``) records the sha256
of each file as envcapture wrote it, and a file is envcapture's to replace only while its content still has
that hash (or already is exactly what would be written). A Dockerfile the user edited, a README the user put
into project/, a forged index naming a user's file: all stay the user's, and only ``--force`` replaces them.

The folder is written without following symbolic links below it (``out/binder -> ../elsewhere`` would have
put an executable postBuild outside the kit), and a write that fails (full disk, read-only mount, a folder
the user cannot write) is one line, with the old file intact.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

from envcapture.errors import BadInput

INDEX_NAME = ".envcapture-files"
EXECUTABLE = {"provision.sh", "binder/postBuild", "binder/start"}
PLACEHOLDER = "project/README.md"


def digest(content) -> str:
    if hasattr(content, "sha256"):  # a vendored file staged on disk (render/vendor.py StagedFile)
        return content.sha256
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def index_text(header: str, hashes: dict[str, str]) -> str:
    """The index: its header comment, then one ``<sha256>  <path>`` line per file (sha256sum's format)."""
    return header.rstrip("\n") + "\n" + "".join(f"{hashes[rel]}  {rel}\n" for rel in sorted(hashes))


def read_index(out: Path) -> dict[str, str]:
    """path -> sha256 recorded by an earlier run; a line without a well-formed hash proves nothing."""
    try:
        text = _read_no_follow(out / INDEX_NAME).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    found = {}
    for line in text.splitlines():
        recorded, sep, rel = line.partition("  ")
        if sep and len(recorded) == 64 and all(c in "0123456789abcdef" for c in recorded) and rel:
            found[rel] = recorded
    return found


def _read_no_follow(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _current_digest(path: Path) -> str | None:
    try:
        return digest(_read_no_follow(path))
    except OSError:
        return None


def refuse_links(out: Path, rel: str) -> None:
    """No component below ``out`` may be a symbolic link: a write through it would land outside the kit."""
    current = out
    for part in Path(rel).parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return
        except OSError as exc:
            raise BadInput(f"{current}: cannot inspect it ({exc.strerror})") from None
        if stat.S_ISLNK(mode):
            raise BadInput(f"{current}: is a symbolic link; envcapture does not write through links inside a kit "
                           "(remove it, or generate into another folder)")


def plan_writes(out: Path, files: dict[str, str | bytes], force: bool) -> dict[str, str | bytes]:
    """The files to write, after the ownership rules; raises BadInput naming the first file that is the user's."""
    recorded = read_index(out)
    files = dict(files)
    if PLACEHOLDER in files and not _project_folder_is_free(out, files, recorded):
        del files[PLACEHOLDER]  # project/ holds the user's files: a placeholder there would only be in the way
    theirs = []
    for rel in sorted(files):
        refuse_links(out, rel)
        path = out / rel
        if os.path.isdir(path):
            raise BadInput(f"{path}: is a folder, where the kit needs a file")
        if rel == INDEX_NAME or not os.path.lexists(path):
            continue
        current = _current_digest(path)
        if current is None or (current != recorded.get(rel) and current != digest(files[rel])):
            theirs.append(rel)
    if theirs and not force:
        raise BadInput(f"{out / theirs[0]}: exists and is not as envcapture wrote it (edited, or never "
                       f"generated); use --force to overwrite it ({len(theirs)} such file(s))")
    return files


def _project_folder_is_free(out: Path, files, recorded: dict[str, str]) -> bool:
    """project/ is empty, or holds only the placeholder envcapture wrote there, unchanged."""
    if any(rel.startswith("project/") and rel != PLACEHOLDER for rel in files):
        return False  # the kit brings the project's own files (generate --with-code)
    folder = out / "project"
    try:
        entries = os.listdir(folder)
    except FileNotFoundError:
        return True
    except NotADirectoryError:
        return True  # the folder check in plan_writes names it
    except OSError:
        return False
    if not entries:
        return True
    placeholder = out / PLACEHOLDER
    return entries == ["README.md"] and _current_digest(placeholder) == recorded.get(PLACEHOLDER)


def write_kit(out: Path, files: dict[str, str | bytes], force: bool = False, index_header: str | None = None) -> \
        dict[str, str | bytes]:
    """Write ``files`` (relative path -> content) into ``out``; returns what was written (index included)."""
    if os.path.lexists(out) and not os.path.isdir(out):
        raise BadInput(f"{out}: exists and is not a folder" if os.path.exists(out)
                       else f"{out}: is a dangling symbolic link; name a folder")
    files = plan_writes(out, files, force)
    if index_header is not None:
        hashes = {rel: recorded for rel, recorded in read_index(out).items()
                  if rel not in files and _current_digest(out / rel) == recorded}  # other targets' files, still ours
        hashes.update({rel: digest(content) for rel, content in files.items() if rel != INDEX_NAME})
        files[INDEX_NAME] = index_text(index_header, hashes)
    try:
        if not os.path.lexists(out):
            _write_new_folder(out, files)
        else:
            for rel in sorted(files, key=lambda r: r == INDEX_NAME):  # the index last: it vouches for the rest
                write_file(out / rel, files[rel], mode=0o755 if rel in EXECUTABLE else 0o644)
    except OSError as exc:
        from envcapture.manifest.file import write_error

        raise BadInput(write_error(exc, Path(exc.filename) if exc.filename else out)) from None
    return files


def _write_new_folder(out: Path, files) -> None:
    """Build the whole folder beside its final place, then rename it: readers never see half a kit."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for rel in sorted(files):
            write_file(tmp / rel, files[rel], mode=0o755 if rel in EXECUTABLE else 0o644)
        os.chmod(tmp, 0o755)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_file(path: Path, content, mode: int) -> None:
    from envcapture.manifest.file import write_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(content, "sha256"):
        _copy_staged(path, content, mode)
        return
    write_atomically(path, content, mode=mode)


def _copy_staged(path: Path, staged, mode: int) -> None:
    """Copy a staged file beside its place, check it is still what was hashed, then rename it into place."""
    from envcapture.manifest.file import atomic_output

    check = hashlib.sha256()
    with atomic_output(path, mode) as out, open(staged.path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            check.update(block)
            out.write(block)
        if check.hexdigest() != staged.sha256:  # raised inside: the old file stays, no temporary is left
            raise BadInput(f"{staged.path}: changed while the kit was written; vendor again")
