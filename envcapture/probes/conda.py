"""The ``conda`` section: the packages, channels and explicit specs of a conda environment.

A conda environment is a prefix with ``conda-meta/``: one JSON record per conda package, and ``history``,
which keeps the specs the user asked for (``# update specs: [...]``). Packages that pip installed into the
environment have no record there; they belong to ``python_packages``.
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from envcapture.manifest import grammar
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning, home_relative, to_data
from envcapture.manifest.redact import strip_conda_token

SOURCE = "conda"
# Large records carry every file of the package (``files``, ``paths_data``): cut those out before parsing.
BULKY_KEYS = (b"files", b"paths_data")
SUBDIR = re.compile(r"^(noarch|(linux|osx|win|emscripten|wasi|freebsd|zos)-[a-z0-9_]+)$")
ANACONDA_HOSTS = ("conda.anaconda.org", "anaconda.org", "repo.anaconda.com", "repo.continuum.io")
SPEC_NAME = re.compile(r"^(?:[^:]*::)?([A-Za-z0-9_][A-Za-z0-9_.+-]*)")


@dataclass
class CondaPackage:
    name: str
    version: str
    build: str
    build_number: int | None
    channel: str | None
    subdir: str | None
    url: str | None
    md5: str | None
    sha256: str | None
    requested_spec: str | None


@dataclass
class CondaEnv:
    prefix: str
    name: str | None
    conda_version: str | None
    channels: list[str]
    packages: list[CondaPackage]
    explicit_specs: list[str]


def target_prefix(ctx: ProbeContext) -> Path | None:
    prefix = ctx.target.get("prefix") or ctx.env.get("CONDA_PREFIX")
    return Path(prefix) if prefix else None


def read_record(path: Path) -> dict:
    """One ``conda-meta/*.json`` record, skipping the per-file lists (most of a big record's bytes)."""
    data = path.read_bytes()
    slim = cut_bulky_keys(data)
    if slim is not data:
        try:
            return json.loads(slim)
        except ValueError:
            pass
    return json.loads(data)


def cut_bulky_keys(data: bytes) -> bytes:
    """conda writes records with ``indent=2``, so a bulky top-level list or object opens at the end of its
    key's line and its first line indented by exactly two spaces is its closing bracket; keep everything but
    those spans. Returns ``data`` itself when the layout is not that one; the caller checks the result
    parses."""
    kept, position = [], 0
    for key in BULKY_KEYS:
        start = data.find(b'\n  "' + key + b'": ', position)
        if start < 0:
            continue
        value_at = start + len(key) + 7
        closer = {b"[": b"]", b"{": b"}"}.get(data[value_at:value_at + 1])
        if closer is None or data[value_at + 1:value_at + 2] != b"\n":
            continue  # an empty or one-line value: nothing worth cutting
        close = data.find(b"\n  " + closer, value_at)
        if close < 0:
            return data
        kept.append(data[position:start])
        position = close + 4
        if data[position:position + 1] == b",":
            position += 1
    if not kept:
        return data
    kept.append(data[position:])
    return b"".join(kept)


def channel_base(channel: str | None, subdir: str | None) -> str | None:
    """The channel's URL or name without a trailing platform subdir and without credentials or tokens."""
    if not channel:
        return None
    channel = channel.rstrip("/")
    last = channel.rsplit("/", 1)
    if len(last) == 2 and (last[1] == subdir or SUBDIR.match(last[1])):
        channel = last[0]
    # anaconda.org channel tokens live in the path: https://conda.anaconda.org/t/<token>/<channel>
    return strip_conda_token(channel)


def channel_name(base: str | None) -> str | None:
    """``https://conda.anaconda.org/conda-forge`` -> ``conda-forge``; ``https://repo.anaconda.com/pkgs/main``
    -> ``pkgs/main``; another server's channel -> its path (or host)."""
    if not base:
        return None
    if "://" not in base:
        return base
    parts = urlsplit(base)
    path = parts.path.strip("/")
    if parts.scheme == "file" or parts.hostname not in ANACONDA_HOSTS:
        return path.rsplit("/", 1)[-1] if path else parts.hostname
    return path or parts.hostname


def clean_url(url: str | None) -> str | None:
    if not url:
        return None
    return strip_conda_token(url) if "://" in url else None


def package_record(raw: dict, where: str, warnings: list[ProbeWarning]) -> CondaPackage | None:
    name, version, build = (str(raw.get(key) or "") for key in ("name", "version", "build"))
    if not all(grammar.is_package_token(value) for value in (name, version, build)):
        warnings.append(ProbeWarning(SOURCE, f"conda record {where}: name, version or build is not a plain "
                                             "token; left out"))
        return None
    subdir = raw.get("subdir") if isinstance(raw.get("subdir"), str) else None
    base = channel_base(raw.get("channel") if isinstance(raw.get("channel"), str) else None, subdir)
    build_number = raw.get("build_number")
    record = CondaPackage(
        name=name, version=version, build=build,
        build_number=build_number if isinstance(build_number, int) and build_number >= 0 else None,
        channel=channel_name(base), subdir=subdir,
        url=clean_url(raw.get("url") if isinstance(raw.get("url"), str) else None),
        md5=raw.get("md5"), sha256=raw.get("sha256"),
        requested_spec=requested_spec(raw))
    dropped = []
    for attr, rule in (("channel", "conda-channel"), ("subdir", "identifier"), ("url", "url"), ("md5", "md5"),
                       ("sha256", "sha256"), ("requested_spec", "text")):
        value = getattr(record, attr)
        if value is not None and not grammar.check(rule, value):
            setattr(record, attr, None)
            dropped.append(attr)
    if dropped:
        warnings.append(ProbeWarning(SOURCE, f"conda record {where}: {', '.join(dropped)} not recorded "
                                             "(unusual characters)"))
    return record


def requested_spec(raw: dict) -> str | None:
    """What the user asked for when this package was installed; conda writes the string "None" for
    packages that came in as dependencies."""
    spec = raw.get("requested_spec")
    return strip_conda_token(spec) if isinstance(spec, str) and spec and spec != "None" else None


def is_pip_record(raw: dict) -> bool:
    return raw.get("channel") == "pypi" or raw.get("build") == "pypi_0"


def read_history(path: Path) -> tuple[list[str], str | None]:
    """(explicit specs in the order first asked for, the last conda version) from ``conda-meta/history``.

    Each transaction has a ``# cmd:`` line and, since conda 4.4, ``# update specs: [...]`` (also install/
    create) or ``# remove specs: [...]``; older histories only have the command, whose arguments are used.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [], None
    specs: dict[str, str] = {}
    conda_version = None
    pending_cmd: list[str] | None = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("==>"):
            apply_command(pending_cmd, specs)
            pending_cmd = None
        elif line.startswith("# cmd:"):
            pending_cmd = line[len("# cmd:"):].split()
        elif line.startswith("# conda version:"):
            conda_version = line.split(":", 1)[1].strip() or conda_version
        elif re.match(r"# (update|install|create) specs:", line):
            for spec in spec_list(line):
                specs[spec_name(spec)] = spec
            pending_cmd = None
        elif line.startswith("# remove specs:"):
            for spec in spec_list(line):
                specs.pop(spec_name(spec), None)
            pending_cmd = None
    apply_command(pending_cmd, specs)
    return list(specs.values()), conda_version


def spec_list(line: str) -> list[str]:
    try:
        value = ast.literal_eval(line.split(":", 1)[1].strip())
    except (ValueError, SyntaxError):
        return []
    if not isinstance(value, (list, tuple)):
        return []
    return [strip_conda_token(spec) for spec in value if isinstance(spec, str) and spec]


def spec_name(spec: str) -> str:
    """The package a spec is about, the key under which a later spec replaces it: ``numpy>=1.26`` ->
    ``numpy``, ``conda-forge::numpy`` and ``https://host/t/x/chan::numpy`` -> ``numpy``, and a package file's
    URL (``https://host/chan/linux-64/numpy-1.26.4-py312_0.conda``) -> ``numpy``. A URL that names no package
    file is its own key (keying every URL as ``https`` made each one overwrite the one before)."""
    spec = spec.strip()
    if "::" in spec:
        spec = spec.rsplit("::", 1)[1]
    elif "://" in spec:
        filename = spec.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        for suffix in (".conda", ".tar.bz2"):
            if filename.endswith(suffix) and filename.count("-") >= 2:
                return filename[:-len(suffix)].rsplit("-", 2)[0].lower()
        return spec
    match = SPEC_NAME.match(spec)
    return match.group(1).lower() if match else spec


# Options of conda create/install/update that take a value (the value is not a package spec).
_VALUE_OPTIONS = {"-n", "--name", "-p", "--prefix", "-c", "--channel", "-f", "--file", "--repodata-fn",
                  "--subdir", "--platform"}


def apply_command(argv: list[str] | None, specs: dict[str, str]) -> None:
    """Specs named on an old-style ``# cmd:`` line (no ``specs`` line followed it)."""
    if not argv:
        return
    words = argv[1:]
    verbs = ("create", "install", "update", "upgrade", "remove", "uninstall")
    verb_at = next((i for i, word in enumerate(words) if word in verbs), None)
    if verb_at is None:
        return
    verb, rest, skip = words[verb_at], words[verb_at + 1:], False
    for word in rest:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            skip = word in _VALUE_OPTIONS
            continue
        word = strip_conda_token(word)
        if verb in ("remove", "uninstall"):
            specs.pop(spec_name(word), None)
        else:
            specs[spec_name(word)] = word


def env_name(prefix: Path) -> str | None:
    if prefix.parent.name == "envs":
        return prefix.name
    if (prefix / "condabin").is_dir():
        return "base"
    return None


def ordered_channels(bases: list[str]) -> list[str]:
    """Distinct channel URLs, the one most packages came from first."""
    counts: dict[str, int] = {}
    for base in bases:
        counts[base] = counts.get(base, 0) + 1
    return sorted(counts, key=lambda url: (-counts[url], url))


def collect(ctx: ProbeContext) -> ProbeResult:
    warnings: list[ProbeWarning] = []
    prefix = target_prefix(ctx)
    if prefix is None or not (prefix / "conda-meta").is_dir():
        return ProbeResult(None)
    meta = prefix / "conda-meta"
    try:
        names = sorted(entry for entry in os.listdir(meta) if entry.endswith(".json"))
    except OSError as exc:
        return ProbeResult(None, [ProbeWarning(SOURCE, f"cannot list {home_relative(meta, ctx.home)}: "
                                                       f"{exc.strerror}")])
    packages: list[CondaPackage] = []
    bases: list[str] = []
    for entry in names:
        try:
            raw = read_record(meta / entry)
        except (OSError, ValueError) as exc:
            warnings.append(ProbeWarning(SOURCE, f"conda record {entry} unreadable: {type(exc).__name__}"))
            continue
        if not isinstance(raw, dict) or is_pip_record(raw):
            continue
        record = package_record(raw, entry, warnings)
        if record is None:
            continue
        packages.append(record)
        base = channel_base(raw.get("channel") if isinstance(raw.get("channel"), str) else None, record.subdir)
        if base and "://" in base and grammar.is_url(base):
            bases.append(base)
    packages.sort(key=lambda p: (p.name, p.version, p.build))
    specs, conda_version = read_history(meta / "history")
    kept_specs = [spec for spec in specs if grammar.is_text(spec)]
    if conda_version and not grammar.is_package_token(conda_version):
        conda_version = None
    prefix_text = home_relative(prefix, ctx.home)
    if not grammar.is_path(prefix_text):
        warnings.append(ProbeWarning(SOURCE, "the conda prefix path has quotes or shell characters; "
                                             "recorded as its folder name"))
        prefix_text = re.sub(r"[^A-Za-z0-9._+-]", "_", prefix.name) or "conda-env"
    name = env_name(prefix)
    env = CondaEnv(prefix=prefix_text, name=name if name and grammar.is_identifier(name) else None,
                   conda_version=conda_version, channels=ordered_channels(bases), packages=packages,
                   explicit_specs=kept_specs)
    return ProbeResult(to_data(env), warnings)
