"""Turn the target probe's report into the `python` section and the `python_packages` records.

Where each fact comes from: the dist-info folders (name, version, requirements, INSTALLER, REQUESTED),
PEP 610 direct_url.json (the source), the local checkout of a directory/editable install (its git commit),
and the local version label (+cu126 -> the PyTorch index it implies).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlsplit

from envcapture.manifest import grammar
from envcapture.manifest.indexes import implied_index
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning, ToolError, home_relative, run_tool, to_data
from envcapture.manifest.redact import may_quote, strip_url_credentials


@dataclass
class Checkout:
    commit: str
    dirty: bool


@dataclass
class PackageSource:
    kind: str  # index | vcs | archive | directory | editable
    url: Optional[str] = None
    vcs: Optional[str] = None
    commit: Optional[str] = None
    requested_revision: Optional[str] = None
    subdirectory: Optional[str] = None
    hash: Optional[str] = None
    checkout: Optional[Checkout] = None


@dataclass
class PythonPackage:
    name: str
    version: str
    requested: bool
    installer: Optional[str]
    top_level: bool
    requires: list = field(default_factory=list)
    source: PackageSource = field(default_factory=lambda: PackageSource("index"))
    local_label: Optional[str] = None
    index_url: Optional[str] = None
    license: Optional[str] = None
    license_kind: Optional[str] = None  # "spdx" (a valid SPDX expression) or "text" (as the author wrote it)
    purl: Optional[str] = None


@dataclass
class PackageIndexes:
    index_url: Optional[str] = None
    extra_index_urls: list = field(default_factory=list)
    find_links: list = field(default_factory=list)
    sources: list = field(default_factory=list)  # which config files or variables said so


@dataclass
class PythonInfo:
    implementation: str
    version: str
    executable: str
    prefix: str
    base_prefix: str
    is_virtualenv: bool
    origin: str
    markers: dict
    site_packages: list
    package_indexes: PackageIndexes


def python_origin(base_prefix: str, executable: str, home: str) -> str:
    """Where this Python came from, as far as its install location tells."""
    path = base_prefix.replace("\\", "/")
    if os.path.isdir(os.path.join(base_prefix, "conda-meta")):
        return "conda"
    if "/.pyenv/versions/" in path or "/pyenv/versions/" in path:
        return "pyenv"
    if "/uv/python/" in path or re.search(r"/cpython-[0-9.]+-[a-z0-9_]+-", path):
        return "uv"
    if path.startswith(("/opt/homebrew", "/usr/local/Cellar", "/home/linuxbrew")):
        return "homebrew"
    if path == "/usr":
        return "distro"
    # python.org installers and the official Docker images (built from source into /usr/local).
    if path == "/usr/local" or "Python.framework" in path or re.match(r"^[A-Za-z]:/Python3", path):
        return "official"
    return "other"


def pip_config_files(prefix: str, env, home: str) -> list[str]:
    """pip's config files in the order pip reads them, each one beating the ones before it: global
    (XDG_CONFIG_DIRS in order, then /etc), user (skipped when PIP_CONFIG_FILE names an existing file), site
    (the environment's prefix), PIP_CONFIG_FILE. PIP_CONFIG_FILE=/dev/null: pip reads none."""
    config_file = env.get("PIP_CONFIG_FILE")
    if config_file == os.devnull:
        return []
    xdg = (env.get("XDG_CONFIG_DIRS") or "").strip() or "/etc/xdg"  # platformdirs: empty means unset
    files = [os.path.join(d, "pip", "pip.conf") for d in xdg.split(":")] + ["/etc/pip.conf"]
    if not (config_file and os.path.exists(config_file)):
        files += [os.path.join(home, ".pip", "pip.conf"),
                  os.path.join(env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "pip", "pip.conf")]
    files.append(os.path.join(prefix, "pip.conf"))
    if config_file:
        files.append(config_file)
    return files


PIP_KEYS = ("index-url", "extra-index-url", "find-links")


def pip_settings(prefix: str, env, home: str, warnings: list) -> dict:
    """{key: (value, origin)} as `pip install` resolves them: a PIP_* variable beats every file, an [install]
    section in any file beats a [global] one, and within a section the file read last wins (one value per
    key: a later extra-index-url replaces an earlier one, as in pip)."""
    import configparser

    read = []
    for path in pip_config_files(prefix, env, home):
        parser = configparser.RawConfigParser()
        try:
            if not parser.read(path, encoding="utf-8"):
                continue
        except (configparser.Error, UnicodeDecodeError, OSError):
            warnings.append(ProbeWarning("python", f"{home_relative(path, home)}: unreadable pip config"))
            continue
        read.append((path, parser))
    chosen = {}
    for section in ("global", "install"):
        for path, parser in read:
            if parser.has_section(section):
                for option, value in parser.items(section):
                    key = option.replace("_", "-")  # pip accepts index_url for index-url
                    if key in PIP_KEYS:
                        chosen[key] = (value, path)
    for key in PIP_KEYS:
        variable = "PIP_" + key.upper().replace("-", "_")
        if env.get(variable):
            chosen[key] = (env[variable], variable)
    return chosen


def package_indexes(prefix: str, env, home: str, warnings: list) -> PackageIndexes:
    """Where packages were to come from: what pip would use (its config files and PIP_* variables) and uv's
    UV_* variables, credentials removed."""
    found = PackageIndexes()
    index_tool = [""]  # the tool whose setting index_url holds

    def take(key: str, value: str, origin: str):
        # find-links may be a plain folder: record it as the file:// URL it means
        urls = [private_url(u if "://" in u or not u.startswith("/") else "file://" + u, home)
                for u in value.split()]
        good = [u for u in urls if grammar.is_url(u)]
        for bad in sorted(set(urls) - set(good)):
            # a value that fails the rule after stripping may hold credentials the stripper did not recognise
            shown = grammar.quote_for_message(bad) + " " if may_quote(bad) else "value "
            warnings.append(ProbeWarning("python", f"{home_relative(origin, home)}: {key} {shown}is not a plain "
                                                   "URL; left out"))
        if not good:
            return
        if key == "index-url":
            # pip reads its config and PIP_INDEX_URL, uv its UV_* variables: when both tools name an index,
            # both are recorded (pip's as an extra index), so neither tool's source is lost.
            tool = "uv" if origin.startswith("UV_") else "pip"
            if found.index_url and found.index_url != good[0] and tool != index_tool[0] \
                    and found.index_url not in found.extra_index_urls:
                found.extra_index_urls.append(found.index_url)
            found.index_url, index_tool[0] = good[0], tool
        elif key == "extra-index-url":
            found.extra_index_urls += [u for u in good if u not in found.extra_index_urls]
        else:
            found.find_links += [u for u in good if u not in found.find_links]
        origin = home_relative(origin, home)
        if grammar.is_path(origin) and origin not in found.sources:
            found.sources.append(origin)

    pip = pip_settings(prefix, env, home, warnings)
    for key, uv_variables in (("index-url", ("UV_INDEX_URL", "UV_DEFAULT_INDEX")),
                              ("extra-index-url", ("UV_EXTRA_INDEX_URL", "UV_INDEX")),
                              ("find-links", ("UV_FIND_LINKS",))):
        if key in pip:
            take(key, *pip[key])
        for variable in uv_variables:
            if env.get(variable):
                take(key, env[variable], variable)
    found.sources.sort(key=lambda origin: origin.startswith(("PIP_", "UV_")))  # files first, as pip reads them
    return found


def python_info(target: dict, home: str, env=None, warnings=None) -> PythonInfo:
    prefix, base = target["prefix"], target["base_prefix"]
    return PythonInfo(
        implementation=target["implementation"],
        version=target["version"],
        executable=home_relative(target["executable"], home) or "",
        prefix=home_relative(prefix, home),
        base_prefix=home_relative(base, home),
        is_virtualenv=prefix != base or bool(target.get("real_prefix")),
        origin=python_origin(base, target["executable"], home),
        markers={k: v for k, v in target["markers"].items() if grammar.check("marker-value", v)},
        site_packages=[home_relative(p, home) for p in target["site_packages"]],
        package_indexes=package_indexes(prefix, env if env is not None else os.environ, home,
                                        warnings if warnings is not None else []),
    )


def local_label(version: str) -> Optional[str]:
    _, plus, label = version.partition("+")
    return label if plus and label else None


def file_url_path(url: str) -> Optional[str]:
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    return unquote(parts.path)


def private_url(url: str, home: str) -> str:
    """Credentials stripped; a file:// URL under the home folder written with ~ (no user name)."""
    url = strip_url_credentials(url)
    path = file_url_path(url)
    if path is not None:
        relative = home_relative(path, home)
        if relative != path:
            return "file://" + relative
    return url


def git_checkout(path: str, timeout: float) -> Optional[Checkout]:
    """Commit and dirtiness of the git checkout a local install came from, when it still exists."""
    if not os.path.isdir(path):
        return None
    try:
        commit = run_tool(["git", "-C", path, "rev-parse", "HEAD"], timeout=timeout).strip()
        status = run_tool(["git", "-C", path, "status", "--porcelain", "--untracked-files=no"], timeout=timeout)
    except ToolError:
        return None
    if not grammar.is_git_commit(commit):
        return None
    return Checkout(commit=commit, dirty=bool(status.strip()))


def _text(value) -> Optional[str]:
    return value if isinstance(value, str) else None


def _table(value) -> dict:
    return value if isinstance(value, dict) else {}


def package_source(direct_url: Optional[dict], home: str, timeout: Optional[float],
                   warnings: Optional[list] = None, where: str = "") -> PackageSource:
    """PEP 610 direct_url.json to a source record; no direct_url means an index install.

    ``timeout`` None: the install paths are not on this machine (an image), so no checkout is looked up.
    direct_url.json is written by installers and edited by hand: a field of the wrong type is left out and said.
    """
    if not isinstance(direct_url, dict) or not isinstance(direct_url.get("url"), str):
        return PackageSource("index")
    warnings = warnings if warnings is not None else []

    def table(key: str) -> dict:
        value = direct_url.get(key)
        if value is not None and not isinstance(value, dict):
            warnings.append(ProbeWarning("python", f"{where}: direct_url.json {key} is not a JSON object; ignored"))
        return _table(value)

    raw_url = direct_url["url"]
    url = private_url(raw_url, home)
    subdirectory = _text(direct_url.get("subdirectory"))
    if "vcs_info" in direct_url:
        info = table("vcs_info")
        vcs = _text(info.get("vcs")) or "git"
        if vcs not in ("git", "hg", "svn", "bzr"):
            warnings.append(ProbeWarning("python", f"{where}: direct_url.json names an unknown vcs; taken as git"))
            vcs = "git"
        # pip records the bare URL; the vcs prefix makes it installable again (git+https://...)
        if not url.startswith(vcs + "+"):
            url = f"{vcs}+{url}"
        return PackageSource("vcs", url=url, vcs=vcs, commit=_text(info.get("commit_id")),
                             requested_revision=_text(info.get("requested_revision")), subdirectory=subdirectory)
    if "archive_info" in direct_url:
        info = table("archive_info")
        digest = _text(info.get("hash"))
        hashes = _table(info.get("hashes"))
        if not digest and isinstance(hashes.get("sha256"), str):
            digest = "sha256=" + hashes["sha256"]
        return PackageSource("archive", url=url, hash=digest, subdirectory=subdirectory)
    info = table("dir_info")
    kind = "editable" if info.get("editable") is True else "directory"
    local = file_url_path(strip_url_credentials(raw_url))
    checkout = git_checkout(local, timeout) if local and timeout is not None else None
    return PackageSource(kind, url=url, subdirectory=subdirectory, checkout=checkout)


def _marker_applies(marker_text: Optional[str], markers: dict) -> bool:
    if marker_text is None:
        return True
    marker = grammar.parse_marker(marker_text)
    try:
        return marker.evaluate({**markers, "extra": ""})
    except Exception:  # an unknown marker variable: count the edge rather than lose it
        return True


def required_names(dists: list[dict], markers: dict) -> set[str]:
    """Names that some installed distribution requires (markers evaluated, extras not taken)."""
    names = set()
    for dist in dists:
        requires = dist.get("requires")
        # a hostile or broken answer may hold anything here: package_record says so for that distribution
        for text in requires if isinstance(requires, list) else ():
            parsed = grammar.split_requirement(text) if isinstance(text, str) else None
            if parsed and _marker_applies(parsed[1], markers):
                names.add(grammar.canonical_name(parsed[0]))
    return names


def _check_source_fields(source: PackageSource, where: str, warnings: list) -> PackageSource:
    """A field the grammar refuses is dropped (and said), so freeze never writes an invalid manifest."""
    rules = {"url": "url", "commit": "identifier", "requested_revision": "git-ref", "subdirectory": "subdirectory",
             "hash": "hash"}
    for attr, rule in rules.items():
        value = getattr(source, attr)
        if value is not None and not grammar.check(rule, value):
            message = grammar.describe_violation(f"{where}.source.{attr}", value, rule) if may_quote(value) \
                else f"{where}.source.{attr} is not a {grammar.RULES[rule][1]} (value not quoted)"
            warnings.append(ProbeWarning("python", message + "; left out"))
            setattr(source, attr, None)
    return source


def outside_site_packages(dist_path: Optional[str], site_dirs: set) -> Optional[dict]:
    """A distribution found on a sys.path entry that is no site-packages folder (PYTHONPATH, a source checkout
    with its .egg-info, `setup.py develop`) came from that folder, not from an index: say so as PEP 610 would."""
    if not dist_path:
        return None
    folder = os.path.dirname(os.path.normpath(dist_path))
    if folder in site_dirs or os.path.basename(folder) in ("site-packages", "dist-packages"):
        return None
    return {"url": "file://" + folder, "dir_info": {}}


def packages(target: dict, home: str, timeout: Optional[float]) -> tuple[list[PythonPackage], list[ProbeWarning]]:
    warnings: list[ProbeWarning] = []
    dists = target.get("distributions") or []
    required = required_names(dists, target.get("markers") or {})
    site_dirs = {os.path.normpath(p) for p in target.get("site_packages") or []}
    records = []
    for dist in dists:
        try:
            record = package_record(dist, required, site_dirs, home, timeout, warnings)
        except Exception as exc:  # one broken distribution must not cost the others
            where = dist.get("folder") if isinstance(dist, dict) else None
            warnings.append(ProbeWarning("python", f"{where if isinstance(where, str) else 'a distribution'}: "
                                                   f"could not be read ({type(exc).__name__}: {exc}); left out"))
            continue
        if record is not None:
            records.append(record)
    records.sort(key=lambda p: grammar.canonical_name(p.name))
    return records, warnings


def package_record(dist: dict, required: set, site_dirs: set, home: str, timeout: Optional[float],
                   warnings: list) -> Optional[PythonPackage]:
    """One distribution reported by target.py, or None (with a warning) when it cannot be recorded."""
    name, version = dist.get("name") or "", dist.get("version") or ""
    where = f"{dist.get('folder', name)}"
    if dist.get("error"):
        warnings.append(ProbeWarning("python", f"{where}: {dist['error']}"))
    if not grammar.is_dist_name(name) or not grammar.is_pep440_version(version):
        warnings.append(ProbeWarning("python", f"{where}: name {grammar.quote_for_message(name)} or version "
                                               f"{grammar.quote_for_message(version)} is not valid; left out"))
        return None
    requires = []
    for text in dist.get("requires") or []:
        text = strip_url_credentials(text)  # `pkg @ https://TOKEN@host/...`, `...whl?token=...`
        if grammar.is_pep508_requirement(text):
            requires.append(text)
        else:
            shown = grammar.quote_for_message(text) + " " if may_quote(text) else "with a URL "
            warnings.append(ProbeWarning("python", f"{name}: requirement {shown}is not PEP 508; left out"))
    installer = dist.get("installer")
    if installer is not None and not grammar.is_identifier(installer):
        installer = None
    direct_url = dist.get("direct_url") or outside_site_packages(dist.get("path"), site_dirs)
    source = _check_source_fields(package_source(direct_url, home, timeout, warnings, where), name, warnings)
    label = local_label(version)
    return PythonPackage(
        name=name, version=version, requested=bool(dist.get("requested")), installer=installer,
        top_level=grammar.canonical_name(name) not in required, requires=requires, source=source,
        local_label=label if label and grammar.is_identifier(label) else None,
        index_url=implied_index(label),
        **package_license(dist.get("license")),
        purl=pypi_purl(name, version),
    )


# Trove classifiers that name exactly one SPDX license (cyclonedx-py and syft map the same way); the others
# ("BSD License", "Apache Software License") do not say which version or variant, so they stay text. So does
# "Python Software Foundation License": matplotlib uses it for its own PSF-based license, which is not PSF-2.0.
CLASSIFIER_SPDX = {
    "MIT License": "MIT", "ISC License (ISCL)": "ISC", "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only", "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only", "The Unlicense (Unlicense)": "Unlicense",
    "Zope Public License": "ZPL-2.1",
    "GNU Affero General Public License v3": "AGPL-3.0-only", "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "zlib/libpng License": "Zlib", "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
}


def package_license(headers) -> dict:
    """License-Expression first, then a one-line License header, then the trove classifiers (PEP 639's order)."""
    if not isinstance(headers, dict):
        return {}
    from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

    classifiers = [c.rsplit("::", 1)[-1].strip() for c in headers.get("classifiers") or []
                   if isinstance(c, str) and c.count("::") >= 2]
    for candidate in (headers.get("expression"), headers.get("license")):
        if isinstance(candidate, str) and candidate.strip():
            try:
                return {"license": canonicalize_license_expression(candidate), "license_kind": "spdx"}
            except InvalidLicenseExpression:
                pass
    mapped = sorted({CLASSIFIER_SPDX[c] for c in classifiers if c in CLASSIFIER_SPDX})
    if mapped and len(mapped) == len(set(classifiers)) and not headers.get("license"):
        return {"license": " OR ".join(mapped), "license_kind": "spdx"}
    declared = headers.get("license")
    text = declared if isinstance(declared, str) and 0 < len(declared) <= 200 and declared != "UNKNOWN" \
        else "; ".join(classifiers)
    if text and grammar.is_text(text):
        return {"license": text, "license_kind": "text"}
    return {}


def pypi_purl(name: str, version: str) -> str:
    """pkg:pypi/NAME@VERSION as the purl spec writes it: name lower-case with '-', version percent-encoded."""
    from urllib.parse import quote

    return f"pkg:pypi/{grammar.canonical_name(name)}@{quote(version, safe='.!')}"


def collect(ctx: ProbeContext, packages_too: bool = True) -> ProbeResult:
    """Both sections at once: {'python': ..., 'python_packages': [...]}."""
    target = ctx.target
    # A target from another root (inside an image) has its local checkouts there, not on this machine.
    on_this_machine = ctx.root == Path("/")
    records, warnings = packages(target, ctx.home, ctx.timeout if on_this_machine else None) if packages_too \
        else ([], [])
    info = python_info(target, ctx.home, ctx.env, warnings)
    for line in unsatisfied_requirements([(r.name, r.version, r.requires) for r in records], info.markers):
        warnings.append(ProbeWarning("python", line))
    return ProbeResult({"python": to_data(info), "python_packages": to_data(records)}, warnings)


def unsatisfied_requirements(packages, markers: dict) -> list[str]:
    """What `pip check` reports: requirements (markers evaluated, extras not taken) that no installed
    distribution satisfies. ``packages``: (name, version, requires) triples; one line per broken requirement."""
    installed = {grammar.canonical_name(name): version for name, version, _ in packages}
    lines = []
    for name, version, requires in packages:
        for text in requires or ():
            parsed = grammar.split_requirement(text)
            if not parsed or not _marker_applies(parsed[1], markers):
                continue
            wanted = grammar.canonical_name(parsed[0])
            have = installed.get(wanted)
            if have is None:
                lines.append(f"{name} {version} requires {parsed[0]}, which is not installed")
            elif not _satisfies(text, have):
                shown = text.split(";", 1)[0].strip()
                lines.append(f"{name} {version} has requirement {shown}, but {wanted} {have} is installed")
    return lines


def _satisfies(requirement: str, version: str) -> bool:
    spec = _specifier_text(requirement)
    return True if spec is None else _spec_contains(spec, version)


@functools.lru_cache(maxsize=65536)
def _spec_contains(spec: str, version: str) -> bool:
    """Cached by (specifier, version): `>=1.0` against the same few versions recurs across thousands."""
    from packaging.version import InvalidVersion, Version

    specifier = _specifier_set(spec)
    try:
        return specifier is None or specifier.contains(Version(version), prereleases=True)  # as pip check does
    except InvalidVersion:
        return True


_NAME_AND_EXTRAS = re.compile(r"^\s*[A-Za-z0-9._-]+\s*(?:\[[^\]]*\])?")


@functools.lru_cache(maxsize=65536)
def _specifier_text(requirement: str):
    """The version specifier of a requirement as text (None when it has none)."""
    head = requirement.split(";", 1)[0]
    if "@" in head:
        return None  # a direct URL reference: any version of it counts, as for pip
    spec = _NAME_AND_EXTRAS.sub("", head, count=1).strip().strip("() ")
    return spec or None


@functools.lru_cache(maxsize=4096)
def _specifier_set(text: str):
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None
