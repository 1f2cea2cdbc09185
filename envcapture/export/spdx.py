"""SPDX 2.3 JSON, written and validated with spdx-tools (the SPDX project's own library)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from envcapture import __version__
from envcapture.export.components import Component


def _spdx_id(index: int, component: Component) -> str:
    return "SPDXRef-" + re.sub(r"[^A-Za-z0-9.-]", "-", f"{component.kind}-{component.name}-{index}")


def _declared_license(component: Component, extracted: dict):
    """The declared license as an SPDX expression; a license given as text becomes a LicenseRef with the text
    (SPDX's way to keep a license it has no identifier for), so no license CycloneDX carries is lost here."""
    from license_expression import ExpressionError, get_spdx_licensing
    from spdx_tools.spdx.model import SpdxNoAssertion

    if not component.license:
        return SpdxNoAssertion()
    if component.license_kind == "spdx":
        try:
            return get_spdx_licensing().parse(component.license, validate=True)
        except ExpressionError:
            pass
    if component.license not in extracted:
        extracted[component.license] = f"LicenseRef-{len(extracted) + 1}"
    return get_spdx_licensing().parse(extracted[component.license])


def _package(index: int, component: Component, extracted: dict):
    from spdx_tools.spdx.model import (Checksum, ChecksumAlgorithm, ExternalPackageRef, ExternalPackageRefCategory,
                                       Package, SpdxNoAssertion)

    algorithms = {"sha256": ChecksumAlgorithm.SHA256, "md5": ChecksumAlgorithm.MD5, "sha1": ChecksumAlgorithm.SHA1,
                  "sha512": ChecksumAlgorithm.SHA512, "sha384": ChecksumAlgorithm.SHA384}
    refs = [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", component.purl)] \
        if component.purl else []
    return Package(
        spdx_id=_spdx_id(index, component), name=component.name, version=component.version,
        download_location=component.vcs or SpdxNoAssertion(), files_analyzed=False,
        license_declared=_declared_license(component, extracted), license_concluded=SpdxNoAssertion(),
        copyright_text=SpdxNoAssertion(), external_references=refs,
        checksums=[Checksum(algorithms[a], d) for a, d in sorted(component.hashes.items()) if a in algorithms])


def build(manifest: dict, components: list[Component], digest: str, created: datetime):
    from spdx_tools.spdx.model import (Actor, ActorType, CreationInfo, Document, ExtractedLicensingInfo, Relationship,
                                       RelationshipType)

    extracted: dict[str, str] = {}
    packages = [_package(i, c, extracted) for i, c in enumerate(components)]
    ids = {c.ref: p.spdx_id for c, p in zip(components, packages)}
    when = created.astimezone(timezone.utc).replace(tzinfo=None)
    info = CreationInfo(spdx_version="SPDX-2.3", spdx_id="SPDXRef-DOCUMENT", name="envcapture environment",
                        document_namespace=f"https://spdx.org/spdxdocs/envcapture-{digest}",
                        creators=[Actor(ActorType.TOOL, f"envcapture-{__version__}")], created=when)
    relationships = []
    for c, p in zip(components, packages):
        if c.kind == "operating-system" or (c.kind == "python" and _is_top_level(manifest, c)):
            relationships.append(Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, p.spdx_id))
        relationships += [Relationship(p.spdx_id, RelationshipType.DEPENDS_ON, ids[ref])
                          for ref in c.depends_on if ref in ids]
    if not any(r.relationship_type == RelationshipType.DESCRIBES for r in relationships) and packages:
        relationships.append(Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, packages[0].spdx_id))
    licenses = [ExtractedLicensingInfo(license_id=ref, extracted_text=text, license_name=text[:200],
                                       comment="The license as the package declares it (no SPDX identifier)")
                for text, ref in extracted.items()]
    return Document(creation_info=info, packages=packages, relationships=relationships,
                    extracted_licensing_info=licenses)


def _is_top_level(manifest: dict, component: Component) -> bool:
    return any(p["name"] == component.name and p.get("top_level") for p in manifest["python_packages"])


def document(manifest: dict, components: list[Component], digest: str, created: datetime) -> str:
    from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter

    return json.dumps(DocumentConverter().convert(build(manifest, components, digest, created)), indent=2) + "\n"


def validate(text: str) -> list[str]:
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    parsed = JsonLikeDictParser().parse(json.loads(text))
    return [m.validation_message for m in validate_full_spdx_document(parsed)]
