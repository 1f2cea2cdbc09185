"""The environment cache of envcapture run: used only while nothing it was read from has changed."""

from __future__ import annotations

import os
from pathlib import Path

from envcapture.run import envcache


def sections(site: Path) -> dict:
    manifest = {name: {} for name in envcache.REUSED}
    manifest["python"] = {"site_packages": [str(site)]}
    manifest["warnings"] = [{"source": "dpkg", "message": "kept"}, {"source": "filesystem", "message": "fresh"}]
    return manifest


def test_an_entry_is_used_until_a_package_is_installed(tmp_path):
    site = tmp_path / "site-packages"
    site.mkdir()
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin"}
    key = envcache.key("/usr/bin/python3", env, tmp_path)
    assert envcache.load(key, env) is None
    manifest = sections(site)
    envcache.store(key, env, manifest, manifest["warnings"])
    entry = envcache.load(key, env)
    assert entry["sections"]["python"] == {"site_packages": [str(site)]}
    assert entry["warnings"] == [{"source": "dpkg", "message": "kept"}]  # the project's are collected again
    assert oct(os.stat(envcache.folder(env) / f"{key}.json").st_mode & 0o777) == "0o600"
    (site / "newpkg-1.0.dist-info").mkdir()  # what pip install does
    assert envcache.load(key, env) is None


def test_the_key_follows_the_variables_and_the_interpreter_but_not_the_shell(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path), "OMP_NUM_THREADS": "1", "PWD": "/a"}
    key = envcache.key("/usr/bin/python3", env, tmp_path)
    assert envcache.key("/usr/bin/python3", {**env, "PWD": "/b", "OLDPWD": "/a"}, tmp_path) == key
    assert envcache.key("/usr/bin/python3", {**env, "OMP_NUM_THREADS": "2"}, tmp_path) != key
    assert envcache.key("/usr/local/bin/python3", env, tmp_path) != key
    assert envcache.key("/usr/bin/python3", env, tmp_path / "other") != key


def test_a_broken_or_foreign_entry_is_a_miss(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    key = envcache.key(None, env, tmp_path)
    envcache.folder(env).mkdir(parents=True)
    for content in (b"{not json", b"[]", b'{"format": 1, "sections": {}}', b"\xff\xfe"):
        (envcache.folder(env) / f"{key}.json").write_bytes(content)
        assert envcache.load(key, env) is None


def test_an_entry_changed_since_it_was_stored_is_a_miss(tmp_path):
    """The sections are taken as the gate sealed them: a changed byte, or an entry others may write, is not."""
    site = tmp_path / "site-packages"
    site.mkdir()
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    key = envcache.key(None, env, tmp_path)
    manifest = sections(site)
    envcache.store(key, env, manifest, [])
    path = envcache.folder(env) / f"{key}.json"
    assert envcache.load(key, env) is not None
    path.write_text(path.read_text().replace('"hardware": {}', '"hardware": {"cpu": "planted"}'))
    assert '"planted"' in path.read_text() and envcache.load(key, env) is None
    envcache.store(key, env, manifest, [])
    os.chmod(path, 0o620)
    assert envcache.load(key, env) is None
