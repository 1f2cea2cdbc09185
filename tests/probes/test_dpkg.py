"""The dpkg probe on this machine's real dpkg database (checked against dpkg-query and apt-mark) and on the
recorded databases of a Debian 11 armhf and an Ubuntu 18.04 root filesystem."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from envcapture.probes import ProbeContext, dpkg, system_packages


def root_with(tmp_path, files: dict):
    for name, content in files.items():
        path = tmp_path / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return tmp_path


def dpkg_query() -> set[tuple[str, str, str]]:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${Architecture}\t${db:Status-Status}\n"],
                         capture_output=True, text=True, check=True).stdout
    return {tuple(line.split("\t")[:3]) for line in out.splitlines()
            if line.split("\t")[3] not in ("not-installed", "config-files")}


@pytest.fixture
def this_machine():
    if not shutil.which("dpkg-query"):
        pytest.skip("not a dpkg system")
    # Other processes may install packages meanwhile: read until dpkg-query agrees before and after.
    for _ in range(5):
        before = dpkg_query()
        result = system_packages.collect(ProbeContext())
        if dpkg_query() == before:
            return result, before
    pytest.skip("the dpkg database kept changing during the test")


def test_this_machine_matches_dpkg_query(this_machine, section_problems):
    result, expected = this_machine
    assert result.data["manager"] == "dpkg"
    found = {(p["name"], p["version"], p["architecture"]) for p in result.data["packages"]}
    assert found == expected
    assert {"dpkg", "apt", "bash"} <= {p["name"] for p in result.data["packages"]}
    assert result.warnings == []
    assert section_problems("system_packages", result.data) == []


def test_this_machine_manual_marks_match_apt_mark(this_machine):
    if not shutil.which("apt-mark"):
        pytest.skip("apt is not installed")
    result, _ = this_machine
    shown = set(subprocess.run(["apt-mark", "showmanual"], capture_output=True, text=True, check=True).stdout.split())
    manual = {p["name"] for p in result.data["packages"] if p["manual"]}
    assert manual == shown
    assert all(p["manual"] is not None for p in result.data["packages"])


def test_this_machine_apt_sources(this_machine):
    result, _ = this_machine
    listed = subprocess.run(["apt-get", "indextargets", "--format", "$(REPO_URI)"], capture_output=True, text=True)
    if listed.returncode != 0 or not listed.stdout.strip():
        pytest.skip("apt-get indextargets has nothing to compare with")
    recorded_uris = {line.split("]")[-1].split()[0] if "]" in line else line.split()[1]
                     for line in result.data["sources"]}
    apt_uris = {uri.rstrip("/") for uri in listed.stdout.split()}
    assert apt_uris <= {uri.rstrip("/") for uri in recorded_uris}


def test_recorded_debian11_armhf(fixtures_dir, tmp_path, section_problems):
    pkgdb = fixtures_dir / "pkgdb" / "debian11-armhf"
    root = root_with(tmp_path, {"/var/lib/dpkg/status": (pkgdb / "status").read_bytes(),
                                "/var/lib/apt/extended_states": (pkgdb / "extended_states").read_bytes()})
    result = system_packages.collect(ProbeContext(root=root, env={}))
    packages = {p["name"]: p for p in result.data["packages"]}
    assert result.data["manager"] == "dpkg"
    assert len(packages) == 200
    assert packages["base-files"] == {"name": "base-files", "version": "11.1+deb11u6", "architecture": "armhf",
                                      "manual": True, "essential": True, "priority": "required",
                                      "depends": [], "depends_exact": []}  # Pre-Depends: awk, but mawk falls after the cut
    assert packages["libssh2-1"]["manual"] is False  # Auto-Installed: 1
    # apt files "Architecture: all" packages under the native architecture (armhf here).
    assert packages["ca-certificates"]["architecture"] == "all"
    assert packages["ca-certificates"]["manual"] is False
    assert {p["architecture"] for p in packages.values()} == {"armhf", "all"}
    assert sum(p["manual"] for p in packages.values()) == 200 - 66  # 66 of the 87 auto marks are in the cut
    assert section_problems("system_packages", result.data) == []


def test_recorded_ubuntu1804_without_apt_marks(fixtures_dir, tmp_path, section_problems):
    status = (fixtures_dir / "pkgdb" / "ubuntu18.04-amd64" / "status").read_bytes()
    result = dpkg.collect(ProbeContext(root=root_with(tmp_path, {"/var/lib/dpkg/status": status}), env={}))
    packages = {p["name"]: p for p in result.data["packages"]}
    assert len(packages) == 90  # 91 stanzas, one of them git in "deinstall ok config-files": not installed
    assert "git" not in packages
    assert packages["base-files"]["version"] == "10.1ubuntu2.2"
    assert {p["manual"] for p in packages.values()} == {None}  # no extended_states: unknown, not guessed
    # Ubuntu marks libc6 optional, like Debian: it is left to the base only as a dependency of the base.
    assert {k: packages["libc6"][k] for k in ("essential", "priority", "depends")} == \
        {"essential": False, "priority": "optional", "depends": ["libgcc1"]}
    assert packages["base-files"]["essential"] is True
    assert result.data["sources"] == []
    assert section_problems("system_packages", result.data) == []


def dpkg_query_marks() -> dict[str, tuple[bool, str | None, str]]:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Essential}\t${Priority}\t${Pre-Depends}, ${Depends}"
                          "\t${db:Status-Status}\n"], capture_output=True, text=True, check=True).stdout
    return {fields[0]: (fields[1] == "yes", fields[2] or None, fields[3])
            for fields in (line.split("\t") for line in out.splitlines())
            if fields[4] not in ("not-installed", "config-files")}


def relation_words(field: str) -> set[str]:
    """Package names in a relation or Provides field (version constraints and qualifiers dropped)."""
    return {word.split(":")[0] for word in field.replace(",", " ").replace("|", " ").split()
            if word[0].isalnum()}


def test_this_machine_base_marks_match_dpkg_query(this_machine):
    result, _ = this_machine
    expected = dpkg_query_marks()
    packages = result.data["packages"]
    assert {p["name"]: (p["essential"], p["priority"]) for p in packages} == \
        {name: marks[:2] for name, marks in expected.items()}
    provides = dict(line.split("\t", 1) for line in subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${Provides}\n"], capture_output=True, text=True,
        check=True).stdout.splitlines())
    # Each recorded dependency is another installed package that dpkg names among the package's relations,
    # by its own name or by a virtual name it provides.
    listed = {p["name"] for p in packages}
    for package in packages:
        named = relation_words(expected[package["name"]][2])
        for dependency in package["depends"]:
            assert dependency in listed and dependency != package["name"]
            assert dependency in named or relation_words(provides.get(dependency, "")) & named, \
                (package["name"], dependency)
    assert any(p["depends"] for p in packages)


def test_recorded_debian12_base_marks_and_dependencies(fixtures_dir, tmp_path, section_problems):
    pkgdb = fixtures_dir / "pkgdb" / "debian12-amd64"
    root = root_with(tmp_path, {"/var/lib/dpkg/status": (pkgdb / "status").read_bytes(),
                                "/var/lib/apt/extended_states": (pkgdb / "extended_states").read_bytes()})
    result = system_packages.collect(ProbeContext(root=root, env={}))
    packages = {p["name"]: p for p in result.data["packages"]}
    marks = {name: (p["essential"], p["priority"], p["depends"]) for name, p in packages.items()}
    # As `dpkg-query -W -f '${Essential} ${Priority} ${Pre-Depends} ${Depends}'` showed them on the machine.
    assert marks["bash"] == (True, "required", ["base-files", "debianutils", "libc6", "libtinfo6"])
    assert marks["libc6"] == (False, "optional", ["libgcc-s1"])
    assert marks["base-files"] == (True, "required", ["mawk"])  # Pre-Depends: awk, which mawk provides
    assert marks["jq"] == (False, "optional", ["libc6", "libjq1"])
    # python3.11 and libpython3-stdlib are not in this cut of the database: a dependency is an installed package.
    assert marks["python3"] == (False, "optional", ["python3-minimal"])
    base = {name for name, (essential, priority, _) in marks.items()
            if essential or priority in ("required", "important")}
    assert len(base) == 49 and "libc6" not in base
    closure = set(base)
    todo = list(base)
    while todo:
        for dependency in marks[todo.pop()][2]:
            if dependency not in closure:
                closure.add(dependency)
                todo.append(dependency)
    assert len(closure) == 130 and {"libc6", "libgcc-s1", "libtinfo6"} <= closure
    assert not {"jq", "libjq1", "python3"} & closure
    assert section_problems("system_packages", result.data) == []


def test_odd_priorities_and_dependencies_on_refused_packages_are_left_out(tmp_path, section_problems):
    status = ("Package: a\nStatus: install ok installed\nPriority: required;reboot\nVersion: 1\nArchitecture: all\n"
              "Depends: evil (>= 1), b:any | c, missing\n\n"
              "Package: b\nEssential: yes\nStatus: install ok installed\nPriority: required\nVersion: 2\n"
              "Architecture: amd64\nPre-Depends: a\n\n"
              "Package: evil\nStatus: install ok installed\nVersion: 1;id\nArchitecture: all\n")
    result = dpkg.collect(ProbeContext(root=root_with(tmp_path, {"/var/lib/dpkg/status": status}), env={}))
    packages = {p["name"]: p for p in result.data["packages"]}
    assert set(packages) == {"a", "b"}
    assert (packages["a"]["essential"], packages["a"]["priority"], packages["a"]["depends"]) == (False, None, ["b"])
    assert (packages["b"]["essential"], packages["b"]["priority"], packages["b"]["depends"]) == (True, "required", ["a"])
    assert section_problems("system_packages", result.data) == []


def test_a_package_with_more_dependencies_than_the_schema_allows_still_gives_a_valid_section(tmp_path,
                                                                                             section_problems):
    names = [f"lib{i}" for i in range(1005)]
    stanzas = [f"Package: {name}\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n" for name in names]
    stanzas.append("Package: meta\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nDepends: "
                   + ", ".join(names) + "\n")
    status = "\n".join(stanzas)
    result = dpkg.collect(ProbeContext(root=root_with(tmp_path, {"/var/lib/dpkg/status": status}), env={}))
    meta = next(p for p in result.data["packages"] if p["name"] == "meta")
    assert len(meta["depends"]) == dpkg.MAX_DEPENDS
    assert section_problems("system_packages", result.data) == []


def test_removed_packages_and_odd_versions_are_left_out(fixtures_dir, tmp_path, section_problems):
    status = (fixtures_dir / "pkgdb" / "ubuntu18.04-amd64" / "status").read_bytes()
    extra = (b"\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\nArchitecture: amd64\n\n"
             b"Package: purged\nStatus: purge ok not-installed\nArchitecture: amd64\n\n"
             b"Package: evil\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0;rm -rf /\n")
    result = dpkg.collect(ProbeContext(root=root_with(tmp_path, {"/var/lib/dpkg/status": status + extra}), env={}))
    names = {p["name"] for p in result.data["packages"]}
    assert not names & {"gone", "purged", "evil"}
    assert len(names) == 90
    assert [w.source for w in result.warnings] == ["dpkg"] and "evil" in result.warnings[0].message
    assert section_problems("system_packages", result.data) == []


def test_apt_sources_one_line_and_deb822_without_credentials(tmp_path, section_problems):
    token = "s3cr3tT0ken"
    root = root_with(tmp_path, {
        "/var/lib/dpkg/status": "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n",
        "/etc/apt/sources.list": (
            "# comment line\n"
            f"deb [arch=amd64] https://alice:{token}@apt.example.com/debian bookworm main contrib\n"
            "deb-src http://deb.debian.org/debian bookworm main  # trailing comment\n"),
        "/etc/apt/sources.list.d/extra.list": "deb http://deb.debian.org/debian bookworm-backports main\n",
        "/etc/apt/sources.list.d/ignored.list.disabled": "deb http://ignored.example.com/ x main\n",
        "/etc/apt/sources.list.d/debian.sources": (
            "Types: deb deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n"
            "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
            "Types: deb\nURIs: https://off.example.com/apt\nSuites: stable\nComponents: main\nEnabled: no\n\n"
            "Types: deb\nURIs: https://inline.example.com/apt\nSuites: stable\nComponents: main\n"
            "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGQ\n -----END PGP PUBLIC KEY BLOCK-----\n"),
        "/etc/apt/auth.conf": f"machine apt.example.com login alice password {token}\n",
        "/etc/apt/sources.list.d/bad.list": "deb http://x.example.com/$(id) stable main\n",
    })
    result = dpkg.collect(ProbeContext(root=root, env={}))
    sources = result.data["sources"]
    assert sources[:2] == ["deb [arch=amd64] https://apt.example.com/debian bookworm main contrib",
                           "deb-src http://deb.debian.org/debian bookworm main"]
    assert len(sources) == 2 + 1 + 4 + 1
    assert "deb http://deb.debian.org/debian bookworm-backports main" in sources
    signed = "[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]"
    for kind in ("deb", "deb-src"):
        for suite in ("bookworm", "bookworm-updates"):
            assert f"{kind} {signed} http://deb.debian.org/debian {suite} main" in sources
    assert "deb https://inline.example.com/apt stable main" in sources
    assert not any("off.example.com" in line or "ignored" in line or "$(" in line for line in sources)
    assert any("bad.list" in w.message for w in result.warnings)
    assert token not in json.dumps(result.data) and "alice" not in json.dumps(result.data)
    assert section_problems("system_packages", result.data) == []


def test_unreadable_status_is_a_warning(tmp_path):
    (tmp_path / "var/lib/dpkg/status").mkdir(parents=True)  # a folder where the file should be
    result = dpkg.collect(ProbeContext(root=tmp_path, env={}))
    assert result.data["packages"] == []
    assert result.warnings and "status" in result.warnings[0].message


def test_no_manager_at_all(tmp_path, section_problems):
    result = system_packages.collect(ProbeContext(root=tmp_path, env={}))
    assert result.data == {"manager": None, "packages": [], "sources": []}
    assert section_problems("system_packages", result.data) == []


def test_extended_states_stanza_without_architecture_marks_every_architecture_auto(tmp_path):
    """apt writes `Architecture:` in extended_states, but a stanza without it (older apt, a hand edit) still
    marks the package automatic, whatever its architecture; `all` packages are filed under the native one."""
    status = "".join(f"Package: {name}\nStatus: install ok installed\nVersion: 1.0\nArchitecture: {arch}\n\n"
                     for name, arch in (("noarch-mark", "amd64"), ("marked", "amd64"), ("docs", "all"),
                                        ("chosen", "amd64")))
    states = ("Package: noarch-mark\nAuto-Installed: 1\n\nPackage: marked\nArchitecture: amd64\nAuto-Installed: 1\n\n"
              "Package: docs\nArchitecture: amd64\nAuto-Installed: 1\n\n"
              "Package: chosen\nArchitecture: amd64\nAuto-Installed: 0\n")
    root = root_with(tmp_path, {"/var/lib/dpkg/status": status, "/var/lib/apt/extended_states": states})
    result = dpkg.collect(ProbeContext(root=root, env={}))
    manual = {p["name"]: p["manual"] for p in result.data["packages"]}
    assert manual == {"noarch-mark": False, "marked": False, "docs": False, "chosen": True}


def test_this_machine_exact_dependencies_are_the_equals_relations(this_machine):
    """depends_exact: the dependencies dpkg allows at exactly one version (`libmagic1` on `libmagic-mgc (= V)`)."""
    result, _ = this_machine
    expected = dpkg_query_marks()
    listed = {p["name"] for p in result.data["packages"]}
    found = 0
    for package in result.data["packages"]:
        field = " ".join(expected[package["name"]][2].split())
        for dependency in package["depends_exact"]:
            assert f"{dependency} (= " in field or f"{dependency}:any (= " in field, (package["name"], dependency)
            found += 1
        for relation in field.split(","):
            name = relation.strip().split(" ")[0].split(":")[0]
            if "(= " in relation and "|" not in relation and name in listed and name != package["name"]:
                assert name in package["depends_exact"], (package["name"], relation)
    assert found


# Relations spelled with the blanks Debian policy allows (``( = V)`` in Pre-Depends, ``( >= V)``), and a package
# without an Architecture field: dpkg-query reads both (a warning for the missing field, no refusal).
SPACED_STATUS = ("Package: envcapture-lib\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n"
                 "Maintainer: M <m@example.org>\nVersion: 1.0-1\nDescription: x\n\n"
                 "Package: envcapture-app\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n"
                 "Maintainer: M <m@example.org>\nVersion: 2.0\n"
                 "Pre-Depends: envcapture-lib ( = 1.0-1)\nDepends: envcapture-lib ( >= 1)\nDescription: y\n\n"
                 "Package: envcapture-old\nStatus: install ok installed\nPriority: optional\n"
                 "Maintainer: M <m@example.org>\nVersion: 0.1\nDescription: z\n")


def dpkg_query_of(admindir) -> dict[str, tuple[str, str]]:
    if not shutil.which("dpkg-query"):
        pytest.skip("needs dpkg-query")
    out = subprocess.run(["dpkg-query", f"--admindir={admindir}", "-W", "-f",
                          "${Package}\t${Architecture}\t${Pre-Depends}\t${Depends}\n"], capture_output=True, text=True,
                         check=True).stdout
    return {line.split("\t")[0]: tuple(line.split("\t")[1:]) for line in out.splitlines()}


def test_exact_relations_written_with_blanks_are_exact(tmp_path):
    root = root_with(tmp_path, {"/var/lib/dpkg/status": SPACED_STATUS})
    (root / "var/lib/dpkg/info").mkdir()
    told = dpkg_query_of(root / "var/lib/dpkg")
    assert told["envcapture-app"] == ("amd64", "envcapture-lib (= 1.0-1)", "envcapture-lib (>= 1)")
    marks = dpkg.parse_base_marks(SPACED_STATUS.encode())
    assert marks["envcapture-app"]["depends_exact"] == ["envcapture-lib"]
    assert marks["envcapture-app"]["depends"] == ["envcapture-lib"]
    assert marks["envcapture-lib"]["depends_exact"] == []


def test_a_package_without_an_architecture_field(tmp_path, section_problems):
    root = root_with(tmp_path, {"/var/lib/dpkg/status": SPACED_STATUS,
                                "/var/lib/apt/extended_states": "Package: envcapture-lib\nArchitecture: amd64\n"
                                                                "Auto-Installed: 1\n"})
    (root / "var/lib/dpkg/info").mkdir()
    told = dpkg_query_of(root / "var/lib/dpkg")
    result = dpkg.collect(ProbeContext(root=root, env={}))
    packages = {p["name"]: p for p in result.data["packages"]}
    assert {name: (p["architecture"] or "") for name, p in packages.items()} == \
        {name: arch for name, (arch, *_) in told.items()}
    assert {key: packages["envcapture-old"][key] for key in ("version", "architecture", "manual")} == \
        {"version": "0.1", "architecture": None, "manual": True}
    assert (packages["envcapture-lib"]["manual"], packages["envcapture-app"]["manual"]) == (False, True)
    assert section_problems("system_packages", result.data) == []
