"""Purpose-built site-packages folders: dist-info (or egg-info) folders written file by file, as installers
leave them, so a test controls every detail (header case, REQUESTED, INSTALLER, direct_url.json, duplicates)."""

from __future__ import annotations

import json
from pathlib import Path


def dist_info(site: Path, name: str, version: str, *, folder: str | None = None, requires=(), requested=False,
              installer: str | None = None, direct_url: dict | None = None, header_case=str.title) -> Path:
    """Write ``<folder>/METADATA`` (and REQUESTED, INSTALLER, direct_url.json when asked) under ``site``.

    ``folder`` defaults to what pip writes (``Foo_Bar-1.0.dist-info``); ``header_case`` spells the header
    names (METADATA's keys are case-insensitive: some tools write ``name:`` or ``NAME:``)."""
    path = site / (folder or f"{name.replace('-', '_')}-{version}.dist-info")
    path.mkdir(parents=True)
    lines = [f"{header_case('metadata-version')}: 2.1", f"{header_case('name')}: {name}",
             f"{header_case('version')}: {version}"]
    lines += [f"{header_case('requires-dist')}: {requirement}" for requirement in requires]
    # The body after the blank line is the long description: it must never be read as headers.
    (path / "METADATA").write_text("\n".join(lines) + "\n\nName: not-a-header\nVersion: 0\n", encoding="utf-8")
    if requested:
        (path / "REQUESTED").write_text("")
    if installer is not None:
        (path / "INSTALLER").write_text(installer + "\n")
    if direct_url is not None:
        (path / "direct_url.json").write_text(json.dumps(direct_url))
    return path
