"""freeze on environments a careful attacker or an unlucky user makes: it finishes, warns, and writes only a
manifest that `validate` accepts (malformed direct_url.json, bytes that are not UTF-8, a quote in a folder
name, an escape byte in a dist-info folder name, 2,500 Requires-Dist lines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clirun import cli_env, envcapture

MALFORMED_DIRECT_URLS = {
    "dirinfo-yes": {"url": "file:///srv/src/x", "dir_info": "yes"},
    "vcsinfo-git": {"url": "https://example.com/r.git", "vcs_info": "git"},
    "hash-seven": {"url": "https://example.com/p.tar.gz", "archive_info": {"hashes": {"sha256": 7}}},
    "archive-list": {"url": "https://example.com/p.tar.gz", "archive_info": [1, 2]},
    "commit-number": {"url": "https://example.com/r.git", "vcs_info": {"vcs": 3, "commit_id": 12345}},
    "url-number": {"url": 5, "dir_info": {}},
    "top-list": [1, 2, 3],
}


def add_dist(site: Path, folder: str | bytes, name: str, version: str = "1.0", requires=(), direct_url=None):
    path = os.path.join(os.fsencode(site), os.fsencode(folder))
    os.mkdir(path)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    with open(os.path.join(path, b"METADATA"), "w") as handle:
        handle.write("\n".join(lines) + "\n\n")
    if direct_url is not None:
        with open(os.path.join(path, b"direct_url.json"), "w") as handle:
            json.dump(direct_url, handle)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A real venv in a folder whose name holds a quote, with hostile dist-info folders (venv itself refuses a
    folder name that is not UTF-8, so the Latin-1 bytes go into a dist-info folder, a project file and PATH)."""
    root = tmp_path_factory.mktemp("hostile")
    venv = root / "it's env" / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    for name, direct_url in MALFORMED_DIRECT_URLS.items():
        add_dist(site, f"{name}-1.0.dist-info", name, direct_url=direct_url)
    add_dist(site, b"caf\xe9-2.0.dist-info", "cafe", "2.0")
    os.mkdir(os.path.join(os.fsencode(site), b"esc\x1b[31mred-1.0.dist-info"))  # no METADATA: a warning
    add_dist(site, "many_requires-1.0.dist-info", "many-requires",
             requires=[f"dep{i}>=1" for i in range(2500)])
    project = root / "project"
    project.mkdir()
    (project / "train.py").write_text("print('hi')\n")
    with open(os.path.join(os.fsencode(project), b"donn\xe9es.csv"), "w") as handle:
        handle.write("a,b\n")
    out = root / "m.json"
    env = cli_env({"PATH": os.environ["PATH"] + ":" + os.fsdecode(b"/opt/caf\xe9/bin")})
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run([sys.executable, "-m", "envcapture", "freeze", "--python", str(venv / "bin" / "python"),
                           "--project", str(project), "-o", str(out)], capture_output=True, text=True, env=env,
                          cwd=root)
    return {"proc": proc, "out": out, "root": root}


def warnings_of(hostile) -> list[str]:
    data = json.loads(hostile["out"].read_bytes().decode("utf-8"))
    return [w["message"] for w in data["warnings"]]


def test_freeze_finishes_and_its_manifest_validates(hostile):
    proc = hostile["proc"]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    hostile["out"].read_bytes().decode("utf-8")  # valid UTF-8
    check = envcapture("validate", hostile["out"])
    assert check.returncode == 0, check.stderr


def test_malformed_direct_url_json_is_a_warning(hostile):
    data = json.loads(hostile["out"].read_text())
    messages = " ".join(warnings_of(hostile))
    names = {p["name"] for p in data["python_packages"]}
    # every distribution is still recorded; the bad fields are left out and said
    assert {"dirinfo-yes", "vcsinfo-git", "hash-seven", "archive-list", "commit-number"} <= names
    assert "dir_info is not a JSON object" in messages
    assert "vcs_info is not a JSON object" in messages
    assert "archive_info is not a JSON object" in messages
    hashed = next(p for p in data["python_packages"] if p["name"] == "hash-seven")
    assert hashed["source"]["kind"] == "archive" and hashed["source"]["hash"] is None


def test_bytes_that_are_not_utf8_are_escaped_and_said(hostile):
    data = json.loads(hostile["out"].read_text())
    messages = warnings_of(hostile)
    assert "filesystem.search_paths.PATH[11]: bytes that are not UTF-8 written as \\xNN" in messages or \
        any(m.startswith("filesystem.search_paths.PATH") and "not UTF-8" in m for m in messages)
    # \xe9 is escaped; a path may not hold a backslash, so the escape itself is then written with _
    assert "/opt/caf_xe9/bin" in data["filesystem"]["search_paths"]["PATH"]
    assert sorted(f["path"] for f in data["filesystem"]["project"]["files"]) == ["donn_xe9es.csv", "train.py"]
    assert "cafe" in {p["name"] for p in data["python_packages"]}  # its folder name was not UTF-8


def test_values_that_break_a_rule_are_repaired_or_left_out(hostile):
    data = json.loads(hostile["out"].read_text())
    messages = warnings_of(hostile)
    assert "'" not in data["python"]["prefix"]
    assert any(m.startswith("python.prefix:") for m in messages)
    assert not any("\x1b" in m for m in messages)
    assert any("esc\\x1b[31mred" in m or "esc\\\\x1b" in m or "esc\\u001b" in m for m in messages), messages
    many = next(p for p in data["python_packages"] if p["name"] == "many-requires")
    assert len(many["requires"]) == 2000
    assert any("2500 items, more than the 2000" in m for m in messages)


def test_conform_repairs_free_form_sections_that_break_the_bounds():
    from envcapture.manifest import file as manifest
    from envcapture.manifest.conform import conform

    data = json.loads((Path(__file__).parents[1] / "fixtures" / "manifests" / "plain-venv.json").read_text())
    deep: object = "leaf"
    for _ in range(200):
        deep = [deep]
    data["determinism"]["deep"] = {"nested": deep}
    data["gpu"] = None
    data["os"]["pretty_name"] = "Debian\x1b]0;owned\x07 12"
    conform(data)
    assert manifest.problems(data) == []
    messages = [w["message"] for w in data["warnings"] if w["source"] == "freeze"]
    assert any(m.startswith("determinism.deep.nested") for m in messages)
    assert data["os"]["pretty_name"] == "Debian\\x1b]0;owned\\x07 12"
    data["determinism"]["deep"] = {"blob": ["x" * 4000] * 300}  # 1.2 MB: over the section's size bound
    conform(data)
    assert data["determinism"]["deep"] is None and manifest.problems(data) == []
