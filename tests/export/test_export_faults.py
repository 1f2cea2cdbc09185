"""`envcapture export` on a manifest made so that every fact an SBOM carries is there and differs from its
neighbours: a license of each kind, a VCS install with its commit, a hash, a requirement behind an extra and
one behind a false marker, Ubuntu packages. Each fact is read back from the CycloneDX and SPDX documents
(which pass their own validators), and the dependency graph of a real venv is compared with pipdeptree's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envcapture.cli import main
from envcapture.export import cyclonedx, spdx
from envcapture.manifest import file as manifest_io

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "ab" * 32


def package(name, version, requires=(), license=None, kind=None, source=None, top_level=False):
    return {"name": name, "version": version, "requested": top_level, "installer": "pip", "top_level": top_level,
            "requires": list(requires), "local_label": None, "index_url": None, "license": license,
            "license_kind": kind,
            "source": source or {"kind": "index", "url": None, "vcs": None, "commit": None, "requested_revision": None,
                                 "subdirectory": None, "hash": None, "checkout": None}}


def crafted() -> dict:
    data = json.loads((FIXTURES / "plain-venv.json").read_text())
    data["python_packages"] = [
        package("Alpha", "1.0", ["beta>=1", "gamma; extra == 'test'", "delta; python_version < '3'"], "MIT", "spdx",
                {"kind": "archive", "url": "https://example.org/alpha-1.0.tar.gz", "vcs": None, "commit": None,
                 "requested_revision": None, "subdirectory": None, "hash": f"sha256={DIGEST}", "checkout": None},
                top_level=True),
        package("beta", "2.0", license="Custom Licence v1", kind="text",
                source={"kind": "vcs", "url": "https://example.org/beta.git", "vcs": "git", "commit": COMMIT,
                        "requested_revision": "main", "subdirectory": None, "hash": None, "checkout": None}),
        package("gamma", "3.0"),
        package("delta", "4.0"),
    ]
    data["os"].update({"id": "ubuntu", "version_id": "24.04", "codename": "noble",
                       "pretty_name": "Ubuntu 24.04.1 LTS", "id_like": ["debian"]})
    data["system_packages"] = {"manager": "dpkg", "sources": [], "packages": [
        {"name": "jq", "version": "1.7.1-3build1", "architecture": "amd64", "manual": True}]}
    manifest_io.validate(data)
    return data


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults")
    path = folder / "m.json"
    path.write_text(json.dumps(crafted()))
    out = {}
    for fmt in ("cyclonedx", "spdx"):
        target = folder / f"{fmt}.json"
        assert main(["export", str(path), "--format", fmt, "-o", str(target)]) == 0
        out[fmt] = target.read_text()
    return out


def all_components(doc: dict) -> list[dict]:
    """The components and the project the document describes (metadata.component), when there is one."""
    project = doc.get("metadata", {}).get("component")
    return doc["components"] + ([project] if project else [])


def cdx_components(documents) -> dict:
    return {c["name"]: c for c in all_components(json.loads(documents["cyclonedx"]))}


def test_both_documents_pass_their_validators(documents):
    assert cyclonedx.validate(documents["cyclonedx"]) == []
    assert spdx.validate(documents["spdx"]) == []


def test_cyclonedx_keeps_each_license_as_declared(documents):
    found = cdx_components(documents)
    assert found["Alpha"]["licenses"] == [{"expression": "MIT"}]
    assert found["beta"]["licenses"] == [{"license": {"name": "Custom Licence v1"}}]
    assert "licenses" not in found["gamma"] or found["gamma"]["licenses"] == []


def test_cyclonedx_vcs_reference_names_the_commit(documents):
    refs = cdx_components(documents)["beta"]["externalReferences"]
    assert refs == [{"type": "vcs", "url": f"git+https://example.org/beta.git@{COMMIT}"}]


def test_cyclonedx_keeps_the_hash(documents):
    assert cdx_components(documents)["Alpha"]["hashes"] == [{"alg": "SHA-256", "content": DIGEST}]


def test_requirements_behind_an_extra_or_a_false_marker_are_not_edges(documents):
    doc = json.loads(documents["cyclonedx"])
    by_ref = {c["bom-ref"]: c["name"] for c in all_components(doc)}
    edges = {by_ref[d["ref"]]: sorted(by_ref[r] for r in d.get("dependsOn", [])) for d in doc["dependencies"]
             if d["ref"] in by_ref}
    assert edges["Alpha"] == ["beta"]
    assert edges["beta"] == [] and edges["gamma"] == []


def test_ubuntu_packages_are_named_for_ubuntu(documents):
    jq = cdx_components(documents)["jq"]
    assert jq["purl"] == "pkg:deb/ubuntu/jq@1.7.1-3build1?arch=amd64&distro=ubuntu-24.04"
    names = {p["name"]: p for p in json.loads(documents["spdx"])["packages"]}
    assert names["jq"]["externalRefs"][0]["referenceLocator"] == jq["purl"]


def doc_of(documents) -> dict:
    return json.loads(documents["spdx"])


def spdx_packages(documents) -> tuple[dict, dict]:
    doc = json.loads(documents["spdx"])
    return doc, {p["name"]: p for p in doc["packages"]}


def test_spdx_dependency_points_from_the_dependent_to_its_dependency(documents):
    doc, packages = spdx_packages(documents)
    names = {p["SPDXID"]: p["name"] for p in doc["packages"]}
    depends = {(names[r["spdxElementId"]], names[r["relatedSpdxElement"]]) for r in doc["relationships"]
               if r["relationshipType"] == "DEPENDS_ON"}
    assert depends == {("Alpha", "beta")}
    described = {names[r["relatedSpdxElement"]] for r in doc["relationships"] if r["relationshipType"] == "DESCRIBES"}
    assert described == {"Alpha", "ubuntu"}  # the top-level package and the operating system


def test_spdx_declares_the_license_or_says_why_not(documents):
    _, packages = spdx_packages(documents)
    assert packages["Alpha"]["licenseDeclared"] == "MIT"
    assert packages["gamma"]["licenseDeclared"] == "NOASSERTION"
    extracted = {e["licenseId"]: e["extractedText"] for e in doc_of(documents).get("hasExtractedLicensingInfos", [])}
    assert extracted[packages["beta"]["licenseDeclared"]] == "Custom Licence v1"  # a LicenseRef with the text
    assert packages["Alpha"]["checksums"] == [{"algorithm": "SHA256", "checksumValue": DIGEST}]
    assert packages["beta"]["downloadLocation"] == f"git+https://example.org/beta.git@{COMMIT}"
    assert packages["gamma"]["downloadLocation"] == "NOASSERTION"


def test_a_license_that_is_not_a_valid_spdx_expression_is_a_comment(tmp_path):
    data = crafted()
    data["python_packages"][0]["license"] = "MIT OR (Apache"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "spdx.json"
    assert main(["export", str(path), "--format", "spdx", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    alpha = next(p for p in doc["packages"] if p["name"] == "Alpha")
    extracted = {e["licenseId"]: e["extractedText"] for e in doc.get("hasExtractedLicensingInfos", [])}
    assert extracted[alpha["licenseDeclared"]] == "MIT OR (Apache"
    assert spdx.validate(out.read_text()) == []


def test_the_dependency_graph_of_this_venv_is_pipdeptrees(tmp_path):
    """pipdeptree, the peer, reads the same venv: the edges between installed packages are the same."""
    pytest.importorskip("pipdeptree")
    from envcapture.manifest.grammar import canonical_name

    manifest = tmp_path / "m.json"
    assert main(["freeze", "--python", sys.executable, "-o", str(manifest)]) == 0
    run = subprocess.run([sys.executable, "-m", "pipdeptree", "--json", "--python", sys.executable],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    tree = json.loads(run.stdout)
    installed = {canonical_name(node["package"]["key"]) for node in tree}
    theirs = {(canonical_name(node["package"]["key"]), canonical_name(dep["key"])) for node in tree
              for dep in node["dependencies"]
              if canonical_name(dep["key"]) in installed and not dep.get("extra")}  # pipdeptree marks an extra's
    out = tmp_path / "cdx.json"
    assert main(["export", str(manifest), "--format", "cyclonedx", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    name = {c["bom-ref"]: canonical_name(c["name"]) for c in all_components(doc)
            if c.get("purl", "").startswith(("pkg:pypi/", "pkg:generic/"))}
    ours = {(name[d["ref"]], name[r]) for d in doc["dependencies"] if d["ref"] in name
            for r in d.get("dependsOn", []) if r in name}
    assert len(theirs) > 50
    assert ours == theirs, (sorted(ours - theirs)[:10], sorted(theirs - ours)[:10])


def test_the_operating_system_is_a_component_only_with_its_id_and_version():
    from envcapture.export.components import platform_components

    assert [c.ref for c in platform_components({"os": {"id": "ubuntu", "version_id": "24.04"}})] == ["os:ubuntu@24.04"]
    assert platform_components({"os": {"id": "ubuntu", "version_id": None}}) == []
    assert platform_components({"os": {"id": None, "version_id": "24.04"}}) == []


def test_the_gpu_stack_is_a_component_each_driver_toolkit_and_cudnn():
    from envcapture.export.components import platform_components

    gpu = {"driver": {"version": "580.1"}, "toolkits": [{"version": "12.4", "path": "/usr/local/cuda-12.4"},
                                                        {"version": None, "path": "/opt/cuda"}],
           "cudnn": [{"version": "9.1.0", "path": "/usr/include/cudnn_version.h", "source": "header"},
                     {"version": "8.9.7", "path": None, "source": "wheel"}, {"version": None, "source": "conda"}]}
    assert [(c.ref, c.name, c.version, c.kind) for c in platform_components({"os": {}, "gpu": gpu})] == [
        ("driver:nvidia@580.1", "nvidia-driver", "580.1", "driver"),
        ("cuda:12.4:/usr/local/cuda-12.4", "cuda-toolkit", "12.4", "cuda"),
        ("cudnn:9.1.0:/usr/include/cudnn_version.h", "cudnn", "9.1.0", "cudnn"),
        ("cudnn:8.9.7:wheel", "cudnn", "8.9.7", "cudnn")]


def test_without_a_local_project_the_subject_is_the_environment_with_its_python(documents):
    """No package was built from a local folder: the document describes the recorded environment, versioned by
    its Python, and that environment depends on the top-level packages."""
    doc = json.loads(documents["cyclonedx"])
    subject = doc["metadata"]["component"]
    assert (subject["name"], subject["type"], subject["bom-ref"]) == ("python-environment", "platform", "environment")
    assert subject["version"] == crafted()["python"]["version"]
    by_ref = {c["bom-ref"]: c["name"] for c in doc["components"]}
    edges = next(d for d in doc["dependencies"] if d["ref"] == "environment")
    assert sorted(by_ref[r] for r in edges["dependsOn"]) == ["Alpha"]


def test_a_license_recorded_without_its_kind_is_kept_as_a_name(tmp_path):
    """license_kind is optional in the schema (a manifest of another writer, or edited by hand): the license is
    still exported, as a named license in CycloneDX and a LicenseRef with its text in SPDX."""
    data = crafted()
    data["python_packages"][2].update(license="BSD-3-Clause", license_kind=None)
    del data["python_packages"][3]["license_kind"]
    data["python_packages"][3]["license"] = "Public Domain"
    manifest_io.validate(data)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    out = {}
    for fmt in ("cyclonedx", "spdx"):
        target = tmp_path / f"{fmt}.json"
        assert main(["export", str(path), "--format", fmt, "-o", str(target)]) == 0
        out[fmt] = target.read_text()
    assert cyclonedx.validate(out["cyclonedx"]) == [] and spdx.validate(out["spdx"]) == []
    found = cdx_components(out)
    assert found["gamma"]["licenses"] == [{"license": {"name": "BSD-3-Clause"}}]
    assert found["delta"]["licenses"] == [{"license": {"name": "Public Domain"}}]
    doc, packages = spdx_packages(out)
    extracted = {e["licenseId"]: e["extractedText"] for e in doc.get("hasExtractedLicensingInfos", [])}
    assert extracted[packages["gamma"]["licenseDeclared"]] == "BSD-3-Clause"
    assert extracted[packages["delta"]["licenseDeclared"]] == "Public Domain"
