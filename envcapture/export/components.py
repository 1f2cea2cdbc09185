"""Manifest in, plain component records out: every package with its package URL, license and dependencies.

The formats (cyclonedx.py, spdx.py) only translate these records; none of them reads the manifest itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envcapture.manifest.grammar import canonical_name


@dataclass
class Component:
    ref: str  # unique within the document (the purl, or a name for things that have none)
    name: str
    version: str
    kind: str  # python, conda, deb, rpm, apk, operating-system, cuda, cudnn, driver
    purl: str | None = None
    license: str | None = None
    license_kind: str | None = None  # "spdx" or "text"
    hashes: dict = field(default_factory=dict)  # algorithm -> hex digest
    vcs: str | None = None  # "git+https://...@commit" for VCS installs
    depends_on: list[str] = field(default_factory=list)  # refs


def _purl(kind, name, version, namespace=None, qualifiers=None) -> str:
    from packageurl import PackageURL

    return PackageURL(type=kind, namespace=namespace, name=name, version=version,
                      qualifiers={k: v for k, v in (qualifiers or {}).items() if v}).to_string()


# Hex digest length per algorithm: a digest of another length is not one (validators refuse the document).
DIGEST_LENGTH = {"md5": 32, "sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128}
LOCAL_KINDS = ("editable", "directory")  # built from a folder on the capturing machine: not a PyPI release


def valid_digest(algorithm: str, digest: str) -> bool:
    length = DIGEST_LENGTH.get(algorithm.lower())
    return length is not None and len(digest) == length and all(c in "0123456789abcdefABCDEF" for c in digest)


def vcs_locator(source: dict) -> str | None:
    """``git+https://host/repo@commit`` (SPDX's downloadLocation form): one VCS prefix, no ``#egg=`` fragment."""
    url, commit = source.get("url"), source.get("commit")
    if not url or not commit:
        return None
    url = url.split("#", 1)[0]
    vcs = source.get("vcs") or "git"
    if not url.startswith(f"{vcs}+"):
        url = f"{vcs}+{url}"
    return f"{url}@{commit}"


def python_purl(p: dict) -> str:
    """pkg:pypi for what an index serves (with the index as ``repository_url`` when it is not PyPI, as for a
    local-label build like torch 2.13.0+cpu); pkg:generic for a project built from a local folder."""
    name = canonical_name(p["name"])
    if (p.get("source") or {}).get("kind") in LOCAL_KINDS:
        return _purl("generic", name, p["version"])
    return _purl("pypi", name, p["version"], qualifiers={"repository_url": p.get("index_url")})


def project_package(manifest: dict) -> dict | None:
    """The project the manifest was made for: the installed package built from a local folder (editable first)."""
    local = [p for p in manifest["python_packages"] if (p.get("source") or {}).get("kind") in LOCAL_KINDS]
    local.sort(key=lambda p: (p["source"]["kind"] != "editable", not p.get("top_level"), p["name"].lower()))
    return local[0] if local else None


def python_components(manifest: dict) -> list[Component]:
    by_name = {}
    for p in manifest["python_packages"]:
        purl = python_purl(p)
        source = p.get("source") or {}
        hashes = {}
        if source.get("hash") and "=" in source["hash"]:
            algorithm, digest = source["hash"].split("=", 1)
            if valid_digest(algorithm, digest):
                hashes[algorithm.lower()] = digest.lower()
        vcs = vcs_locator(source) if source.get("kind") == "vcs" else None
        by_name[canonical_name(p["name"])] = Component(
            ref=purl, name=p["name"], version=p["version"], kind="python", purl=purl,
            license=p.get("license"), license_kind=p.get("license_kind"), hashes=hashes, vcs=vcs)
    markers = (manifest.get("python") or {}).get("markers") or {}
    for p in manifest["python_packages"]:
        component = by_name[canonical_name(p["name"])]
        component.depends_on = sorted({by_name[d].ref for d in _required_names(p.get("requires") or [], markers)
                                       if d in by_name and by_name[d] is not component})
    return list(by_name.values())


def _required_names(requires, markers) -> list[str]:
    from packaging.requirements import InvalidRequirement, Requirement

    names = []
    for text in requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        try:  # an extra's requirement is not installed unless asked for: leave it out, as pipdeptree does
            if requirement.marker and not requirement.marker.evaluate({**markers, "extra": ""}):
                continue
        except Exception:  # a marker this environment cannot evaluate: keep the edge
            pass
        names.append(canonical_name(requirement.name))
    return names


def conda_components(manifest: dict) -> list[Component]:
    conda = manifest.get("conda") or {}
    out = []
    for p in conda.get("packages") or []:
        purl = _purl("conda", p["name"], p["version"], qualifiers={
            "build": p.get("build"), "channel": p.get("channel"), "subdir": p.get("subdir")})
        hashes = {k: p[k].lower() for k in ("md5", "sha256") if p.get(k) and valid_digest(k, p[k])}
        out.append(Component(ref=purl, name=p["name"], version=p["version"], kind="conda", purl=purl, hashes=hashes))
    return out


def _distro(manifest: dict) -> str | None:
    os_ = manifest.get("os") or {}
    return f"{os_['id']}-{os_['version_id']}" if os_.get("id") and os_.get("version_id") else None


def system_components(manifest: dict) -> list[Component]:
    system = manifest.get("system_packages") or {}
    kind = {"dpkg": "deb", "rpm": "rpm", "apk": "apk"}.get(system.get("manager") or "")
    if not kind:
        return []
    namespace = (manifest.get("os") or {}).get("id") or {"deb": "debian", "rpm": "rpm", "apk": "alpine"}[kind]
    out, refs = [], {}
    for p in system.get("packages") or []:
        purl = _purl(kind, p["name"], p["version"], namespace=namespace,
                     qualifiers={"arch": p.get("architecture"), "distro": _distro(manifest)})
        license = p.get("license")
        out.append(Component(ref=purl, name=p["name"], version=p["version"], kind=kind, purl=purl,
                             license=license, license_kind=_license_kind(license) if license else None))
        refs.setdefault(p["name"], purl)
    for component, p in zip(out, system.get("packages") or []):
        # `depends` names the installed packages that satisfy it (the dpkg probe resolved alternatives).
        component.depends_on = sorted({refs[name] for name in p.get("depends") or []
                                       if name in refs and refs[name] != component.ref})
    return out


def _license_kind(text: str) -> str:
    from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

    try:
        return "spdx" if canonicalize_license_expression(text) == text else "text"
    except InvalidLicenseExpression:
        return "text"


def platform_components(manifest: dict) -> list[Component]:
    """The OS, and the GPU stack where recorded: driver, CUDA toolkits, cuDNN (no purl type exists for them)."""
    out = []
    os_ = manifest.get("os") or {}
    if os_.get("id") and os_.get("version_id"):
        out.append(Component(ref=f"os:{os_['id']}@{os_['version_id']}", name=os_["id"], version=os_["version_id"],
                             kind="operating-system"))
    gpu = manifest.get("gpu") or {}
    driver = gpu.get("driver") or {}
    if driver.get("version"):
        out.append(Component(ref=f"driver:nvidia@{driver['version']}", name="nvidia-driver",
                             version=driver["version"], kind="driver"))
    for toolkit in gpu.get("toolkits") or []:
        if toolkit.get("version"):
            out.append(Component(ref=f"cuda:{toolkit['version']}:{toolkit.get('path')}", name="cuda-toolkit",
                                 version=toolkit["version"], kind="cuda"))
    for copy in gpu.get("cudnn") or []:
        if copy.get("version"):
            out.append(Component(ref=f"cudnn:{copy['version']}:{copy.get('path') or copy.get('source')}",
                                 name="cudnn", version=copy["version"], kind="cudnn"))
    return out


def all_components(manifest: dict) -> list[Component]:
    seen, out = set(), []
    for component in (python_components(manifest) + conda_components(manifest) + system_components(manifest)
                      + platform_components(manifest)):
        if component.ref not in seen:  # a conda env lists its pip packages twice (conda record + dist-info)
            seen.add(component.ref)
            out.append(component)
    return out
