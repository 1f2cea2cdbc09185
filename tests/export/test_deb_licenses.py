"""deb licenses (issue 23): freeze records the short names of each package's machine-readable (DEP-5)
/usr/share/doc/NAME/copyright, as syft reads them, and export puts them on the deb components."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envcapture.cli import main
from envcapture.probes import ProbeContext, dpkg

DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: demo

Files: *
Copyright: 2020 Someone
License: GPL-2+
 This program is free software...

Files: lib/*
Copyright: 2021 Other
License: BSD-3-clause

License: GPL-2+
 On Debian systems, the full text is in /usr/share/common-licenses/GPL-2.
"""
STATUS = """Package: demo
Status: install ok installed
Version: 1.0-1
Architecture: amd64
Depends: libdemo1

Package: libdemo1
Status: install ok installed
Version: 1.0-1
Architecture: amd64

Package: freeform
Status: install ok installed
Version: 2.0-1
Architecture: all

Package: odd
Status: install ok installed
Version: 3.0-1
Architecture: all
"""


def fake_root(tmp_path) -> Path:
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(STATUS)
    docs = root / "usr/share/doc"
    (docs / "demo").mkdir(parents=True)
    (docs / "demo/copyright").write_text(DEP5)
    (docs / "libdemo1").symlink_to("demo")  # Debian links a library's doc folder to its source package's
    (docs / "freeform").mkdir()
    (docs / "freeform/copyright").write_text("This package was debianized by ...\nLicense: whatever\n")
    (docs / "odd").mkdir()
    os.mkfifo(docs / "odd/copyright")  # never opened for a blocking read
    return root


def test_dep5_license_names_are_recorded(tmp_path):
    packages = {p["name"]: p for p in dpkg.read_packages(ProbeContext(root=fake_root(tmp_path)), [])}
    assert packages["demo"]["license"] == "GPL-2+; BSD-3-clause"
    assert packages["libdemo1"]["license"] == "GPL-2+; BSD-3-clause"
    assert "license" not in packages["freeform"] and "license" not in packages["odd"]


def test_deb_components_carry_licenses_and_edges(tmp_path):
    manifest = tmp_path / "m.json"
    assert main(["freeze", "-o", str(manifest)]) == 0
    recorded = json.loads(manifest.read_text())["system_packages"]["packages"]
    if not recorded:
        pytest.skip("no dpkg database here")
    with_license = {(p["name"], p["architecture"]): p["license"] for p in recorded if p.get("license")}
    assert len(with_license) > 0.5 * len(recorded)
    out = tmp_path / "bom.json"
    assert main(["export", str(manifest), "--format", "cyclonedx", "-o", str(out)]) == 0
    bom = json.loads(out.read_text())
    from packageurl import PackageURL

    debs = {}
    for c in bom["components"]:
        if c.get("purl", "").startswith("pkg:deb/"):
            purl = PackageURL.from_string(c["purl"])
            debs[(purl.name, purl.qualifiers.get("arch"))] = c
    for key, text in with_license.items():
        names = text.split("; ")
        assert len(names) == len(set(names)), key
        # a single name that is an SPDX id (Apache-2.0) is written as an expression, the rest by name
        shown = sorted(entry["license"]["name"] if "license" in entry else entry["expression"]
                       for entry in debs[key]["licenses"])
        assert shown == sorted(names), key
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out.read_text()) is None


SYFT = shutil.which("syft") or next((str(p) for p in [Path(sys.executable).parent / "syft"] if p.exists()), None)


@pytest.mark.skipif(not SYFT or not Path("/var/lib/dpkg/status").exists(), reason="needs syft and a dpkg database")
def test_deb_licenses_are_among_syfts(tmp_path):
    """syft, the peer, reads the same copyright files: every name we record for a package is one it lists."""
    packages = dpkg.read_packages(ProbeContext(), [])
    sample = [p for p in packages if p.get("license")][:40]
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "etc").mkdir()
    shutil.copy("/etc/os-release", root / "etc/os-release")
    status = Path("/var/lib/dpkg/status").read_text(errors="replace").split("\n\n")
    wanted = {p["name"] for p in sample}
    (root / "var/lib/dpkg/status").write_text("\n\n".join(
        s for s in status if s.startswith("Package: ") and s.split("\n", 1)[0][9:].strip() in wanted) + "\n")
    for p in sample:
        (root / "usr/share/doc" / p["name"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(f"/usr/share/doc/{p['name']}/copyright", root / "usr/share/doc" / p["name"] / "copyright")
    run = subprocess.run([SYFT, "scan", f"dir:{root}", "-o", "syft-json", "-q"], capture_output=True, text=True,
                         timeout=300, env={"SYFT_CHECK_FOR_APP_UPDATE": "false", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = {}
    for artifact in json.loads(run.stdout)["artifacts"]:
        if artifact["type"] == "deb":
            theirs[artifact["name"]] = {entry["value"] for entry in artifact.get("licenses") or []}
    assert set(theirs) == wanted
    for p in sample:
        ours = set(p["license"].split("; "))
        assert theirs[p["name"]] and ours <= theirs[p["name"]] | {n for n in ours if " " in n}, \
            (p["name"], ours, theirs[p["name"]])


def test_a_long_list_is_cut_at_a_whole_name(tmp_path):
    root = fake_root(tmp_path)
    many = "".join(f"\nFiles: f{i}\nCopyright: x\nLicense: License-Number-{i:03d}\n" for i in range(60))
    (root / "usr/share/doc/demo/copyright").write_text(DEP5.split("\n\n", 1)[0] + "\n" + many)
    text = dpkg.read_license(ProbeContext(root=root), "demo")
    assert len(text) <= 400 and all(re_name.startswith("License-Number-") and len(re_name) == 18
                                    for re_name in text.split("; "))
