"""`generate --vendor` for a conda environment: the package files of its explicit records in the kit, and an
installer the image runs with no network.

Each record of the manifest's conda section names its package file (URL) and the file's sha256 (or md5, in
older records). The file is taken from a conda package cache on this machine when one holds it, else fetched
from the recorded URL; either way it goes into the kit only when its digest is the recorded one. The kit's
``conda/channel/`` is a plain conda channel (``<subdir>/<file>`` and a ``repodata.json`` per subdir, written by
py-rattler's indexer with its clock fields left out, so vendoring twice gives the same bytes): conda or
micromamba can install from it too.

The image installs it with py-rattler (the Rust library that pixi and rattler-build are made of), whose wheel
the kit carries in ``conda/installer/``: micromamba is on neither PyPI nor Debian's archive, so a kit made here
could not carry it, while py-rattler is one self-contained abi3 wheel. It runs on the base's own Debian python3
(``python3`` from the kit's ``debs/``); ``conda/install.py`` picks the exact recorded records from the
channel, links them into /opt/conda without running any package's link scripts, and writes back into each
conda-meta record the URL and channel the manifest recorded, so the image's records match the environment's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from envcapture.errors import BadInput, ToolFailed

CONDA = "conda"
CHANNEL = f"{CONDA}/channel"
INSTALLER = f"{CONDA}/installer"
RECORDS = f"{CONDA}/records.json"
PREFIX = "/opt/conda"
BOOTSTRAP = "python3"  # the interpreter py-rattler runs on in the image (asyncio, json: not in python3-minimal)
EXTRA_HINT = "pip install 'envcapture[conda]'"
_ARCHIVE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+!-]*\.(conda|tar\.bz2)$")
_MAX_PACKAGE = 16 << 30  # the largest conda packages (CUDA libraries, pytorch) are a few GB
_FETCH_TIMEOUT = 120


@dataclass
class Record:
    name: str
    version: str
    build: str
    subdir: str
    url: str
    channel: str | None
    md5: str | None
    sha256: str | None

    @property
    def spec(self) -> str:
        return f"{self.name}={self.version}={self.build}"

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def applies(plan, manifest: dict) -> bool:
    """The manifest is a conda environment (its Python is the environment's), whatever the base image."""
    return manifest.get("conda") is not None and (manifest.get("python") or {}).get("origin") == "conda"


def need_rattler():
    """py-rattler, or one line saying which extra brings it."""
    try:
        import rattler
    except ImportError:
        raise ToolFailed(f"--vendor of a conda environment needs py-rattler, which is not installed ({EXTRA_HINT})") \
            from None
    return rattler


# py-rattler's indexer, run in a Python of its own that leaves by os._exit: with py-rattler 0.28 a worker thread
# still winding down when an interpreter finalizes crashes it (SIGSEGV or "PyGILState_Release ... finalizing",
# about one exit in two after an index here; the pyo3-async-runtimes shutdown problem, PyO3/pyo3-async-runtimes#40).
# Skipping finalization is the one way out that does not depend on timing.
_INDEX_SCRIPT = """
import asyncio, os, sys
try:
    from rattler.index import index_fs
    asyncio.run(index_fs(sys.argv[1], write_zst=False, write_shards=False, force=True))
except BaseException as exc:
    sys.stderr.write("%s: %s\\n" % (type(exc).__name__, exc))
    sys.stderr.flush()
    os._exit(1)
os._exit(0)
"""


def run_indexer(channel: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _INDEX_SCRIPT, str(channel)], capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise ToolFailed(f"py-rattler could not index the kit's conda channel: {last}")


# ------------------------------------------------------------------ the records and their files


def records_of(manifest: dict) -> tuple[list[Record], list[tuple[str, str]]]:
    """The records that name a package file with a digest, and (spec, why) for those that do not."""
    found, missing = [], []
    for package in (manifest.get("conda") or {}).get("packages") or []:
        if package.get("channel") == "pypi" or str(package.get("build") or "").startswith("pypi"):
            continue  # pip's, in conda's list: python_packages has it
        spec = f"{package.get('name')}={package.get('version')}={package.get('build')}"
        url, subdir = package.get("url"), package.get("subdir")
        if not url or not (package.get("sha256") or package.get("md5")):
            missing.append((spec, "the manifest records no URL or digest for its package file"))
            continue
        record = Record(package["name"], package["version"], package["build"], subdir or "", url,
                        package.get("channel"), package.get("md5"), package.get("sha256"))
        expected = (f"{record.name}-{record.version}-{record.build}.conda",
                    f"{record.name}-{record.version}-{record.build}.tar.bz2")
        if record.file_name not in expected or not _ARCHIVE.match(record.file_name) \
                or not re.fullmatch(r"[a-z0-9_-]+", record.subdir):
            missing.append((spec, f"its URL names {record.file_name!r}, not this package's file"))
            continue
        found.append(record)
    return found, missing


def cache_folders(manifest: dict, env, home: str) -> list[Path]:
    """Where conda, mamba and rattler keep downloaded package files on this machine, most specific first."""
    folders: list[Path] = []
    for entry in (env.get("CONDA_PKGS_DIRS") or "").split(","):
        if entry.strip():
            folders.append(Path(entry.strip()).expanduser())
    prefix = (manifest.get("conda") or {}).get("prefix")
    if isinstance(prefix, str) and prefix:
        root = Path(prefix.replace("~", home, 1) if prefix.startswith("~/") else prefix)
        folders += [root / "pkgs", root.parent.parent / "pkgs"]  # a base env, or base/envs/NAME
    for name in ("miniforge3", "mambaforge", "miniconda3", "anaconda3", ".conda", "micromamba"):
        folders.append(Path(home) / name / "pkgs")
    folders += [Path("/opt/conda/pkgs"), Path(home) / ".cache" / "rattler" / "cache" / "pkgs"]
    seen, unique = set(), []
    for folder in folders:
        if folder not in seen:
            seen.add(folder)
            unique.append(folder)
    return unique


def _digests_match(path: Path, record: Record) -> bool:
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    fd = os.open(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha256.update(block)
            md5.update(block)
    if record.sha256:
        return sha256.hexdigest() == record.sha256.lower()
    return md5.hexdigest() == (record.md5 or "").lower()


def fetch(record: Record, folders: list[Path], into: Path) -> str | None:
    """The record's package file at ``into``, checked against its recorded digest; the reason when not."""
    for folder in folders:  # the copy is what is checked: the cache may change while it is read
        candidate = folder / record.file_name
        try:
            if candidate.is_file():
                shutil.copyfile(candidate, into)
                if _digests_match(into, record):
                    return None
        except OSError:
            pass
        into.unlink(missing_ok=True)
    parts = urlsplit(record.url)
    try:
        if parts.scheme == "file":
            source = Path(unquote(parts.path))
            if not source.is_file():
                return f"in no package cache here, and {record.url} does not exist"
            shutil.copyfile(source, into)
        elif parts.scheme in ("http", "https"):
            _download(record.url, into)
        else:
            return f"in no package cache here, and its URL scheme {parts.scheme!r} is not fetched"
    except (OSError, ValueError) as exc:
        into.unlink(missing_ok=True)
        return f"in no package cache here, and fetching {record.url} failed: {exc}"[:300]
    if not _digests_match(into, record):
        into.unlink()
        kind = "sha256" if record.sha256 else "md5"
        return f"the file at {record.url} is not the one recorded (its {kind} differs)"
    return None


def _download(url: str, into: Path) -> None:
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "envcapture"})
    with urllib.request.urlopen(request, timeout=_FETCH_TIMEOUT) as response, open(into, "wb") as out:
        size = 0
        for block in iter(lambda: response.read(1 << 20), b""):
            size += len(block)
            if size > _MAX_PACKAGE:
                raise ValueError(f"larger than {_MAX_PACKAGE >> 30} GB")
            out.write(block)


# ------------------------------------------------------------------ the kit's channel


def index_channel(channel: Path, subdirs: set[str]) -> dict[str, bytes]:
    """``<subdir>/repodata.json`` of the channel, by py-rattler's indexer, without the indexing time, so the
    same packages give the same bytes."""
    need_rattler()
    for subdir in subdirs | {"noarch"}:
        (channel / subdir).mkdir(parents=True, exist_ok=True)
    run_indexer(channel)
    found = {}
    for subdir in sorted(subdirs | {"noarch"}):
        data = json.loads((channel / subdir / "repodata.json").read_bytes())
        for group in ("packages", "packages.conda"):
            for entry in (data.get(group) or {}).values():
                entry.pop("indexed_timestamp", None)
        found[f"{subdir}/repodata.json"] = (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()
    return found


def installer_wheel(machine: str, staging: Path) -> Path:
    """The py-rattler wheel this machine has, for the image's Linux and any CPython 3.10+ (it is abi3)."""
    import subprocess
    import sys
    from importlib.metadata import PackageNotFoundError, version

    need_rattler()
    try:
        pinned = f"py-rattler=={version('py-rattler')}"
    except PackageNotFoundError:
        raise ToolFailed(f"--vendor: py-rattler is importable but not installed as a distribution ({EXTRA_HINT})") \
            from None
    folder = staging / "installer"
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "download", "--no-deps",
               "--only-binary", ":all:", "--implementation", "cp", "--python-version", "3.10", "--abi", "abi3",
               "--platform", f"manylinux2014_{machine}", "--platform", f"manylinux_2_17_{machine}", "--dest",
               str(folder), pinned]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolFailed(f"--vendor: downloading the installer {pinned} failed: {exc}") from None
    wheels = sorted(folder.glob("py_rattler-*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        last = (done.stderr or "").strip().splitlines()[-1:] or [f"pip exited with {done.returncode}"]
        raise ToolFailed(f"--vendor: cannot download the installer {pinned} for Linux {machine}: {last[0][:300]}")
    return wheels[0]


def records_json(records: list[Record]) -> str:
    """What install.py installs: each record's file in the kit's channel, and the origin to write back."""
    items = [{"name": r.name, "version": r.version, "build": r.build, "subdir": r.subdir, "file": r.file_name,
              "url": r.url, "channel": _channel_url(r)} for r in sorted(records, key=lambda r: (r.name, r.subdir))]
    return json.dumps({"envcapture_conda_records": 1, "prefix": PREFIX, "records": items}, indent=1,
                      sort_keys=True) + "\n"


def _channel_url(record: Record) -> str:
    """The channel as conda writes it in a record: the URL of the package's folder without the subdir."""
    return record.url.rsplit("/", 2)[0] + "/"


# ------------------------------------------------------------------ the kit's files


def conda_files(plan, manifest: dict, staging: Path, say) -> tuple[dict, list[Record], list[tuple[str, str]]]:
    """The kit's conda/ folder: the channel of the records' package files, the installer and its script;
    returns (files, the records vendored, (spec, why) of those that were not)."""
    from envcapture.render import vendor
    from envcapture.render.common import render_template

    need_rattler()
    records, missing = records_of(manifest)
    if not records:
        raise BadInput("--vendor: the manifest's conda section names no package file with a digest, so there is "
                       "nothing to vendor")
    machine = (manifest.get("os") or {}).get("machine") or ""
    if machine != "x86_64":  # linux-64 records only (refuse_unsupported)
        raise BadInput(f"--vendor: conda environments are vendored for x86_64 so far, not {machine!r}")
    channel = staging / "channel"
    folders = cache_folders(manifest, os.environ, os.path.expanduser("~"))
    say(f"vendoring {len(records)} conda package file(s)")
    vendored: list[Record] = []
    for record in records:
        target = channel / record.subdir / record.file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        why = fetch(record, folders, target)
        if why:
            missing.append((record.spec, why))
        else:
            vendored.append(record)
    files: dict = {}
    for record in vendored:
        path = channel / record.subdir / record.file_name
        files[f"{CHANNEL}/{record.subdir}/{record.file_name}"] = vendor.StagedFile(path, vendor._sha256(path),
                                                                                  path.stat().st_size)
    for rel, data in index_channel(channel, {r.subdir for r in vendored}).items():
        files[f"{CHANNEL}/{rel}"] = data
    wheel = installer_wheel(machine, staging)
    files[f"{INSTALLER}/{wheel.name}"] = vendor.StagedFile(wheel, vendor._sha256(wheel), wheel.stat().st_size)
    files[RECORDS] = records_json(vendored)
    files[f"{CONDA}/install.py"] = render_template("conda-install.py.j2", plan)
    files[f"{CONDA}/{vendor.SUMS}"] = _sums(files)
    return files, vendored, missing


def kit_files(plan, manifest: dict, staging: Path, say, kit: dict | None = None):
    """Every vendored file of a conda kit and its offline Dockerfile; returns (files, Vendored)."""
    from envcapture.render import docker, vendor
    from envcapture.render.common import render_template
    from envcapture.render.plan import NotReproduced

    refuse_unsupported(plan)
    pip_extras = _pip_extras_installer(plan)
    files, vendored, missing = conda_files(plan, manifest, staging, say)
    wheels = None
    if pip_extras:
        wheels = vendor.vendor_wheels(plan, manifest, staging, [], say)
        files.update(wheels.files)
        files[f"{vendor.WHEELS}/{vendor.SUMS}"] = vendor.sums_text(files, vendor.WHEELS)
        files[f"{vendor.WHEELS}/{vendor.REQUIREMENTS}"] = "".join(pin + "\n" for pin in wheels.pins)
    if plan.kit_data is not None:
        files.update({rel: vendor.StagedFile(*staged) for rel, staged in plan.kit_data.files.items()})
    apt = [BOOTSTRAP] + ([f"{name}={version}" for name, version in plan.system_packages]
                         if plan.system_install else [])
    debs = vendor.vendor_debs(apt, plan.base.image, staging, plan.base.codename or plan.os_codename, plan.os_id,
                              say)
    gone = {pin for pin, _ in debs.missing}
    if BOOTSTRAP in gone:
        raise ToolFailed(f"--vendor: {BOOTSTRAP}, the Python the conda installer runs on, cannot be downloaded "
                         f"for {plan.base.image}")
    apt = [_pinned(p, debs.names) for p in apt if p not in gone]
    for name in debs.names:
        path = staging / vendor.DEBS / name
        files[f"{vendor.DEBS}/{name}"] = vendor.StagedFile(path, vendor._sha256(path), path.stat().st_size)
    index = (staging / vendor.DEBS / "Packages").read_bytes()
    files[f"{vendor.DEBS}/{vendor.SUMS}"] = vendor.sums_text(files, vendor.DEBS) + \
        f"{hashlib.sha256(index).hexdigest()}  Packages\n"
    files[f"{vendor.DEBS}/Packages"] = index

    done = vendor.Vendored(debs=apt, debs_missing=debs.missing, missing=list(missing))
    done.pins = sorted(r.spec for r in vendored)
    for spec, why in missing:
        plan.not_reproduced.append(NotReproduced("conda", spec.split("=")[0], f"not vendored: {why}"))
    if wheels is not None:
        done.built, done.missing = wheels.built, done.missing + wheels.missing
        done.pins += wheels.pins
        for requirement, why in wheels.missing:
            name = re.split(r"[=@ ]", requirement, maxsplit=1)[0]
            plan.not_reproduced.append(NotReproduced("python_packages", name, f"not vendored: {why}"))
    for pin, why in debs.missing:
        plan.not_reproduced.append(NotReproduced("system_packages", pin.split("=")[0], f"not vendored: {pin}: {why}"))
    files[docker.NOT_REPRODUCED] = docker.not_reproduced_json(plan)
    context = docker.context(plan)
    context.update(apt_packages=apt, conda_prefix=PREFIX, wheel_pins=bool(wheels and wheels.pins))
    from envcapture.render.kit_data import dockerfile_context

    context.update(dockerfile_context(plan.kit_data))
    files["Dockerfile"] = render_template("Dockerfile.vendor-conda.j2", plan, **context)
    return files, done


def _pinned(package: str, debs: list[str]) -> str:
    """``python3`` -> ``python3=3.11.2-1+b1``: the version the kit's debs/ holds (the others are pinned already)."""
    if "=" in package:
        return package
    from urllib.parse import unquote as unquote_deb

    for name in debs:
        parts = name[:-len(".deb")].split("_")
        if len(parts) == 3 and parts[0] == package:
            return f"{package}={unquote_deb(parts[1])}"
    return package


def _sums(files: dict) -> str:
    """``sha256sum -c`` input for conda/ (paths relative to it)."""
    lines = []
    for rel, content in files.items():
        if not rel.startswith(CONDA + "/"):
            continue
        digest = content.sha256 if hasattr(content, "sha256") else \
            hashlib.sha256(content.encode("utf-8") if isinstance(content, str) else content).hexdigest()
        lines.append(f"{digest}  {rel[len(CONDA) + 1:]}\n")
    return "".join(sorted(lines))


def _pip_extras_installer(plan) -> bool:
    """Whether the environment has packages pip installed beside its conda records; they are installed with the
    environment's own pip, so it must be one of the records."""
    if not plan.lock.requirements:
        return False
    if not any(spec.split("=", 1)[0] == "pip" for spec in plan.conda_specs):
        raise BadInput(f"--vendor: {len(plan.lock.requirements)} package(s) were installed into the conda "
                       "environment with pip, and the environment has no conda record of pip to install them with")
    return True


def refuse_unsupported(plan) -> None:
    """What the offline conda install cannot do yet, said before anything is downloaded."""
    _pip_extras_installer(plan)
    if plan.project is not None and plan.project_in_kit:
        raise BadInput("--vendor: installing the project into a vendored conda environment is not supported yet; "
                       "generate without --with-code, or without --vendor")
    other = sorted(set(plan.options.targets) - {"docker"})
    if other:
        raise BadInput(f"--vendor: only the docker target installs from the vendored files so far, not "
                       f"{', '.join(other)}; generate those without --vendor")
    if not plan.conda_subdirs_ok:
        raise BadInput("--vendor: the conda records are not all linux-64 or noarch packages (the environment was "
                       "made for another platform), so a Linux image cannot install them")
    if plan.base.distro is not None and plan.base.distro[0] not in ("debian", "ubuntu"):
        raise BadInput(f"--vendor: the conda installer runs on the base's python3 from apt, and {plan.base.image} "
                       f"is {plan.base.distro[0]}, not Debian or Ubuntu")
