"""restore and a stranger's manifest: sources beyond the package index are listed and need --trust-sources;
requirement lines come from the same checked builder as generate's requirements.lock.

No network: every case stops before anything is installed (that is the point).
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest

from envcapture import restore
from envcapture.manifest import file as manifest
from envcapture.cli import main
from envcapture.errors import BadInput

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compare"


def _package(name, source, index_url=None):
    return {"name": name, "version": "1.0", "requested": True, "installer": "pip", "top_level": True,
            "requires": [], "source": source, "local_label": None, "index_url": index_url}


def _index_only() -> dict:
    data = manifest.load(FIXTURES / "node-1.json")
    data["python_packages"] = [p for p in data["python_packages"] if (p["source"] or {}).get("kind") == "index"]
    return data


@pytest.fixture
def stranger(tmp_path) -> tuple[dict, list[str]]:
    """A manifest naming one source of each kind that runs build code from outside the package index."""
    folder = tmp_path / "localpkg"
    folder.mkdir()
    repo = tmp_path / "repo.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True, timeout=60)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    archive = tmp_path / "pkg-1.0.tar.gz"
    archive.write_bytes(b"")
    data = _index_only()
    data["python_packages"] += [
        _package("localpkg", {"kind": "directory", "url": folder.as_uri()}),
        _package("gitpkg", {"kind": "vcs", "vcs": "git", "url": f"git+{repo.as_uri()}", "commit": "a" * 40}),
        _package("archpkg", {"kind": "archive", "url": archive.as_uri()}),
    ]
    data["python"]["package_indexes"] = {"index_url": "https://mirror.evil.example/simple", "extra_index_urls": [],
                                         "find_links": [wheels.as_uri()], "sources": []}
    assert manifest.problems(data) == []
    named = [str(folder), repo.as_uri(), str(archive), "https://mirror.evil.example/simple", wheels.as_uri()]
    return data, named


def test_restore_lists_every_outside_source_and_refuses_without_the_flag(stranger, tmp_path, capsys):
    data, named = stranger
    path = tmp_path / "stranger.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    venv = tmp_path / "venv"
    assert main(["restore", str(path), "--venv", str(venv)]) == 2
    err = capsys.readouterr().err
    assert "--trust-sources" in err and "Traceback" not in err
    for source in named:
        assert source in err, source
    assert "5 source(s)" in err
    assert not venv.exists()  # refused before anything was made or run


def test_an_index_only_manifest_needs_no_trust(tmp_path):
    lock = restore.build_lock(_index_only(), home=str(tmp_path))
    assert lock.outside == [] and lock.lines
    restore.refuse_untrusted_sources(lock)  # no exception


def test_remote_repositories_and_archives_are_outside_too(tmp_path):
    data = _index_only()
    data["python_packages"] += [
        _package("gitpkg", {"kind": "vcs", "vcs": "git", "url": "git+https://github.com/example/gitpkg.git",
                            "commit": "b" * 40}),
        _package("wheelpkg", {"kind": "archive", "url": "https://example.org/wheelpkg-1.0-py3-none-any.whl"}),
    ]
    lock = restore.build_lock(data, home=str(tmp_path))
    assert [line.split(":")[0] for line in lock.outside] == ["gitpkg", "wheelpkg"]
    with pytest.raises(BadInput) as refused:
        restore.refuse_untrusted_sources(lock)
    assert refused.value.problems == lock.outside


@pytest.mark.parametrize("subdirectory", ["evil --index-url https://evil.example/simple", "../../..", "/etc",
                                          "a/../../b", "x#egg=y"])
@pytest.mark.parametrize("kind", ["vcs", "directory"])
def test_restore_lock_refuses_a_subdirectory_that_escapes_or_injects(tmp_path, subdirectory, kind):
    """Called without validation first: the builder's own checks must hold (the bug was a lock line
    `pkg @ git+https://...#subdirectory=evil --index-url https://evil.example/simple`)."""
    folder = tmp_path / "src"
    (folder / "sub").mkdir(parents=True)
    url = "git+https://github.com/example/mono.git" if kind == "vcs" else folder.as_uri()
    data = _index_only()
    data["python_packages"].append(_package("mono", {"kind": kind, "vcs": "git" if kind == "vcs" else None,
                                                     "url": url, "commit": "c" * 40,
                                                     "subdirectory": subdirectory}))
    with pytest.raises(BadInput, match=r"python_packages\[\d+\]\.source\.subdirectory"):
        restore.build_lock(data, home=str(tmp_path))
    assert "subdirectory" in manifest.problems(data)[0]


def test_restore_and_generate_share_one_builder(tmp_path):
    """The same git record gives the same line in restore's lock and generate's requirements.lock."""
    from envcapture.render.lock import build_lock as generate_lock

    data = _index_only()
    data["python_packages"].append(_package("mono", {"kind": "vcs", "vcs": "git", "commit": "d" * 40,
                                                     "url": "git+https://github.com/example/mono.git",
                                                     "subdirectory": "libs/mono"}))
    line = f"mono @ git+https://github.com/example/mono.git@{'d' * 40}#subdirectory=libs/mono"
    assert line in restore.build_lock(copy.deepcopy(data), home=str(tmp_path)).lines
    assert line in generate_lock(data).requirements


def test_a_local_folder_with_a_subdirectory_stays_inside_it(tmp_path):
    folder = tmp_path / "src"
    (folder / "libs" / "mono").mkdir(parents=True)
    data = _index_only()
    data["python_packages"].append(_package("mono", {"kind": "editable", "url": folder.as_uri(),
                                                     "subdirectory": "libs/mono"}))
    lock = restore.build_lock(data, home=str(tmp_path))
    assert f"-e {folder}/libs/mono" in lock.lines
    assert lock.outside == [f"mono: the local folder {folder}/libs/mono, built here"]


def test_a_local_path_that_would_split_a_lock_line_is_not_written(tmp_path):
    folder = tmp_path / "a --index-url https:" / "evil"
    folder.mkdir(parents=True)
    data = _index_only()
    data["python_packages"].append(_package("spacey", {"kind": "editable", "url": folder.as_uri()}))
    lock = restore.build_lock(data, home=str(tmp_path))
    assert not [line for line in lock.lines if "index-url" in line]
    assert lock.skipped and "cannot hold" in lock.skipped[0]
