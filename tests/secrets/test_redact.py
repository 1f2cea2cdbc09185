"""envcapture.manifest.redact and the probes' use of it, one behaviour per test, each written to fail on the bug it
names (issue 8's secrets section, issue 13's surviving mutants of the redaction rules)."""

from __future__ import annotations

import json

import pytest

from envcapture.manifest import grammar
from envcapture.manifest.redact import (REDACTED, SECRET_NAMES, is_secret_param, scan_and_redact, strip_conda_token,
                               strip_url_credentials)

from .corpus import SHAPES, free_text, plant

# The scan rule that must catch each corpus shape written as free text (the way it would sit in an allow-listed
# variable, a conda spec or a file name).
RULE_OF_SHAPE = {
    "aws-access-key-id": "AWS access key id", "aws-secret-access-key": "secret in a key=value setting",
    "github-classic-pat": "GitHub token", "github-oauth": "GitHub token", "github-app": "GitHub token",
    "github-fine-grained-pat": "GitHub token", "gitlab-pat": "GitLab token", "slack-bot-token": "Slack token",
    "slack-webhook": "Slack webhook URL", "stripe-live-secret": "Stripe key", "stripe-live-restricted": "Stripe key",
    "stripe-test-secret": "Stripe key", "pypi-upload-token": "PyPI token", "npm-token": "npm token",
    "databricks-token": "Databricks token", "google-api-key": "Google API key",
    "google-oauth-client-secret": "Google OAuth secret or token", "hugging-face-token": "Hugging Face token",
    "openai-project-key": "OpenAI API key", "anthropic-api-key": "Anthropic API key",
    "azure-storage-account-key": "secret in a key=value setting",
    "azure-sas-signature": "secret in a URL query",
    "jwt": "JSON web token", "twilio-api-key": "Twilio API key", "sendgrid-api-key": "SendGrid API key",
    "password": "secret in a key=value setting", "private-key-pem": "private key block",
    "private-key-one-line": "private key block",
    "groq-api-key": "Groq API key", "replicate-api-token": "Replicate API token",
    "pinecone-api-key": "Pinecone API key", "aws-session-token": "AWS session token",
    "wandb-api-key": "W&B API key", "kaggle-api-key": "Kaggle API key", "neptune-api-token": "Neptune API token",
    "cloudsmith-entitlement-token": "token in a package index URL", "gemfury-token": "token in a package index URL",
}
OTHER_RULE_SAMPLES = {"credentials in a URL": "https://deploy:" + "Zq8-hunter-2@git.example.com/r.git",
                      "secret in a URL query": "https://wheels.example.com/simple/?t=" + "Qz8mK2pX9wL4"}


def test_every_rule_has_a_shape_and_every_shape_a_rule():
    assert set(RULE_OF_SHAPE) == set(SHAPES)
    assert set(RULE_OF_SHAPE.values()) | set(OTHER_RULE_SAMPLES) == set(SECRET_NAMES)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_final_scan_catches_each_shape_as_free_text(shape):
    planted = plant(shape, "unit")
    clean, found = scan_and_redact({"XLA_FLAGS": f"--xla_dump_to=/tmp/x {free_text(planted)} --xla_y=1"})
    assert found == [RULE_OF_SHAPE[shape]]
    text = json.dumps(clean)
    assert not any(trace in text for trace in planted.traces()), text
    assert "--xla_dump_to=/tmp/x" in text and "--xla_y=1" in text  # only the secret went


def test_a_whole_private_key_block_goes_with_its_body():
    for shape in ("private-key-pem", "private-key-one-line"):
        key = plant(shape, "block").value
        body = key.splitlines()[1] if "\n" in key else key[30:90]
        clean, _ = scan_and_redact({"v": f"before {key} after"})
        assert clean["v"] == f"before {REDACTED} after"
        assert body not in json.dumps(clean)
    # a block cut before its END line (a truncated paste) goes to the end of the value
    clean, _ = scan_and_redact({"v": "x -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx7" + "a" * 40})
    assert clean["v"] == "x " + REDACTED


def test_secrets_used_as_mapping_keys_are_redacted():
    token = plant("hugging-face-token", "key").value
    clean, found = scan_and_redact({"deep": {token: {"nested": [{plant("github-classic-pat", "key").value: 1}]}}})
    assert found == ["Hugging Face token", "GitHub token"]
    assert clean == {"deep": {REDACTED: {"nested": [{REDACTED: 1}]}}}


def test_a_token_alone_as_userinfo_is_credentials():
    clean, found = scan_and_redact({"remote": "https://ab12cd34ef56gh78ij90@dev.azure.com/org/p/_git/r"})
    assert found == ["credentials in a URL"] and clean["remote"] == "https://dev.azure.com/org/p/_git/r"
    assert grammar.url_has_credentials("https://ab12cd34ef56gh78ij90@dev.azure.com/org/p/_git/r")
    assert strip_url_credentials("git+https://ab12cd34ef56gh78ij90@dev.azure.com/o/p/_git/r@main") \
        == "git+https://dev.azure.com/o/p/_git/r@main"


def test_a_password_holding_at_signs_is_stripped_whole():
    assert strip_url_credentials("https://alice:Hunter@2-LEAKED@host/simple") == "https://host/simple"
    clean, _ = scan_and_redact({"u": "https://alice:Hunter@2-LEAKED@host/simple"})
    assert clean["u"] == "https://host/simple"
    # a "/" in a password (not percent-encoded) does not end the userinfo either
    assert strip_url_credentials("https://alice:pa/ss@host/simple") == "https://host/simple"


def test_ssh_urls_keep_only_the_conventional_git_user():
    assert strip_url_credentials("ssh://git@github.com/o/r.git") == "ssh://git@github.com/o/r.git"
    assert strip_url_credentials("git+ssh://git@github.com/o/r.git@v1") == "git+ssh://git@github.com/o/r.git@v1"
    assert strip_url_credentials("ssh://alice@github.com/o/r.git") == "ssh://github.com/o/r.git"
    assert strip_url_credentials("ssh://hg@host/r") == "ssh://host/r"
    assert strip_url_credentials("ssh://git:pw@host/r") == "ssh://host/r"
    assert scan_and_redact({"u": "ssh://alice@host/r"})[0] == {"u": "ssh://host/r"}
    assert scan_and_redact({"u": "ssh://git@host:2222/r"}) == ({"u": "ssh://git@host:2222/r"}, [])


def test_an_ssh_port_without_user_is_not_credentials():
    assert strip_url_credentials("ssh://host:2222/r.git") == "ssh://host:2222/r.git"
    assert not grammar.url_has_credentials("ssh://host:2222/r.git")
    assert grammar.is_url("ssh://host:2222/r.git")
    assert grammar.url_has_credentials("ssh://git:secret@host:2222/r.git")
    assert scan_and_redact({"u": "ssh://host:2222/r.git"}) == ({"u": "ssh://host:2222/r.git"}, [])


@pytest.mark.parametrize("name", ["private_token", "X-Amz-Security-Token", "X-Amz-Signature", "X-Amz-Credential",
                                  "X-Goog-Signature", "X-Goog-Credential", "auth_token", "access-token", "hf_token",
                                  "token", "sig", "key", "password", "secret", "api_key", "apiKey", "client_secret",
                                  "AccessKeyId", "signature", "credential", "Policy-Key", "session_token", "t", "pw"])
def test_secret_query_parameters_lose_their_value(name):
    url = f"https://h.example.com/simple/?a=1&{name}=V4lu3-Secr3t&b=2#egg=pkg&subdirectory=sub"
    assert strip_url_credentials(url) == f"https://h.example.com/simple/?a=1&{name}={REDACTED}&b=2" \
                                         "#egg=pkg&subdirectory=sub"


def test_ordinary_query_parameters_and_fragments_are_kept():
    for url in ("https://pkgs.dev.azure.com/o/_packaging/f/pypi/simple/?api-version=7.1",
                "https://h/x.whl#sha256=" + "a" * 64, "git+https://github.com/o/r.git@v1.2#egg=r&subdirectory=py",
                "https://download.pytorch.org/whl/cu121", "https://h/s?page=2&format=json"):
        assert strip_url_credentials(url) == url
    assert not any(map(is_secret_param, ("page", "format", "api-version", "egg", "subdirectory", "sha256", "alt")))


def test_urls_inside_lines_are_cleaned():
    line = "deb [signed-by=/usr/share/keyrings/k.gpg] https://u:p4ss@apt.example.com/debian?token=t0k bookworm main"
    assert strip_url_credentials(line) == ("deb [signed-by=/usr/share/keyrings/k.gpg] "
                                           f"https://apt.example.com/debian?token={REDACTED} bookworm main")


def test_a_clean_manifest_text_is_left_alone():
    facts = {"requires": ["tokenizers==0.15.0", "keyring>=23", "secrets==1.0.2", "sk-video>=1.1"],
             "specs": ["tokenizers=0.15.0", "secretstorage=3.3.3", "conda-forge::python-dotenv=1.0.1"],
             "remote": "ssh://git@github.com/org/repo.git", "url": "git+https://github.com/o/r.git@v1.0#egg=r",
             "XLA_FLAGS": "--xla_gpu_autotune_level=4 --xla_dump_to=/tmp/xla",
             "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True,max_split_size_mb:128",
             "apt": "deb [signed-by=/usr/share/keyrings/cuda.gpg] https://developer.download.nvidia.com/x /",
             "hash": "sha256=" + "0123456789abcdef" * 4, "region": "Asia/Tokyo", "path": "~/src/task-runner"}
    assert scan_and_redact(facts) == (facts, [])


def test_conda_tokens_go_from_every_url_in_a_spec():
    assert strip_conda_token("https://conda.anaconda.org/t/ab-1234-5678/mychan::numpy") \
        == "https://conda.anaconda.org/mychan::numpy"
    assert strip_conda_token("numpy >=1.26") == "numpy >=1.26"
    assert strip_conda_token("https://u:pw@conda.example.com/t/tok/chan/linux-64/x-1-0.conda?token=q") \
        == f"https://conda.example.com/chan/linux-64/x-1-0.conda?token={REDACTED}"


@pytest.mark.parametrize("url, clean", [
    ("https://dl.cloudsmith.io/Xq7Lm2Np9Rt4Vw8Z/acme/ml/python/simple/",
     f"https://dl.cloudsmith.io/{REDACTED}/acme/ml/python/simple/"),
    ("https://pypi.fury.io/Jk3Hs9Qw2Er7Ty5U/acme/", f"https://pypi.fury.io/{REDACTED}/acme/"),
    ("https://npm.fury.io/Jk3Hs9Qw2Er7Ty5U/acme/", f"https://npm.fury.io/{REDACTED}/acme/"),
    ("https://dl.cloudsmith.io/public/acme/ml/python/simple/", None),  # no token: public and basic are words
    ("https://dl.cloudsmith.io/basic/acme/ml/python/simple/", None),
    ("https://pypi.fury.io/acme/", None),  # a public Gemfury index: the owner alone
])
def test_a_token_as_the_first_path_segment_of_an_index_url_goes(url, clean):
    expected = clean or url
    assert strip_url_credentials(url) == expected
    assert scan_and_redact({"u": url})[0] == {"u": expected}


def test_tokens_longer_than_any_provider_issues_go_whole():
    """A length cap with a word boundary ({10,99}\\b) let a 152-character key through untouched."""
    for token in ("sk_live_" + "Ab1Cd2Ef3Gh4" * 12, "ghp_" + "Zx9Yw8Vu7Ts6" * 25):
        clean, found = scan_and_redact({"w": f"skipped {token}.fifo: a FIFO"})
        assert found and token[-30:] not in json.dumps(clean) and token[:30] not in json.dumps(clean)


def test_a_url_whose_slashes_a_path_normalisation_folded_loses_its_userinfo():
    clean, found = scan_and_redact({"p": "https:/alice:Pa55-w0rd-x@data.example.com/bucket/out.csv"})
    assert clean == {"p": "https:/data.example.com/bucket/out.csv"} and found == ["credentials in a URL"]
    assert scan_and_redact({"p": "data/raw/a:b/c@d"}) == ({"p": "data/raw/a:b/c@d"}, [])


def test_a_downloaded_file_named_after_a_presigned_url_keeps_only_harmless_parameters():
    from envcapture.manifest.redact import redact_text

    name = ("model.bin?X-Amz-Credential=AKIAQ3EGRT6PLWXN2HY7%2F20260101%2Fus-east-1&X-Amz-Expires=3600"
            "&response-content-type=bin&sig=kX9vQ2mN7pL4wR8tY1uI6oP3aS5dF0gH&t=Zq8mK2pX9wL4")
    assert redact_text(name) == (f"model.bin?X-Amz-Credential={REDACTED}&X-Amz-Expires={REDACTED}"
                                 f"&response-content-type=bin&sig={REDACTED}&t={REDACTED}")
