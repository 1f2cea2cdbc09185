"""Keeping secrets and personal data out of manifests.

Three layers: every URL a probe records loses its credentials (``strip_url_credentials``: the userinfo, and
the value of any query parameter whose name looks secret), only allow-listed environment variables are
recorded (``ENV_ALLOW_LIST``), and the finished manifest is scanned for secret-shaped strings as a last line
of defence (``scan_and_redact``), keys of mappings included.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

REDACTED = "REDACTED"

# Values of these are recorded (they change results or locate the environment); nothing else is.
ENV_ALLOW_LIST = (
    "PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG", "CUDA_VISIBLE_DEVICES", "NVIDIA_TF32_OVERRIDE",
    "TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC", "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "MKL_CBWR", "OPENBLAS_CORETYPE", "CUDA_LAUNCH_BLOCKING",
    "CUDA_DEVICE_ORDER", "PYTORCH_CUDA_ALLOC_CONF", "TORCH_DETERMINISTIC", "JAX_ENABLE_X64",
)

# ---- URLs ------------------------------------------------------------------------------------------------

# A URL inside a line of text (an apt source, a requirement ``pkg @ URL``, a conda spec): it ends at white
# space or a quote.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]*")
# Query parameter names that carry credentials: GitLab's private_token, S3 and GCS presigned URLs
# (X-Amz-*, X-Goog-*), Azure SAS (sig), Hugging Face's hf_token, and the generic words.
_SECRET_PARAM_WORDS = ("token", "secret", "passw", "pwd", "credential", "signature", "auth", "apikey",
                       "session", "private", "accesskey")
_SECRET_PARAM_PARTS = {"key", "sig", "pass", "pw", "sas", "jwt", "code"}
# Whole names that are short for a credential in real index and download URLs (``?t=TOKEN``, ``?pw=...``).
_SECRET_PARAM_NAMES = {"t", "pw"}
# The userinfo that ssh URLs conventionally carry: an address, not a person or a secret.
_SSH_USER = "git"


def is_secret_param(name: str) -> bool:
    """Whether a query parameter's name says that its value is a credential."""
    lowered = unquote_plus(name).strip().lower()
    if lowered in _SECRET_PARAM_NAMES:
        return True
    if lowered.startswith(("x-amz-", "x-goog-")) or lowered.endswith("key"):
        return True
    if any(word in lowered for word in _SECRET_PARAM_WORDS):
        return True
    return any(part in _SECRET_PARAM_PARTS for part in re.split(r"[-_.]", lowered))


def _redact_params(part: str) -> str:
    """``a=1&token=xyz`` -> ``a=1&token=REDACTED`` (``&`` and ``;`` both separate parameters)."""
    pieces = re.split(r"([&;])", part)
    for i, piece in enumerate(pieces):
        name, sep, value = piece.partition("=")
        if sep and value and value != REDACTED and is_secret_param(name):
            pieces[i] = f"{name}={REDACTED}"
    return "".join(pieces)


def _split_authority(rest: str) -> tuple[str, str]:
    """(authority, the rest) of what follows ``scheme://``. The userinfo ends at the LAST ``@`` before the
    path (a password may hold ``@``); a ``:`` followed by something that is no port number means a password
    with a ``/`` in it, so then the authority runs to the first ``@`` after it."""
    end = len(rest)
    for stop in "/?#":
        at = rest.find(stop)
        if at != -1:
            end = min(end, at)
    authority = rest[:end]
    if "@" not in authority and ":" in authority and not authority.startswith("[") \
            and not authority.rpartition(":")[2].isdigit():
        head = re.split(r"[?#]", rest, maxsplit=1)[0]
        if "@" in head[end:]:
            end = head.index("@", end)
            end = end + len(re.split(r"[/?#]", rest[end + 1:], maxsplit=1)[0]) + 1
            authority = rest[:end]
    return authority, rest[end:]


def _clean_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    authority, tail = _split_authority(rest)
    if "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        keep = "ssh" in scheme.lower() and userinfo == _SSH_USER
        authority = authority if keep else host
    if "?" in tail or "#" in tail:
        path, mark, after = re.split(r"([?#])", tail, maxsplit=1)
        tail = _redact_path_token(authority, path) + mark + re.sub(r"[^#]+", lambda m: _redact_params(m.group(0)),
                                                                  after)
    else:
        tail = _redact_path_token(authority, tail)
    return f"{scheme}://{authority}{tail}"


# Package hosts that take the token as the first segment of the path (the index URL they tell users to set):
# Cloudsmith https://dl.cloudsmith.io/TOKEN/OWNER/REPO/python/simple/ (``basic`` and ``public`` are no token),
# Gemfury https://pypi.fury.io/TOKEN/OWNER/ (a public index is https://pypi.fury.io/OWNER/, one segment).
_CLOUDSMITH_NOT_TOKENS = {"basic", "public"}


def _redact_path_token(authority: str, path: str) -> str:
    host = authority.rpartition("@")[2].partition(":")[0].lower()
    parts = path.split("/")  # "", first, second, ...
    if len(parts) < 3 or not parts[1] or parts[1] == REDACTED:
        return path
    if host == "dl.cloudsmith.io" and parts[1] not in _CLOUDSMITH_NOT_TOKENS:
        parts[1] = REDACTED
    elif (host == "fury.io" or host.endswith(".fury.io")) and parts[2]:
        parts[1] = REDACTED
    return "/".join(parts)


def strip_url_credentials(text: str) -> str:
    """Every URL in ``text`` without its userinfo (``user:password@``, a token alone as ``TOKEN@``) and with the
    value of each secret-named query parameter replaced by ``REDACTED``.

    ssh URLs (``ssh://git@host``, and ``git@host:path`` once written as a URL) keep the bare user ``git``, the
    same for everyone; any other user name is personal data and goes."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: _clean_url(m.group(0)), text)


# anaconda.org and conda servers put a token in the path: https://conda.anaconda.org/t/<token>/<channel>
_CONDA_TOKEN = re.compile(r"(://[^/\s]+(?:/[^/\s]*)*?)/t/[^/\s]+")


def strip_conda_token(text: str) -> str:
    """Every URL in ``text`` without credentials and without a conda ``/t/<token>`` path segment."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: _CONDA_TOKEN.sub(r"\1", _clean_url(m.group(0))), text)


def may_quote(value: str) -> bool:
    """Whether a warning may quote ``value``: never one holding a URL or an ``@``, whose credentials might not
    have been recognised (a value that failed a rule after stripping may be exactly such a one)."""
    return "://" not in value and "@" not in value


# ---- the final scan --------------------------------------------------------------------------------------
# Shapes of well-known credentials, after the rules of established scanners:
#   gitleaks   cmd/generate/config/rules/{aws,github,gitlab,slack,stripe,pypi,npm,databricks,gcp,huggingface,
#              openai,anthropic,azure,jwt,privatekey,twilio,sendgrid}.go  (github.com/gitleaks/gitleaks)
#   detect-secrets  detect_secrets/plugins/{aws,azure_storage_key,basic_auth,keyword,private_key,jwt,
#              stripe,slack,npm,pypi_token,twilio,sendgrid}.py  (github.com/Yelp/detect-secrets)
#   trufflehog pkg/detectors/{azure,gcpapplicationdefaultcredentials,...}  (github.com/trufflesecurity/trufflehog)
# narrowed where a manifest's own text could match (versions, package names), and widened to cover a
# one-line private key's body (the whole block goes, not only its first line).


class Rule:
    """One secret shape. Every pattern starts with a literal (``ghp_``, ``AKIA``'s ``A``, ``://``, ``=``): Python's
    regex engine then skips to each occurrence of that literal, so a clean manifest of megabytes is scanned in
    milliseconds per rule; a leading ``\b`` or alternation makes it try every position, fifty times slower. So
    a word boundary is a look-behind placed after the literal. A ``folded`` rule is case-insensitive: the
    whole manifest is searched lower-cased with ``scan`` (a case-insensitive regex over megabytes is many times
    slower), and each string is cleaned with the case-insensitive ``pattern``. Patterns are compiled on first
    use: importing this module costs no regex compilation."""

    __slots__ = ("name", "_pattern", "_scan", "_sources", "folded", "replace", "anchor")

    def __init__(self, name: str, pattern: str, folded: bool = False, replace=REDACTED, scan: str | None = None):
        self.name = name
        self._sources = ("(?i)" + pattern if folded else pattern, (scan or pattern) if folded else None)
        self._pattern = self._scan = None
        self.folded = folded
        self.replace = replace
        # Text without the pattern's leading literal cannot match: the rule is then neither compiled nor run.
        anchor = _leading_literal(scan or pattern if folded else pattern)
        self.anchor = anchor.lower() if folded else anchor

    @property
    def pattern(self) -> re.Pattern:
        if self._pattern is None:
            self._pattern = re.compile(self._sources[0])
        return self._pattern

    @property
    def scan(self) -> re.Pattern:
        if self._scan is None:
            self._scan = re.compile(self._sources[1]) if self.folded else self.pattern
        return self._scan

    def search(self, text: str, lowered: str):
        if self.folded:
            return self.scan.search(lowered) if self.anchor in lowered else None
        return self.pattern.search(text) if self.anchor in text else None


def _leading_literal(pattern: str) -> str:
    """The characters every match of ``pattern`` starts with ("" when it starts with a class or alternation)."""
    if _has_top_level_alternation(pattern):
        return ""  # "ab|cd": a match may start with either
    literal, i = [], 1 if pattern.startswith("(") and not pattern.startswith("(?") else 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and not pattern[i + 1].isalnum():
            literal.append(pattern[i + 1])
            i += 2
            continue
        if char in ".^$*+?{}[]|()\\":
            if char == "|" or char == ")" and pattern[i + 1:i + 2] in ("?", "*", "{"):
                return ""  # "(ab|cd)x", "(ab)?x": the leading group holds an alternative or may be absent
            if char in "*?{" and literal:
                literal.pop()  # the last literal character is optional or repeated
            break
        literal.append(char)
        i += 1
    return "".join(literal)


def _has_top_level_alternation(pattern: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            i += 2 if pattern[i + 1:i + 2] == "]" else 1  # "[]...]": the first ] is a member
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
        i += 1
    return False


def _userinfo(match: re.Match) -> str:
    return "://"


def _keep_name(match: re.Match) -> str:
    return match.group(1) + REDACTED


def _single_slash_userinfo(match: re.Match) -> str:
    return ":/"


def _query(match: re.Match) -> str:
    return "?" + _redact_params(match.group(0)[1:])


def _path_token(match: re.Match) -> str:
    return match.group(1) + REDACTED + "/"


def _starts_word(literal: str) -> str:
    """``literal`` not preceded by a letter, digit or underscore (``\b`` before it, written after it)."""
    return re.escape(literal) + f"(?<![A-Za-z0-9_]{re.escape(literal)})"


_PEM = r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
# Values after a secret-named key (detect-secrets' KeywordDetector): ``db_password=...``, ``AccountKey=...`` (an
# Azure connection string), ``sig=...`` (a SAS token), but not a version (``secrets=1.0.2``, ``token==1.0``).
_KEY_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "accesskey", "access_key",
              "access-key", "privatekey", "private_key", "private-key", "credential", "signature", "sig",
              "accountkey", "sharedaccesskey", "sharedaccesssignature")
_KEY_VALUE = r"(?!=)(?!redacted\b)(?![0-9][0-9.*]*(?:[\s\"'&;,]|$))[^\s\"'&;,]{6,}"
_KEY_NAME = "(?:" + "|".join(sorted((re.escape(word) for word in _KEY_WORDS), key=len, reverse=True)) + ")s?="
# For the whole manifest: start at the literal "=" and look back at the key word.
_KEY_VALUE_SCAN = "=(?:" + "|".join(f"(?<={re.escape(word + plural)}=)" for word in _KEY_WORDS
                                    for plural in ("", "s")) + ")" + _KEY_VALUE

SECRET_RULES = (
    Rule("private key block", _PEM + r"(?:[\s\S]*?" + _PEM_END + r"|[\s\S]*)"),
    Rule("AWS access key id", _starts_word("A") + r"(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z0-9]{16}\b"),
    # an STS session token is base64 of a binary blob that starts the same way ("\x21\n\tOrigin_ec..." and the
    # older "\x17\n\x06..."); percent-encoded as it sits in a presigned URL's X-Amz-Security-Token
    Rule("AWS session token", _starts_word("IQoJb3JpZ2luX2Vj") + r"[A-Za-z0-9+/=%]{20,}"),
    Rule("AWS session token", _starts_word("FwoGZXIvYXdzE") + r"[A-Za-z0-9+/=%]{20,}"),
    Rule("GitHub token", _starts_word("gh") + r"[pousr]_[A-Za-z0-9]{36,}"),
    Rule("GitHub token", _starts_word("github_pat_") + r"[A-Za-z0-9_]{22,}"),
    Rule("GitLab token", _starts_word("gl") + r"(?:pat|dt|ptt|rt|cbt|soat|ffct|imt|agent)-[A-Za-z0-9_-]{20,}"),
    Rule("Slack webhook URL", r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{8,}"),
    Rule("Slack token", _starts_word("x") + r"(?:ox(?:[abposre]|e\.xox[bp])|app)-[A-Za-z0-9-]{10,}"),
    Rule("Stripe key", _starts_word("sk_") + r"(?:live|test|prod)_[A-Za-z0-9]{10,}"),
    Rule("Stripe key", _starts_word("rk_") + r"(?:live|test|prod)_[A-Za-z0-9]{10,}"),
    Rule("PyPI token", _starts_word("pypi-AgE") + r"[A-Za-z0-9_-]{50,}"),
    Rule("npm token", _starts_word("npm_") + r"[A-Za-z0-9]{36}\b"),
    Rule("Databricks token", _starts_word("dapi") + r"[a-f0-9]{32}(?:-[0-9]+)?\b"),
    Rule("Google API key", _starts_word("AIza") + r"[0-9A-Za-z_-]{35}"),
    Rule("Google OAuth secret or token", _starts_word("GOCSPX-") + r"[A-Za-z0-9_-]{20,}"),
    Rule("Google OAuth secret or token", _starts_word("ya29.") + r"[0-9A-Za-z_-]{20,}"),
    Rule("Hugging Face token", _starts_word("hf_") + r"[A-Za-z0-9]{30,}\b"),
    Rule("Hugging Face token", _starts_word("api_org_") + r"[A-Za-z0-9]{30,}\b"),
    Rule("Groq API key", _starts_word("gsk_") + r"[A-Za-z0-9]{40,}"),
    Rule("Replicate API token", _starts_word("r8_") + r"[A-Za-z0-9]{30,}"),
    Rule("Pinecone API key", _starts_word("pcsk_") + r"[A-Za-z0-9_]{30,}"),
    # Neptune's token is base64 of {"api_address": ..., "api_url": ..., "api_key": ...}
    Rule("Neptune API token", _starts_word("eyJhcGlf") + r"(?:YWRkcmVzcyI6|dXJsIjoi|a2V5Ijoi)[A-Za-z0-9+/=_-]{20,}"),
    # W&B (40 hex) and Kaggle (32 hex) keys have no prefix: recognised next to their names
    # (WANDB_API_KEY=..., "wandb": {"api_key": "..."}, KAGGLE_KEY=..., kaggle.json's "key")
    Rule("W&B API key", r"(wandb[^\n]{0,30}?[=: \"'])[0-9a-f]{40}(?![0-9a-f])", folded=True, replace=_keep_name),
    Rule("Kaggle API key", r"(kaggle[^\n]{0,30}?[=: \"'])[0-9a-f]{32}(?![0-9a-f])", folded=True, replace=_keep_name),
    Rule("Anthropic API key", _starts_word("sk-ant-") + r"[a-z]{2,6}[0-9]{2}-[A-Za-z0-9_-]{20,}"),
    Rule("OpenAI API key", _starts_word("sk-") + r"(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    Rule("Twilio API key", _starts_word("SK") + r"[0-9a-f]{32}\b"),
    Rule("SendGrid API key", _starts_word("SG.") + r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
    Rule("JSON web token", _starts_word("eyJ") + r"[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    # user:password@ and a token alone as TOKEN@ (not the conventional git@ of ssh URLs), to the LAST @
    Rule("credentials in a URL", r"://(?!git@[^@/?#\s\"']*(?:[/?#\s\"']|$))[^/?#\s\"']*@", replace=_userinfo),
    # a URL whose // a path normalisation made one (os.path.normpath("https://a:b@h") is "https:/a:b@h")
    Rule("credentials in a URL", r":/(?<=[A-Za-z0-9+.-]{2}:/)(?!/)[^/?#\s\"'@:]+:[^/?#\s\"']*@",
         replace=_single_slash_userinfo),
    Rule("token in a package index URL", r"(dl\.cloudsmith\.io/)(?!basic/|public/|REDACTED/)[^/?#\s\"']+/",
         replace=_path_token),
    Rule("token in a package index URL", r"(\.fury\.io/)(?!REDACTED/)[^/?#\s\"']+/(?=[^/?#\s\"'])",
         replace=_path_token),
    # every query (a URL's, or the one wget keeps in a downloaded file's name): secret-named parameters lose their
    # value, as strip_url_credentials does for the URLs probes record (?t=, ?pw=, X-Amz-Security-Token=, ...)
    Rule("secret in a URL query", r"\?[^\s\"'#<>]+", replace=_query),
    Rule("secret in a key=value setting", "(" + _KEY_NAME + ")" + _KEY_VALUE, folded=True, replace=_keep_name,
         scan=_KEY_VALUE_SCAN),
)
SECRET_NAMES = tuple(dict.fromkeys(rule.name for rule in SECRET_RULES))


def _scrub(value: str, rules, found: list) -> str:
    lowered = value.lower()
    for rule in rules:
        if rule.search(value, lowered):
            cleaned = rule.pattern.sub(rule.replace, value)
            if cleaned != value:
                found.append(rule.name)
                value, lowered = cleaned, cleaned.lower()
    return value


def may_hold_secret(text: str) -> bool:
    """Whether any rule matches somewhere in ``text`` (one pass per rule: many values joined are checked at once)."""
    lowered = text.lower()
    return any(rule.search(text, lowered) for rule in SECRET_RULES)


def redact_text(text: str, found: list | None = None) -> str:
    """One string as the final scan leaves it (a data file's name, a link's target, a data set's name): the
    same rules, so a value cleaned where it is made is left alone by the gate."""
    return _scrub(text, SECRET_RULES, [] if found is None else found)


def scan_and_redact(data):
    """Walk manifest data, replace secret-shaped substrings in values and keys; return (clean data, names of
    what was found)."""
    import json

    found: list[str] = []
    # One pass over the serialized text first: a clean manifest (the usual case) is not walked at all, and the
    # walk applies only the rules that matched somewhere.
    text = json.dumps(data, ensure_ascii=False)
    lowered = text.lower()
    rules = [rule for rule in SECRET_RULES if rule.search(text, lowered)]
    if not rules:
        return data, found

    def clean(value):
        if isinstance(value, str):
            return _scrub(value, rules, found)
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, dict):
            return {clean(key): clean(item) for key, item in value.items()}
        return value

    return clean(data), found
