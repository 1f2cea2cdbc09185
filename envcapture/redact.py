"""Keeping secrets and personal data out of manifests.

Three layers: credentials are stripped from every URL a probe records (``strip_url_credentials``), only
allow-listed environment variables are recorded (``ENV_ALLOW_LIST``), and the serialized manifest is scanned
for secret-shaped strings as a last line of defence (``scan_and_redact``).
"""

from __future__ import annotations

import re

REDACTED = "REDACTED"

# Values of these are recorded (they change results or locate the environment); nothing else is.
ENV_ALLOW_LIST = (
    "PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG", "CUDA_VISIBLE_DEVICES", "NVIDIA_TF32_OVERRIDE",
    "TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC", "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "MKL_CBWR", "OPENBLAS_CORETYPE", "CUDA_LAUNCH_BLOCKING",
    "CUDA_DEVICE_ORDER", "PYTORCH_CUDA_ALLOC_CONF", "TORCH_DETERMINISTIC", "JAX_ENABLE_X64",
)

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]*)@")
_SENSITIVE_QUERY = re.compile(r"(?i)([?&](?:token|access_token|auth|key|apikey|api_key|password|secret|sig|"
                              r"signature|x-amz-signature|x-amz-credential)=)[^&#\s]*")


def strip_url_credentials(url: str) -> str:
    """Remove ``user:password@`` and token-bearing query values from a URL (and from URLs inside a line).

    ``ssh://git@host`` and ``git@host:path`` keep the bare user ``git``, which is an address, not a secret.
    """

    def userinfo(match: re.Match) -> str:
        info = match.group("userinfo")
        scheme = match.group("scheme").lower()
        if "ssh" in scheme and ":" not in info and info in ("git", "hg", "svn", "ssh"):
            return match.group(0)
        return match.group("scheme")

    url = _USERINFO.sub(userinfo, url)
    return _SENSITIVE_QUERY.sub(lambda m: m.group(1) + REDACTED, url)


# Last line of defence: patterns of well-known secret formats (gitleaks/trufflehog style, narrowed).
SECRET_PATTERNS = {
    "private key block": re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    "GitLab token": re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
    "Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),
    "OpenAI-style API key": re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b"),
    "credentials in a URL": re.compile(r"(?<=://)[^/@\s\"]*:[^/@\s\"]+@"),
}
# A literal each match must contain: a substring test skips most regex scans of a large manifest.
_HINTS = {
    "private key block": ("PRIVATE KEY",), "AWS access key id": ("AKIA", "ASIA", "ABIA", "ACCA"),
    "GitHub token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), "GitLab token": ("glpat-",),
    "Hugging Face token": ("hf_",), "OpenAI-style API key": ("sk-",), "Slack token": ("xox",),
    "Google API key": ("AIza",), "JSON web token": ("eyJ",), "credentials in a URL": ("://",),
}


def _may_contain(name: str, text: str) -> bool:
    return any(hint in text for hint in _HINTS[name])


def scan_and_redact(data):
    """Walk manifest data, replace secret-shaped substrings; return (clean data, names of what was found)."""
    import json

    found: list[str] = []
    # One pass over the serialized text first: a clean manifest (the usual case) is not walked at all.
    text = json.dumps(data, ensure_ascii=False)
    if not any(_may_contain(name, text) and pattern.search(text) for name, pattern in SECRET_PATTERNS.items()):
        return data, found

    def clean(value):
        if isinstance(value, str):
            for name, pattern in SECRET_PATTERNS.items():
                if _may_contain(name, value) and pattern.search(value):
                    found.append(name)
                    value = pattern.sub(REDACTED, value)
            return value
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, dict):
            return {clean(key): clean(item) for key, item in value.items()}
        return value

    return clean(data), found
