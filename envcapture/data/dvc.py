"""What DVC already tracks in a project: the outputs in ``dvc.lock`` and in ``*.dvc`` files, as DVC wrote
them (path, md5, size, number of files), without hashing anything again; plus the sha256 of each of those
files, so `check` can tell when the lock changed.

DVC writes YAML; paths in a ``.dvc`` file are relative to its folder and are recorded relative to the
project. This module returns plain records and knows nothing of manifests.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from envcapture.manifest import grammar

SKIPPED_DIRS = {".git", ".dvc", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"}
MAX_WALK_ENTRIES = 200_000
MAX_FILE_BYTES = 64 << 20


@dataclass
class DvcFile:
    path: str  # relative to the project
    sha256: str


@dataclass
class DvcOutput:
    path: str  # relative to the project
    md5: str | None
    size: int | None
    nfiles: int | None
    source: str  # the dvc.lock or .dvc file that records it
    stage: str | None = None


@dataclass
class DvcFacts:
    lock: DvcFile | None
    files: list[DvcFile] = field(default_factory=list)
    outputs: list[DvcOutput] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def uses_dvc(project: Path) -> bool:
    return (project / "dvc.lock").is_file() or (project / ".dvc").is_dir()


def dvc_files(project: Path, warnings: list[str]) -> list[str]:
    """``*.dvc`` files under the project, relative and sorted (a bounded walk that skips VCS and venvs)."""
    found, seen = [], 0
    for folder, dirnames, filenames in os.walk(project):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        seen += len(dirnames) + len(filenames)
        if seen > MAX_WALK_ENTRIES:
            warnings.append(f"stopped looking for .dvc files after {MAX_WALK_ENTRIES} entries")
            break
        for name in filenames:
            if name.endswith(".dvc"):
                found.append(Path(folder, name).relative_to(project).as_posix())
    return sorted(found)


def _read(path: Path) -> bytes:
    """Through the one bounded reader: a regular file, not a link (a stranger's repository may hold a dvc.lock
    that is a link to /dev/zero or to a secret), at most 64 MiB; ValueError otherwise."""
    from envcapture.errors import BadInput
    from envcapture.manifest import reader

    try:
        return reader.read_bytes(path, MAX_FILE_BYTES, "DVC file", follow=False)
    except BadInput as exc:
        raise ValueError(str(exc).removeprefix(f"{path}: ")) from None


def _load_yaml(raw: bytes):
    import yaml  # only for DVC projects

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(raw.decode("utf-8"), Loader=loader)


def _output(entry, base: str, source: str, stage: str | None, warnings: list[str]) -> DvcOutput | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        return None
    path = _output_path(base, entry["path"])
    md5 = entry.get("md5")
    md5 = md5 if isinstance(md5, str) and grammar.is_dvc_hash(md5) else None
    size, nfiles = entry.get("size"), entry.get("nfiles")
    size = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
    nfiles = nfiles if isinstance(nfiles, int) and not isinstance(nfiles, bool) and nfiles >= 0 else None
    if not grammar.is_path(path) or (stage is not None and not grammar.is_text(stage)):
        warnings.append(f"{source}: output {grammar.quote_for_message(path)} not recorded: its name has "
                        "characters a manifest cannot hold")
        return None
    return DvcOutput(path, md5, size, nfiles, source, stage)


def _output_path(base: str, path: str) -> str:
    """Project-relative, ``/``-separated; a URL (an external output, ``s3://``, ``https://user:pw@``) is kept as a
    URL without its credentials: normpath would fold its ``//`` into ``/`` and hide the userinfo from every URL
    rule."""
    if "://" in path:
        from envcapture.manifest.redact import strip_url_credentials

        return strip_url_credentials(path)
    return os.path.normpath(os.path.join(base, path)).replace(os.sep, "/")


def lock_outputs(data, warnings: list[str]) -> list[DvcOutput]:
    outputs = []
    stages = data.get("stages") if isinstance(data, dict) else None
    for stage, body in (stages or {}).items():
        for entry in (body or {}).get("outs", []) if isinstance(body, dict) else []:
            output = _output(entry, "", "dvc.lock", str(stage), warnings)
            if output:
                outputs.append(output)
    return outputs


def _parse(project: Path, relative: str, warnings: list[str]):
    """(sha256, YAML data) of one DVC file, or None with a warning: a broken file never fails freeze."""
    import yaml

    try:
        raw = _read(project / relative)
        return hashlib.sha256(raw).hexdigest(), _load_yaml(raw)
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        warnings.append(f"{relative} could not be read: {exc}")
    except yaml.YAMLError as exc:
        warnings.append(f"{relative} is not valid YAML: {' '.join(str(exc).split())[:200]}")
    return None


def collect(project: Path) -> DvcFacts:
    project = Path(project)
    facts = DvcFacts(lock=None)
    if (project / "dvc.lock").is_file():
        parsed = _parse(project, "dvc.lock", facts.warnings)
        if parsed:
            facts.lock = DvcFile("dvc.lock", parsed[0])
            facts.outputs.extend(lock_outputs(parsed[1], facts.warnings))
    for relative in dvc_files(project, facts.warnings):
        parsed = _parse(project, relative, facts.warnings) if grammar.is_path(relative) else None
        if not parsed:
            continue
        facts.files.append(DvcFile(relative, parsed[0]))
        base = os.path.dirname(relative)
        data = parsed[1]
        for entry in (data.get("outs") or []) if isinstance(data, dict) else []:
            output = _output(entry, base, relative, None, facts.warnings)
            if output:
                facts.outputs.append(output)
    return recordable(facts)


def recordable(facts: DvcFacts) -> DvcFacts:
    """Names as a manifest holds them: a secret in an output's path (an external output's URL with a token in its
    query), a stage or a file name replaced by REDACTED with the manifest gate's rules. Done where the facts are
    made, so that `check` compares them like with like with the recorded ones and never prints the secret."""
    from envcapture.manifest.redact import may_hold_secret, redact_text

    names = [f.path for f in ([facts.lock] if facts.lock else []) + facts.files]
    names += [x for o in facts.outputs for x in (o.path, o.source, o.stage or "")]
    if not may_hold_secret("\n".join(names + facts.warnings)):
        return facts
    for item in ([facts.lock] if facts.lock else []) + facts.files:
        item.path = redact_text(item.path)
    for output in facts.outputs:
        output.path, output.source = redact_text(output.path), redact_text(output.source)
        output.stage = redact_text(output.stage) if output.stage is not None else None
    facts.warnings = [redact_text(w) for w in facts.warnings]
    return facts
