"""The grammar of every string that can reach a generated file.

A manifest is untrusted input: it may come with a paper or from a stranger. Each rule here is a named
JSON Schema ``format`` used by the manifest schema (so ``envcapture validate`` applies it) and can be called
directly by renderers as a second line of defence (``require``). A rule is deliberately narrower than what
the real world sometimes allows: refusing an odd value is better than writing a shell command for it.
"""

from __future__ import annotations

import functools
import re
from typing import Callable

from envcapture.text import printable  # noqa: F401  (grammar.printable: the name many callers use)

MAX_TEXT = 4096

# Control characters (C0, DEL and C1: CR/LF, ESC, NEL, the 8-bit CSI U+009B), the Unicode line and paragraph
# separators, and the bidirectional marks, embeddings, overrides and isolates that make a terminal or an editor
# show text in another order than it is read (CVE-2021-42574, "Trojan Source").
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

_PEP503_NAME = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
_DEB_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_DEB_VERSION = re.compile(r"^([0-9]+:)?[A-Za-z0-9][A-Za-z0-9.+~_-]*(:[A-Za-z0-9.+~_-]+)*$")
_PKG_TOKEN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+~^-]*$")
_ARCH = re.compile(r"^[A-Za-z0-9_.-]+$")
_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_HEX = re.compile(r"^[0-9a-f]+$")
_GIT_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Docker reference: [registry[:port]/]path[:tag][@sha256:digest], lowercase path components.
_IMAGE_REF = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@sha256:[0-9a-f]{64})?$"
)
_URL_SCHEMES = ("http", "https", "file", "git+https", "git+http", "git+ssh", "git+file", "ssh", "git",
                "hg+https", "svn+https", "bzr+https", "s3", "gs")
# What a URL may hold, decided per character. Kept: RFC 3986 unreserved characters, percent escapes, the
# delimiters real index, VCS and archive URLs use (: / ? # @ + , = ~ and & between query parameters), and
# non-ASCII letters (IRIs). Refused: whatever a shell or a Dockerfile would read as more than a word: quotes,
# backslash, $ and backtick (expansion), ; | & chains, < > (redirection), ( ) (subshells), * and [ ] (globs,
# except an IPv6 literal host), ! (history expansion), { } ^ and space. Every generated file still quotes URLs:
# this rule is the second fence, not the first.
_URL_CHARACTERS = re.compile(r"^[A-Za-z0-9\-._~:/?#@+,=%&\[\]]+$")
_URL_IPV6_HOST = re.compile(r"^[^/?#]*://(?:[^/?#@]*@)?\[[0-9A-Fa-f:.]+\](?::[0-9]+)?(?:[/?#]|$)")
_APT_SOURCE_FORBIDDEN = re.compile(r"[\"'`$\\;|&<>]")


def _no_line_breaks(value: str) -> bool:
    return not _LINE_BREAKING.search(value)


def is_text(value: str) -> bool:
    """One line of free text (descriptions, model names): never used in a command, only in comments."""
    return len(value) <= MAX_TEXT and _no_line_breaks(value)


def is_dist_name(value: str) -> bool:
    return len(value) <= 200 and bool(_PEP503_NAME.match(value))


def canonical_name(name: str) -> str:
    """PEP 503 normalized distribution name; the common already-simple names skip the regex."""
    simple = name.lower().replace("_", "-").replace(".", "-")
    return simple if "--" not in simple else re.sub(r"-+", "-", simple)


def is_pep440_version(value: str) -> bool:
    if len(value) > 200 or not _no_line_breaks(value) or value != value.strip():
        return False
    from packaging.version import InvalidVersion, Version

    try:
        Version(value)
    except InvalidVersion:
        return False
    return True


# name [extras] (specifiers) ; marker -- the common shapes, matched without a full parse.
_REQ_HEAD = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?:\[\s*(?:[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:,\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*)*)?\])?\s*"
    r"(?P<spec>\(?\s*(?:(?:===|~=|==|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*"
    r"(?:,\s*(?:===|~=|==|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*)*)?\)?)\s*"
    r"(?:;\s*(?P<marker>.+?))?\s*$"
)


@functools.lru_cache(maxsize=4096)
def parse_marker(text: str):
    """A packaging Marker, cached: the same few markers recur across thousands of requirements."""
    from packaging.markers import InvalidMarker, Marker

    try:
        return Marker(text)
    except InvalidMarker:
        return None


@functools.lru_cache(maxsize=65536)  # freeze asks twice per requirement: top-level edges, then validity
def split_requirement(value: str):
    """(name, marker text or None) of a valid PEP 508 requirement, else None.

    Freeze checks every Requires-Dist of every distribution, so the common shapes are matched by a regex
    and only the marker (cached) or an unusual requirement (URL, odd spacing) goes through packaging.
    """
    if len(value) > 1000 or not _no_line_breaks(value) or any(c in value for c in "`$\\"):
        return None
    match = _REQ_HEAD.match(value)
    if match and match.group("spec").count("(") == match.group("spec").count(")"):
        marker = match.group("marker")
        if marker is not None and parse_marker(marker) is None:
            return None
        return match.group("name"), marker
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(value)
    except InvalidRequirement:
        return None
    return requirement.name, (str(requirement.marker) if requirement.marker else None)


def is_pep508_requirement(value: str) -> bool:
    return split_requirement(value) is not None


def is_marker_value(value: str) -> bool:
    return len(value) <= 500 and _no_line_breaks(value) and not any(c in value for c in "\"'`$\\")


def is_python_version(value: str) -> bool:
    return bool(re.match(r"^[0-9]+\.[0-9]+\.[0-9]+([a-z]+[0-9]*)?\+?$", value))


def is_deb_name(value: str) -> bool:
    return len(value) <= 200 and bool(_DEB_NAME.match(value))


def is_deb_version(value: str) -> bool:
    return len(value) <= 200 and bool(_DEB_VERSION.match(value))


def is_package_token(value: str) -> bool:
    """rpm/apk/conda names, versions and build strings."""
    return len(value) <= 200 and bool(_PKG_TOKEN.match(value))


def is_arch(value: str) -> bool:
    return len(value) <= 64 and bool(_ARCH.match(value))


def is_identifier(value: str) -> bool:
    """Distribution ids, codenames, implementation names, conda channel names, libc names."""
    return len(value) <= 200 and bool(_IDENT.match(value))


def is_sha256(value: str) -> bool:
    return len(value) == 64 and bool(_HEX.match(value))


def is_md5(value: str) -> bool:
    return len(value) == 32 and bool(_HEX.match(value))


def is_hash(value: str) -> bool:
    """``algo=hexdigest`` as in PEP 610 archive_info.hash."""
    algo, sep, digest = value.partition("=")
    return bool(sep) and algo in ("sha256", "sha384", "sha512", "md5", "sha1") and len(digest) <= 128 \
        and bool(_HEX.match(digest))


def is_git_commit(value: str) -> bool:
    return len(value) in (40, 64) and bool(_HEX.match(value))


def is_git_ref(value: str) -> bool:
    return len(value) <= 255 and bool(_GIT_REF.match(value)) and ".." not in value


def is_conda_channel(value: str) -> bool:
    """A conda channel name: ``conda-forge``, ``pkgs/main``, ``nvidia/label/cuda-12.1.0``."""
    return len(value) <= 255 and all(_IDENT.match(part) for part in value.split("/"))


def is_env_name(value: str) -> bool:
    return len(value) <= 200 and bool(_ENV_NAME.match(value))


def is_image_ref(value: str) -> bool:
    return len(value) <= 255 and bool(_IMAGE_REF.match(value))


def url_has_credentials(value: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    # ssh URLs may name a user (git@); a password is credentials. A port with no user is neither.
    if parts.scheme in ("ssh", "git+ssh"):
        return "@" in parts.netloc and ":" in parts.netloc.rpartition("@")[0]
    return "@" in parts.netloc


def _url_characters_ok(value: str) -> bool:
    import unicodedata

    ascii_part = "".join(c if c < "\x80" else "a" for c in value)
    if any(c >= "\x80" and unicodedata.category(c)[0] not in "LNM" for c in value):
        return False  # non-ASCII: letters, digits and marks only (no controls, format marks, spaces, symbols)
    if not _URL_CHARACTERS.match(ascii_part):
        return False
    if ("[" in value or "]" in value) and not (_URL_IPV6_HOST.match(value)
                                               and value.count("[") == value.count("]") == 1):
        return False
    # & separates query parameters (and pip's `#egg=x&subdirectory=y` fragment); in the host or path, or
    # doubled, it is only useful to a shell.
    head = re.split(r"[?#]", value, maxsplit=1)[0]
    return "&" not in head and "&&" not in value


def is_url(value: str) -> bool:
    """A URL with an allowed scheme, no credentials, nothing a shell or a Dockerfile would interpret."""
    if len(value) > 2000 or not _no_line_breaks(value) or not _url_characters_ok(value):
        return False
    scheme, sep, _ = value.partition("://")
    if not sep or scheme not in _URL_SCHEMES:
        return False
    return not url_has_credentials(value)


def is_path(value: str) -> bool:
    """A filesystem path: no line breaks, quotes, or shell-active characters."""
    return 0 < len(value) <= 4096 and _no_line_breaks(value) and not any(c in value for c in "\"'`$\\")


# One folder name: letters, digits, . _ -, not starting with - (an option) and never .. (a way out of the source).
_FOLDER_NAME = r"(?!\.\.(?:/|$))[A-Za-z0-9_.][A-Za-z0-9._-]*"
_SUBDIRECTORY = re.compile(rf"^{_FOLDER_NAME}(?:/{_FOLDER_NAME})*/?$")


def is_subdirectory(value: str) -> bool:
    """A folder inside a source tree (pip's ``#subdirectory=``): relative, no ``..``, no spaces or options."""
    return len(value) <= 500 and bool(_SUBDIRECTORY.match(value))


def is_apt_source(value: str) -> bool:
    """One apt source line (``deb [opts] URI suite components``), credentials already removed."""
    return len(value) <= 1000 and _no_line_breaks(value) and not _APT_SOURCE_FORBIDDEN.search(value) \
        and not url_has_credentials_anywhere(value)


def url_has_credentials_anywhere(value: str) -> bool:
    return any(url_has_credentials(word) for word in value.split() if "://" in word)


def is_hex_digest(value: str) -> bool:
    """A file or data set hash (BLAKE3, sha256, md5): lowercase hex, 32 to 128 digits."""
    return 32 <= len(value) <= 128 and bool(_HEX.match(value))


def is_dvc_hash(value: str) -> bool:
    """A hash as DVC writes it: an md5 digest, with ``.dir`` for a folder's listing."""
    return is_md5(value[:-4] if value.endswith(".dir") else value)


def is_data_path(value: str) -> bool:
    """A file's path inside a data set: relative, ``/``-separated, one line, no ``.`` or ``..`` parts.

    Wider than ``path`` (data files are named by people: quotes and spaces happen) because it never reaches
    a shell or a generated file; it only names files in `check`'s report.
    """
    if not 0 < len(value) <= 4096 or not _no_line_breaks(value) or value.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in value.split("/"))


_ISO_DATETIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?Z")


def parse_iso_datetime(value: str):
    """The aware UTC ``datetime`` of a timestamp the ``iso-datetime`` rule accepts, else None.

    Readers use this, not ``datetime.fromisoformat``, which on Python 3.10 refuses a fraction of other than 3
    or 6 digits: one parser, so what ``validate`` accepts every command reads.
    """
    import datetime

    match = _ISO_DATETIME.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return None
    fraction = (match.group(7) or ".")[1:7].ljust(6, "0")
    try:
        return datetime.datetime(*(int(part) for part in match.groups()[:6]), int(fraction),
                                 tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def is_iso_datetime(value: str) -> bool:
    """A real UTC instant written YYYY-MM-DDTHH:MM:SS[.fraction]Z: parsed, not matched (2026-02-30 and 25:00
    are refused)."""
    return parse_iso_datetime(value) is not None


def is_date(value: str) -> bool:
    """A real calendar day written YYYY-MM-DD (2026-13-01 and 2026-02-30 are not)."""
    import datetime

    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_purl(value: str) -> bool:
    """A package URL (github.com/package-url/purl-spec): pkg:type/namespace/name@version?qualifiers, percent-encoded."""
    return bool(re.match(r"^pkg:[a-z][a-z0-9.+-]*/[A-Za-z0-9._~%+/-]+(@[A-Za-z0-9._~%+!-]+)?"
                         r"(\?[a-z0-9._-]+=[A-Za-z0-9._~%+/:-]+(&[a-z0-9._-]+=[A-Za-z0-9._~%+/:-]+)*)?$", value))


# name -> (check, how the rule reads in an error message: '<value> is not a <description>')
RULES: dict[str, tuple[Callable[[str], bool], str]] = {
    "text": (is_text, "single line of text (no control characters, at most 4096 characters)"),
    "dist-name": (is_dist_name, "PEP 508 distribution name"),
    "pep440-version": (is_pep440_version, "PEP 440 version"),
    "pep508-requirement": (is_pep508_requirement, "PEP 508 requirement"),
    "marker-value": (is_marker_value, "PEP 508 marker value"),
    "python-version": (is_python_version, "Python version X.Y.Z"),
    "deb-name": (is_deb_name, "Debian package name"),
    "deb-version": (is_deb_version, "Debian package version"),
    "package-token": (is_package_token, "package name, version or build string"),
    "arch": (is_arch, "machine architecture"),
    "identifier": (is_identifier, "plain identifier (letters, digits, . _ + -)"),
    "sha256": (is_sha256, "sha256 hex digest"),
    "md5": (is_md5, "md5 hex digest"),
    "hash": (is_hash, "hash of the form algo=hexdigest"),
    "git-commit": (is_git_commit, "git commit id"),
    "git-ref": (is_git_ref, "git revision name"),
    "conda-channel": (is_conda_channel, "conda channel name (identifiers joined by /)"),
    "env-name": (is_env_name, "environment variable name"),
    "image-ref": (is_image_ref, "container image reference"),
    "url": (is_url, "URL with an allowed scheme and no credentials or shell characters"),
    "path": (is_path, "path without line breaks, quotes or shell characters"),
    "subdirectory": (is_subdirectory, "relative folder inside the source (letters, digits, . _ - and /; no ..)"),
    "apt-source": (is_apt_source, "apt source line without credentials or shell characters"),
    "hex-digest": (is_hex_digest, "hex digest (32 to 128 lowercase hex digits)"),
    "dvc-hash": (is_dvc_hash, "md5 hex digest as DVC writes it (optionally ending in .dir)"),
    "data-path": (is_data_path, "relative path inside a data set (one line, no . or .. parts)"),
    "iso-datetime": (is_iso_datetime, "UTC ISO 8601 timestamp"),
    "date": (is_date, "date YYYY-MM-DD"),
    "purl": (is_purl, "package URL (pkg:type/name@version)"),
}


def check(rule: str, value) -> bool:
    return isinstance(value, str) and RULES[rule][0](value)


def describe_violation(where: str, value, rule: str) -> str:
    return f"{where}: {quote_for_message(value)} is not a {RULES[rule][1]}"


def quote_for_message(value) -> str:
    """Show a hostile value safely in one terminal line (escaped, shortened)."""
    import json

    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 120 else text[:100] + '..."' + f" ({len(str(value))} characters)"


def require(rule: str, value, where: str) -> str:
    """Renderers call this on every value they write; a violation is a BadInput naming the field."""
    if not check(rule, value):
        from envcapture.errors import BadInput

        raise BadInput(describe_violation(where, value, rule))
    return value
