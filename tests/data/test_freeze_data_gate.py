"""freeze's data path goes through the one gate (envcapture/manifest/gate.py): secrets in data file names,
link targets, data set names, DVC outputs and data warnings are redacted in the manifest, the sidecar and what
freeze, show and check print; odd names give a manifest `validate` accepts; a refusal writes nothing.

The secrets are fake values of the providers' shapes (see tests/secrets/corpus.py), planted as users meet
them: wget names a downloaded file after the presigned URL's query, a link points at a URL with a password.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil

import pytest

from .conftest import REPO, envcapture, make_tree

AWS_KEY = "AKIA" + "Q3EGRT6PLWXN2HY7"
HF = "hf_" + "qWeRtYuIoPaSdFgHjKlZxCvBnMqWeRtYuI"
GITHUB = "ghp_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa"
STRIPE_LONG = "sk_live_" + "Ab1Cd2Ef3Gh4" * 12  # 152 characters: longer than any provider issues
SAS_SIG = "kX9vQ2mN7pL4wR8tY1uI6oP3aS5dF0gH2jK7lZ4xC8v%3D"
PASSWORD = "Tr0ub4dor-" + "3xKq8Wm2"
# What wget names files after (it keeps the query in the name), and what a link may point at.
PRESIGNED = (f"model.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AWS_KEY}%2F20260101%2Fus-east-1"
             f"%2Fs3%2Faws4_request&X-Amz-Signature={'ab12' * 16}")
NAMES = {
    PRESIGNED: "w\n",
    f"weights.safetensors?token={HF}": "x\n",
    f"blob.parquet?sv=2022-11-02&sr=b&sig={SAS_SIG}": "y\n",
    f"notes-{GITHUB}.txt": "z\n",
}
TRACES = (AWS_KEY, HF, GITHUB, STRIPE_LONG[:40], STRIPE_LONG[-40:], SAS_SIG[:20], PASSWORD)


def leaks(text: str) -> list[str]:
    return [trace for trace in TRACES if trace in text]


def sidecar_texts(folder, manifest: dict) -> list[str]:
    out = []
    for record in manifest["data"]["sets"]:
        if record["sidecar"]:
            out.append(gzip.decompress((folder / record["sidecar"]["file"]).read_bytes()).decode())
    return out


@pytest.fixture
def planted_project(tmp_path):
    project = tmp_path / "proj"
    make_tree(project / "data" / "downloads", NAMES)
    downloads = project / "data" / "downloads"
    os.symlink(f"https://alice:{PASSWORD}@data.example.com/bucket/x.csv", downloads / "remote-link")
    os.mkfifo(downloads / f"{STRIPE_LONG}.fifo")  # skipped with a warning that names it
    make_tree(project / "data" / f"set-{HF}", {"a.csv": "1\n"})
    (project / "pyproject.toml").write_text(
        "[project]\nname = 'p'\nversion = '1'\n[tool.envcapture]\n"
        f"data = [{{path = 'data/named', name = 'run-{GITHUB}'}}]\n")
    make_tree(project / "data" / "named", {"b.csv": "2\n"})
    (project / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  fetch:\n    cmd: python fetch.py\n    outs:\n"
        f"    - path: https://alice:{PASSWORD}@data.example.com/bucket/out.csv\n"
        "      md5: ef5b0ff5762bac4466f906872710eb34\n      size: 19\n")
    return project


def test_data_secrets_reach_no_output_and_the_manifest_validates(planted_project, cache_home):
    project = planted_project
    frozen = envcapture("freeze", "--data", "data/downloads", "--data", f"data/set-{HF}", "-o", "m.json",
                        cwd=project, env={"HOME": str(project.parent)})
    assert frozen.returncode == 0, frozen.stderr
    text = (project / "m.json").read_text()
    manifest = json.loads(text)
    sets = {s["path"]: s for s in manifest["data"]["sets"]}
    # the files were recorded, their secrets not
    downloads = sets["data/downloads"]
    assert downloads["file_count"] == len(NAMES) + 1
    assert any("&X-Amz-Credential=REDACTED&" in f["path"] and f["path"].startswith("model.bin?")
               for f in downloads["files"])
    assert {"path": "remote-link", "link": "https://data.example.com/bucket/x.csv"} in downloads["files"]
    assert len(manifest["data"]["sets"]) == 3
    outputs = [o["path"] for o in manifest["data"]["dvc"]["outputs"]]
    assert outputs == ["https://data.example.com/bucket/out.csv"]
    shown = envcapture("show", "m.json", cwd=project, env={"COLUMNS": "200"})
    checked = envcapture("check", "m.json", "--data-only", cwd=project, env={"HOME": str(project.parent)})
    # the set whose own path held a secret is recorded without it, so check cannot find it unmapped
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "data set downloads (data/downloads): unchanged (5 files" in checked.stdout
    assert "data set run-REDACTED (data/named): unchanged" in checked.stdout
    assert "not-found: data/set-REDACTED" in checked.stdout
    everything = "\n".join([text, frozen.stdout, frozen.stderr, shown.stdout, shown.stderr, checked.stdout,
                            checked.stderr])
    assert leaks(everything) == []
    assert envcapture("validate", project / "m.json").returncode == 0
    redacted = [w["message"] for w in manifest["warnings"] if w["source"] == "redact"]
    assert redacted and all("REDACTED" in message or "removed" in message for message in redacted)


def test_odd_data_file_names_give_a_manifest_validate_accepts(tmp_path, cache_home):
    project = tmp_path / "proj"
    make_tree(project / "data", {"evil\u202etxt.exe": "1\n", "c1\x85name.csv": "2\n", "csi\x9b2J.csv": "3\n",
                                 "plain.csv": "4\n"})
    frozen = envcapture("freeze", "--data", "data", "-o", "it's.json", cwd=project)
    assert frozen.returncode == 0, frozen.stderr
    checked = envcapture("validate", project / "it's.json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    files = json.loads((project / "it's.json").read_text())["data"]["sets"][0]["files"]
    assert "plain.csv" in [f["path"] for f in files]


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory):
    """More files than a manifest holds inline: freeze writes a sidecar."""
    from envcapture.data.specs import INLINE_LIMIT

    root = tmp_path_factory.mktemp("big") / "big"
    make_tree(root, {f"f{i:05d}.txt": f"{i}\n" for i in range(INLINE_LIMIT + 1)})
    make_tree(root, NAMES)
    return root


def test_a_sidecar_holds_no_secret_and_a_quote_in_the_output_name_still_validates(big_tree, tmp_path, cache_home):
    project = tmp_path / "proj"
    project.mkdir()
    shutil.copytree(big_tree, project / "big", symlinks=True)
    frozen = envcapture("freeze", "--data", "big", "-o", "it's.json", cwd=project)
    assert frozen.returncode == 0, frozen.stderr
    assert envcapture("validate", project / "it's.json").returncode == 0
    manifest = json.loads((project / "it's.json").read_text())
    (sidecar,) = sidecar_texts(project, manifest)
    assert "f10000.txt" in sidecar and "X-Amz-Credential=REDACTED" in sidecar
    assert leaks(sidecar + json.dumps(manifest) + frozen.stderr) == []
    checked = envcapture("check", "it's.json", "--data-only", cwd=project)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # the sidecar adds up to the root hash


def test_a_refused_output_writes_no_sidecar(big_tree, tmp_path, cache_home):
    project = tmp_path / "proj"
    project.mkdir()
    os.symlink(big_tree, project / "big")
    (project / "notes.json").write_text("my notes\n")
    frozen = envcapture("freeze", "--data", "big", "-o", "notes.json", cwd=project)
    assert frozen.returncode == 2 and "use --force" in frozen.stderr
    assert sorted(p.name for p in project.iterdir()) == ["big", "notes.json"]
    assert (project / "notes.json").read_text() == "my notes\n"


def test_the_kit_copy_of_an_old_manifest_is_redacted(tmp_path):
    """A manifest written before the gate (or by hand) with a secret in its data section: `generate` copies
    it into the kit only through the gate."""
    manifest = json.loads((REPO / "tests" / "fixtures" / "manifests" / "plain-venv.json").read_text())
    manifest["data"] = {"sets": [{
        "name": "downloads", "path": "data/downloads", "kind": "folder", "role": "raw", "algorithm": "sha256",
        "root_hash": "0" * 64, "file_count": 1, "total_bytes": 2, "unreadable": 0, "excludes": [],
        "read_only": False, "sidecar": None,
        "files": [{"path": f"weights.safetensors?token={HF}", "size": 2, "hash": "1" * 64}]}]}
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    assert envcapture("validate", tmp_path / "m.json").returncode == 0
    made = envcapture("generate", "all", "-m", tmp_path / "m.json", "-o", tmp_path / "kit")
    assert made.returncode == 0, made.stderr
    texts = [made.stdout, made.stderr]
    for path in (tmp_path / "kit").rglob("*"):
        if path.is_file():
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    assert leaks("\n".join(texts)) == []
    copied = json.loads((tmp_path / "kit" / "envcapture.json").read_text())
    assert copied["data"]["sets"][0]["files"][0]["path"] == "weights.safetensors?token=REDACTED"
