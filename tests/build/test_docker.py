"""The docker builder against the real engine and the local test base image (marked `docker`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

import pytest

from envcapture.build.docker import build_image, classic_dockerfile, connect
from envcapture.errors import EXIT_TOOL_FAILED, BadInput, ToolFailed

# The shape the generator writes (envcapture/templates/Dockerfile.j2): cache mounts on RUN lines.
BUILDKIT_DOCKERFILE = textwrap.dedent("""\
    FROM {base}
    RUN --mount=type=cache,target=/root/.cache/pip \\
        mkdir -p /opt/one && echo one > /opt/one/file
    RUN --mount=type=cache,target=/root/.cache/uv,sharing=locked echo two > /opt/two
    COPY --chown=root:root payload.txt /opt/payload.txt
    CMD ["cat", "/opt/payload.txt"]
    """)


def test_cache_mounts_are_dropped_for_the_classic_builder_and_nothing_else_changes():
    text, dropped = classic_dockerfile(BUILDKIT_DOCKERFILE.format(base="img"))
    assert dropped == 2
    assert "--mount" not in text
    assert "RUN \\\n    mkdir -p /opt/one && echo one > /opt/one/file\n" in text
    assert "RUN echo two > /opt/two\n" in text
    assert "COPY --chown=root:root payload.txt" in text


@pytest.mark.parametrize("line, feature", [
    ("RUN --mount=type=secret,id=token cat /run/secrets/token", "RUN --mount"),
    ("COPY --link a /a", "COPY --link"),
    ("COPY --chmod=755 a /a", "COPY --chmod"),
    ("RUN --network=none true", "RUN --network"),
])
def test_other_buildkit_features_are_refused_with_a_hint(line, feature):
    with pytest.raises(BadInput, match=f"uses {feature}.*docker buildx build"):
        classic_dockerfile(f"FROM img\n{line}\n")


def test_no_engine_is_one_clear_tool_failed(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(ToolFailed, match="^no Docker engine reachable .*start Docker") as caught:
        connect(timeout=5)
    assert caught.value.exit_code == EXIT_TOOL_FAILED


def test_cli_build_without_an_engine_exits_3_with_one_line(tmp_path):
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "envcapture.json").write_text("{}")
    (kit / "Dockerfile").write_text("FROM scratch\n")
    env = {"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "envcapture", "build", "docker", "-m", str(tmp_path / "absent.json"),
                           "-o", str(kit)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("envcapture: no Docker engine reachable"), proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.docker
def test_builds_a_buildkit_dockerfile_and_streams_the_log(docker_client, docker_base_image, tmp_path):
    (tmp_path / "Dockerfile").write_text(BUILDKIT_DOCKERFILE.format(base=docker_base_image))
    (tmp_path / "payload.txt").write_text("built by envcapture\n")
    tag = f"envcapture-test/build:{uuid.uuid4().hex[:12]}"
    log = []
    try:
        built = build_image(tmp_path, tag, client=docker_client, echo=log.append)
        assert any("cache mount(s) dropped" in line for line in log)
        assert any(line.startswith("Step 2/") for line in log), log
        assert built.image_id.startswith("sha256:")
        output = docker_client.containers.run(tag, remove=True)
        assert output == b"built by envcapture\n"
    finally:
        docker_client.images.remove(tag, force=True)


@pytest.mark.docker
def test_a_failing_step_is_tool_failed_with_the_build_log_tail(docker_client, docker_base_image, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        f"FROM {docker_base_image}\nRUN echo about-to-fail && exit 42\n")
    # The summary names the step and its exit status, never the echoed command. Step 3: the builder labels each
    # stage right after its FROM ($ENVCAPTURE_IMAGE_LABELS, set for the tests), so a failed build's layers carry it.
    with pytest.raises(ToolFailed, match=r"docker build of .* failed: a build step exited with 42 \(Step 3/\d+\)$") \
            as caught:
        build_image(tmp_path, f"envcapture-test/fail:{uuid.uuid4().hex[:12]}", client=docker_client,
                    echo=lambda line: None)
    assert "about-to-fail" in caught.value.tail
