"""Run records that share one environment: a folder of records made in one environment holds its environment
once, in ``environment-<sha256>.json`` beside them, instead of repeating it in each (``envcapture run``).

A record that shares keeps every section of its own (when, what, git, files, data, the run) and names the
environment by the SHA-256 of that file's bytes: ``"environment": {"file": NAME, "sha256": HEX}`` in place of
the environment's sections (``SECTIONS``). The file holds those sections and the environment's warnings,
serialized the same way every time, so the same environment is the same file: its name is its hash.

Every reader resolves a record through ``file.read_text`` (the one bounded reader): the file beside the record
is read with the same bounds, its hash checked, and the record comes back whole, then validated as any
manifest. A missing or changed file is refused in one line; nothing is read from it. Writers see only whole
manifests, so a kit, a report or an export never publishes a record that needs a file left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from envcapture.errors import BadInput

FORMAT = 1
SECTIONS = ("python", "python_packages", "conda", "os", "system_packages", "shared_libraries", "hardware",
            "determinism", "gpu", "scheduler")
KEY = "environment"
_MARK = '\n  "environment": {'
_NAME = re.compile(r"environment-[0-9a-f]{64}\.json\Z")


def order() -> tuple[str, ...]:
    """The order of a manifest's top-level sections, the schema's own: the resolved record reads as one
    written whole."""
    from envcapture.manifest.schema import build_schema

    return tuple(build_schema()["properties"])


def file_name(digest: str) -> str:
    return f"environment-{digest}.json"


def environment_bytes(sections: dict, warnings: list) -> bytes:
    """The shared file's content: the same environment gives the same bytes."""
    document = {"envcapture_environment": FORMAT, "sections": {name: sections[name] for name in SECTIONS},
                "warnings": warnings}
    return (json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def split(sealed: dict, environment_warnings: list) -> tuple[bytes, str, dict] | None:
    """(the shared file's bytes, its name, the record that names it) of a manifest the gate sealed, or None
    when the gate's own notes are mixed into the environment's warnings (then the record stays whole)."""
    warnings = sealed.get("warnings") or []
    count = len(environment_warnings)
    if warnings[:count] != environment_warnings or any(name not in sealed for name in SECTIONS):
        return None
    content = environment_bytes(sealed, environment_warnings)
    digest = hashlib.sha256(content).hexdigest()
    record: dict = {}
    for key, value in sealed.items():
        if key in SECTIONS:
            if KEY not in record:
                record[KEY] = {"file": file_name(digest), "sha256": digest}
            continue
        record[key] = value
    record["warnings"] = warnings[count:]
    return content, file_name(digest), record


def holds(folder: Path, name: str, content: bytes) -> bool:
    """Whether ``folder`` already holds this environment (a regular file with exactly these bytes)."""
    from envcapture.manifest import reader

    try:
        return reader.read_bytes(folder / name, len(content) + 1, "shared environment", follow=False) == content
    except BadInput:
        return False


def refers(text: str) -> bool:
    """Whether a manifest's text may name a shared environment (decided by parsing it: ``resolve``)."""
    return _MARK in text[:8192]


def resolve(text: str, where: str, limit: int, dumps) -> str:
    """The record's text with the shared environment put back (read with at most ``limit`` bytes, written back
    with manifest.file's ``dumps``); the text itself when it names none."""
    from envcapture.manifest import reader

    record = reader.loads(text, where, "manifest")
    link = record.get(KEY) if isinstance(record, dict) else None
    if link is None:
        return text
    name, digest = (link.get("file"), link.get("sha256")) if isinstance(link, dict) else (None, None)
    if not isinstance(name, str) or not _NAME.match(name) or name != file_name(str(digest)):
        raise BadInput(f"{where}: the shared environment it names is not one envcapture writes "
                       "(environment-<sha256>.json beside the record)")
    beside = Path(os.path.dirname(where) or ".") / name
    try:
        raw = reader.read_bytes(beside, limit, "shared environment", follow=False)
    except BadInput as exc:
        why = str(exc).rpartition(f"{beside}: ")[2] or str(exc)
        raise BadInput(f"{where}: its environment is in {name} beside it, which cannot be read ({why}): copy "
                       "that file with the record") from None
    if hashlib.sha256(raw).hexdigest() != digest:
        raise BadInput(f"{where}: {name} does not match the SHA-256 the record names (changed since the run); "
                       "nothing was read from it")
    shared = reader.loads(reader.decode(raw, str(beside), "shared environment"), str(beside), "shared environment")
    if (not isinstance(shared, dict) or shared.get("envcapture_environment") != FORMAT
            or not isinstance(shared.get("sections"), dict) or set(shared["sections"]) != set(SECTIONS)
            or not isinstance(shared.get("warnings"), list)):
        raise BadInput(f"{beside}: not an envcapture shared environment")
    whole = {**{k: v for k, v in record.items() if k != KEY}, **shared["sections"]}
    whole["warnings"] = shared["warnings"] + (record.get("warnings") if isinstance(record.get("warnings"), list)
                                              else [record.get("warnings")])
    ordered = {key: whole[key] for key in order() if key in whole}
    ordered.update((key, value) for key, value in whole.items() if key not in ordered)
    return dumps(ordered)
