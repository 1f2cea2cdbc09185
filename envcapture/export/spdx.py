"""SPDX 2.3 JSON, written and validated with spdx-tools (the SPDX project's own library)."""

from __future__ import annotations

import json
import re

from envcapture import __version__
from envcapture.export.components import Component
from envcapture.manifest.grammar import parse_iso_datetime


def _spdx_id(index: int, component: Component) -> str:
    return "SPDXRef-" + re.sub(r"[^A-Za-z0-9.-]", "-", f"{component.kind}-{component.name}-{index}")


def _package(index: int, component: Component):
    from license_expression import ExpressionError, get_spdx_licensing
    from spdx_tools.spdx.model import (Checksum, ChecksumAlgorithm, ExternalPackageRef, ExternalPackageRefCategory,
                                       Package, SpdxNoAssertion)

    declared, comment = SpdxNoAssertion(), None
    if component.license and component.license_kind == "spdx":
        try:
            declared = get_spdx_licensing().parse(component.license, validate=True)
        except ExpressionError:
            comment = f"License as declared: {component.license}"
    elif component.license:
        comment = f"License as declared: {component.license}"
    algorithms = {"sha256": ChecksumAlgorithm.SHA256, "md5": ChecksumAlgorithm.MD5, "sha1": ChecksumAlgorithm.SHA1,
                  "sha512": ChecksumAlgorithm.SHA512}
    refs = [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", component.purl)] \
        if component.purl else []
    return Package(
        spdx_id=_spdx_id(index, component), name=component.name, version=component.version,
        download_location=component.vcs or SpdxNoAssertion(), files_analyzed=False,
        license_declared=declared, license_concluded=SpdxNoAssertion(), license_comment=comment,
        copyright_text=SpdxNoAssertion(), external_references=refs,
        checksums=[Checksum(algorithms[a], d) for a, d in sorted(component.hashes.items()) if a in algorithms])


def build(manifest: dict, components: list[Component], digest: str):
    from spdx_tools.spdx.model import Actor, ActorType, CreationInfo, Document, Relationship, RelationshipType

    packages = [_package(i, c) for i, c in enumerate(components)]
    ids = {c.ref: p.spdx_id for c, p in zip(components, packages)}
    created = parse_iso_datetime(manifest["created"]).replace(tzinfo=None)  # the grammar's parser: 3.10 too
    info = CreationInfo(spdx_version="SPDX-2.3", spdx_id="SPDXRef-DOCUMENT", name="envcapture environment",
                        document_namespace=f"https://spdx.org/spdxdocs/envcapture-{digest}",
                        creators=[Actor(ActorType.TOOL, f"envcapture-{__version__}")], created=created)
    relationships = []
    for c, p in zip(components, packages):
        if c.kind == "operating-system" or (c.kind == "python" and _is_top_level(manifest, c)):
            relationships.append(Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, p.spdx_id))
        relationships += [Relationship(p.spdx_id, RelationshipType.DEPENDS_ON, ids[ref])
                          for ref in c.depends_on if ref in ids]
    if not any(r.relationship_type == RelationshipType.DESCRIBES for r in relationships) and packages:
        relationships.append(Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, packages[0].spdx_id))
    return Document(creation_info=info, packages=packages, relationships=relationships)


def _is_top_level(manifest: dict, component: Component) -> bool:
    return any(p["name"] == component.name and p.get("top_level") for p in manifest["python_packages"])


def document(manifest: dict, components: list[Component], digest: str) -> str:
    from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter

    return json.dumps(DocumentConverter().convert(build(manifest, components, digest)), indent=2) + "\n"


def validate(text: str) -> list[str]:
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    parsed = JsonLikeDictParser().parse(json.loads(text))
    return [m.validation_message for m in validate_full_spdx_document(parsed)]
