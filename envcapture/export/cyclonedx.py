"""CycloneDX 1.6 JSON, written with cyclonedx-python-lib (the reference library of the format)."""

from __future__ import annotations

import uuid
from datetime import datetime

from envcapture.export.components import Component


def _license(component: Component):
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression

    if not component.license:
        return []
    if component.license_kind == "spdx":
        return [LicenseExpression(component.license)]
    if component.kind in ("deb", "rpm", "apk"):  # the dpkg probe records "A; B": each a license of its own
        return [DisjunctiveLicense(name=name) for name in component.license.split("; ") if name]
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


def document(manifest: dict, components: list[Component], digest: str, created: datetime) -> str:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component as CdxComponent
    from cyclonedx.model.component import ComponentType
    from cyclonedx.output.json import JsonV1Dot6

    from envcapture import __version__
    from envcapture.export.components import project_package, python_purl
    from envcapture.manifest.grammar import canonical_name

    # Same manifest, same document: the serial number comes from the manifest's hash, the time from its capture.
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"envcapture:{digest}"))
    bom.metadata.timestamp = created
    bom.metadata.tools.components.add(CdxComponent(
        type=ComponentType.APPLICATION, name="envcapture", version=__version__, bom_ref="tool:envcapture"))
    made = {c.ref: _component(c) for c in components}
    project = project_package(manifest)
    subject = made.pop(python_purl(project), None) if project else None
    if subject is not None:
        subject.type = ComponentType.APPLICATION
    else:  # no local project: the subject is the recorded environment itself
        subject = CdxComponent(type=ComponentType.PLATFORM, name="python-environment", bom_ref="environment",
                               version=(manifest.get("python") or {}).get("version"))
    bom.metadata.component = subject
    for component in made.values():
        bom.components.add(component)
    everything = {**made, subject.bom_ref.value: subject}
    if subject.bom_ref.value == "environment":
        top = {canonical_name(p["name"]) for p in manifest["python_packages"] if p.get("top_level")}
        bom.register_dependency(subject, [made[c.ref] for c in components
                                          if c.kind == "python" and canonical_name(c.name) in top and c.ref in made])
    for c in components:
        if c.ref in everything:
            bom.register_dependency(everything[c.ref], [everything[ref] for ref in c.depends_on if ref in everything])
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def validate(text: str) -> list[str]:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    return [str(error)] if error else []
