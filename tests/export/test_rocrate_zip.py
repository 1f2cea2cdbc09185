"""envcapture/export/rocrate.py's write_zip on a real manifest and citation file: each author an entity of its own
(an ORCID, else #author-N numbered from 1 in the citation file's order), and folder entries that unzip's zipinfo
reads as folders anyone may enter; roc-validator passes the crate."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

from envcapture.export import rocrate
from envcapture.manifest import file as manifest_io
from envcapture.manifest.grammar import parse_iso_datetime

ML = Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "ml-editable.json"
ORCID = "https://orcid.org/0000-0002-1825-0097"


def test_each_author_is_an_entity_and_folders_are_folders(tmp_path, monkeypatch):
    from .roc import validate

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ML, project / "envcapture.json")
    (project / "CITATION.cff").write_text(
        "cff-version: 1.2.0\nmessage: cite\ntitle: mlproj\nauthors:\n"
        f'  - name: "Ada Byron"\n    orcid: "{ORCID}"\n  - name: "Jo Smith"\n  - name: "Ana Lima"\n'
        '  - given-names: "Bo"\n    family-names: "Chen"\n')
    manifest = manifest_io.load(project / "envcapture.json")
    crate = tmp_path / "crate.zip"
    rocrate.write_zip(manifest, project / "envcapture.json", crate, parse_iso_datetime(manifest["created"]))
    passed, issues = validate(crate, monkeypatch)
    assert passed, issues
    with zipfile.ZipFile(crate) as archive:
        graph = {e["@id"]: e for e in json.loads(archive.read("ro-crate-metadata.json"))["@graph"]}
        infos = archive.infolist()
    authors = [graph[a["@id"]] for a in graph["./"]["author"]]
    assert [(a["@id"], a["name"]) for a in authors] == [
        (ORCID, "Ada Byron"), ("#author-2", "Jo Smith"), ("#author-3", "Ana Lima"), ("#author-4", "Bo Chen")]
    # zipinfo (Info-ZIP) reads each folder entry as a folder anyone may enter; the MS-DOS directory bit is set
    # for the extractors that read only that
    listing = subprocess.run(["unzip", "-Z", str(crate)], capture_output=True, text=True, check=True).stdout
    folders = [line.split()[0] for line in listing.splitlines() if line.rstrip().endswith("/")]
    assert len(folders) >= 2 and set(folders) == {"drwxr-xr-x"}, listing
    for info in infos:
        assert bool(info.external_attr & 0x10) == info.is_dir(), info.filename
