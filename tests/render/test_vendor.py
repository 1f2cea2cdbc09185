"""`generate --vendor` without Docker: wheels for the manifest's platform from a real package index (served on
loopback from the test's folder, so no network), a wheel that platform cannot use named with pip's reason while
the rest is vendored, sums and the kit index byte-identical on a second run, a changed byte refused by the
build, and the Packages index checked against the real dpkg-scanpackages."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest

from envcapture.errors import BadInput, ToolFailed
from envcapture.render import bases, vendor
from tests.helpers.localwheels import isolate_pip, write_wheel
from tests.render.conftest import MANIFESTS, run_cli

MAC_ONLY = "fastlib-1.0-cp311-cp311-macosx_11_0_arm64.whl"


def _serve(root: Path):
    from tests.helpers.loopback import loopback_is_up

    if not loopback_is_up():
        pytest.skip("needs the loopback interface (the test's package index is served on 127.0.0.1); it is down")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _index(root: Path) -> None:
    """A PEP 503 index: idna (pure), uv (the installer the offline build uses), fastlib (macOS wheel only)."""
    write_wheel(root / "idna", "idna", "3.7")
    uv = write_wheel(root / "uv", "uv", bases.UV_VERSION)
    with zipfile.ZipFile(uv, "a") as archive:  # where the real uv wheel holds its program
        archive.writestr(f"uv-{bases.UV_VERSION}.data/scripts/uv", b"#!/bin/sh\n")
    write_wheel(root / "flit-core", "flit_core", "3.9.0")
    mac = write_wheel(root / "fastlib", "fastlib", "1.0")
    mac.rename(root / "fastlib" / MAC_ONLY)
    for project in ("idna", "uv", "fastlib", "flit-core"):
        links = "".join(f'<a href="{p.name}">{p.name}</a>\n' for p in sorted((root / project).glob("*.whl")))
        (root / project / "index.html").write_text(links)
    (root / "index.html").write_text("".join(f'<a href="{p}/">{p}</a>\n' for p in ("idna", "uv", "fastlib", "flit-core")))


@pytest.fixture
def served(tmp_path, monkeypatch):
    """(workdir, index URL): a manifest m.json with idna and fastlib from the local index, no system packages."""
    isolate_pip(monkeypatch, tmp_path / "pip-cache")
    root = tmp_path / "simple"
    _index(root)
    server, url = _serve(root)
    data = json.loads((MANIFESTS / "plain-venv.json").read_text())
    idna = next(p for p in data["python_packages"] if p["name"] == "idna")
    fastlib = {**idna, "name": "fastlib", "version": "1.0"}
    data["python_packages"] = [{**idna, "version": "3.7"}, fastlib]
    data["python"]["package_indexes"].update(index_url=url, extra_index_urls=[])
    for package in data["system_packages"]["packages"]:
        package["manual"] = False
    work = tmp_path / "work"
    work.mkdir()
    (work / "m.json").write_text(json.dumps(data))
    cwd = os.getcwd()
    os.chdir(work)
    yield work, url
    os.chdir(cwd)
    server.shutdown()


def _generate(out: str = "kit", *extra) -> int:
    return run_cli(["generate", "docker", "-m", "m.json", "-o", out, "--vendor", *extra])


def test_the_unavailable_wheel_is_named_with_the_reason_and_the_rest_is_vendored(served, capsys):
    work, _ = served
    assert _generate() == 0
    err = capsys.readouterr().err
    kit = work / "kit"
    wheels = sorted(p.name for p in (kit / "wheels").iterdir())
    assert wheels == ["SHA256SUMS", "idna-3.7-py3-none-any.whl", "requirements.txt",
                      f"uv-{bases.UV_VERSION}-py3-none-any.whl"]
    warning = [line for line in err.splitlines() if "not vendored: fastlib==1.0" in line]
    assert len(warning) == 1 and "no sdist either" in warning[0] and "no wheel for cp311 manylinux_2_" in warning[0]
    assert "from versions: none" in warning[0] and "no sdist either" in warning[0]
    pins = [line for line in (kit / "wheels" / "requirements.txt").read_text().splitlines() if "#" not in line]
    assert pins == ["idna==3.7"]
    skipped = json.loads((kit / "not-reproduced.json").read_text())["items"]
    assert any(i["item"] == "fastlib" and i["why"].startswith("not vendored") for i in skipped)
    # sha256sum's own check passes on the folder, as the Dockerfile runs it.
    subprocess.run(["sha256sum", "--strict", "--quiet", "-c", "SHA256SUMS"], cwd=kit / "wheels", check=True)
    index = (kit / ".envcapture-files").read_text()
    digest = hashlib.sha256((kit / "wheels" / "idna-3.7-py3-none-any.whl").read_bytes()).hexdigest()
    assert f"{digest}  wheels/idna-3.7-py3-none-any.whl\n" in index
    dockerfile = (kit / "Dockerfile").read_text()
    assert "--no-index" in dockerfile and "sha256sum --strict --quiet -c SHA256SUMS" in dockerfile
    assert "--vendor" in dockerfile.splitlines()[1]



def test_the_offline_dockerfile_installs_in_one_stage_with_uv_run_from_its_wheel(served):
    """No virtualenv copied between stages (its bytes once more, the slowest step of the old build), and uv run
    from the kit's own wheel, never installed into the image; the sums are checked before anything runs."""
    work, _ = served
    assert _generate() == 0
    kit = work / "kit"
    dockerfile = (kit / "Dockerfile").read_text()
    assert [line.split()[0] for line in dockerfile.splitlines() if line.startswith("FROM ")] == ["FROM"]
    assert "COPY --from" not in dockerfile and "/opt/uv" not in dockerfile
    wheel = kit / "wheels" / f"uv-{bases.UV_VERSION}-py3-none-any.whl"
    program = f"uv-{bases.UV_VERSION}.data/scripts/uv"
    assert program in zipfile.ZipFile(wheel).namelist()
    install = dockerfile[dockerfile.index("COPY wheels/"):]
    assert install.index("sha256sum --strict --quiet -c SHA256SUMS") < install.index(f"-m zipfile -e {wheel.name}")
    assert install.index(f"-m zipfile -e {wheel.name}") < install.index(f"/tmp/envcapture/uv/{program} pip install")
    hadolint = shutil.which("hadolint")
    if hadolint:
        done = subprocess.run([hadolint, "--failure-threshold", "error", str(kit / "Dockerfile")],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout


def test_a_uv_wheel_without_the_uv_program_is_refused(tmp_path):
    wheel = write_wheel(tmp_path, "uv", bases.UV_VERSION)
    with pytest.raises(ToolFailed, match="does not hold one uv program"):
        vendor.uv_program(wheel)

def test_vendoring_twice_gives_byte_identical_files(served):
    work, _ = served
    assert _generate("kit") == 0
    first = {p.relative_to(work / "kit"): p.read_bytes() for p in (work / "kit").rglob("*") if p.is_file()}
    assert _generate("kit") == 0  # again into the same kit: every file is envcapture's, nothing refused
    shutil.copytree(work / "kit", work / "first")
    assert _generate("kit") == 0
    again = {p.relative_to(work / "kit"): p.read_bytes() for p in (work / "kit").rglob("*") if p.is_file()}
    assert again == first


def test_a_wheel_changed_by_one_byte_makes_the_build_refuse_naming_it(served, capsys):
    work, _ = served
    assert _generate() == 0
    kit = work / "kit"
    assert vendor.verify_kit(kit) == 4  # idna, uv, SHA256SUMS, requirements.txt
    wheel = kit / "wheels" / "idna-3.7-py3-none-any.whl"
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 1
    wheel.write_bytes(bytes(data))
    with pytest.raises(BadInput, match="idna-3.7-py3-none-any.whl: differs from the sha256"):
        vendor.verify_kit(kit)
    capsys.readouterr()
    # The build command refuses before it talks to Docker (no manifest given: it builds the kit as it is).
    assert run_cli(["build", "docker", "-m", "absent.json", "-o", "kit", "--vendor"]) == 2
    assert "idna-3.7-py3-none-any.whl: differs from the sha256" in capsys.readouterr().err


def test_a_file_slipped_into_the_vendored_folder_is_refused(served):
    work, _ = served
    assert _generate() == 0
    (work / "kit" / "wheels" / "extra-1.0-py3-none-any.whl").write_bytes(b"PK")
    with pytest.raises(BadInput, match="extra-1.0-py3-none-any.whl: not in the kit's index"):
        vendor.verify_kit(work / "kit")
    (work / "kit" / "wheels" / "extra-1.0-py3-none-any.whl").unlink()
    assert vendor.verify_kit(work / "kit") == 4
    (work / "kit" / "wheels" / "linked").symlink_to(work.parent / "simple", target_is_directory=True)
    with pytest.raises(BadInput, match="linked: is a symbolic link"):
        vendor.verify_kit(work / "kit")
    (work / "kit" / "wheels" / "linked").unlink()
    (work / "kit" / "wheels" / "idna-3.7-py3-none-any.whl").unlink()
    with pytest.raises(BadInput, match="idna-3.7-py3-none-any.whl: recorded in the kit's index but missing"):
        vendor.verify_kit(work / "kit")


def test_the_target_platform_is_the_manifests_not_this_machines():
    manifest = {"os": {"system": "Linux", "machine": "aarch64", "libc": {"name": "glibc", "version": "2.28"}},
                "python": {"implementation": "CPython"}}
    target = vendor.target_for(manifest, "3.9.18")
    assert target.platforms[0] == "manylinux_2_28_aarch64" and "manylinux2014_aarch64" in target.platforms
    assert target.platforms[-2:] == ["manylinux_2_5_aarch64", "manylinux1_aarch64"]
    assert "--python-version" in vendor._target_args(target) and "cp39" in vendor._target_args(target)
    from packaging.tags import Tag

    assert Tag("cp39", "cp39", "manylinux_2_17_aarch64") in target.tags
    assert Tag("cp311", "cp311", "manylinux_2_17_aarch64") not in target.tags
    assert Tag("cp39", "cp39", "manylinux_2_17_x86_64") not in target.tags
    musl = vendor.target_for({**manifest, "os": {**manifest["os"], "libc": {"name": "musl", "version": "1.2"}}},
                             "3.12.1")
    assert musl.platforms == ["musllinux_1_2_aarch64", "musllinux_1_1_aarch64", "musllinux_1_0_aarch64"]
    with pytest.raises(BadInput, match="no glibc or musl version"):
        vendor.target_for({**manifest, "os": {**manifest["os"], "libc": {}}}, "3.12.1")
    with pytest.raises(BadInput, match="Linux images only"):
        vendor.target_for({**manifest, "os": {**manifest["os"], "system": "Darwin"}}, "3.12.1")


def test_the_packages_index_agrees_with_dpkg_scanpackages(tmp_path):
    scan = shutil.which("dpkg-scanpackages")
    if scan is None or shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb and dpkg-scanpackages (dpkg-dev)")
    repo = tmp_path / "debs"
    repo.mkdir()
    for name, version in (("envc-one", "1.0-1"), ("envc-two", "2:0.5~rc1")):
        root = tmp_path / name
        (root / "DEBIAN").mkdir(parents=True)
        (root / "usr" / "share" / name).mkdir(parents=True)
        (root / "usr" / "share" / name / "f").write_text(name)
        (root / "DEBIAN" / "control").write_text(
            f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: t <t@example.org>\n"
            f"Depends: libc6\nDescription: test\n two lines\n")
        subprocess.run(["dpkg-deb", "-Zxz", "--build", str(root), str(repo / f"{name}.deb")], check=True,
                       capture_output=True)
    ours = vendor.packages_index(repo, sorted(p.name for p in repo.iterdir())).decode()
    theirs = subprocess.run([scan, "-m", "."], cwd=repo, capture_output=True, text=True, check=True).stdout

    def fields(text):
        return [{k: v for k, v in (line.split(": ", 1) for line in para.splitlines() if ": " in line
                                   and not line.startswith(" ")) if k not in ("MD5sum", "SHA1")}
                for para in text.strip().split("\n\n")]

    assert fields(ours) == fields(theirs)
    # This machine's apt cache serves a pinned version the archive dropped: chosen by its control file, not
    # by its name (a file named like envc-two 2:0.5~rc1 but holding envc-one is not taken).
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copyfile(repo / "envc-one.deb", cache / "envc-one_1.0-1_all.deb")
    shutil.copyfile(repo / "envc-one.deb", cache / "envc-two_2%3a0.5~rc1_all.deb")
    into = tmp_path / "into"
    into.mkdir()
    taken = vendor._from_host_cache(["envc-one=1.0-1", "envc-two=2:0.5~rc1", "envc-one"], cache, into)
    assert taken == ["envc-one_1.0-1_all.deb"] and sorted(p.name for p in into.iterdir()) == taken
    with pytest.raises(Exception, match="not a Debian package"):
        vendor.deb_control(b"PK\x03\x04", "x.deb")


def test_vendor_refuses_what_it_cannot_vendor_yet_before_downloading(tmp_path, capsys):
    conda_env = json.loads((MANIFESTS / "conda-env.json").read_text())  # pip extras, and no conda pip to install them
    conda_env["conda"]["packages"] = [p for p in conda_env["conda"]["packages"] if p["name"] != "pip"]
    (tmp_path / "m.json").write_text(json.dumps(conda_env))
    assert run_cli(["generate", "docker", "-m", str(tmp_path / "m.json"), "-o", str(tmp_path / "kit"),
                    "--vendor"]) == 2
    assert "no conda record of pip" in capsys.readouterr().err
    assert not (tmp_path / "kit").exists()
    shutil.copyfile(MANIFESTS / "plain-venv.json", tmp_path / "p.json")
    assert run_cli(["generate", "docker", "binder", "-m", str(tmp_path / "p.json"), "-o", str(tmp_path / "kit"),
                    "--vendor"]) == 2
    assert "not binder" in capsys.readouterr().err


def test_a_wheel_that_differs_from_its_recorded_hash_is_not_vendored_and_named(served, capsys):
    work, url = served
    data = json.loads((work / "m.json").read_text())
    wheel = f"{url}idna/idna-3.7-py3-none-any.whl"
    data["python_packages"] = [{**data["python_packages"][0],
                                "source": {"kind": "archive", "url": wheel, "hash": "sha256=" + "0" * 64}}]
    (work / "m.json").write_text(json.dumps(data))
    assert _generate() == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "not vendored: idna @ " in line]
    assert len(warning) == 1 and "DO NOT MATCH THE HASHES" in warning[0]
    assert not list((work / "kit" / "wheels").glob("idna*"))
    assert zipfile.is_zipfile(work.parent / "simple" / "idna" / "idna-3.7-py3-none-any.whl")


def test_the_projects_build_backend_is_vendored_beside_the_environment_not_into_it(served, tmp_path):
    """With --with-code the image builds the project, offline: its build requirements must be in wheels/ (uv's
    build isolation finds them there), and they must not join the environment's pins."""
    from envcapture.render.plan import Options, Project, make_plan

    work, _ = served
    data = json.loads((work / "m.json").read_text())
    data["python_packages"] = data["python_packages"][:1]
    plan = make_plan(data, Options(targets=("docker",), command="envcapture generate docker --vendor",
                                   manifest_sha256="0" * 64))
    plan.project = Project("proj", "0.1", True, "a" * 40, False, "/src/proj")
    plan.project_in_kit = True
    kit = {"project/pyproject.toml": b'[build-system]\nrequires = ["flit_core >=3.2,<4"]\n'}
    files, done = vendor.kit_files(plan, data, tmp_path / "staging", say=lambda line: None, kit=kit)
    assert "wheels/flit_core-3.9.0-py3-none-any.whl" in files
    assert done.pins == ["idna==3.7"]
    assert "flit_core-3.9.0-py3-none-any.whl" in files["wheels/SHA256SUMS"]
    assert "flit" not in files["wheels/requirements.txt"]
    assert vendor.build_requires(plan, {}) == ["setuptools>=40.8.0"]  # no pyproject.toml: what pip assumes
    with pytest.raises(BadInput, match="cannot be read"):
        vendor.build_requires(plan, {"project/pyproject.toml": b"[build-system"})


def test_the_archive_holds_the_kit_index_files_is_byte_identical_and_refuses_a_changed_file(served, capsys):
    import tarfile

    from envcapture.render import kit_archive

    work, _ = served
    assert _generate("kit", "--archive", "kit.tar.gz") == 0
    out = capsys.readouterr().out
    largest = out.split("wrote kit.tar.gz:")[1].splitlines()
    assert "(13 files," in largest[0] and largest[1].endswith("  envcapture.json") and len(largest) == 6
    first = (work / "kit.tar.gz").read_bytes()
    with tarfile.open(work / "kit.tar.gz") as archive:
        names = archive.getnames()
        assert {m.mtime for m in archive.getmembers()} == {kit_archive_time(work)}
    listed = [line.split("  ", 1)[1] for line in (work / "kit" / ".envcapture-files").read_text().splitlines()
              if not line.startswith("#")]
    assert names == [f"kit/{rel}" for rel in sorted(listed)] + ["kit/.envcapture-files"]
    assert _generate("kit", "--archive", "kit.tar.gz") == 2  # exists: not replaced without --force
    assert _generate("kit", "--archive", "kit.tar.gz", "--force") == 0
    assert (work / "kit.tar.gz").read_bytes() == first
    (work / "kit" / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(BadInput, match="Dockerfile: differs from the sha256"):
        kit_archive.write_archive(work / "kit", work / "again.tar.gz", mtime=0)
    assert not (work / "again.tar.gz").exists() and not list(work.glob(".again*"))
    assert _generate("kit", "--archive", "kit.zip") == 2


def kit_archive_time(work: Path) -> int:
    import datetime

    created = json.loads((work / "m.json").read_text())["created"]
    return int(datetime.datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())


def test_vendor_vendors_an_existing_kit_with_its_own_options(served, capsys):
    work, _ = served
    assert run_cli(["generate", "docker", "-m", "m.json", "-o", "kit"]) == 0
    assert not (work / "kit" / "wheels").exists()
    assert run_cli(["vendor", "kit"]) == 0
    assert (work / "kit" / "wheels" / "idna-3.7-py3-none-any.whl").is_file()
    dockerfile = (work / "kit" / "Dockerfile").read_text()
    assert "--no-index" in dockerfile and "--vendor" in dockerfile.splitlines()[1]
    assert vendor.verify_kit(work / "kit") == 4
    capsys.readouterr()
    (work / "plain").mkdir()
    assert run_cli(["vendor", "plain"]) == 2
    assert "not a kit" in capsys.readouterr().err


def test_the_vendored_apptainer_definition_installs_from_the_kit_only(served):
    """%files carries wheels/ (sha256sum-checked before anything is installed), uv is run from its wheel and
    uv installs with --offline --no-index; the shell sections parse (as test_real_tools checks the goldens)."""
    from tests.render.test_real_tools import apptainer_shell_sections

    work, _ = served
    assert run_cli(["generate", "apptainer", "-m", "m.json", "-o", "kit", "--vendor"]) == 0
    definition = (work / "kit" / "envcapture.def").read_text()
    files = definition.split("%files\n", 1)[1].split("\n\n", 1)[0].split("\n")
    assert "    wheels /opt/envcapture/kit/wheels" in files
    post = apptainer_shell_sections(definition)["post"]
    for name, body in apptainer_shell_sections(definition).items():
        done = subprocess.run(["sh", "-n"], input=body, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"%{name}: {done.stderr}"
    check = post.index("(cd /opt/envcapture/kit/wheels && sha256sum --strict --quiet -c SHA256SUMS)")
    install = post.index("pip install --python /opt/venv/bin/python")
    assert check < post.index("-m zipfile -e /opt/envcapture/kit/wheels/uv-") < install
    assert "--offline --no-index --find-links /opt/envcapture/kit/wheels" in post
    assert "/opt/uv" not in post and "apt-get update" not in post  # no tool venv from PyPI, no archive


def test_vendored_vm_targets_refuse_a_python_that_uv_would_download(served, capsys):
    """The VM has Debian's Python 3.11.2, the manifest a pyenv 3.11.7: provision.sh would download it with uv."""
    work, _ = served
    assert run_cli(["generate", "packer", "-m", "m.json", "-o", "kit", "--vendor"]) == 2
    err = capsys.readouterr().err
    assert "uv would download one, which is not vendored yet" in err and "3.11.7" in err
    assert not (work / "kit").exists()


def _links(folder: Path) -> None:
    """PEP 503 pages for every project folder below ``folder``."""
    projects = sorted(p.name for p in folder.iterdir() if p.is_dir())
    for project in projects:
        wheels = sorted((folder / project).glob("*.whl"))
        (folder / project / "index.html").write_text("".join(f'<a href="{w.name}">{w.name}</a>\n' for w in wheels))
    (folder / "index.html").write_text("".join(f'<a href="{p}/">{p}</a>\n' for p in projects))


def _decoy(wheel: Path) -> bytes:
    """The same file name with other bytes: tells by content which index a vendored wheel came from."""
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr("decoy.txt", b"served by the index that should not have been asked\n")
    return wheel.read_bytes()


def test_local_label_wheels_come_from_the_index_their_label_implies_and_only_those(served, monkeypatch, capsys):
    """torch and torchvision +cu130 (as recorded on an H100 machine, tests/fixtures/manifests/pytorch-pip-gpu.json)
    and a +cpu torchaudio: each from PyTorch's index for its label alone (here on loopback), never from the
    configured index that holds a same-named decoy; idna from the configured index, never from PyTorch's, which
    holds a decoy of it too."""
    work, url = served
    pytorch_root = work.parent / "pytorch"
    recorded = {p["name"]: p for p in json.loads((MANIFESTS / "pytorch-pip-gpu.json").read_text())["python_packages"]}
    torch, torchvision = recorded["torch"], recorded["torchvision"]
    assert (torch["version"], torch["local_label"]) == ("2.11.0+cu130", "cu130")
    torchaudio = {**recorded["torchaudio"], "version": "2.11.0+cpu", "local_label": "cpu"}
    genuine = {}
    for package, label in ((torch, "cu130"), (torchvision, "cu130"), (torchaudio, "cpu")):
        wheel = write_wheel(pytorch_root / label / package["name"], package["name"], package["version"])
        genuine[wheel.name] = wheel.read_bytes()
        # The configured index holds the same file name with other bytes.
        _decoy(write_wheel(work.parent / "simple" / package["name"], package["name"], package["version"]))
    idna_decoy = _decoy(write_wheel(pytorch_root / "cu130" / "idna", "idna", "3.7"))
    for folder in (pytorch_root / "cu130", pytorch_root / "cpu", work.parent / "simple"):
        _links(folder)
    server, pytorch_url = _serve(pytorch_root)
    try:
        from envcapture.manifest import indexes

        monkeypatch.setattr(indexes, "PYTORCH_INDEX", pytorch_url)
        data = json.loads((work / "m.json").read_text())
        data["python_packages"] = [data["python_packages"][0], torch, torchvision, torchaudio]  # idna and those
        (work / "m.json").write_text(json.dumps(data))
        assert _generate() == 0
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert f"torch==2.11.0+cu130, torchvision==0.26.0+cu130: from {pytorch_url}cu130 only" in err
    assert f"torchaudio==2.11.0+cpu: from {pytorch_url}cpu only" in err
    kit = work / "kit" / "wheels"
    for name, data in genuine.items():
        assert (kit / name).read_bytes() == data, f"{name} did not come from the index its label implies"
    assert (kit / "idna-3.7-py3-none-any.whl").read_bytes() != idna_decoy
    pins = [line for line in (kit / "requirements.txt").read_text().splitlines() if "#" not in line]
    assert pins == ["idna==3.7", "torch==2.11.0+cu130", "torchaudio==2.11.0+cpu", "torchvision==0.26.0+cu130"]
