"""Load, validate and save manifests. The model itself is the JSON Schema in ``manifest_schema.py``.

A manifest is plain JSON data (dicts and lists): probes build typed records and freeze turns them into
this shape; everything downstream reads it after ``load`` has validated it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from envcapture import SCHEMA_VERSION
from envcapture.errors import BadInput

MAX_MANIFEST_BYTES = 256 * 1024 * 1024


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


_CHECK = None


def _compiled_check():
    """The schema compiled once per process (``cluster`` diffs hundreds of manifests in one run)."""
    global _CHECK
    if _CHECK is None:
        from envcapture.manifest import grammar
        from envcapture.manifest.validator import compile_schema

        _CHECK = compile_schema(schema(), {name: rule for name, (rule, _) in grammar.RULES.items()})
    return _CHECK


def find_problems(manifest) -> list:
    """Every way ``manifest`` breaks the schema, as ``schema_check.Problem`` records (path, rule, value)."""
    from envcapture.manifest.validator import Problem

    if not isinstance(manifest, dict):
        return [Problem((), "type", manifest, ["object"])]
    problems_found = _compiled_check()(manifest)
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


def validate(manifest) -> dict:
    found = problems(manifest)
    if found:
        raise BadInput(f"invalid manifest: {len(found)} problem(s)", found)
    return manifest


def load(path: str | os.PathLike) -> dict:
    """Read and validate a manifest; every failure is one clear BadInput."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise BadInput(f"{path}: {size} bytes is too large for a manifest")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file (run `envcapture freeze` to make one)") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, not a manifest") from None
    except PermissionError:
        raise BadInput(f"{path}: permission denied") from None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise BadInput(f"{path}: JSON nested too deeply: not an envcapture manifest") from None
    except _NotJSON as exc:
        raise BadInput(f"{path}: not valid JSON: {exc} is not a JSON number") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text at byte {exc.start}: not an envcapture manifest") from None
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(raw.rstrip()) - 1 else ""
        raise BadInput(f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}") from None
    found = problems(data)
    if found:
        raise BadInput(f"{path}: invalid manifest ({len(found)} problem(s))", found)
    return data


class _NotJSON(ValueError):
    pass


def _refuse_constant(name: str):
    """Python's json reads NaN and Infinity, which are not JSON and which no other tool would read back."""
    raise _NotJSON(name)


def is_manifest_file(path: Path) -> bool:
    """True when ``path`` holds something envcapture wrote (so overwriting it loses nothing foreign)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
        return b'"schema_version"' in head and b'"envcapture"' in head
    except OSError:
        return False


def write_atomically(path: Path, content: str | bytes, mode: int = 0o644) -> None:
    """Temporary file in the same folder, fsync, rename: an interrupted write leaves the old file intact."""
    path = Path(path)
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
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


def save(manifest: dict, path: str | os.PathLike, force: bool = False) -> None:
    path = Path(path)
    if os.path.islink(path) and not path.exists():
        raise BadInput(f"{path}: is a dangling symbolic link; name a file to write the manifest to")
    if path.exists() and not force and not is_manifest_file(path):
        raise BadInput(f"{path}: exists and is not an envcapture manifest; use --force to overwrite it")
    if path.is_dir():
        raise BadInput(f"{path}: is a directory")
    if not path.parent.is_dir():
        raise BadInput(f"{path}: the folder {path.parent} does not exist (create it first)")
    try:
        write_atomically(path, dumps(manifest))
    except OSError as exc:
        raise BadInput(write_error(exc, path)) from None


def write_error(exc: OSError, where: Path) -> str:
    """One line for a failed write; the old file is intact (writes go to a temporary file, then a rename)."""
    import errno

    reasons = {errno.ENOSPC: "no space left on the device", errno.EROFS: "the file system is read-only",
               errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.EDQUOT: "disk quota exceeded", errno.ENOENT: "no such folder"}
    reason = reasons.get(exc.errno, exc.strerror or str(exc))
    return f"{where}: cannot write ({reason}); nothing was replaced"
