"""`--vendor` of a real conda environment (made by py-rattler), without Docker: the kit's conda/ folder is a
channel of the very package files (each checked against the manifest's digest), installable with no network by
the kit's own install.py; the environment it installs freezes to the same conda records. A file that differs
from its record is named and left out, a package cache is used before the URL, vendoring twice gives the same
bytes, and without py-rattler the command says in one line which extra brings it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envcapture.render import vendor_conda
from envcapture.render.plan import Options, make_plan
from tests.conda.conftest import freeze_prefix
from tests.helpers.clirun import cli_env


def _manifest(prefix: Path, out: Path) -> dict:
    return freeze_prefix(prefix, out)


def _conda_files(data: dict, staging: Path, said=None):
    plan = make_plan(data, Options(targets=("docker",), command="envcapture generate docker --vendor",
                                   manifest_sha256="0" * 64))
    return vendor_conda.conda_files(plan, data, staging, say=(said.append if said is not None else lambda _: None))


def _digest(content) -> str:
    if hasattr(content, "sha256"):
        assert hashlib.sha256(content.path.read_bytes()).hexdigest() == content.sha256
        return content.sha256
    return hashlib.sha256(content.encode() if isinstance(content, str) else content).hexdigest()


def _write(files: dict, kit: Path) -> None:
    for rel, content in files.items():
        path = kit / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if hasattr(content, "path"):
            shutil.copyfile(content.path, path)
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)


@pytest.fixture(scope="module")
def frozen(real_conda, tmp_path_factory):
    channel, prefix = real_conda
    return channel, prefix, _manifest(prefix, tmp_path_factory.mktemp("frozen") / "m.json")


def test_the_kit_installs_offline_into_an_environment_that_freezes_to_the_same_records(frozen, tmp_path):
    channel, _, data = frozen
    files, vendored, missing = _conda_files(data, tmp_path / "staging")
    assert missing == [] and len(vendored) == 3
    for archive in channel.rglob("*.tar.bz2"):
        staged = files[f"conda/channel/{archive.parent.name}/{archive.name}"]
        assert staged.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    kit = tmp_path / "kit"
    _write(files, kit)
    subprocess.run(["sha256sum", "--strict", "--quiet", "-c", "SHA256SUMS"], cwd=kit / "conda", check=True)
    # The original channel moves away and the network is cut: only the kit can provide the packages.
    channel.rename(channel.with_name("channel-gone"))
    try:
        done = subprocess.run(["unshare", "--net", sys.executable, str(kit / "conda" / "install.py"),
                               str(tmp_path / "rebuilt")], capture_output=True, text=True, timeout=300)
    finally:
        channel.with_name("channel-gone").rename(channel)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "rebuilt" / "bin" / "hello").is_file()
    again = _manifest(tmp_path / "rebuilt", tmp_path / "again.json")
    assert again["conda"]["packages"] == data["conda"]["packages"]
    assert again["conda"]["channels"] == data["conda"]["channels"]
    assert again["python"]["version"] == data["python"]["version"]


def test_vendoring_twice_gives_the_same_bytes(frozen, tmp_path):
    first, _, _ = _conda_files(frozen[2], tmp_path / "one")
    second, _, _ = _conda_files(frozen[2], tmp_path / "two")
    assert sorted(first) == sorted(second)
    assert {rel: _digest(c) for rel, c in first.items()} == {rel: _digest(c) for rel, c in second.items()}
    repodata = json.loads(first["conda/channel/linux-64/repodata.json"])
    assert sorted(repodata["packages"]) == ["hello-2.1-h0_1.tar.bz2", "python-3.11.2-0_debian.tar.bz2"]


def test_a_package_file_that_differs_from_its_record_is_named_and_the_rest_vendored(frozen, tmp_path):
    channel, _, data = frozen
    copy = tmp_path / "channel"
    shutil.copytree(channel, copy)
    hello = copy / "linux-64" / "hello-2.1-h0_1.tar.bz2"
    changed = bytearray(hello.read_bytes())
    changed[-1] ^= 1
    hello.write_bytes(bytes(changed))
    data = json.loads(json.dumps(data).replace(channel.as_uri(), copy.as_uri()))
    files, vendored, missing = _conda_files(data, tmp_path / "staging")
    assert [spec for spec, _ in missing] == ["hello=2.1=h0_1"]
    assert "not the one recorded (its sha256 differs)" in missing[0][1]
    assert sorted(r.name for r in vendored) == ["greeting-data", "python"]
    assert not any("hello-2.1" in rel for rel in files)
    assert "hello" not in files["conda/records.json"]


def test_a_package_cache_is_used_before_the_url(frozen, tmp_path, monkeypatch):
    channel, _, data = frozen
    cache = tmp_path / "pkgs"
    cache.mkdir()
    for archive in channel.rglob("*.tar.bz2"):
        shutil.copyfile(archive, cache / archive.name)
    gone = "file:///nonexistent-channel"
    data = json.loads(json.dumps(data).replace(channel.as_uri(), gone))
    monkeypatch.setenv("CONDA_PKGS_DIRS", str(cache))
    _, vendored, missing = _conda_files(data, tmp_path / "staging")
    assert missing == [] and len(vendored) == 3
    monkeypatch.setenv("CONDA_PKGS_DIRS", str(tmp_path / "empty"))
    _, vendored, missing = _conda_files(data, tmp_path / "staging2")
    assert len(missing) == 3 and all("does not exist" in why for _, why in missing)


def test_a_record_whose_url_names_another_file_is_not_fetched(frozen):
    data = json.loads(json.dumps(frozen[2]))
    data["conda"]["packages"][0]["url"] = "file:///etc/shadow"
    records, missing = vendor_conda.records_of(data)
    assert len(records) == 2 and "names 'shadow'" in missing[0][1]


def test_without_py_rattler_conda_vendoring_says_which_extra_in_one_line(frozen, tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(frozen[2]))
    block = ("import sys; sys.modules['rattler'] = None; from envcapture.cli import main; "
             "sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", block, "generate", "docker", "-m", str(tmp_path / "m.json"),
                           "-o", str(tmp_path / "kit"), "--vendor"], capture_output=True, text=True,
                          env=cli_env())
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "envcapture: --vendor of a conda environment needs py-rattler, which is not installed "
        "(pip install 'envcapture[conda]')"]
    assert not (tmp_path / "kit").exists()
    plain = subprocess.run([sys.executable, "-c", block, "generate", "docker", "-m", str(tmp_path / "m.json"),
                            "-o", str(tmp_path / "kit")], capture_output=True, text=True, env=cli_env())
    assert plain.returncode == 0, plain.stderr  # only vendoring needs it


def test_records_for_another_platform_are_refused_before_any_download(frozen, tmp_path, capsys):
    from envcapture.cli import main as run_cli

    data = json.loads(json.dumps(frozen[2]))
    data["conda"]["packages"][1]["subdir"] = "osx-arm64"
    (tmp_path / "m.json").write_text(json.dumps(data))
    assert run_cli(["generate", "docker", "-m", str(tmp_path / "m.json"), "-o", str(tmp_path / "kit"),
                    "--vendor"]) == 2
    assert "not all linux-64 or noarch packages" in capsys.readouterr().err
    assert not (tmp_path / "kit").exists()


def test_reproduce_md_says_how_a_conda_kit_installs_not_how_a_venv_kit_would(frozen):
    from envcapture.render import reproduce_md

    plan = make_plan(frozen[2], Options(targets=("docker",), command="envcapture generate docker --vendor",
                                        manifest_sha256="0" * 64, base_image="debian:12"))
    text = reproduce_md.render(plan, ["Dockerfile", "conda/", "debs/", "envcapture.json"])
    assert "Conda: the 3 recorded packages from the kit's own channel (`conda/channel/`" in text
    assert "py-rattler" in text and "`/opt/conda`" in text
    assert "into a virtualenv" not in text and "python3-venv" not in text
    networked = reproduce_md.render(plan, ["Dockerfile", "conda-explicit.txt", "envcapture.json"])
    assert "into a virtualenv" in networked and "py-rattler" not in networked


def test_the_installer_that_cannot_be_downloaded_is_named_with_pips_last_line(tmp_path, monkeypatch):
    """pip's reason is its last line (`No matching distribution found for ...`), not the first of several."""
    pytest.importorskip("rattler")
    from importlib.metadata import version

    from envcapture.errors import ToolFailed

    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple/")  # port 9 (discard): nothing answers
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "pip-cache"))
    pinned = f"py-rattler=={version('py-rattler')}"
    with pytest.raises(ToolFailed) as failed:
        vendor_conda.installer_wheel("x86_64", tmp_path / "staging")
    assert str(failed.value) == (f"--vendor: cannot download the installer {pinned} for Linux x86_64: "
                                 f"ERROR: No matching distribution found for {pinned}")


# File names as `apt-get install --download-only` saved them into this machine's /var/cache/apt/archives (an
# epoch's colon written %3a).
SAVED_DEBS = ["alsa-utils_1.2.8-1_amd64.deb", "automake_1%3a1.16.5-1.3_all.deb", "autoconf_2.71-3_all.deb",
              "b3sum_1.2.0-1+b4_amd64.deb"]


def test_a_bootstrap_package_is_pinned_to_the_version_of_the_deb_in_the_kit():
    assert vendor_conda._pinned("automake", SAVED_DEBS) == "automake=1:1.16.5-1.3"
    assert vendor_conda._pinned("b3sum", SAVED_DEBS) == "b3sum=1.2.0-1+b4"
    assert vendor_conda._pinned("auto", SAVED_DEBS) == "auto"  # a prefix of a name is not the package
    assert vendor_conda._pinned("python3", SAVED_DEBS) == "python3"  # not in the kit: left as it was
    assert vendor_conda._pinned("autoconf=2.71-3", SAVED_DEBS) == "autoconf=2.71-3"


def test_without_a_docker_engine_the_conda_kit_stops_in_one_line_after_the_channel(frozen, tmp_path, monkeypatch,
                                                                                  capsys):
    """The .debs the installer's Python needs are downloaded in a container: with no engine (DOCKER_HOST names a
    socket nothing listens on) the command says so in one line, exit 3, and writes no kit."""
    from envcapture.cli import main as run_cli

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    (tmp_path / "m.json").write_text(json.dumps(frozen[2]))
    code = run_cli(["generate", "docker", "-m", str(tmp_path / "m.json"), "-o", str(tmp_path / "kit"), "--vendor"])
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("envcapture: vendoring")]
    assert code == 3, err
    assert len(err) == 1 and err[0].startswith("envcapture: --vendor: the Debian packages are downloaded in a "
                                               "container of the base image, and no Docker engine answers"), err
    assert not (tmp_path / "kit").exists()
