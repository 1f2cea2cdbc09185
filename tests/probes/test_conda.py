"""The conda probe on three recorded conda environments (defaults linux-64, conda-forge linux-64 with pip
extras, conda-forge win-64) and on copies of them with planted problems."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from envcapture.probes import ProbeContext, conda

ENVS = {
    # env: (records, channel URL, channel name, explicit specs, conda version)
    "linux64-defaults-py39": (20, "https://repo.anaconda.com/pkgs/main", "pkgs/main", ["python=3.9"], "23.5.0"),
    "linux64-condaforge-py310-pip": (24, "https://conda.anaconda.org/conda-forge", "conda-forge", ["python=3.10"],
                                     "24.9.2"),
    "win64-condaforge-py312": (13, "https://conda.anaconda.org/conda-forge", "conda-forge", ["python=3.12"],
                               "24.9.2"),
}


def collect(prefix: Path, **ctx) -> conda.ProbeResult:
    return conda.collect(ProbeContext(target={"prefix": str(prefix)}, env={}, home="/nonexistent-home", **ctx))


def raw_records(prefix: Path) -> dict[str, dict]:
    records = {}
    for path in (prefix / "conda-meta").glob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        records[record["name"]] = record
    return records


@pytest.mark.parametrize("env", sorted(ENVS))
def test_recorded_env(env, fixtures_dir, section_problems):
    count, channel_url, channel, specs, version = ENVS[env]
    prefix = fixtures_dir / "conda" / env
    result = collect(prefix)
    data = result.data
    assert result.warnings == []
    assert section_problems("conda", data) == []
    assert len(data["packages"]) == count
    assert data["channels"] == [channel_url]
    assert {p["channel"] for p in data["packages"]} == {channel}
    assert data["explicit_specs"] == specs
    assert data["conda_version"] == version
    assert data["prefix"] == str(prefix)
    raw = raw_records(prefix)
    for package in data["packages"]:
        record = raw[package["name"]]
        assert (package["version"], package["build"], package["build_number"]) == \
            (record["version"], record["build"], record["build_number"])
        assert (package["md5"], package["sha256"], package["url"], package["subdir"]) == \
            (record["md5"], record["sha256"], record["url"], record["subdir"])


def test_requested_spec_only_for_what_the_user_asked(fixtures_dir):
    data = collect(fixtures_dir / "conda" / "linux64-defaults-py39").data
    assert {p["name"]: p["requested_spec"] for p in data["packages"] if p["requested_spec"]} == {"python": "python=3.9"}


def test_noarch_subdir_and_pip_record_absent(fixtures_dir):
    data = collect(fixtures_dir / "conda" / "linux64-condaforge-py310-pip").data
    packages = {p["name"]: p for p in data["packages"]}
    assert packages["pip"]["subdir"] == "noarch" and packages["pip"]["channel"] == "conda-forge"
    assert packages["python"]["build"] == "he725a3c_1_cpython"
    # numpy and rsoccer-gym were pip-installed into this env: python_packages' business, not conda's
    assert "numpy" not in packages and "rsoccer-gym" not in packages


def test_prefix_from_conda_prefix_when_the_target_gives_none(fixtures_dir):
    prefix = fixtures_dir / "conda" / "win64-condaforge-py312"
    result = conda.collect(ProbeContext(target={}, env={"CONDA_PREFIX": str(prefix)}))
    assert len(result.data["packages"]) == 13


def test_not_a_conda_env(tmp_path):
    assert collect(tmp_path).data is None
    assert conda.collect(ProbeContext(target={}, env={})).data is None


def test_env_name_and_home(fixtures_dir, tmp_path):
    prefix = tmp_path / "miniconda3" / "envs" / "research"
    shutil.copytree(fixtures_dir / "conda" / "win64-condaforge-py312" / "conda-meta", prefix / "conda-meta")
    data = conda.collect(ProbeContext(target={"prefix": str(prefix)}, env={}, home=str(tmp_path))).data
    assert data["name"] == "research"
    assert data["prefix"] == "~/miniconda3/envs/research"


@pytest.fixture
def env_copy(fixtures_dir, tmp_path) -> Path:
    prefix = tmp_path / "env"
    shutil.copytree(fixtures_dir / "conda" / "win64-condaforge-py312" / "conda-meta", prefix / "conda-meta")
    return prefix


def test_pypi_records_tokens_and_broken_records(env_copy, section_problems):
    meta = env_copy / "conda-meta"
    bzip2 = json.loads((meta / "bzip2-1.0.8-h2466b09_7.json").read_text())
    token = "ab-12345678-1234-1234-1234-123456789abc"
    bzip2["channel"] = f"https://conda.anaconda.org/t/{token}/private-chan/win-64"
    bzip2["url"] = f"https://conda.anaconda.org/t/{token}/private-chan/win-64/bzip2-1.0.8-h2466b09_7.conda"
    (meta / "bzip2-1.0.8-h2466b09_7.json").write_text(json.dumps(bzip2))
    (meta / "requests-2.31.0-pypi_0.json").write_text(json.dumps(
        {"name": "requests", "version": "2.31.0", "build": "pypi_0", "build_number": 0, "channel": "pypi"}))
    # A pip install is a pip install whatever channel name the conda version wrote next to its pypi_0 build.
    (meta / "tqdm-4.66.1-pypi_0.json").write_text(json.dumps(
        {"name": "tqdm", "version": "4.66.1", "build": "pypi_0", "build_number": 0,
         "channel": "https://conda.anaconda.org/conda-forge/win-64"}))
    (meta / "broken-1.0-0.json").write_text('{"name": "broken", "vers')
    (meta / "evil-1.0-0.json").write_text(json.dumps({"name": "evil", "version": "1.0; rm -rf /", "build": "0"}))
    result = collect(env_copy)
    data = result.data
    names = {p["name"] for p in data["packages"]}
    assert not names & {"requests", "tqdm", "broken", "evil"}
    assert len(data["packages"]) == 13
    assert token not in json.dumps(data)
    assert "https://conda.anaconda.org/private-chan" in data["channels"]
    assert {p["name"]: p["channel"] for p in data["packages"]}["bzip2"] == "private-chan"
    assert sorted(w.message.split(":")[0] for w in result.warnings) == \
        ["conda record broken-1.0-0.json unreadable", "conda record evil-1.0-0.json"]
    assert section_problems("conda", data) == []


def test_history_with_later_installs_removals_and_old_command_lines(env_copy):
    with open(env_copy / "conda-meta" / "history", "a", encoding="utf-8") as history:
        history.write("==> 2024-12-01 09:00:00 <==\n# cmd: /opt/conda/bin/conda install -c conda-forge numpy=1.26 "
                      "scipy\n# conda version: 24.11.0\n+conda-forge/win-64::numpy-1.26.4-py312h_0\n"
                      "# update specs: ['numpy=1.26', 'scipy']\n"
                      "==> 2024-12-02 09:00:00 <==\n# cmd: conda remove scipy\n# conda version: 24.11.0\n"
                      "# remove specs: ['scipy']\n"
                      "==> 2024-12-03 09:00:00 <==\n# cmd: conda install -n x --channel pytorch pytorch::torch>=2\n")
    specs, version = conda.read_history(env_copy / "conda-meta" / "history")
    assert specs == ["python=3.12", "numpy=1.26", "pytorch::torch>=2"]
    assert version == "24.11.0"


def test_slim_records_parse_like_the_whole_records(fixtures_dir):
    """The fast path that cuts the file lists out must give exactly the rest of every real record."""
    checked = 0
    for path in sorted((fixtures_dir / "conda").glob("*/conda-meta/*.json")):
        data = path.read_bytes()
        whole = json.loads(data)
        slim = json.loads(conda.cut_bulky_keys(data))
        expected = {key: value for key, value in whole.items() if key not in ("files", "paths_data") or not value}
        assert slim == expected, path.name
        checked += 1
    assert checked == 20 + 24 + 13
    assert len(conda.cut_bulky_keys((fixtures_dir / "conda" / "linux64-defaults-py39" / "conda-meta" /
                                     "python-3.9.17-h955ad1f_0.json").read_bytes())) < 5000
