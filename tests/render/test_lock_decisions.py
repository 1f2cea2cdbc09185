"""The lock builder's decisions, called directly on purpose-built package records (no CLI, no network): how each
kind of install is pinned (index, PyTorch index, git, archive, local folder), what is left out and why, which
indexes the lock names, the CPU variant for Binder, the local-sources switch restore uses, and the refusal of
hostile values. --hashes runs the real `uv pip compile` against a package index made in the test."""

from __future__ import annotations

import hashlib
import sys

import pytest

from envcapture.errors import BadInput, ToolFailed
from envcapture.render.lock import Lock, build_lock, hashed_body, local_path, requirement_line
from tests.helpers.localwheels import write_wheel
from tests.helpers.gitrepo import git

COMMIT = "3a2f0b23b5e87e4699734d25008d0fadf212904c"
SHA = "939de3e7a6161af0c887ef91b7d41a53e7c5a1ca976325f429cb46ea9bc30ecc"
REPO = "https://github.com/example/lib.git"


def package(name="demo", version="1.0", installer="pip", index_url=None, **source) -> dict:
    record = {"name": name, "version": version, "installer": installer, "index_url": index_url}
    if source:
        record["source"] = source
    return record


def manifest(*packages, conda=False, cuda_wheels=(), indexes=None) -> dict:
    return {"python_packages": list(packages), "conda": {"packages": []} if conda else None,
            "gpu": {"cuda_wheels": [{"name": n, "version": "1"} for n in cuda_wheels]} if cuda_wheels else None,
            "python": {"package_indexes": indexes}}


def line(record, *, local_sources=False, exact=True, home=None, cpu_only=False):
    return requirement_line(record, "python_packages[0]", local_sources=local_sources, exact=exact, home=home,
                            cpu_only=cpu_only)


# ------------------------------------------------------------------------------------------------------- the lock

def test_index_packages_are_exact_pins_sorted_by_canonical_name():
    lock = build_lock(manifest(package("Zope.Interface", "6.4"), package("attrs", "23.2.0"),
                               package("PyYAML", "6.0.1"), package("pip", "24.0", installer=None)))
    assert lock.requirements == ["attrs==23.2.0", "pip==24.0", "PyYAML==6.0.1", "Zope.Interface==6.4"]
    assert (lock.extra_index_urls, lock.index_url, lock.omitted, lock.has_vcs) == ([], None, [], False)
    assert lock.body() == "attrs==23.2.0\npip==24.0\nPyYAML==6.0.1\nZope.Interface==6.4\n"


def test_conda_records_are_left_to_conda_only_in_a_conda_environment():
    records = (package("numpy", "1.26.4", installer="conda"), package("six", "1.16.0"))
    assert build_lock(manifest(*records, conda=True)).requirements == ["six==1.16.0"]
    assert build_lock(manifest(*records)).requirements == ["numpy==1.26.4", "six==1.16.0"]


def test_the_index_a_package_came_from_and_the_configured_indexes_are_named():
    lock = build_lock(manifest(
        package("internal-lib", "4.2.0", index_url="https://pypi.internal.example/simple"),
        package("torch", "2.5.1+cu124"),
        indexes={"index_url": "https://mirror.example/simple",
                 "extra_index_urls": ["https://extra.example/simple", "file:///opt/wheels/simple",
                                      "https://pypi.internal.example/simple"]}))
    assert lock.index_url == "https://mirror.example/simple"
    assert lock.extra_index_urls == ["https://download.pytorch.org/whl/cu124", "https://extra.example/simple",
                                     "https://pypi.internal.example/simple"]
    assert lock.local_indexes == ["file:///opt/wheels/simple"]
    assert lock.option_lines() == ["--index-url https://mirror.example/simple",
                                   "--extra-index-url https://download.pytorch.org/whl/cu124",
                                   "--extra-index-url https://extra.example/simple",
                                   "--extra-index-url https://pypi.internal.example/simple"]
    assert lock.body().splitlines() == lock.option_lines() + ["internal-lib==4.2.0", "torch==2.5.1+cu124"]


def test_a_local_index_url_is_reported_not_written():
    lock = build_lock(manifest(package("six", "1.16.0"), indexes={"index_url": "file:///opt/pypi/simple"}))
    assert lock.index_url is None and lock.local_indexes == ["file:///opt/pypi/simple"]
    assert lock.option_lines() == []
    lock = build_lock(manifest(package("six", "1.16.0"), indexes={"index_url": "http://mirror.local/simple"}))
    assert lock.index_url == "http://mirror.local/simple" and lock.local_indexes == []


@pytest.mark.parametrize("indexes, where", [
    ({"index_url": "https://user:secret@mirror.example/simple"}, r"python\.package_indexes\.index_url"),
    ({"index_url": "https://mirror.example/simple --trusted-host x"}, r"python\.package_indexes\.index_url"),
    ({"extra_index_urls": ["https://ok.example/simple", "https://x.example/$(id)"]},
     r"python\.package_indexes\.extra_index_urls\[1\]"),
])
def test_hostile_configured_indexes_are_refused(indexes, where):
    with pytest.raises(BadInput, match=where):
        build_lock(manifest(package("six", "1.16.0"), indexes=indexes))


@pytest.mark.parametrize("record, where", [
    (package("six;id", "1.16.0"), r"python_packages\[1\]\.name"),
    (package("six", "1.16.0 --index-url https://evil.example"), r"python_packages\[1\]\.version"),
    (package("six", "1.16.0", index_url="https://evil.example/simple\n--trusted-host evil"),
     r"python_packages\[1\]\.index_url"),
    (package("lib", "1.0", kind="vcs", url=REPO + " ; id", commit=COMMIT), r"python_packages\[1\]\.source\.url"),
    (package("lib", "1.0", kind="vcs", url=REPO, commit="main"), r"python_packages\[1\]\.source\.commit"),
    (package("lib", "1.0", kind="archive", url="https://x.example/lib.whl", hash="sha256=nothex"),
     r"python_packages\[1\]\.source\.hash"),
    (package("lib", "1.0", kind="vcs", url=REPO, commit=COMMIT, subdirectory="../up"),
     r"python_packages\[1\]\.source\.subdirectory"),
    (package("lib", "1.0", kind="vcs", url=REPO, commit=COMMIT, subdirectory="a/../../b"),
     r"python_packages\[1\]\.source\.subdirectory"),
])
def test_hostile_package_values_are_refused_with_their_place(record, where):
    with pytest.raises(BadInput, match=where):
        build_lock(manifest(package("six", "1.16.0"), record))


# -------------------------------------------------------------------------------------------- PyTorch and Binder

def test_cuda_builds_come_from_pytorchs_index_and_binder_gets_cpu_builds():
    records = [package("torch", "2.5.1+cu124"), package("torchvision", "0.20.1+rocm6.2"),
               package("flash-attn", "2.6.3+cu124"), package("numpy", "1.26.4"), package("intel-ext", "2.5+xpu"),
               package("nvidia-cublas-cu12", "12.4.5.8"), package("nvidia-ml-py", "12.560.30"),
               package("triton", "3.1.0")]
    gpu = build_lock(manifest(*records, cuda_wheels=["triton"]))
    assert "torch==2.5.1+cu124" in gpu.requirements and "nvidia-cublas-cu12==12.4.5.8" in gpu.requirements
    assert gpu.extra_index_urls == ["https://download.pytorch.org/whl/cu124", "https://download.pytorch.org/whl/rocm6.2",
                                    "https://download.pytorch.org/whl/xpu"]
    assert gpu.swapped_to_cpu == [] and gpu.omitted == []
    cpu = build_lock(manifest(*records, cuda_wheels=["triton"]), cpu_only=True)
    assert cpu.requirements == ["flash-attn==2.6.3+cu124", "intel-ext==2.5+xpu", "numpy==1.26.4",
                                "nvidia-ml-py==12.560.30", "torch==2.5.1+cpu", "torchvision==0.20.1+cpu"]
    assert cpu.swapped_to_cpu == ["torch", "torchvision"]
    assert {o.name: o.reason for o in cpu.omitted} == {
        "nvidia-cublas-cu12": "CUDA runtime wheel, not needed by the CPU build",
        "triton": "CUDA runtime wheel, not needed by the CPU build"}
    assert cpu.extra_index_urls == ["https://download.pytorch.org/whl/cpu", "https://download.pytorch.org/whl/cu124",
                                    "https://download.pytorch.org/whl/xpu"]


def test_a_local_label_that_is_not_pytorchs_needs_no_index():
    found = line(package("mylib", "1.0+local.7"))
    assert (found.line, found.index, found.swapped_to_cpu) == ("mylib==1.0+local.7", None, False)
    found = line(package("torch", "2.5.1+cpu"), cpu_only=True)
    assert (found.line, found.index, found.swapped_to_cpu) == \
        ("torch==2.5.1+cpu", "https://download.pytorch.org/whl/cpu", False)


# ---------------------------------------------------------------------------------------------------------- git

def test_a_git_install_is_pinned_to_its_commit():
    found = line(package("lib", "1.0", kind="vcs", url=REPO, vcs="git", commit=COMMIT, subdirectory="python/lib"))
    assert found.line == f"lib @ git+{REPO}@{COMMIT}#subdirectory=python/lib"
    assert found.vcs is True and found.omitted is None and found.notes == []
    assert found.outside == f"lib: a repository {REPO}, built here"
    prefixed = line(package("lib", "1.0", kind="vcs", url="git+ssh://git@github.com/example/lib.git", commit=COMMIT))
    assert prefixed.line == f"lib @ git+ssh://git@github.com/example/lib.git@{COMMIT}"
    local = line(package("lib", "1.0", kind="vcs", url="file:///srv/git/lib", commit=COMMIT))
    assert local.line == f"lib @ git+file:///srv/git/lib@{COMMIT}"
    assert local.outside == "lib: a local repository file:///srv/git/lib, built here"
    lock = build_lock(manifest(package("lib", "1.0", kind="vcs", url=REPO, commit=COMMIT), package("six", "1.16.0")))
    assert lock.has_vcs is True and lock.requirements[0].startswith("lib @ git+")


def test_generate_pins_only_git_commits():
    hg = line(package("lib", "1.0", kind="vcs", url="https://hg.example/lib", vcs="hg", commit="abc123"))
    assert (hg.line, hg.omitted) == (None, "installed from hg (https://hg.example/lib); only git is pinned")
    nocommit = line(package("lib", "1.0", kind="vcs", url=REPO, requested_revision="main"))
    assert (nocommit.line, nocommit.omitted) == (None, f"installed from git ({REPO}) without a recorded commit")
    lock = build_lock(manifest(package("lib", "1.0", kind="vcs", url=REPO), package("six", "1.16.0")))
    assert lock.requirements == ["six==1.16.0"] and lock.has_vcs is False
    assert [(o.name, o.reason) for o in lock.omitted] == [("lib", f"installed from git ({REPO}) without a recorded "
                                                                   "commit")]


def test_restore_takes_a_branch_or_another_vcs_with_a_note():
    hg = line(package("lib", "1.0", kind="vcs", url="https://hg.example/lib", vcs="hg", commit="abc123"), exact=False)
    assert hg.line == "lib @ hg+https://hg.example/lib@abc123" and hg.notes == []
    branch = line(package("lib", "1.0", kind="vcs", url=REPO, requested_revision="release/2.x"), exact=False)
    assert branch.line == f"lib @ git+{REPO}@release/2.x"
    assert branch.notes == [f"lib: no commit recorded for {REPO}; installed from release/2.x, which may have moved"]
    default = line(package("lib", "1.0", kind="vcs", url=REPO), exact=False)
    assert default.line == f"lib @ git+{REPO}" and default.vcs is True
    assert default.notes == [f"lib: no commit recorded for {REPO}; installed from its default branch"]
    with pytest.raises(BadInput, match=r"source\.requested_revision"):
        line(package("lib", "1.0", kind="vcs", url=REPO, requested_revision="main;id"), exact=False)


def test_a_vcs_record_without_a_url_is_an_index_pin():
    assert line(package("lib", "1.0", kind="vcs", url=None)).line == "lib==1.0"
    assert line(package("lib", "1.0", kind="archive", url=None)).line == "lib==1.0"


# ----------------------------------------------------------------------------------------------------- archives

def test_a_remote_archive_is_pinned_by_url_and_hash():
    url = "https://files.example/lib-1.0-py3-none-any.whl"
    found = line(package("lib", "1.0", kind="archive", url=url, hash=f"sha256={SHA}"))
    assert found.line == f"lib @ {url}#sha256={SHA}" and found.outside == f"lib: the archive {url}, built here"
    assert line(package("lib", "1.0", kind="archive", url=url.replace("https", "http"))).line == \
        "lib @ http://files.example/lib-1.0-py3-none-any.whl"
    sdist = line(package("lib", "1.0", kind="archive", url="https://files.example/lib.tar.gz", subdirectory="src"))
    assert sdist.line == "lib @ https://files.example/lib.tar.gz#subdirectory=src"


def test_a_local_archive_is_left_out_of_a_kit_and_installed_by_restore_when_it_exists(tmp_path):
    wheel = write_wheel(tmp_path / "wheels", "lib", "1.0")
    record = package("lib", "1.0", kind="archive", url=wheel.as_uri(), hash=f"sha256={SHA}")
    kit = line(record)
    assert (kit.line, kit.omitted) == (None, f"installed from a local archive ({wheel.as_uri()}), not in the kit")
    restore = line(record, local_sources=True, exact=False)
    assert restore.line == f"lib @ {wheel.as_uri()}#sha256={SHA}"
    assert restore.outside == f"lib: the local archive {wheel}, built here"
    gone = line(package("lib", "1.0", kind="archive", url=(tmp_path / "gone.whl").as_uri()), local_sources=True)
    assert gone.line is None and gone.omitted == f"the archive {(tmp_path / 'gone.whl').as_uri()} does not exist here"


def test_a_local_archive_under_home_is_found_in_this_users_home(tmp_path):
    wheel = write_wheel(tmp_path / "wheels", "lib", "1.0")
    found = line(package("lib", "1.0", kind="archive", url="file://~/wheels/" + wheel.name), local_sources=True,
                 home=str(tmp_path))
    assert found.line == f"lib @ {wheel.as_uri()}"


def test_a_local_path_that_would_split_a_lock_line_is_left_out(tmp_path):
    odd = tmp_path / "a b#c"
    wheel = write_wheel(odd, "lib", "1.0")
    found = line(package("lib", "1.0", kind="archive", url=wheel.as_uri()), local_sources=True)
    assert found.line is None and "has characters a lock line cannot hold" in found.omitted
    folder = package("lib", "1.0", kind="directory", url=odd.as_uri())
    found = line(folder, local_sources=True)
    assert found.line is None and "has characters a lock line cannot hold" in found.omitted


# ------------------------------------------------------------------------------------------------ local folders

def test_a_local_folder_is_left_out_of_a_kit():
    for kind in ("editable", "directory"):
        found = line(package("mytool", "0.1", kind=kind, url="file:///srv/mytool"))
        assert found.line is None
        assert found.omitted == (f"installed from a local folder ({kind}); its source is not in the kit: copy it into "
                                 "project/ and install it there")
    lock = build_lock(manifest(package("mytool", "0.1", kind="editable", url="file:///srv/mytool")))
    assert lock.requirements == [] and [o.name for o in lock.omitted] == ["mytool"]


def test_restore_installs_a_local_folder_editable_or_not(tmp_path):
    folder = tmp_path / "mytool"
    (folder / "python").mkdir(parents=True)
    editable = line(package("mytool", "0.1", kind="editable", url=folder.as_uri()), local_sources=True)
    assert editable.line == f"-e {folder}" and editable.notes == []
    assert editable.outside == f"mytool: the local folder {folder}, built here"
    plain = line(package("mytool", "0.1", kind="directory", url=folder.as_uri(), subdirectory="python"),
                 local_sources=True)
    assert plain.line == f"mytool @ {(folder / 'python').as_uri()}"
    home = line(package("mytool", "0.1", kind="directory", url="file://~/mytool"), local_sources=True, home=str(tmp_path))
    assert home.line == f"mytool @ {folder.as_uri()}"
    gone = line(package("mytool", "0.1", kind="editable", url=(tmp_path / "gone").as_uri()), local_sources=True)
    assert gone.line is None and gone.omitted == f"editable install from {(tmp_path / 'gone').as_uri()}, a folder " \
                                                 "that does not exist here"
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    assert line(package("mytool", "0.1", kind="directory", url=afile.as_uri()), local_sources=True).line is None
    assert line(package("mytool", "0.1", kind="directory", url=None), local_sources=True).line is None


def test_restore_notes_a_checkout_that_moved_or_was_dirty(tmp_path):
    repo = tmp_path / "mytool"
    repo.mkdir()
    (repo / "a.txt").write_text("1")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    head = git(repo, "rev-parse", "HEAD")
    same = line(package("mytool", "0.1", kind="editable", url=repo.as_uri(), checkout={"commit": head}),
                local_sources=True)
    assert same.notes == []
    moved = line(package("mytool", "0.1", kind="editable", url=repo.as_uri(),
                         checkout={"commit": COMMIT, "dirty": True}), local_sources=True)
    assert moved.line == f"-e {repo}"
    assert moved.notes == [f"mytool: {repo} is now at commit {head[:12]}, the manifest recorded {COMMIT[:12]}",
                           "mytool: the checkout had uncommitted changes when the manifest was made"]
    by_source = line(package("mytool", "0.1", kind="editable", url=repo.as_uri(), commit=COMMIT), local_sources=True)
    assert len(by_source.notes) == 1 and "is now at commit" in by_source.notes[0]
    plain = tmp_path / "plain"
    plain.mkdir()
    not_git = line(package("mytool", "0.1", kind="editable", url=plain.as_uri(), checkout={"commit": COMMIT}),
                   local_sources=True)
    assert not_git.line == f"-e {plain}" and not_git.notes == []


# ----------------------------------------------------------------------------------------------------- paths

def test_local_paths_from_file_urls_and_home():
    assert local_path("file:///srv/a%20b/x.whl", "/home/me") == local_path("/srv/a b/x.whl", "")
    assert str(local_path("file:///srv/a%20b/x.whl", "/home/me")) == "/srv/a b/x.whl"
    assert str(local_path("file://~/x%2By.whl", "/home/me")) == "/home/me/x+y.whl"
    assert str(local_path("~/w", "/home/me")) == "/home/me/w"
    assert local_path("relative/x.whl", "/home/me") is None


# ---------------------------------------------------------------------------------------------------- --hashes

def simple_index(root, name, version):
    """A PEP 503 index with one wheel, its sha256 in the link (as PyPI serves it)."""
    wheel = write_wheel(root / name, name, version)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (root / name / "index.html").write_text(f'<a href="{wheel.name}#sha256={digest}">{wheel.name}</a>\n')
    (root / "index.html").write_text(f'<a href="{name}/">{name}</a>\n')
    return digest


def test_hashes_come_from_uv_compile_against_the_recorded_index(tmp_path):
    pytest.importorskip("uv")
    digest = simple_index(tmp_path / "simple", "demo-pkg", "1.2.0")
    lock = Lock(requirements=["demo-pkg==1.2.0"], index_url=(tmp_path / "simple").as_uri())
    assert hashed_body(lock, "3.11.7") == f"demo-pkg==1.2.0 \\\n    --hash=sha256:{digest}\n"


def test_a_pin_the_index_lacks_is_a_tool_failure_with_uvs_words(tmp_path):
    pytest.importorskip("uv")
    simple_index(tmp_path / "simple", "demo-pkg", "1.2.0")
    lock = Lock(requirements=["demo-pkg==9.9.9"], index_url=(tmp_path / "simple").as_uri())
    with pytest.raises(ToolFailed, match="uv pip compile --generate-hashes failed") as failed:
        hashed_body(lock, "3.11.7")
    assert "demo-pkg" in failed.value.tail


def test_with_extra_indexes_a_pin_is_taken_from_whichever_index_has_that_version(tmp_path):
    """PyTorch's index carries numpy, jinja2, ... at a few versions only: uv must not stop at the first index
    that knows the name (its default), or a pin that only the main index has fails."""
    pytest.importorskip("uv")
    digest = simple_index(tmp_path / "main", "demo-pkg", "1.2.0")
    simple_index(tmp_path / "extra", "demo-pkg", "0.9.0")
    lock = Lock(requirements=["demo-pkg==1.2.0"], index_url=(tmp_path / "main").as_uri(),
                extra_index_urls=[(tmp_path / "extra").as_uri()])
    assert hashed_body(lock, "3.11.7") == f"demo-pkg==1.2.0 \\\n    --hash=sha256:{digest}\n"


def test_without_the_uv_package_the_uv_on_path_is_used_and_without_either_hashes_stop(tmp_path, monkeypatch):
    uv = pytest.importorskip("uv")
    digest = simple_index(tmp_path / "simple", "demo-pkg", "1.2.0")
    lock = Lock(requirements=["demo-pkg==1.2.0"], index_url=(tmp_path / "simple").as_uri())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").symlink_to(uv.find_uv_bin())
    (bin_dir / "python3").symlink_to(sys.executable)  # uv looks for an interpreter on PATH
    monkeypatch.setitem(sys.modules, "uv", None)  # `import uv` fails, as where it is not installed
    monkeypatch.setenv("PATH", str(bin_dir))
    assert hashed_body(lock, "3.11.7") == f"demo-pkg==1.2.0 \\\n    --hash=sha256:{digest}\n"
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolFailed, match="--hashes needs uv"):
        hashed_body(lock, "3.11.7")
