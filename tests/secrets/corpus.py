"""A corpus of realistic FAKE secrets, one per shape that established scanners know, and the ways each is
written where envcapture records a value (inside a URL, or as free text).

Every value is generated from a seed named after its shape and its placement, so each (shape, placement) pair
plants a different value and a leak is attributed exactly. The shapes follow the providers' documented
formats as gitleaks (cmd/generate/config/rules/*.go), detect-secrets (detect_secrets/plugins/*.py) and
trufflehog (pkg/detectors/*) define them. None of these values is, or was, a real credential.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from urllib.parse import quote

UPPER32 = string.ascii_uppercase + "234567"
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"


def pick(rng: random.Random, alphabet: str, count: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(count))


def pem_body(rng: random.Random, lines: int = 6) -> list[str]:
    return ["MII" + pick(rng, B64, 61)] + [pick(rng, B64, 64) for _ in range(lines - 1)]


def neptune_token(rng: random.Random) -> str:
    """Neptune's API token: base64 of a JSON object naming its server and holding the key."""
    import base64
    import json

    key = "-".join(pick(rng, HEX, n) for n in (8, 4, 4, 4, 12))
    body = {"api_address": "https://app.neptune.ai", "api_url": "https://app.neptune.ai", "api_key": key}
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


# shape -> value generator. Each value keeps the provider's prefix and length so the shape is what a scanner
# (and envcapture's final scan) would see in the wild.
SHAPES = {
    "aws-access-key-id": lambda r: "AKIA" + pick(r, UPPER32, 16),
    "aws-secret-access-key": lambda r: pick(r, B64, 40),
    "github-classic-pat": lambda r: "ghp_" + pick(r, ALNUM, 36),
    "github-oauth": lambda r: "gho_" + pick(r, ALNUM, 36),
    "github-app": lambda r: "ghs_" + pick(r, ALNUM, 36),
    "github-fine-grained-pat": lambda r: "github_pat_" + pick(r, ALNUM, 22) + "_" + pick(r, ALNUM, 59),
    "gitlab-pat": lambda r: "glpat-" + pick(r, B64URL, 20),
    "slack-bot-token": lambda r: f"xoxb-{pick(r, string.digits, 12)}-{pick(r, string.digits, 13)}-"
                                 f"{pick(r, ALNUM, 24)}",
    "slack-webhook": lambda r: f"https://hooks.slack.com/services/T{pick(r, UPPER32, 8)}/B{pick(r, UPPER32, 10)}/"
                               f"{pick(r, ALNUM, 24)}",
    "stripe-live-secret": lambda r: "sk_live_" + pick(r, ALNUM, 24),
    "stripe-live-restricted": lambda r: "rk_live_" + pick(r, ALNUM, 24),
    "stripe-test-secret": lambda r: "sk_test_" + pick(r, ALNUM, 24),
    "pypi-upload-token": lambda r: "pypi-AgEIcHlwaS5vcmc" + pick(r, B64URL, 70),
    "npm-token": lambda r: "npm_" + pick(r, ALNUM, 36),
    "databricks-token": lambda r: "dapi" + pick(r, HEX, 32),
    "google-api-key": lambda r: "AIza" + pick(r, B64URL, 35),
    "google-oauth-client-secret": lambda r: "GOCSPX-" + pick(r, B64URL, 28),
    "hugging-face-token": lambda r: "hf_" + pick(r, string.ascii_letters, 34),
    "openai-project-key": lambda r: "sk-proj-" + pick(r, B64URL, 58) + "T3BlbkFJ" + pick(r, B64URL, 58),
    "anthropic-api-key": lambda r: "sk-ant-api03-" + pick(r, B64URL, 93) + "AA",
    "azure-storage-account-key": lambda r: pick(r, B64, 86) + "==",
    "azure-sas-signature": lambda r: pick(r, B64, 43) + "=",
    "jwt": lambda r: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ" + pick(r, B64URL, 60) + "." + pick(r, B64URL, 43),
    "twilio-api-key": lambda r: "SK" + pick(r, HEX, 32),
    "sendgrid-api-key": lambda r: "SG." + pick(r, B64URL, 22) + "." + pick(r, B64URL, 43),
    "password": lambda r: "Hunter2-" + pick(r, ALNUM, 14),
    "groq-api-key": lambda r: "gsk_" + pick(r, ALNUM, 52),
    "replicate-api-token": lambda r: "r8_" + pick(r, ALNUM, 37),
    "pinecone-api-key": lambda r: "pcsk_" + pick(r, ALNUM, 5) + "_" + pick(r, ALNUM, 63),
    "aws-session-token": lambda r: "IQoJb3JpZ2luX2Vj" + pick(r, B64, 340) + "==",
    "wandb-api-key": lambda r: pick(r, HEX, 40),
    "kaggle-api-key": lambda r: pick(r, HEX, 32),
    "neptune-api-token": lambda r: neptune_token(r),
    "cloudsmith-entitlement-token": lambda r: pick(r, ALNUM, 16),
    "gemfury-token": lambda r: pick(r, ALNUM, 20),
    "private-key-pem": lambda r: "\n".join(["-----BEGIN RSA PRIVATE KEY-----", *pem_body(r),
                                            "-----END RSA PRIVATE KEY-----"]),
    "private-key-one-line": lambda r: "-----BEGIN PRIVATE KEY-----" + "".join(pem_body(r))
                                      + "-----END PRIVATE KEY-----",
}
# Shapes that no URL carries (a key block has line breaks or is kilobytes of base64 in a path).
NOT_IN_URLS = {"private-key-pem", "private-key-one-line"}
# Shapes with no provider prefix: only their context says they are secret, so as free text they are written
# the way they appear in configuration (detect-secrets' keyword and Azure connection-string detectors).
FREE_TEXT_CONTEXT = {
    "aws-secret-access-key": "aws_secret_access_key={}",
    "password": "password={}",
    "azure-storage-account-key": "DefaultEndpointsProtocol=https;AccountName=mlartifacts;AccountKey={};"
                                 "EndpointSuffix=core.windows.net",
    "azure-sas-signature": "https://mlartifacts.blob.core.windows.net/wheels?sv=2022-11-02&ss=b&srt=o&sp=r"
                           "&se=2027-01-01T00:00:00Z&spr=https&sig={}",
    # keys without a prefix, next to their names as people write them
    "wandb-api-key": "wandb login {}",
    "kaggle-api-key": "KAGGLE_KEY={}",
    # tokens that the index URL the provider tells users to set carries as its first path segment
    "cloudsmith-entitlement-token": "https://dl.cloudsmith.io/{}/acme/ml-wheels/python/simple/",
    "gemfury-token": "https://pypi.fury.io/{}/acme/",
}
# Shapes that are a path segment of an index URL: planted in index URLs that way (index_path_url).
INDEX_PATH_SHAPES = ("cloudsmith-entitlement-token", "gemfury-token")
# Query parameters that carry credentials in real URLs (GitLab, S3 and GCS presigned URLs, Azure SAS, generic).
SECRET_PARAMS = ("private_token", "X-Amz-Security-Token", "X-Goog-Signature", "auth_token", "access-token",
                 "hf_token", "token", "sig", "key", "password", "secret", "X-Amz-Credential", "access_token",
                 "api_key", "signature", "credential", "pw", "t")


@dataclass(frozen=True)
class Planted:
    shape: str
    placement: str
    value: str  # the secret itself

    def traces(self) -> list[str]:
        """What must not appear in any output: the value raw and percent-encoded, and a middle piece of it
        (a partial strip must not leave the rest behind)."""
        found = [self.value, quote(self.value, safe="")]
        runs = sorted(re.findall(r"[A-Za-z0-9]{12,}", self.value.replace("RSA PRIVATE KEY", "")), key=len)
        if runs:
            longest = runs[-1]
            middle = len(longest) // 2
            found.append(longest[middle - 6:middle + 6])
        return found


def plant(shape: str, placement: str) -> Planted:
    rng = random.Random(f"{shape}@{placement}")
    return Planted(shape, placement, SHAPES[shape](rng))


def free_text(planted: Planted) -> str:
    return FREE_TEXT_CONTEXT.get(planted.shape, "{}").format(planted.value)


def in_url(planted: Planted, base: str, form: int) -> str:
    """``base`` (``https://host/path``) carrying the secret in one of three ways people write credentials into
    URLs: ``user:secret@``, ``secret@`` (a token as the whole userinfo) or a ``?param=secret`` query."""
    if planted.shape == "slack-webhook":
        return planted.value  # the URL is the secret
    encoded = quote(planted.value, safe="")
    if planted.shape == "azure-sas-signature":
        return f"{base}?sv=2022-11-02&ss=b&srt=o&sp=r&se=2027-01-01T00:00:00Z&spr=https&sig={encoded}"
    scheme, rest = base.split("://", 1)
    kind = form % 3
    if kind == 0:
        return f"{scheme}://__token__:{encoded}@{rest}"
    if kind == 1:
        return f"{scheme}://{encoded}@{rest}"
    param = SECRET_PARAMS[form % len(SECRET_PARAMS)]
    return f"{base}{'&' if '?' in base else '?'}{param}={encoded}"


def crammed_url(shapes: list[str], placement: str, base: str, userinfo_form: int) -> tuple[str, list[Planted]]:
    """One URL carrying many secrets at once (a single-valued setting such as index-url): the first in the
    userinfo, every other in a query parameter with a secret-looking name."""
    planted = [plant(shape, placement) for shape in shapes]
    first, rest = planted[0], planted[1:]
    scheme, tail = base.split("://", 1)
    encoded = quote(first.value, safe="")
    userinfo = f"__token__:{encoded}" if userinfo_form == 0 else encoded
    params = "&".join(f"{SECRET_PARAMS[i % len(SECRET_PARAMS)]}={quote(p.value, safe='')}"
                      for i, p in enumerate(rest))
    return f"{scheme}://{userinfo}@{tail}?{params}", planted


def index_path_url(planted: Planted) -> str:
    """An index URL with the token as a path segment, as Cloudsmith and Gemfury document it."""
    return FREE_TEXT_CONTEXT[planted.shape].format(planted.value)


def shaped() -> list[str]:
    """Shapes a scanner recognises by the value alone (a provider prefix): the only ones that can be found in a
    name with no context around it (a file, a folder, a data set's name)."""
    return [shape for shape in SHAPES if shape not in FREE_TEXT_CONTEXT and shape != "private-key-pem"]


def url_shapes() -> list[str]:
    return [shape for shape in SHAPES if shape not in NOT_IN_URLS]
