"""Load, validate and save manifests. The model itself is the JSON Schema in ``manifest_schema.py``.

A manifest is plain JSON data (dicts and lists): probes build typed records and freeze turns them into
this shape; everything downstream reads it after ``load`` has validated it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from envcapture import SCHEMA_VERSION
from envcapture.errors import BadInput

from envcapture.manifest.reader import MAX_MANIFEST_BYTES  # noqa: F401  (the name callers use)


def schema() -> dict:
    from envcapture.manifest.schema import build_schema

    return build_schema()


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=False) + "\n"


def dumps(manifest: dict) -> str:
    """Indented JSON, except that each record of a long list (packages, files) is one compact line.

    One line per package diffs well in git, and it lets the C encoder do the bulk of the work: json's
    indenting encoder is pure Python and took most of freeze's time on 10,000 packages.
    """
    return _dump(manifest, 0) + "\n"


def _dump(value, level: int) -> str:
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(key, ensure_ascii=False)}: {_dump(item, level + 1)}"
                 for key, item in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        if len(value) > 8 or all(not isinstance(item, (dict, list)) for item in value):
            lines = [inner + json.dumps(item, ensure_ascii=False, separators=(", ", ": ")) for item in value]
        else:
            lines = [inner + _dump(item, level + 1) for item in value]
        return "[\n" + ",\n".join(lines) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def json_path(parts) -> str:
    from envcapture.manifest.validator import json_path as path_text

    return path_text(parts)


_CHECKS: dict = {}


def _compiled_check(sealed: frozenset = frozenset()):
    """The schema compiled once per process (``cluster`` diffs hundreds of manifests in one run); with
    ``sealed``, the schema in which those top-level sections are taken as they are (see gate.seal)."""
    if sealed not in _CHECKS:
        from envcapture.manifest import grammar
        from envcapture.manifest.validator import compile_schema

        document = schema()
        document["properties"] = {name: ({} if name in sealed else rule)
                                  for name, rule in document["properties"].items()}
        _CHECKS[sealed] = compile_schema(document, {name: rule for name, (rule, _) in grammar.RULES.items()})
    return _CHECKS[sealed]


def find_problems(manifest, sealed: frozenset = frozenset()) -> list:
    """Every way ``manifest`` breaks the schema, as ``schema_check.Problem`` records (path, rule, value);
    the top-level sections named in ``sealed`` are not looked into (only the gate passes it)."""
    from envcapture.manifest.validator import Problem

    if not isinstance(manifest, dict):
        return [Problem((), "type", manifest, ["object"])]
    problems_found = _compiled_check(frozenset(sealed))(manifest)
    problems_found.sort(key=lambda p: list(map(str, p.path)))
    return problems_found


def problems(manifest) -> list[str]:
    """Every way ``manifest`` breaks the schema, one line each: JSON path, bad value, rule."""
    if not isinstance(manifest, dict):
        return ["(top level): a manifest is a JSON object"]
    version = manifest.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        return [f"schema_version: this manifest is version {version}, this envcapture "
                f"reads version {SCHEMA_VERSION}: upgrade envcapture"]
    return [problem.message() for problem in find_problems(manifest)]


def how_many(found: list) -> str:
    """The count of problems as a user may read it: the validator stops at MAX_PROBLEMS (a hostile manifest
    could hold millions), so a full list is "N or more", never N."""
    from envcapture.manifest.validator import MAX_PROBLEMS

    return f"{len(found)} or more problems" if len(found) >= MAX_PROBLEMS else f"{len(found)} problem(s)"


def validate(manifest) -> dict:
    found = problems(manifest)
    if found:
        raise BadInput(f"invalid manifest: {how_many(found)}", found)
    return manifest


def load(path: str | os.PathLike) -> dict:
    """Read and validate a manifest through the bounded reader; every failure is one clear BadInput."""
    from envcapture.manifest import reader

    return validate_loaded(reader.loads(read_text(path), os.fspath(path), "manifest"), os.fspath(path))


def read_text(path: str | os.PathLike) -> str:
    """A manifest file's text, through the bounded reader (a regular file of at most MAX_MANIFEST_BYTES); a
    run record that shares its environment (manifest/shared.py) comes back whole."""
    from envcapture.manifest import reader

    where = os.fspath(path)
    try:
        text = reader.read_text(path, MAX_MANIFEST_BYTES, "manifest")
    except BadInput as exc:
        if str(exc) == f"{where}: no such file":
            raise BadInput(f"{where}: no such file (run `envcapture freeze` to make one)") from None
        raise
    from envcapture.manifest import shared

    return shared.resolve(text, where, MAX_MANIFEST_BYTES, dumps) if shared.refers(text) else text  # a run record sharing its environment


def loads(text: str, where: str) -> dict:
    """The same for a manifest that arrived as text (``gather``'s frames)."""
    from envcapture.manifest import reader

    if len(text) > MAX_MANIFEST_BYTES:
        raise BadInput(f"{where}: {len(text)} characters is too large for a manifest")
    return validate_loaded(reader.loads(text, where, "manifest"), where)


def validate_loaded(data, where: str) -> dict:
    found = problems(data)
    if found:
        raise BadInput(f"{where}: invalid manifest ({how_many(found)})", found)
    return data


def is_manifest_file(path: Path) -> bool:
    """True when ``path`` holds something envcapture wrote (so overwriting it loses nothing foreign).

    Only a regular file can be one: a FIFO named as the output must not hang the check, nor a device feed it.
    """
    from envcapture.manifest import reader

    try:
        fd = reader.open_regular(path)
    except BadInput:
        return False
    try:
        head = os.read(fd, 4096)
    except OSError:
        return False
    finally:
        os.close(fd)
    return b'"schema_version"' in head and b'"envcapture"' in head


@contextlib.contextmanager
def atomic_output(path: Path, mode: int = 0o644):
    """A binary file to write ``path``'s new content into: a fresh temporary file beside it (mkstemp: never an
    existing name a stranger could have linked elsewhere), fsynced, then renamed over ``path``. An exception
    inside the block leaves the old file as it was and no temporary behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_atomically(path: Path, content: str | bytes, mode: int = 0o644) -> None:
    """Temporary file in the same folder, fsync, rename: an interrupted write leaves the old file intact."""
    with atomic_output(path, mode) as handle:
        handle.write(content if isinstance(content, bytes) else content.encode("utf-8"))


def save(manifest: dict, path: str | os.PathLike, force: bool = False) -> None:
    path = Path(path)
    refuse_to_write(path, force)
    try:
        write_atomically(path, dumps(manifest))
    except OSError as exc:
        raise BadInput(write_error(exc, path)) from None


def refuse_to_write(path: Path, force: bool = False) -> None:
    """BadInput when a manifest may not be written to ``path``; checked before anything is written."""
    if os.path.islink(path) and not path.exists():
        raise BadInput(f"{path}: is a dangling symbolic link; name a file to write the manifest to")
    refuse_special_output(path)
    if path.exists() and not force and not is_manifest_file(path):
        raise BadInput(f"{path}: exists and is not an envcapture manifest; use --force to overwrite it")
    if not path.parent.is_dir():
        raise BadInput(f"{path}: the folder {path.parent} does not exist (create it first)")


def refuse_special_output(path: Path) -> None:
    """A folder, FIFO, device or socket is never replaced by a file, not even with --force (as root, renaming
    over /dev/null would replace the device node)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISDIR(mode):
        raise BadInput(f"{path}: is a directory")
    if not stat.S_ISREG(mode):
        from envcapture.manifest.reader import describe_mode

        raise BadInput(f"{path}: is {describe_mode(mode)}, not a file envcapture writes to")


def write_error(exc: OSError, where: Path) -> str:
    """One line for a failed write; the old file is intact (writes go to a temporary file, then a rename)."""
    import errno

    reasons = {errno.ENOSPC: "no space left on the device", errno.EROFS: "the file system is read-only",
               errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.EDQUOT: "disk quota exceeded", errno.ENOENT: "no such folder"}
    reason = reasons.get(exc.errno, exc.strerror or str(exc))
    return f"{where}: cannot write ({reason}); nothing was replaced"
