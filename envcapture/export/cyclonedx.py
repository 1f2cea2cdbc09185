"""CycloneDX 1.6 JSON, written with cyclonedx-python-lib (the reference library of the format)."""

from __future__ import annotations

import uuid

from envcapture.export.components import Component
from envcapture.manifest.grammar import parse_iso_datetime


def _license(component: Component):
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression

    if not component.license:
        return []
    if component.license_kind == "spdx":
        return [LicenseExpression(component.license)]
    return [DisjunctiveLicense(name=component.license)]


_TYPES = {"operating-system": "OPERATING_SYSTEM", "driver": "DEVICE_DRIVER", "cuda": "FRAMEWORK",
          "cudnn": "LIBRARY"}
_HASHES = {"sha256": "SHA_256", "md5": "MD5", "sha512": "SHA_512", "sha384": "SHA_384", "sha1": "SHA_1"}


def _component(component: Component):
    from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, XsUri
    from cyclonedx.model.component import Component as CdxComponent
    from cyclonedx.model.component import ComponentType
    from packageurl import PackageURL

    hashes = [HashType(alg=getattr(HashAlgorithm, _HASHES[alg]), content=digest)
              for alg, digest in sorted(component.hashes.items()) if alg in _HASHES]
    references = [ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(component.vcs))] if component.vcs else []
    return CdxComponent(
        type=getattr(ComponentType, _TYPES.get(component.kind, "LIBRARY")), name=component.name,
        version=component.version, bom_ref=component.ref,
        purl=PackageURL.from_string(component.purl) if component.purl else None,
        licenses=_license(component), hashes=hashes, external_references=references)


def document(manifest: dict, components: list[Component], digest: str) -> str:
    from cyclonedx.model.bom import Bom
    from cyclonedx.output.json import JsonV1Dot6

    # Same manifest, same document: the serial number comes from the manifest's hash, the time from its capture.
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"envcapture:{digest}"))
    bom.metadata.timestamp = parse_iso_datetime(manifest["created"])  # the grammar's parser: 3.10 too
    made = {c.ref: _component(c) for c in components}
    for component in made.values():
        bom.components.add(component)
    for c in components:
        bom.register_dependency(made[c.ref], [made[ref] for ref in c.depends_on if ref in made])
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def validate(text: str) -> list[str]:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    return [str(error)] if error else []
