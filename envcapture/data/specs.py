"""The manifest's ``data`` section: which data sets to record, how each is named and located, and where
their per-file records go (inline, or a compressed sidecar file next to the manifest above INLINE_LIMIT).

The facts themselves come from ``probes/data.py`` (files and hashes) and ``probes/dvc.py`` (what DVC
tracks); this module turns them into manifest data and back.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from envcapture.manifest import grammar
from envcapture.errors import BadInput

INLINE_LIMIT = 10_000
ROLES = ("raw", "derived")
SIDECAR_FORMAT = 1
# A sidecar is untrusted input like the manifest: refuse absurd sizes before decompressing.
MAX_SIDECAR_BYTES = 2 << 30
MAX_SIDECAR_RECORDS = 50_000_000


@dataclass
class DataSpec:
    path: str  # as the user wrote it
    base: Path  # the folder a relative ``path`` is relative to
    name: str | None = None
    role: str | None = None
    excludes: tuple[str, ...] = ()
    origin: str = "--data"  # where the spec came from, for messages


@dataclass
class Sidecar:
    file_name: str
    content: bytes
    sha256: str


@dataclass
class DataSection:
    section: dict
    sidecars: list[Sidecar] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------- which data sets

def specs_from_pyproject(project: Path) -> list[DataSpec]:
    """``[tool.envcapture] data = ["data/raw", {path = "data/out", role = "derived", exclude = ["*.tmp"]}]``."""
    pyproject = project / "pyproject.toml"
    from envcapture.manifest import reader

    try:
        raw = reader.read_bytes(pyproject, 16 << 20, "pyproject.toml")  # a FIFO here must not hang freeze
    except BadInput:
        return []
    if b"tool.envcapture" not in raw:  # the common case costs no TOML parsing
        return []
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        config = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{pyproject}: not valid TOML: {exc}") from None
    entries = config.get("tool", {}).get("envcapture", {}).get("data", [])
    where = f"{pyproject} [tool.envcapture] data"
    if not isinstance(entries, list):
        raise BadInput(f"{where}: expected a list of paths or tables")
    specs = []
    for entry in entries:
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise BadInput(f"{where}: each entry is a path or a table with a path, not {entry!r}")
        unknown = set(entry) - {"path", "name", "role", "exclude"}
        if unknown:
            raise BadInput(f"{where}: unknown key {sorted(unknown)[0]!r} (path, name, role, exclude)")
        role = entry.get("role")
        if role is not None and role not in ROLES:
            raise BadInput(f"{where}: role {role!r} is not raw or derived")
        name = entry.get("name")
        if name is not None and not (isinstance(name, str) and grammar.is_identifier(name)):
            raise BadInput(f"{where}: name {name!r} is not a plain identifier (letters, digits, . _ + -)")
        excludes = entry.get("exclude", [])
        if not isinstance(excludes, list) or not all(isinstance(e, str) for e in excludes):
            raise BadInput(f"{where}: exclude is a list of glob patterns")
        specs.append(DataSpec(entry["path"], project, name, role, tuple(excludes), "pyproject.toml"))
    return specs


def recorded_path(absolute: Path, project: Path, home: str) -> str:
    """Relative to the project when inside it, else with the home folder written as ``~``."""
    from envcapture.probes import home_relative

    try:
        text = absolute.relative_to(project).as_posix() or "."
    except ValueError:
        text = home_relative(str(absolute), home)
    if not grammar.is_path(text):
        raise BadInput(f"data set {grammar.quote_for_message(text)}: the path has characters a manifest "
                       "cannot hold (quotes, $, backslash or line breaks); rename or link it")
    return text


def resolve_recorded(path: str, base: Path, home: str | None = None) -> Path:
    """Where a recorded data set path points on this machine (relative paths against ``base``)."""
    if path == "~" or path.startswith("~/"):
        return Path(home or os.path.expanduser("~")) / path[2:]
    return Path(path) if os.path.isabs(path) else base / path


@dataclass(frozen=True)
class DataPlaces:
    """Where a manifest's data sets are on this machine. Freeze records a data set inside the project relative to
    the project (as run records record their outputs), not to the manifest, which ``-o`` may put anywhere: so a
    relative path is resolved against the project folder the manifest records, and against the manifest's folder
    only when it records none or that folder is not on this machine (a manifest moved to another machine, beside
    its data). Sidecars always lie beside the manifest."""
    manifest_dir: Path
    base: Path  # what a relative recorded path is relative to
    project: str | None = None  # the project folder as the manifest records it (filesystem.project.root)
    project_found: bool = False  # the recorded project folder is a folder here (then it is ``base``)

    def resolve(self, path: str) -> Path:
        return resolve_recorded(path, self.base)

    @property
    def apart(self) -> bool:
        """The recorded project folder is here and is not the manifest's folder."""
        return self.project_found and os.path.realpath(self.base) != os.path.realpath(self.manifest_dir)

    def looked(self, path: str) -> str:
        """Where a recorded ``path`` was looked for, for a message ("" when the path or the manifest's place says
        it: an absolute path, or a manifest in its project folder)."""
        if not is_relative(path) or self.project_found and not self.apart:
            return ""
        if self.project_found:
            return f"looked in the project folder the manifest records, {self.base}"
        if self.project is not None:
            return (f"looked in the manifest's folder: the project folder the manifest records, {self.project}, "
                    "is not on this machine")
        return "looked in the manifest's folder: the manifest records no project folder"


def is_relative(path: str) -> bool:
    """A recorded path that needs a base folder (neither absolute nor home-relative)."""
    return not (path == "~" or path.startswith("~/") or os.path.isabs(path))


def data_places(manifest: dict, manifest_dir: str | os.PathLike) -> DataPlaces:
    """The one answer, for every command, to where a manifest's recorded data set paths point here."""
    manifest_dir = Path(manifest_dir)
    project = ((manifest.get("filesystem") or {}).get("project") or {}).get("root")
    if not isinstance(project, str) or is_relative(project):
        return DataPlaces(manifest_dir, manifest_dir)  # freeze writes it absolute or home-relative, never else
    folder = resolve_recorded(project, manifest_dir)
    try:
        found = folder.is_dir()
        same = found and os.path.realpath(folder) == os.path.realpath(manifest_dir)
    except (OSError, ValueError):
        found = same = False
    # the manifest in its project folder: paths shown as before, relative to where the user named the manifest
    return DataPlaces(manifest_dir, manifest_dir if same or not found else folder, project, found)


def default_name(absolute: Path, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._+-]+", "-", absolute.name).lstrip("._+-")[:100] or "data"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name


def previous_roles(output: str | None) -> dict[str, str]:
    """Roles recorded in the manifest being replaced: a data set protected as raw stays raw on re-freeze."""
    if not output or output == "-":
        return {}
    from envcapture.manifest import reader

    try:
        old = reader.read_json(output)  # -o may name a FIFO or a device: refused by save, never read here
        return {s["path"]: s["role"] for s in (old.get("data") or {}).get("sets", [])
                if s.get("role") in ROLES and isinstance(s.get("path"), str)}
    except (BadInput, AttributeError, TypeError, KeyError):
        return {}


# ---------------------------------------------------------------------------------------- freeze

def collect(specs: list[DataSpec], project: Path, algorithm: str, use_cache: bool, manifest_name: str | None,
            roles: dict[str, str] | None = None, home: str | None = None, progress=None) -> DataSection:
    """Fingerprint every data set of ``specs``; ``manifest_name`` None keeps every record inline (stdout)."""
    from envcapture.data.cache import FingerprintCache
    from envcapture.data import fingerprint as data_probe
    from envcapture.data import dvc as dvc_probe
    from envcapture.manifest.redact import redact_text
    from envcapture.probes import to_data

    home = os.path.expanduser("~") if home is None else home
    project = Path(os.path.abspath(project))
    roles = roles or {}
    warnings: list[str] = []
    cache = FingerprintCache.open(warn=warnings.append) if use_cache and specs else None
    sets, sidecars, taken = [], [], set()
    try:
        for spec in specs:
            absolute = Path(os.path.abspath(os.path.join(spec.base, os.path.expanduser(spec.path))))
            path_text = redact_text(recorded_path(absolute, project, home))
            name = spec.name if spec.name and redact_text(spec.name) == spec.name \
                else default_name(Path(redact_text(spec.name or absolute.name)), taken)
            if name in taken:
                raise BadInput(f"data set name {name!r} is used twice ({spec.origin}); names are unique")
            taken.add(name)
            try:
                facts = data_probe.fingerprint(absolute, algorithm, spec.excludes, cache, home,
                                               progress(name) if progress else None)
            except data_probe.DataSetError as exc:
                raise BadInput(f"{spec.origin} {exc}") from None
            warnings.extend(f"data set {name}: {message}" for message in facts.warnings)
            role = spec.role or roles.get(path_text) or "derived"
            record, sidecar = set_record(name, path_text, role, spec.excludes, facts, manifest_name, warnings)
            sets.append(record)
            if sidecar:
                sidecars.append(sidecar)
    finally:
        if cache is not None:
            cache.close(warnings.append)
    section = {"sets": sets}
    if dvc_probe.uses_dvc(project):
        facts = dvc_probe.collect(project)
        warnings.extend(f"dvc: {message}" for message in facts.warnings)
        section["dvc"] = {"lock": to_data(facts.lock), "files": to_data(facts.files),
                          "outputs": to_data(facts.outputs)}
    return DataSection(section, sidecars, warnings)


def set_record(name: str, path_text: str, role: str, excludes, facts, manifest_name: str | None,
               warnings: list[str] | None = None):
    record = {
        "name": name,
        "path": path_text,
        "kind": facts.kind,
        "role": role,
        "algorithm": facts.algorithm,
        "root_hash": facts.root_hash,
        "file_count": facts.file_count,
        "total_bytes": facts.total_bytes,
        "unreadable": sum(1 for f in facts.files if f.error is not None),
        "excludes": list(excludes),
        "read_only": facts.read_only,
        "files": None,
        "sidecar": None,
    }
    if manifest_name is None or facts.file_count <= INLINE_LIMIT:
        record["files"] = [f.to_json() for f in facts.files]
        return record, None
    sidecar = make_sidecar(manifest_name, record, facts.files, warnings)
    record["sidecar"] = {"file": sidecar.file_name, "sha256": sidecar.sha256}
    return record, sidecar


def make_sidecar(manifest_name: str, record: dict, files, warnings: list[str] | None = None) -> Sidecar:
    """JSON lines, gzip'd without a timestamp: the same records always give the same bytes and name. The
    records pass the manifest gate first (redacted, checked as inline records are)."""
    from envcapture.manifest.gate import seal_records

    header = {"envcapture_data_sidecar": SIDECAR_FORMAT, "name": record["name"],
              "algorithm": record["algorithm"], "root_hash": record["root_hash"]}
    records, found = seal_records([f.to_json() for f in files], f"data set {record['name']}")
    if warnings is not None:
        warnings.extend(found)
    lines = [json.dumps(header, separators=(",", ":"))]
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    lines.extend(dumps(r) for r in records)
    import gzip

    content = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=6, mtime=0)
    digest = hashlib.sha256(content).hexdigest()
    return Sidecar(f"{sidecar_stem(manifest_name)}.{record['name']}.{digest[:24]}.jsonl.gz", content, digest)


def sidecar_stem(manifest_name: str) -> str:
    """The manifest's file name without .json, in characters any path rule accepts (a quote or a $ in the
    manifest's name must not make its sidecar's name one the schema refuses)."""
    stem = Path(manifest_name).name
    stem = stem[:-5] if stem.endswith(".json") else stem
    return re.sub(r"[^A-Za-z0-9._+-]", "_", stem) or "manifest"


def write_sidecars(sidecars: list[Sidecar], manifest_path: Path) -> None:
    from envcapture.manifest.file import write_atomically

    for sidecar in sidecars:
        write_atomically(Path(manifest_path).parent / sidecar.file_name, sidecar.content)


def add_to_manifest(manifest: dict, section: dict, warnings: list[str]) -> None:
    """The data section goes before ``host`` and ``warnings``, which stay last."""
    from envcapture.text import one_line

    tail = {key: manifest.pop(key) for key in ("host", "warnings") if key in manifest}
    manifest["data"] = section
    manifest.update(tail)
    manifest.setdefault("warnings", []).extend({"source": "data", "message": one_line(m)} for m in warnings)


# ---------------------------------------------------------------------------------------- check

class SidecarProblem(Exception):
    pass


# A sidecar inflates to at most this many times its size (real ones: 2 to 3; a gzip bomb: about 1000).
MAX_INFLATE_RATIO = 64


def recorded_files(record: dict, manifest_dir: Path):
    """The recorded per-file records of a data set as FileRecords, or (None, why not)."""
    from envcapture.data.fingerprint import FileRecord

    if record.get("files") is not None:
        return [FileRecord(**f) for f in record["files"]], None
    sidecar = record.get("sidecar")
    if not sidecar:
        return None, "the manifest holds no per-file records"
    try:
        return read_sidecar(Path(manifest_dir), sidecar["file"], sidecar["sha256"], record), None
    except SidecarProblem as exc:
        return None, f"its sidecar {grammar.quote_for_message(sidecar['file'])} {exc}"


def sidecar_bytes(manifest_dir: Path, name: str) -> bytes:
    """The sidecar's bytes, through the one bounded reader: a plain name in the manifest's folder, a regular
    file (no link, FIFO or device), at most MAX_SIDECAR_BYTES. SidecarProblem otherwise."""
    from envcapture.manifest import reader

    if not name or "/" in name or name in (".", "..") or not grammar.is_path(name):
        raise SidecarProblem("is not a file name in the manifest's folder (refused)")
    try:
        folder = os.open(manifest_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SidecarProblem(f"could not be read: {exc.strerror}") from None
    try:
        if not os.path.lexists(os.path.join(manifest_dir, name)):
            raise SidecarProblem("is not next to the manifest")
        fd = reader.open_regular(name, "data sidecar", follow=False, dir_fd=folder)
        try:
            return reader.read_fd(fd, MAX_SIDECAR_BYTES, name, "data sidecar")
        finally:
            os.close(fd)
    except BadInput as exc:
        raise SidecarProblem(f"refused: {str(exc).removeprefix(name + ': ')}") from None
    finally:
        os.close(folder)


def read_sidecar(manifest_dir: Path, name: str, sha256: str, record: dict):
    """Per-file records from a sidecar, after checking its hash, every record's grammar, their order (no path
    twice), their number against the data set's file count, and the root hash."""
    from envcapture.data.fingerprint import FileRecord, root_hash
    from envcapture.manifest import reader

    content = sidecar_bytes(manifest_dir, name)
    if hashlib.sha256(content).hexdigest() != sha256:
        raise SidecarProblem("does not match the sha256 the manifest records (edited or replaced)")
    expected = record.get("file_count")
    try:
        text = reader.gunzip(content, MAX_INFLATE_RATIO * len(content) + (1 << 20), name, "data sidecar")
        lines = reader.decode(text, name, "data sidecar").split("\n")
    except BadInput as exc:
        raise SidecarProblem(f"is damaged: {str(exc).removeprefix(name + ': ')}") from None
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise SidecarProblem("is empty")
    header = _json_line(lines[0], 1, reader)
    if not isinstance(header, dict) or header.get("envcapture_data_sidecar") != SIDECAR_FORMAT:
        raise SidecarProblem("is not an envcapture data sidecar of format 1")
    records, previous = [], None
    for number, line in enumerate(lines[1:], start=2):
        item = _file_record(_json_line(line, number, reader), number, FileRecord)
        key = item.path.encode("utf-8")
        if previous is not None and key <= previous:
            raise SidecarProblem(f"line {number}: {grammar.quote_for_message(item.path)} is out of order or "
                                 "recorded twice")
        previous = key
        records.append(item)
    if expected is not None and len(records) != expected:  # the schema requires it in a manifest
        raise SidecarProblem(f"holds {len(records)} file records, the manifest says {expected}")
    if root_hash(records, record["algorithm"]) != record["root_hash"]:
        raise SidecarProblem("does not add up to the recorded root hash")
    return records


def _json_line(line: str, number: int, reader):
    try:
        return reader.loads(line, f"line {number}", "data sidecar")
    except BadInput as exc:
        raise SidecarProblem(f"is damaged: {exc}") from None


_RECORD_KEYS = {"path", "size", "hash", "link", "error"}


def _file_record(item, number: int, record_type):
    if not isinstance(item, dict) or not set(item) <= _RECORD_KEYS or not grammar.check("data-path", item.get("path")):
        raise SidecarProblem(f"line {number}: not a file record")
    size, digest = item.get("size"), item.get("hash")
    if (size is not None and (type(size) is not int or size < 0)) \
            or (digest is not None and not grammar.check("hex-digest", digest)) \
            or any(item.get(k) is not None and not grammar.check("text", item[k]) for k in ("link", "error")):
        raise SidecarProblem(f"line {number}: not a file record")
    return record_type(**item)
