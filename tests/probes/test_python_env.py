"""envcapture/probes/python_env.py on purpose-built site-packages folders read by the real target probe:
requested/installer/top_level per package, where each came from, which index pip would use, and where the
interpreter came from."""

from __future__ import annotations

from pathlib import Path

import pytest
from sitepackages import dist_info

from envcapture.probes import python_env, target

MARKERS = target.marker_environment()


def packages_of(*sites: Path, home: str = "/nonexistent-home", site_packages=None) -> tuple[dict, list]:
    """python_env.packages on what the target probe reads from ``sites`` (first site first on the path);
    the interpreter's site-packages are ``site_packages``, by default the folders named site-packages."""
    if site_packages is None:
        site_packages = [s for s in sites if s.name == "site-packages"]
    report = {"distributions": target.distributions([str(s) for s in sites]), "markers": MARKERS,
              "site_packages": [str(s) for s in site_packages]}
    records, warnings = python_env.packages(report, home, timeout=None)
    return {record.name: record for record in records}, [w.message for w in warnings]


def test_requested_installer_and_top_level_per_package(tmp_path):
    site = tmp_path / "site-packages"
    dist_info(site, "App_Main", "1.0", requested=True, installer="pip", requires=["Shared.Lib>=2", "Win-Only; sys_platform == 'win32'"])
    dist_info(site, "shared_lib", "2.1", installer="pip")  # required as Shared.Lib: same project, other spelling
    dist_info(site, "win_only", "1.0", installer="pip")  # required only on Windows: top level here
    dist_info(site, "leftover", "0.1", installer="uv")  # nobody requires it and nobody asked for it
    records, warnings = packages_of(site)
    assert warnings == []
    app, shared, win, leftover = (records[n] for n in ("App_Main", "shared_lib", "win_only", "leftover"))
    assert (app.requested, app.installer, app.top_level) == (True, "pip", True)
    assert (shared.requested, shared.installer, shared.top_level) == (False, "pip", False)
    assert win.top_level is True
    assert (leftover.requested, leftover.installer, leftover.top_level) == (False, "uv", True)
    assert app.requires == ["Shared.Lib>=2", "Win-Only; sys_platform == 'win32'"]
    assert [r.name for r in records.values()] == ["App_Main", "leftover", "shared_lib", "win_only"]


def test_the_first_distribution_on_the_path_is_the_one_recorded(tmp_path):
    first, second = tmp_path / "first" / "site-packages", tmp_path / "second" / "site-packages"
    dist_info(first, "Torch_Like", "2.0+cu126", installer="pip", requested=True)
    dist_info(second, "torch-like", "1.0", installer="conda")
    records, _ = packages_of(first, second)
    [only] = records.values()
    assert (only.name, only.version, only.installer, only.requested) == ("Torch_Like", "2.0+cu126", "pip", True)
    assert only.local_label == "cu126" and only.index_url == "https://download.pytorch.org/whl/cu126"


def test_sources_from_direct_url(tmp_path):
    site = tmp_path / "site-packages"
    dist_info(site, "from-git", "1.0", direct_url={
        "url": "https://tok:secret@github.com/org/repo.git", "subdirectory": "pkg",
        "vcs_info": {"vcs": "git", "commit_id": "a" * 40, "requested_revision": "v1"}})
    dist_info(site, "from-wheel", "1.0", direct_url={
        "url": "https://example.org/from_wheel-1.0-py3-none-any.whl", "archive_info": {"hashes": {"sha256": "b" * 64}}})
    dist_info(site, "from-folder", "1.0", direct_url={"url": f"file://{tmp_path}/gone", "dir_info": {}})
    dist_info(site, "from-editable", "1.0", direct_url={"url": f"file://{tmp_path}/gone", "dir_info": {"editable": True}})
    dist_info(site, "from-index", "1.0")
    records, _ = packages_of(site)
    git = records["from-git"].source
    assert (git.kind, git.url, git.vcs, git.commit, git.requested_revision, git.subdirectory) == (
        "vcs", "git+https://github.com/org/repo.git", "git", "a" * 40, "v1", "pkg")
    wheel = records["from-wheel"].source
    assert (wheel.kind, wheel.hash) == ("archive", "sha256=" + "b" * 64)
    assert records["from-folder"].source.kind == "directory"
    assert records["from-editable"].source.kind == "editable"
    assert records["from-index"].source.kind == "index" and records["from-index"].source.url is None


def test_a_distribution_outside_site_packages_is_a_local_directory(tmp_path):
    site, checkout = tmp_path / "site-packages", tmp_path / "checkout"
    dist_info(site, "normal", "1.0")
    dist_info(checkout, "devpkg", "0.5")
    records, _ = packages_of(site, checkout)
    assert records["normal"].source.kind == "index"
    assert (records["devpkg"].source.kind, records["devpkg"].source.url) == ("directory", f"file://{checkout}")


def test_site_folders_by_the_interpreter_or_by_their_name_are_index_installs(tmp_path):
    """A scheme's own purelib folder (any name) and a site-packages or dist-packages folder the interpreter
    did not list (another venv's, on PYTHONPATH) both hold installed packages, not source checkouts."""
    purelib, other, debian = tmp_path / "purelib", tmp_path / "other" / "site-packages", tmp_path / "dist-packages"
    dist_info(purelib, "in-purelib", "1.0")
    dist_info(other, "in-other-venv", "1.0")
    dist_info(debian, "in-debian", "1.0")
    records, _ = packages_of(purelib, other, debian, site_packages=[purelib])
    assert {name: record.source.kind for name, record in records.items()} == {
        "in-purelib": "index", "in-other-venv": "index", "in-debian": "index"}


def test_invalid_names_versions_and_requirements_are_left_out_with_a_warning(tmp_path):
    site = tmp_path / "site-packages"
    dist_info(site, "good", "1.0", requires=["ok>=1", "bad requirement ;;; $(x)"])
    dist_info(site, "badversion", "1.0 ; rm -rf", folder="badversion-1.0.dist-info")
    records, warnings = packages_of(site)
    assert list(records) == ["good"] and records["good"].requires == ["ok>=1"]
    assert any("badversion" in w and "left out" in w for w in warnings)
    assert any(w.startswith("good: requirement") and "PEP 508" in w for w in warnings)


# ------------------------------------------------------------------------------------- package indexes

@pytest.fixture
def pip_env(tmp_path):
    """An environment whose user and XDG pip config folders are empty folders of the test."""
    return {"XDG_CONFIG_DIRS": str(tmp_path / "xdg"), "XDG_CONFIG_HOME": str(tmp_path / "config")}


def write_pip_conf(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def test_pip_index_url_beats_the_config_files_as_in_pip(tmp_path, pip_env):
    prefix = tmp_path / "venv"
    write_pip_conf(prefix / "pip.conf", "[global]\nindex-url = https://from-file.example/simple\n"
                                        "extra-index-url = https://extra-file.example/simple\n")
    found = python_env.package_indexes(str(prefix), {**pip_env, "PIP_INDEX_URL": "https://from-env.example/simple"},
                                       str(tmp_path / "home"), [])
    assert found.index_url == "https://from-env.example/simple"
    assert found.extra_index_urls == ["https://extra-file.example/simple"]
    assert found.sources == [str(prefix / "pip.conf"), "PIP_INDEX_URL"]
    without_env = python_env.package_indexes(str(prefix), pip_env, str(tmp_path / "home"), [])
    assert without_env.index_url == "https://from-file.example/simple"


def test_later_config_files_win_and_extras_accumulate(tmp_path, pip_env):
    home = tmp_path / "home"
    prefix = tmp_path / "venv"
    write_pip_conf(Path(pip_env["XDG_CONFIG_HOME"]) / "pip" / "pip.conf",
                   "[global]\nindex-url = https://user.example/simple\nextra-index-url = https://a.example/simple\n")
    write_pip_conf(prefix / "pip.conf", "[install]\nindex-url = https://site.example/simple\n"
                                        "extra-index-url = https://a.example/simple https://b.example/simple\n"
                                        "find-links = /wheels/here\n")
    warnings = []
    found = python_env.package_indexes(str(prefix), pip_env, str(home), warnings)
    assert found.index_url == "https://site.example/simple"  # the venv's file comes after the user's
    assert found.extra_index_urls == ["https://a.example/simple", "https://b.example/simple"]
    assert found.find_links == ["file:///wheels/here"]
    assert warnings == []


# ------------------------------------------------------------------------------------------ the origin

@pytest.mark.parametrize("base_prefix, origin", [
    ("/usr", "distro"),
    ("/usr/local", "official"),
    ("/home/u/.pyenv/versions/3.11.7", "pyenv"),
    ("/home/u/.local/share/uv/python/cpython-3.12.3-linux-x86_64-gnu", "uv"),
    ("/opt/homebrew/opt/python@3.12/Frameworks/Python.framework/Versions/3.12", "homebrew"),
    ("/opt/somewhere", "other"),
])
def test_python_origin(base_prefix, origin):
    assert python_env.python_origin(base_prefix, base_prefix + "/bin/python3", "/home/u") == origin


def test_python_origin_conda(tmp_path):
    (tmp_path / "conda-meta").mkdir()
    assert python_env.python_origin(str(tmp_path), str(tmp_path / "bin" / "python"), "/home/u") == "conda"


def test_private_url_writes_the_home_folder_as_tilde():
    assert python_env.private_url("file:///home/u/wheels", "/home/u") == "file://~/wheels"
    assert python_env.private_url("https://user:pw@host.example/simple", "/home/u") == "https://host.example/simple"


def test_a_python_whose_prefix_is_its_base_is_no_virtualenv():
    report = {"implementation": "cpython", "version": "3.11.7", "executable": "/opt/py/bin/python3",
              "prefix": "/opt/py", "base_prefix": "".join(["/opt/", "py"]),  # equal, not the same object
              "markers": MARKERS, "site_packages": []}
    info = python_env.python_info(report, "/home/u", env={"XDG_CONFIG_DIRS": "/nonexistent"})
    assert info.is_virtualenv is False
    assert python_env.python_info({**report, "prefix": "/opt/venv"}, "/home/u", env={}).is_virtualenv is True
