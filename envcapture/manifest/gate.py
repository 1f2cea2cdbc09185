"""The one gate: nothing envcapture writes from a manifest (the manifest, a data sidecar, a kit's or a report's
copy) leaves without passing redaction, conform and validation.

It walks the whole document, every key and value of every section, the ``data`` section and the warnings
included, not a list of sections: a section added later cannot slip past it. Order matters: secrets are
redacted first, on the whole values (a repair that shortens a value must never cut a secret into a shape no
rule knows), then the document is made valid (``conform``), and what conform wrote is scanned again.
A manifest that was clean and valid as it came costs one scan and one validation.

Who calls what:
- ``write_manifest``: freeze (manifest and sidecars; everything is decided before anything is written).
- ``seal``: the same checks on a document in memory, for a writer that writes it its own way.
- ``write_manifest(..., sealed=...)``: ``run`` with its cached environment: sections that came out of this
  gate unchanged are scanned for secrets again but not conformed and validated again.
- ``for_publication``: a writer that publishes a manifest it read (generate's kit copies it into the image,
  report and export quote it): a redacted copy, or the original untouched when there is nothing to redact.
- ``seal_records``: the per-file records of a data sidecar, before they are compressed.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

from envcapture.errors import BadInput

MAX_ROUNDS = 3
# Rules whose match is removed rather than replaced (a URL's userinfo); the others leave REDACTED in its place.
_REMOVED = {"credentials in a URL"}


def seal(manifest: dict, source: str = "redact", sealed=()) -> dict:
    """``manifest`` redacted, conformed and validated (in place where possible; use the returned value).

    Each kind of secret found adds one warning that says it was replaced, which it then was. BadInput when
    the document cannot be made valid.

    ``sealed`` names top-level sections that came out of this gate unchanged before (``run``'s cached
    environment, see run/envcache.py): the whole document is still scanned for secrets, but conform and
    validation look only into the other sections, unless the scan replaced something (then into all)."""
    from envcapture.manifest.conform import conform_and_validate

    if not isinstance(manifest, dict):
        raise BadInput("a manifest is a JSON object")
    manifest, found = _redact(manifest, source)
    sealed = frozenset() if found else frozenset(sealed)
    for _ in range(MAX_ROUNDS):
        if not conform_and_validate(manifest, sealed):
            return manifest  # conform changed nothing: nothing new to scan, and validated once
        manifest, found = _redact(manifest, source)  # conform's notes quote values
        if not found:
            return manifest
    raise BadInput("the manifest could not be made free of secrets and valid at once; nothing was written")


def seal_records(records: list[dict], where: str) -> tuple[list[dict], list[str]]:
    """A data sidecar's per-file records, redacted and checked as the schema checks inline records.

    Names are cleaned where they are made (data/fingerprint.py uses the same rules, so the root hash adds
    up); what is found here anyway is replaced and returned as warnings. BadInput for a record the schema
    would refuse (nothing has been written yet)."""
    from envcapture.manifest import grammar
    from envcapture.manifest.redact import scan_and_redact

    records, found = scan_and_redact(records)
    for number, record in enumerate(records):
        if not _is_file_record(record, grammar):
            raise BadInput(f"{where}: file record {number} is not one a manifest can hold: "
                           f"{grammar.quote_for_message(str(record.get('path')))}")
    warnings = [f"{where}: a {name} was found and {_claim(name)}" for name in sorted(set(found))]
    return records, warnings


def for_publication(manifest: dict, raw: bytes | None = None) -> tuple[dict, bytes | None]:
    """What a writer may publish of a manifest it read: (data, bytes). A manifest with nothing to redact comes
    back as it is (its own bytes, so digests of it stay the same); one with a secret comes back redacted and
    re-serialized. The caller's ``manifest`` is never changed."""
    from envcapture.manifest.redact import scan_and_redact

    if not scan_and_redact(manifest)[1]:
        return manifest, raw
    from envcapture.manifest import file as manifest_file

    sealed = seal(copy.deepcopy(manifest))
    return sealed, manifest_file.dumps(sealed).encode("utf-8")


def write_manifest(manifest: dict, output: str, sidecars=(), force: bool = False, sealed=(), split=None) -> dict:
    """Seal ``manifest``, decide whether ``output`` may be written, then write the sidecars and the manifest.

    ``sidecars`` are (file name, bytes) pairs, already sealed (``seal_records``), written next to the
    manifest. A refusal (an existing file that is not a manifest, a missing folder) writes nothing at all.
    ``output`` "-" is stdout (no sidecars there: every record stays inline). Returns the sealed manifest.
    ``sealed``: as for ``seal``. ``split``: a run record that shares its environment (manifest/shared.py):
    given the sealed manifest, None (write it whole) or (more sidecars, the document to write instead)."""
    from envcapture.manifest import file as manifest_file

    manifest = seal(manifest, sealed=sealed)
    text = manifest_file.dumps(manifest)
    parts = split(manifest) if split is not None and output != "-" else None
    if parts is not None:  # parts of what was sealed: nothing new to check
        sidecars = list(sidecars) + list(parts[0])
        text = manifest_file.dumps(parts[1])
    if output == "-":
        if sidecars:
            raise BadInput("data sidecars cannot go with a manifest written to stdout")
        sys.stdout.write(text)
        return manifest
    path = Path(output)
    manifest_file.refuse_to_write(path, force)
    for name, content in sidecars:
        if os.sep in name or name in (".", ".."):
            raise BadInput(f"{name}: a sidecar is a file next to the manifest")
    try:
        for name, content in sidecars:  # before the manifest that names them
            manifest_file.write_atomically(path.parent / name, content)
        manifest_file.write_atomically(path, text)
    except OSError as exc:
        raise BadInput(manifest_file.write_error(exc, path)) from None
    return manifest


# ---------------------------------------------------------------------------------------------- inside

def _redact(manifest: dict, source: str) -> tuple[dict, list[str]]:
    """The whole document through the final scan, and one warning per kind of secret it replaced."""
    from envcapture.manifest.redact import scan_and_redact

    clean, found = scan_and_redact(manifest)
    warnings = clean.setdefault("warnings", []) if isinstance(clean, dict) else None
    if found and isinstance(warnings, list):
        warnings.extend({"source": source, "message": f"a {name} was found in the collected facts and {_claim(name)}"}
                        for name in sorted(set(found)))
    return clean, found


def _claim(name: str) -> str:
    return "removed" if name in _REMOVED else "replaced by REDACTED"


_RECORD_KEYS = {"path", "size", "hash", "link", "error"}


def _is_file_record(record, grammar) -> bool:
    if not isinstance(record, dict) or not set(record) <= _RECORD_KEYS:
        return False
    if not grammar.check("data-path", record.get("path")):
        return False
    size, digest = record.get("size"), record.get("hash")
    if size is not None and (type(size) is not int or size < 0):
        return False
    if digest is not None and not grammar.check("hex-digest", digest):
        return False
    return all(record.get(key) is None or grammar.check("text", record[key]) for key in ("link", "error"))
