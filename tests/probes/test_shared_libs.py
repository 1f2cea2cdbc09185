"""The shared_libs probe on real ELF files and this machine's real dpkg file lists: which system libraries an
environment needs and which packages own them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from envcapture.probes import ProbeContext, shared_libs

LIBMAGIC = Path("/usr/lib/x86_64-linux-gnu/libmagic.so.1")
needs_libmagic = pytest.mark.skipif(not LIBMAGIC.exists(), reason="needs Debian's libmagic1 (in .ci/apt-packages)")


def site_with(tmp_path: Path, files: dict[str, bytes | Path]) -> Path:
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    for rel, content in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, path)
        else:
            path.write_bytes(content)
    return site


def collect(tmp_path: Path, site: Path, distributions=(), project: Path | None = None):
    target = {"site_packages": [str(site)], "executable": None, "base_prefix": str(tmp_path / "none"),
              "distributions": [{"name": name} for name in distributions]}
    ctx = ProbeContext(target=target, home=str(tmp_path / "home"), project=project or tmp_path)
    return shared_libs.collect(ctx)


@needs_libmagic
def test_a_compiled_module_needs_the_libraries_its_elf_header_names_and_dpkg_says_who_owns_them(
        tmp_path, section_problems):
    # A real ELF shared object in the place of a compiled module: libmagic needs libz, libbz2, liblzma and libc.
    site = site_with(tmp_path, {"fake/_ext.cpython-311-x86_64-linux-gnu.so": LIBMAGIC,
                                "fake/not_elf.so": b"just text\n"})
    result = collect(tmp_path, site)
    libraries = {lib["name"]: lib for lib in result.data["libraries"]}
    assert libraries["libz.so.1"]["package"] == "zlib1g"
    assert libraries["liblzma.so.5"]["package"] == "liblzma5"
    assert libraries["libz.so.1"]["users"] == ["fake/_ext.cpython-311-x86_64-linux-gnu.so"]
    assert {"zlib1g", "liblzma5", "libbz2-1.0", "libc6"} <= set(result.data["packages"])
    assert result.data["files_read"] == 2 and result.warnings == []
    assert section_problems("shared_libraries", result.data) == []


@needs_libmagic
def test_a_library_vendored_inside_the_environment_needs_no_system_package(tmp_path):
    site = site_with(tmp_path, {"fake/_ext.cpython-311-x86_64-linux-gnu.so": LIBMAGIC,
                                "fake.libs/libz.so.1": LIBMAGIC})
    names = {lib["name"] for lib in collect(tmp_path, site).data["libraries"]}
    assert "libz.so.1" not in names and "liblzma.so.5" in names


@needs_libmagic
def test_a_library_opened_through_ctypes_is_found_from_the_table(tmp_path):
    result = collect(tmp_path, site_with(tmp_path, {}), distributions=["python_magic"])
    assert result.data["libraries"] == [{"name": "libmagic.so.1", "package": "libmagic1", "via": "ctypes",
                                         "users": ["python-magic (ctypes)"]}]
    assert result.data["packages"] == ["libmagic1"]


@needs_libmagic
def test_a_second_run_reads_no_elf_file_and_no_file_list(tmp_path, monkeypatch):
    site = site_with(tmp_path, {"fake/_ext.cpython-311-x86_64-linux-gnu.so": LIBMAGIC})
    first = collect(tmp_path, site).data

    def forbidden(*args):
        raise AssertionError("read again")

    monkeypatch.setattr(shared_libs, "needed", forbidden)
    monkeypatch.setitem(shared_libs.OWNERS, "dpkg", forbidden)
    assert collect(tmp_path, site).data == first
    # A changed file is read again.
    monkeypatch.undo()
    target = site / "fake" / "_ext.cpython-311-x86_64-linux-gnu.so"
    os.utime(target, ns=(1, 1))
    monkeypatch.setattr(shared_libs, "needed", lambda path: ["libmagic.so.1"])
    assert [lib["name"] for lib in collect(tmp_path, site).data["libraries"]] == ["libmagic.so.1"]


def test_pyproject_names_system_packages(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.envcapture]\nsystem-packages = ["libpq-dev", "graphviz"]\n')
    assert collect(tmp_path, site_with(tmp_path, {})).data["requested"] == ["graphviz", "libpq-dev"]
    (tmp_path / "pyproject.toml").write_text('[tool.envcapture]\nsystem-packages = "libpq-dev; rm -rf /"\n')
    result = collect(tmp_path, site_with(tmp_path, {}))
    assert result.data["requested"] == [] and "not a list of package names" in result.warnings[0].message


def test_a_huge_environment_is_read_up_to_the_bound(tmp_path, monkeypatch):
    site = site_with(tmp_path, {f"m{i}/x.so": b"not elf" for i in range(5)})
    monkeypatch.setattr(shared_libs, "MAX_FILES", 3)
    monkeypatch.setattr(shared_libs.shared_objects, "__defaults__", (3,))
    result = collect(tmp_path, site)
    assert result.data["files_read"] == 3 and "more than 3 shared objects" in result.warnings[0].message


def test_apk_owners_from_a_recorded_alpine_database(fixtures_dir, tmp_path):
    root = tmp_path / "root"
    (root / "lib" / "apk" / "db").mkdir(parents=True)
    shutil.copyfile(fixtures_dir / "pkgdb" / "alpine3.16-x86_64" / "installed", root / "lib/apk/db/installed")
    owners = shared_libs.apk_owners(ProbeContext(root=root), {"libz.so.1", "libcrypto.so.1.1", "libnothing.so.9"})
    assert owners == {"libz.so.1": "zlib", "libcrypto.so.1.1": "libcrypto1.1"}


def test_an_invalid_pyproject_is_named_with_the_first_100_characters_of_tomllib_s_reason(tmp_path):
    """A pyproject.toml that declares a long table twice: tomllib's reason names the whole key, longer than the
    100 characters the warning quotes; the probe reads on without its system-packages."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    table = "[tool.envcapture.system-packages-of-the-gpu-nodes-of-the-cluster-in-the-basement]\n"
    text = f"{table}a = 1\n{table}b = 2\n"
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ValueError) as raised:
        tomllib.loads(text)
    reason = str(raised.value)
    assert len(reason) > 100
    warnings = []
    assert shared_libs.requested_in_pyproject(ProbeContext(project=tmp_path), warnings) == []
    assert [w.message for w in warnings] == [f"pyproject.toml is not valid TOML ({reason[:100]}); its "
                                             "[tool.envcapture] system-packages were not read"]
