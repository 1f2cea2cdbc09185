"""--ca-bundle ADDS a CA to the image's system store: apt, openssl, Python, pip and uv trust it, and still
trust the public CAs (a real build on the local base image; marked docker and slow)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures"
PUBLIC_ROOT = "/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca_and_server_cert(folder: Path) -> None:
    """A CA made here, and a server certificate for localhost it signed."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=envcapture test CA", cwd=folder)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost", cwd=folder)
    (folder / "san.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.cnf", cwd=folder)
    for name in ("server.key", "server.pem", "ca.pem"):
        (folder / name).chmod(0o644)


def pem_blocks(text: str) -> list[str]:
    end = "-----END CERTIFICATE-----"
    return [block.strip() + "\n" + end + "\n" for block in text.split(end)[:-1] if "BEGIN CERTIFICATE" in block]


def host_proxy_cas() -> str:
    """The CAs this host trusts beyond Debian's public set (here: the TLS-intercepting proxy's, which the build
    needs to reach PyPI); empty on a machine without one. Exactly what a user behind a proxy passes."""
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle.is_file():
        return ""
    public = set()
    for crt in Path("/usr/share/ca-certificates").rglob("*.crt"):
        public.update(b.strip() for b in pem_blocks(crt.read_text(errors="replace")))
    return "".join(b for b in pem_blocks(bundle.read_text(errors="replace")) if b.strip() not in public)


@pytest.mark.docker
@pytest.mark.slow
def test_extra_ca_joins_the_system_store_and_public_cas_still_verify(docker_client, docker_base_image, tmp_path):
    from envcapture.build.docker import build_image

    certs = tmp_path / "certs"
    certs.mkdir()
    make_ca_and_server_cert(certs)
    (certs / "tls_check.py").write_text((FIXTURES / "ca" / "tls_check.py").read_text())
    bundle = tmp_path / "extra-ca.pem"
    bundle.write_text((certs / "ca.pem").read_text() + host_proxy_cas())
    manifest = json.loads((FIXTURES / "manifests" / "plain-venv.json").read_text())
    # The trust store is under test, not the packages: no pins, so the build is quick.
    manifest["python_packages"] = []
    manifest["system_packages"]["packages"] = []
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    kit = tmp_path / "kit"
    subprocess.run([sys.executable, "-m", "envcapture", "generate", "docker", "-m", str(tmp_path / "m.json"),
                    "-o", str(kit), "--base-image", docker_base_image, "--base-os", "debian:12",
                    "--ca-bundle", str(bundle)], check=True, capture_output=True, timeout=120)
    tag = f"envcapture-test/generated-ca:{uuid.uuid4().hex[:12]}"
    build_tag = tag + "-build"
    try:
        build_image(kit, tag, client=docker_client, echo=lambda line: None, timeout=900)
        openssl = " && ".join([
            "openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt /certs/server.pem",
            "openssl verify -CApath /etc/ssl/certs /certs/server.pem",
            f"openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt {PUBLIC_ROOT}",
        ])
        # The final image: the system store and the venv's Python trust the CA and still trust public roots.
        log = run_offline(docker_client, tag, certs, openssl + " && /opt/venv/bin/python /certs/tls_check.py /certs "
                          "--no-installers")
        for line in ("/certs/server.pem: OK", f"{PUBLIC_ROOT}: OK", "ok python-default-context",
                     "ok python-without-SSL_CERT_FILE"):
            assert line in log, log
        # pip and uv live only in the build stage (multi-stage kit): that is where they must trust it.
        docker_client.images.build(path=str(kit), tag=build_tag, target="build", rm=True,
                                   labels={"envcapture.test": "1"})
        log = run_offline(docker_client, build_tag, certs, "/opt/uv/bin/python /certs/tls_check.py /certs")
        for line in ("ok python-default-context", "ok pip", "ok uv"):
            assert line in log, log
    finally:
        remove_image(docker_client, tag)
        remove_image(docker_client, build_tag)


def run_offline(docker_client, tag, certs, script) -> str:
    container = docker_client.containers.run(tag, ["sh", "-c", script], network_mode="none", detach=True,
                                              volumes={str(certs): {"bind": "/certs", "mode": "ro"}})
    try:
        status = container.wait(timeout=300)["StatusCode"]
        log = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert status == 0, log
    return log


def remove_image(client, tag):
    import docker

    try:
        client.images.remove(tag, force=True)
    except docker.errors.ImageNotFound:
        pass
