"""An RO-Crate 1.1 (written with the `rocrate` package): the manifest, its HTML report and the Docker kit, with
the metadata research repositories (Zenodo, WorkflowHub) read: authors (and where they were found), a license
entity, a publisher where one is known, and an encodingFormat on every file.

The crate is made in a scratch folder and only then put where the user asked: a .zip is written atomically, a
folder is renamed into place, so a failure leaves nothing half-made.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from envcapture import __version__
from envcapture.export.people import Person, find_authors
from envcapture.export.components import project_package

DEFAULT_LICENSE = "CC-BY-4.0"  # when the project's own license is not recorded

# By file name suffix (the kit's files are known by name); anything else is plain text.
_FORMATS = {".json": "application/json", ".html": "text/html", ".md": "text/markdown", ".txt": "text/plain",
            ".lock": "text/plain", ".sh": "text/x-shellscript", ".yml": "application/yaml",
            ".yaml": "application/yaml", ".toml": "application/toml", ".pem": "application/x-pem-file",
            ".crt": "application/x-pem-file"}
_BY_NAME = {"Dockerfile": "text/x-dockerfile", ".dockerignore": "text/plain"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same crate zips to the same bytes
_COMPRESSED = (".tar.gz", ".tgz")


def encoding_format(name: str) -> str:
    return _BY_NAME.get(name) or _FORMATS.get(Path(name).suffix.lower(), "text/plain")


def write_zip(manifest: dict, manifest_path: Path, out: Path, created: datetime, kit_archive=None) -> None:
    """The crate as a .zip written atomically to ``out``, with an entry for every folder it describes
    (roc-validator requires them); files are streamed, never held whole in memory (a kit archive may be GBs),
    and what is compressed already (the kit archive) is stored as it is."""
    from envcapture.manifest.file import atomic_output

    with tempfile.TemporaryDirectory(prefix="envcapture-crate-") as scratch:
        folder = _build(manifest, manifest_path, created, Path(scratch), kit_archive)
        with atomic_output(out) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                name = path.relative_to(folder).as_posix()
                if path.is_dir():
                    info = zipfile.ZipInfo(name + "/", _ZIP_TIME)
                    info.external_attr = (0o40755 << 16) | 0x10
                    archive.writestr(info, b"")
                elif path.is_file():
                    info = zipfile.ZipInfo(name, _ZIP_TIME)
                    info.external_attr = 0o644 << 16
                    info.compress_type = zipfile.ZIP_STORED if name.endswith(_COMPRESSED) else zipfile.ZIP_DEFLATED
                    size = path.stat().st_size
                    with open(path, "rb") as source, archive.open(info, "w", force_zip64=size >= 1 << 31) as dest:
                        shutil.copyfileobj(source, dest, 1 << 20)


def write_folder(manifest: dict, manifest_path: Path, out: Path, created: datetime, kit_archive=None) -> None:
    """The crate as a new folder: made beside ``out``, then renamed onto it (a missing or empty folder)."""
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        folder = _build(manifest, manifest_path, created, work, kit_archive)
        os.rename(folder, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build(manifest: dict, manifest_path: Path, created: datetime, work: Path, kit_archive=None) -> Path:
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    from envcapture.report.facts import build_report
    from envcapture.report.views import html

    from envcapture.manifest import file as manifest_io

    # The manifest as loaded and validated, not the file again (it could have changed since it was read).
    copy = work / "envcapture.json"
    copy.write_text(manifest_io.dumps(manifest), encoding="utf-8")
    report = work / "report.html"
    report.write_text(html(build_report([manifest], [manifest_path.name])), encoding="utf-8")
    kit = work / "reproduce"
    status = _generate_docker_kit(copy, kit)
    crate = ROCrate(version="1.1")  # the version Zenodo and WorkflowHub read
    root = crate.root_dataset
    root["name"] = f"Computational environment ({manifest_path.name})"
    root["description"] = ("The software environment of this work, recorded by envcapture: the manifest, a "
                           "readable report and a kit that rebuilds it.")
    root["datePublished"] = created.isoformat()
    root["license"] = crate.add(_license_entity(crate, ContextEntity, manifest))
    authors, where = find_authors(manifest_path.parent)
    if authors:
        people = [crate.add(_person_entity(crate, ContextEntity, person, index, where))
                  for index, person in enumerate(authors)]
        root["author"] = people[0] if len(people) == 1 else people  # RO-Crate 1.1: a single value, not [x]
        publisher = next((p.affiliation for p in authors if p.affiliation), None)
        if publisher:
            root["publisher"] = crate.add(ContextEntity(crate, "#publisher", properties={
                "@type": "Organization", "name": publisher,
                "description": f"The first author's affiliation ({where})"}))
        print(f"envcapture: crate authors from {where}: {len(authors)}", file=sys.stderr)
    else:
        print("envcapture: no authors found (CITATION.cff, pyproject.toml, git config user.name): "
              "the crate has none", file=sys.stderr)
    crate.add_file(copy, dest_path="envcapture.json", properties={
        "name": "envcapture manifest", "encodingFormat": "application/json",
        "description": "Every package, the OS, hardware, GPU stack and code state (schema-validated JSON)."})
    crate.add_file(report, dest_path="report.html", properties={
        "name": "Computational environment report", "encodingFormat": "text/html"})
    if status == 0:
        crate.add_dataset(kit, dest_path="reproduce/", properties={
            "name": "Reproduction kit (Dockerfile)",
            "description": "envcapture generate docker: build it with `docker build reproduce`."})
        for path in sorted(kit.rglob("*")):
            relative = f"reproduce/{path.relative_to(kit).as_posix()}"
            if path.is_dir():
                crate.add_dataset(path, dest_path=relative + "/", properties={"name": relative})
            elif path.is_file():
                crate.add_file(path, dest_path=relative, properties={
                    "name": relative, "encodingFormat": encoding_format(path.name)})
    if kit_archive is not None:
        crate.add_file(kit_archive.path, dest_path=kit_archive.name, properties={
            "name": "Reproduction kit, vendored (archive)", "encodingFormat": "application/gzip",
            "contentSize": str(kit_archive.size), "sha256": kit_archive.sha256,
            "description": ("The kit written by envcapture generate --vendor --archive: every wheel and .deb (and "
                            f"the code and data it was made with) inside. tar xzf {kit_archive.name}, then "
                            f"docker build --network none {kit_archive.folder}")})
    tool = crate.add(ContextEntity(crate, "https://pypi.org/project/envcapture/", properties={
        "@type": "SoftwareApplication", "name": "envcapture", "version": __version__}))
    crate.add_action(tool, identifier="#freeze", object=None, result=crate.get("envcapture.json"),
                     properties={"name": "envcapture freeze", "endTime": created.isoformat()})
    folder = work / "crate"
    crate.write(str(folder))
    return folder


def _license_entity(crate, ContextEntity, manifest: dict):
    project = project_package(manifest)
    spdx = project.get("license") if project and project.get("license_kind") == "spdx" else None
    if spdx and _is_single_spdx_id(spdx):
        return ContextEntity(crate, f"https://spdx.org/licenses/{spdx}", properties={
            "@type": "CreativeWork", "name": spdx, "identifier": spdx,
            "description": f"The license of the project {project['name']} (its package metadata)"})
    return ContextEntity(crate, f"https://spdx.org/licenses/{DEFAULT_LICENSE}", properties={
        "@type": "CreativeWork", "name": "Creative Commons Attribution 4.0 International",
        "identifier": DEFAULT_LICENSE,
        "description": "envcapture's default for a crate whose project declares no single SPDX license"})


def _is_single_spdx_id(text: str) -> bool:
    import re

    return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+-]*", text) is not None


def _person_entity(crate, ContextEntity, person: Person, index: int, where: str):
    identifier = person.orcid or f"#author-{index + 1}"
    properties = {"@type": "Person", "name": person.name, "description": f"Author, from {where}"}
    if person.email:
        properties["email"] = person.email
    if person.affiliation:
        properties["affiliation"] = person.affiliation
    return ContextEntity(crate, identifier, properties=properties)


def _generate_docker_kit(manifest_path: Path, kit: Path) -> int:
    """The Docker kit as `envcapture generate docker` writes it; a manifest no kit can be made of costs only the kit."""
    from types import SimpleNamespace

    from envcapture.errors import EnvcaptureError
    from envcapture.render import kit as kit_module
    from envcapture.text import printable

    args = SimpleNamespace(manifest=str(manifest_path), output=str(kit), base_image=None, ca_bundle=None,
                           apt_snapshot=None, hashes=False)
    try:
        command = kit_module.command_line(args, ("docker",))
        kit_module.write_kit(kit, kit_module.build_kit(manifest_path, ("docker",), command=command))
    except EnvcaptureError as exc:
        print(f"envcapture: {printable(exc)}", file=sys.stderr)
        return exc.exit_code
    return 0


# ------------------------------------------------------------------ --kit-archive


@dataclass
class KitArchive:
    path: Path
    name: str  # its file name, the crate's id for it
    folder: str  # the kit's folder inside the archive
    size: int
    sha256: str


_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_KIT_MANIFEST_LIMIT = 64 << 20
_INFLATE_RATIO = 100  # a kit is mostly wheels and .debs, compressed already: real ratios are near 1


def read_kit_archive(path: Path, manifest: dict) -> KitArchive:
    """The archive `generate --archive` wrote, checked before the crate is made: a regular file (no link, FIFO or
    device), a gzip'd tar of one folder holding the kit's index and a manifest equal to the one exported.
    Read once for its sha256 and once as a stream (never unpacked), with a bound on what it may inflate to."""
    from envcapture.errors import BadInput
    from envcapture.manifest import reader
    from envcapture.text import printable

    where = f"--kit-archive {printable(path)}"
    if not str(path).endswith(_COMPRESSED):
        raise BadInput(f"{where}: name the .tar.gz that envcapture generate --archive wrote")
    if not _PLAIN_NAME.fullmatch(path.name):
        raise BadInput(f"{where}: its file name is the crate's name for it: use letters, digits and . _ + - only")
    fd = reader.open_regular(path, "kit archive", follow=False)
    with os.fdopen(fd, "rb") as handle:
        digest, size = hashlib.sha256(), 0
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
        handle.seek(0)
        folders, kit_manifest, indexed = _kit_members(handle, size, where)
    if len(folders) != 1 or kit_manifest is None or not indexed:
        raise BadInput(f"{where}: not a kit archive envcapture wrote (one folder holding envcapture.json and "
                       ".envcapture-files)")
    try:
        recorded = reader.loads(reader.decode(kit_manifest, "envcapture.json", "kit manifest"), "envcapture.json",
                                "kit manifest")
    except BadInput as exc:
        raise BadInput(f"{where}: its envcapture.json cannot be read ({exc})") from None
    if recorded != manifest:
        raise BadInput(f"{where}: its kit was made from another manifest (its envcapture.json differs from the one "
                       "exported); archive the kit of this manifest")
    return KitArchive(path, path.name, folders.pop(), size, digest.hexdigest())


def _kit_members(handle, size: int, where: str):
    import tarfile

    from envcapture.errors import BadInput

    folders, kit_manifest, indexed, inflated = set(), None, False, 0
    limit = _INFLATE_RATIO * size + (1 << 30)
    try:
        with tarfile.open(fileobj=handle, mode="r|gz") as archive:
            for member in archive:
                inflated += member.size
                if inflated > limit:
                    raise BadInput(f"{where}: inflates to more than {_INFLATE_RATIO} times its size; refused")
                top, _, rest = member.name.partition("/")
                folders.add(top)
                if rest == "envcapture.json" and member.isfile():
                    if member.size > _KIT_MANIFEST_LIMIT:
                        raise BadInput(f"{where}: its envcapture.json is over {_KIT_MANIFEST_LIMIT} bytes; refused")
                    kit_manifest = archive.extractfile(member).read()
                elif rest == ".envcapture-files" and member.isfile():
                    indexed = True
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BadInput(f"{where}: not a gzip'd tar archive ({str(exc)[:200]})") from None
    return folders, kit_manifest, indexed
