"""Planted secrets (environment, pip config, a git remote, a direct_url) never reach the manifest.

The full corpus (every shape in every place) and the unit tests of each rule are in tests/secrets/."""

import json

from localwheels import make_project

from clirun import freeze, git_init, run

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
HF_TOKEN = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
PASSWORD = "hunter2-" + "not-for-papers"


def test_planted_secrets_are_absent(sample_venv, tmp_path):
    # a git remote with a token, as people paste it from CI settings
    project = make_project(tmp_path / "project", "project")
    git_init(project)
    run("git", "remote", "add", "origin", f"https://user:{GITHUB_TOKEN}@github.com/org/project.git", cwd=project)
    # a direct_url.json with credentials, as pip writes it for `pip install git+https://user:pw@...`
    dist_info = next((sample_venv["venv"] / "lib").glob("python*/site-packages/gitpkg-*.dist-info"))
    direct_url = dist_info / "direct_url.json"
    original = direct_url.read_text()
    planted = json.loads(original)
    planted["url"] = f"https://deploy:{PASSWORD}@git.example.com/org/gitpkg.git"
    direct_url.write_text(json.dumps(planted))
    # pip config in the venv, and secrets in the environment, one of them in an allow-listed variable
    pip_conf = sample_venv["venv"] / "pip.conf"
    pip_conf.write_text(f"[global]\nextra-index-url = https://__token__:{PASSWORD}@pypi.example.com/simple\n")
    env = {"AWS_ACCESS_KEY_ID": AWS_KEY, "HF_TOKEN": HF_TOKEN, "GITHUB_TOKEN": GITHUB_TOKEN,
           "XLA_FLAGS": f"--xla_dump_to=/tmp/{HF_TOKEN}",
           "PIP_INDEX_URL": f"https://alice:{PASSWORD}@pypi.example.com/simple"}
    try:
        proc = freeze("--python", sample_venv["python"], "-o", "-", "--project", project, env=env)
    finally:
        direct_url.write_text(original)
        pip_conf.unlink()
    text = proc.stdout
    for secret in (GITHUB_TOKEN, HF_TOKEN, AWS_KEY, PASSWORD):
        assert secret not in text
    data = json.loads(text)
    gitpkg = next(p for p in data["python_packages"] if p["name"] == "gitpkg")
    assert gitpkg["source"]["url"] == "git+https://git.example.com/org/gitpkg.git"
    assert data["python"]["package_indexes"]["index_url"] == "https://pypi.example.com/simple"
    assert "https://pypi.example.com/simple" in data["python"]["package_indexes"]["extra_index_urls"]
    assert data["code"]["remote"] == "https://github.com/org/project.git"  # the git probe strips the credentials
    assert any(w["source"] == "redact" for w in data["warnings"])  # the XLA_FLAGS token was caught late


def test_no_host_identity_by_default(sample_venv, tmp_path):
    import socket

    data = json.loads(freeze("--python", sample_venv["python"], "-o", "-", "--project", tmp_path).stdout)
    assert data["host"] is None
    with_host = json.loads(freeze("--python", sample_venv["python"], "-o", "-", "--project", tmp_path,
                                  "--include-host").stdout)
    assert with_host["host"]["hostname"] == socket.gethostname()


def test_strip_url_credentials_keeps_ssh_git_user():
    from envcapture.manifest.redact import strip_url_credentials

    assert strip_url_credentials("ssh://git@github.com/o/r.git") == "ssh://git@github.com/o/r.git"
    assert strip_url_credentials("https://tok@github.com/o/r") == "https://github.com/o/r"
    assert strip_url_credentials("https://h/s?token=abc&x=1") == "https://h/s?token=REDACTED&x=1"
