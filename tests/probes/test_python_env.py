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


def test_later_config_files_and_install_sections_win(tmp_path, pip_env):
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
    assert found.sources == [str(prefix / "pip.conf")]  # the file all three settings come from, once
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
    assert python_env.python_info({**report, "prefix": "/home/u/venv"}, "/home/u", env={}).is_virtualenv is True


@pytest.mark.parametrize("base_prefix, origin", [
    ("/opt/pyenv/versions/3.10.4", "pyenv"),                                  # PYENV_ROOT outside a home
    ("/opt/python/cpython-3.12.3-linux-x86_64-gnu", "uv"),                    # UV_PYTHON_INSTALL_DIR elsewhere
    ("/usr/local/Cellar/python@3.12/3.12.1/Frameworks/Python.framework/Versions/3.12", "homebrew"),
    ("/home/linuxbrew/.linuxbrew/opt/python@3.12", "homebrew"),
    ("/Library/Frameworks/Python.framework/Versions/3.12", "official"),
    ("C:\\Python312", "official"),
    ("/usr/lib/python3", "other"),
])
def test_python_origin_of_less_common_layouts(base_prefix, origin):
    assert python_env.python_origin(base_prefix, base_prefix + "/bin/python3", "/home/u") == origin


def test_an_old_virtualenv_with_real_prefix_is_a_virtualenv_and_paths_are_home_relative():
    report = {"implementation": "cpython", "version": "2.7.18", "executable": "/home/u/env/bin/python",
              "prefix": "/home/u/env", "base_prefix": "/home/u/env", "real_prefix": "/usr",
              "markers": {**MARKERS, "platform_version": "#1 SMP $(id)"},
              "site_packages": ["/home/u/env/lib/python2.7/site-packages", "/opt/shared"]}
    info = python_env.python_info(report, "/home/u", env={"XDG_CONFIG_DIRS": "/nonexistent"})
    assert info.is_virtualenv is True
    assert (info.executable, info.prefix, info.base_prefix) == ("~/env/bin/python", "~/env", "~/env")
    assert info.site_packages == ["~/env/lib/python2.7/site-packages", "/opt/shared"]
    # a marker value no grammar rule accepts never reaches the manifest; the others all do
    assert "platform_version" not in info.markers and info.markers["python_version"] == MARKERS["python_version"]


def test_python_info_reads_the_environment_it_is_given(tmp_path, monkeypatch):
    """The environment of the inspected process is ctx.env, not envcapture's own: an empty one is empty."""
    monkeypatch.setenv("PIP_INDEX_URL", "https://from-my-own-env.example/simple")
    report = {"implementation": "cpython", "version": "3.11.7", "executable": "/opt/py/bin/python3",
              "prefix": str(tmp_path), "base_prefix": str(tmp_path), "markers": MARKERS, "site_packages": []}
    assert python_env.python_info(report, "/home/u", env={"XDG_CONFIG_DIRS": str(tmp_path / "x")}) \
        .package_indexes.index_url is None
    warnings = []
    (tmp_path / "pip.conf").write_bytes(b"[global]\nindex-url = https://caf\xe9.example/simple\n")
    python_env.python_info(report, "/home/u", env={"XDG_CONFIG_DIRS": str(tmp_path / "x")}, warnings=warnings)
    assert [w.message for w in warnings] == [f"{tmp_path / 'pip.conf'}: unreadable pip config"]


def test_local_label_and_file_urls():
    assert [python_env.local_label(v) for v in ("2.1.0+cu121", "2.1.0", "2.1.0+")] == ["cu121", None, None]
    assert python_env.file_url_path("https://example.org/x") is None
    assert python_env.file_url_path("file:///opt/my%20wheels") == "/opt/my wheels"
    # outside the home folder a file URL is left exactly as written (still percent-encoded)
    assert python_env.private_url("file:///opt/my%20wheels", "/home/u") == "file:///opt/my%20wheels"


# ------------------------------------------------------------------------------------- direct_url.json

def source_of(direct_url, home="/home/u", timeout=None):
    warnings = []
    source = python_env.package_source(direct_url, home, timeout, warnings, "pkg-1.0.dist-info")
    return source, [w.message for w in warnings]


def test_direct_url_that_is_no_pep_610_object_is_an_index_install():
    for odd in (None, [], "https://example.org/x", {"url": 5}, {"vcs_info": {}}):
        assert source_of(odd) == (python_env.PackageSource("index"), [])


def test_vcs_sources_keep_their_own_prefix_and_kind():
    hg, said = source_of({"url": "https://hg.example.org/repo", "vcs_info": {"vcs": "hg", "commit_id": "c" * 40}})
    assert (hg.kind, hg.vcs, hg.url, said) == ("vcs", "hg", "hg+https://hg.example.org/repo", [])
    prefixed, _ = source_of({"url": "git+https://example.org/r.git", "vcs_info": {"vcs": "git"}})
    assert prefixed.url == "git+https://example.org/r.git"
    unknown, said = source_of({"url": "https://example.org/r", "vcs_info": {"vcs": "fossil"}})
    assert (unknown.vcs, unknown.url) == ("git", "git+https://example.org/r")
    assert said == ["pkg-1.0.dist-info: direct_url.json names an unknown vcs; taken as git"]
    bad_table, said = source_of({"url": "https://example.org/r", "vcs_info": "git"})
    assert (bad_table.kind, bad_table.vcs, bad_table.commit) == ("vcs", "git", None)
    assert said == ["pkg-1.0.dist-info: direct_url.json vcs_info is not a JSON object; ignored"]


def test_archive_hash_prefers_the_hash_field():
    both, _ = source_of({"url": "https://example.org/a.whl",
                         "archive_info": {"hash": "sha256=" + "1" * 64, "hashes": {"sha256": "2" * 64}}})
    assert both.hash == "sha256=" + "1" * 64
    only_hashes, _ = source_of({"url": "https://example.org/a.whl", "archive_info": {"hashes": {"sha256": "2" * 64}}})
    assert only_hashes.hash == "sha256=" + "2" * 64
    odd, _ = source_of({"url": "https://example.org/a.whl", "archive_info": {"hashes": {"sha256": 5}}})
    assert (odd.kind, odd.hash) == ("archive", None)


def test_a_local_directory_gets_its_git_commit_only_when_it_is_on_this_machine(tmp_path):
    import subprocess

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (checkout / "a.py").write_text("A = 1\n")
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    url = {"url": f"file://{checkout}", "dir_info": {"editable": True}}
    here, _ = source_of(url, timeout=10)
    assert (here.kind, here.checkout) == ("editable", python_env.Checkout(commit=commit, dirty=False))
    assert source_of(url, timeout=None)[0].checkout is None  # an image's paths are not this machine's
    (checkout / "a.py").write_text("A = 2\n")
    assert source_of(url, timeout=10)[0].checkout == python_env.Checkout(commit=commit, dirty=True)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert source_of({"url": f"file://{plain}", "dir_info": {}}, timeout=10)[0].checkout is None  # no git there
    assert source_of({"url": f"file://{tmp_path}/gone", "dir_info": {"editable": "yes"}}, timeout=10)[0] == \
        python_env.PackageSource("directory", url=f"file://{tmp_path}/gone")


def test_source_fields_the_grammar_refuses_are_dropped_with_a_warning(tmp_path):
    site = tmp_path / "site-packages"
    dist_info(site, "sneaky", "1.0", direct_url={
        "url": "https://example.org/repo.git", "subdirectory": "../../etc",
        "vcs_info": {"vcs": "git", "commit_id": "abc; rm -rf /", "requested_revision": "main"}})
    records, warnings = packages_of(site)
    source = records["sneaky"].source
    assert (source.url, source.commit, source.subdirectory, source.requested_revision) == (
        "git+https://example.org/repo.git", None, None, "main")
    assert len(warnings) == 2 and all(w.startswith("sneaky.source.") and w.endswith("; left out") for w in warnings)


# ----------------------------------------------------------------------------------- package records

def test_records_are_sorted_by_canonical_name_and_broken_ones_cost_nothing_else(tmp_path):
    site = tmp_path / "site-packages"
    for name in ("Zeta", "alpha", "Beta_Two"):
        dist_info(site, name, "1.0")
    latin = site / "latin-3.0.dist-info"
    latin.mkdir()
    (latin / "METADATA").write_bytes(b"Name: latin\nVersion: 3.0\nSummary: caf\xe9\n")
    report = {"distributions": target.distributions([str(site)]), "markers": MARKERS, "site_packages": [str(site)]}
    # an answer from a hostile or broken interpreter: requirements of the wrong type, no folder at all
    report["distributions"].insert(0, {"folder": "odd-1.0.dist-info", "name": "odd", "version": "1.0", "requires": 5})
    report["distributions"].insert(0, {"name": "nofolder", "version": "1.0", "requires": [["nested"]]})
    records, warnings = python_env.packages(report, "/home/u", timeout=None)
    assert [r.name for r in records] == ["alpha", "Beta_Two", "latin", "Zeta"]
    messages = [w.message for w in warnings]
    assert messages[0].startswith("a distribution: could not be read (") and messages[0].endswith("); left out")
    assert messages[1].startswith("odd-1.0.dist-info: could not be read (TypeError")
    # a distribution read with an error is still recorded (from its folder name), and the error is said
    assert messages[2:] == ["latin-3.0.dist-info: METADATA: not UTF-8"]


def test_installer_requirements_and_labels_are_checked_before_they_are_kept(tmp_path):
    site = tmp_path / "site-packages"
    dist_info(site, "app", "1.0+local.build", installer="pip; rm -rf /", requested=True, requires=[
        "internal @ https://user:token@files.example.org/internal-1.0.tar.gz", "extra-only; extra == 'test'"])
    dist_info(site, "extra-only", "1.0")
    dist_info(site, "internal", "1.0")
    records, warnings = packages_of(site)
    app = records["app"]
    assert (app.installer, app.local_label, app.index_url) == (None, "local.build", None)
    assert app.requires == ["internal @ https://files.example.org/internal-1.0.tar.gz", "extra-only; extra == 'test'"]
    assert app.purl == "pkg:pypi/app@1.0%2Blocal.build"
    # a requirement only an extra pulls in leaves its target top level; a plain one does not
    assert (records["extra-only"].top_level, records["internal"].top_level) == (True, False)
    assert warnings == []


def test_a_marker_that_cannot_be_evaluated_still_counts_as_a_requirement():
    """A requirement whose marker cannot be evaluated (`~=` on a value that is no version) is kept as an edge,
    so its target is not taken for a top-level package; one with no marker always counts."""
    report = {"markers": MARKERS, "site_packages": [], "distributions": [
        {"name": "app", "version": "1.0", "folder": "app-1.0.dist-info", "path": None,
         "requires": ["dep; python_version ~= 'abc'", "other"]},
        {"name": "dep", "version": "1.0", "folder": "dep-1.0.dist-info", "path": None},
        {"name": "other", "version": "1.0", "folder": "other-1.0.dist-info", "path": None}]}
    records, _ = python_env.packages(report, "/home/u", timeout=None)
    assert {r.name: r.top_level for r in records} == {"app": True, "dep": False, "other": False}


def test_unsatisfied_requirements_read_like_pip_check():
    installed = [("app", "1.0", ["dep>=2; python_version >= '3'", "gone", "win-only; sys_platform == 'win32'", "pre>=1.0",
                                 "direct @ https://example.org/direct-0.1.whl", "extra-dep>=5; extra == 'x'",
                                 "Dep_Too (<3,>=2)"]),
                 ("dep", "1.5", None), ("pre", "1.1rc1", []), ("direct", "0.0.1", []), ("extra-dep", "1", []),
                 ("dep-too", "2.5", [])]
    assert python_env.unsatisfied_requirements(installed, MARKERS) == [
        "app 1.0 has requirement dep>=2, but dep 1.5 is installed",
        "app 1.0 requires gone, which is not installed"]


def test_a_value_that_is_no_url_is_left_out_said_and_its_origin_not_listed(tmp_path, pip_env):
    """A relative find-links folder means nothing on another machine: pip.conf's value is named in the warning
    (it holds no URL, so no credential), left out, and the file is not listed as a source."""
    write_pip_conf(tmp_path / "venv" / "pip.conf", "[global]\nfind-links = wheels/here\n")
    warnings = []
    found = python_env.package_indexes(str(tmp_path / "venv"), {**pip_env, "UV_FIND_LINKS": "/opt/wheels"},
                                       str(tmp_path / "home"), warnings)
    assert [w.message for w in warnings] == [
        f"{tmp_path / 'venv' / 'pip.conf'}: find-links \"wheels/here\" is not a plain URL; left out"]
    assert (found.find_links, found.sources) == (["file:///opt/wheels"], ["UV_FIND_LINKS"])


def test_collect_gives_both_sections_and_says_what_pip_check_would(tmp_path):
    from envcapture.probes import ProbeContext

    site = tmp_path / "site-packages"
    dist_info(site, "app", "1.0", requested=True, requires=["dep>=2"])
    dist_info(site, "dep", "1.0")
    report = {"implementation": "cpython", "version": "3.11.7", "executable": "/opt/py/bin/python3",
              "prefix": "/opt/py", "base_prefix": "/opt/py", "markers": MARKERS, "site_packages": [str(site)],
              "distributions": target.distributions([str(site)])}
    env = {"XDG_CONFIG_DIRS": str(tmp_path / "xdg"), "PIP_INDEX_URL": "https://index.example/simple"}
    result = python_env.collect(ProbeContext(env=env, home=str(tmp_path / "home"), target=report))
    assert [p["name"] for p in result.data["python_packages"]] == ["app", "dep"]
    assert result.data["python"]["package_indexes"]["index_url"] == "https://index.example/simple"
    assert [w.message for w in result.warnings] == ["app 1.0 has requirement dep>=2, but dep 1.0 is installed"]
    only_python = python_env.collect(ProbeContext(env=env, home=str(tmp_path / "home"), target=report),
                                     packages_too=False)
    assert only_python.data["python_packages"] == [] and only_python.warnings == []
    assert only_python.data["python"] == result.data["python"]


def test_local_checkouts_are_looked_up_only_for_a_target_on_this_machine(tmp_path):
    """A target inside an image (ctx.root is not /) has its checkouts there: a folder of the same path on this
    machine says nothing about it."""
    import subprocess

    from envcapture.probes import ProbeContext

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    subprocess.run(["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@example.org", "commit",
                    "-q", "--allow-empty", "-m", "one"], check=True)
    site = tmp_path / "site-packages"
    dist_info(site, "devpkg", "0.1", direct_url={"url": f"file://{checkout}", "dir_info": {"editable": True}})
    report = {"implementation": "cpython", "version": "3.11.7", "executable": "/opt/py/bin/python3",
              "prefix": "/opt/py", "base_prefix": "/opt/py", "markers": MARKERS, "site_packages": [str(site)],
              "distributions": target.distributions([str(site)])}
    env = {"XDG_CONFIG_DIRS": str(tmp_path / "xdg")}
    here = python_env.collect(ProbeContext(env=env, home="/nonexistent", target=report)).data["python_packages"]
    image = python_env.collect(ProbeContext(root=tmp_path / "image-root", env=env, home="/nonexistent",
                                            target=report)).data["python_packages"]
    assert here[0]["source"]["checkout"]["dirty"] is False and image[0]["source"]["checkout"] is None


def test_a_version_that_cannot_be_parsed_satisfies_rather_than_alarms():
    assert python_env.unsatisfied_requirements([("app", "1.0", ["odd>=1"]), ("odd", "not a version", [])],
                                               MARKERS) == []


# ------------------------------------------------------------------------- pip's own answer as the oracle
# (last in the file: it runs pip four times, and the mutation run stops at the first failing test)

def pip_says(env: dict) -> dict:
    """index-url, extra-index-url and find-links as pip itself resolves them (`pip config list`) for the pip
    install command: [install] beats [global], the last file read beats the earlier ones, PIP_* beats files."""
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True,
                          env={"PATH": os.environ.get("PATH", ""), "PIP_DISABLE_PIP_VERSION_CHECK": "1", **env},
                          timeout=120)
    found = {}
    for section in ("global", "install", ":env:"):
        for line in proc.stdout.splitlines():
            key, _, value = line.partition("=")
            where, _, option = key.partition(".")
            if where == section and option in ("index-url", "extra-index-url", "find-links"):
                found[option] = value.strip("'").split()
    return found


def recorded(found: python_env.PackageIndexes) -> dict:
    data = {"index-url": [found.index_url] if found.index_url else [], "extra-index-url": found.extra_index_urls,
            "find-links": found.find_links}
    return {key: value for key, value in data.items() if value}


def test_config_file_precedence_is_pips(tmp_path):
    """Several config files and sections that disagree: envcapture records what pip would use (pip 23's
    `pip config list`, run on the same files), not the union of what the files say."""
    import configparser
    import sys

    machine = configparser.RawConfigParser()
    machine.read("/etc/pip.conf")
    if any(machine.has_option(s, k) for s in machine.sections() for k in ("index-url", "extra-index-url", "find-links")):
        pytest.skip("/etc/pip.conf of this machine sets an index: the expected answers below assume it does not")
    home = tmp_path / "home"
    x1, x2 = tmp_path / "x1", tmp_path / "x2"
    write_pip_conf(x1 / "pip" / "pip.conf", "[global]\nindex-url = https://x1.example/simple\n"
                                            "find-links = https://x1.example/links\n")
    write_pip_conf(x2 / "pip" / "pip.conf", "[global]\nindex-url = https://x2.example/simple\n")
    write_pip_conf(home / ".config" / "pip" / "pip.conf",
                   "[install]\nextra-index-url = https://user-install.example/simple\n"
                   "[global]\nextra-index-url = https://user-global.example/simple\n")
    write_pip_conf(home / ".pip" / "pip.conf", "[install]\nindex_url = https://legacy-user.example/simple\n")
    env = {"HOME": str(home), "XDG_CONFIG_DIRS": f"{x1}:{x2}"}
    pip = pip_says(env)
    assert pip == {"index-url": ["https://legacy-user.example/simple"], "find-links": ["https://x1.example/links"],
                   "extra-index-url": ["https://user-install.example/simple"]}
    warnings = []
    assert recorded(python_env.package_indexes(sys.prefix, env, str(home), warnings)) == pip
    assert warnings == []
    # PIP_CONFIG_FILE naming a file: pip reads it last and no longer reads the user's files
    env["PIP_CONFIG_FILE"] = str(write_pip_conf(tmp_path / "env.conf", "[global]\nfind-links = /wheels\n"))
    pip = pip_says(env)
    assert pip == {"index-url": ["https://x2.example/simple"], "find-links": ["/wheels"]}
    found = python_env.package_indexes(sys.prefix, env, str(home), [])
    assert recorded(found) == {**pip, "find-links": ["file:///wheels"]}
    assert found.sources == [str(x2 / "pip" / "pip.conf"), str(tmp_path / "env.conf")]
    # and PIP_* variables beat every file, an extra index included
    env.update(PIP_EXTRA_INDEX_URL="https://env-extra.example/simple", PIP_FIND_LINKS="https://env.example/links")
    pip = pip_says(env)
    assert recorded(python_env.package_indexes(sys.prefix, env, str(home), [])) == pip
    assert pip["extra-index-url"] == ["https://env-extra.example/simple"]
    # PIP_CONFIG_FILE=/dev/null: pip reads no config file at all
    pip = pip_says({**env, "PIP_CONFIG_FILE": "/dev/null"})
    assert recorded(python_env.package_indexes(sys.prefix, {**env, "PIP_CONFIG_FILE": "/dev/null"}, str(home), [])) \
        == pip == {"extra-index-url": ["https://env-extra.example/simple"], "find-links": ["https://env.example/links"]}
