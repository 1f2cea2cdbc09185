"""`generate --vendor`: the packages themselves in the kit, so that its build needs no network.

Manifest (through the plan) in, files out: every Python distribution of the lock as a wheel for the manifest's
platform and Python (not this machine's) in ``wheels/``, and the Debian packages the plan installs, with what
they need beyond the base image, in ``debs/`` with a ``Packages`` index. Each folder carries a ``SHA256SUMS``
that the build checks before installing anything, and the kit's index records every file's sha256.

Wheels come from ``pip download --only-binary :all: --platform ... --python-version ... --abi ...`` (pip's
HTTP cache serves what it already holds); sdists and VCS installs are built into wheels here, once, with a
warning naming them; a package with no wheel the manifest's platform accepts is named with the reason and the
rest is vendored. Built wheels get the capture time as SOURCE_DATE_EPOCH, so vendoring twice gives the same
files.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from envcapture.errors import BadInput, ToolFailed
from envcapture.manifest.grammar import canonical_name
from envcapture.manifest.indexes import implied_index

WHEELS = "wheels"
DEBS = "debs"
CONDA = "conda"  # render/vendor_conda.py: the conda packages' channel and their installer
SUMS = "SHA256SUMS"
REQUIREMENTS = "requirements.txt"
VENDORED_TARGETS = ("docker", "apptainer", "packer", "vagrant")
VERIFIED = (WHEELS, DEBS, "data", CONDA)  # the folders a build checks against the kit's index first (data: --with-data)
_PIP_TIMEOUT = 1800
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)$")
_DIRECT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) @ (?P<url>\S+)$")


@dataclass(frozen=True)
class StagedFile:
    """A kit file too large to hold in memory: written by copying ``path``; its digest is known already."""

    path: Path
    sha256: str
    size: int


@dataclass
class Target:
    """The interpreter and platform the wheels must install on (from the manifest, never from this machine)."""

    python: str  # "3.11"
    implementation: str  # "cp"
    platforms: list[str]
    tags: frozenset = frozenset()

    def describe(self) -> str:
        return f"{self.implementation}{self.python.replace('.', '')} {self.platforms[0]}"


@dataclass
class Vendored:
    files: dict[str, StagedFile] = field(default_factory=dict)  # kit path -> staged file
    pins: list[str] = field(default_factory=list)  # name==version of every vendored distribution
    missing: list[tuple[str, str]] = field(default_factory=list)  # (requirement, why)
    built: list[str] = field(default_factory=list)  # built here from an sdist or a repository
    debs: list[str] = field(default_factory=list)  # name=version installed from debs/
    tools: list[str] = field(default_factory=list)  # installer wheels (uv) the build uses, not the environment
    tool_files: list[str] = field(default_factory=list)  # their wheel files
    backend: list[str] = field(default_factory=list)  # wheel files of the project's build requirements
    debs_missing: list[tuple[str, str]] = field(default_factory=list)  # (name=version, why)

    def warnings(self) -> list[str]:
        found = []
        if self.built:
            found.append(f"{len(self.built)} distribution(s) had no wheel and were built into one on this machine: "
                         + ", ".join(self.built))
        for requirement, why in self.missing + self.debs_missing:
            found.append(f"not vendored: {requirement}: {why}")
        return found


# ------------------------------------------------------------------ the target platform


def target_for(manifest: dict, python_version: str) -> Target:
    """cp311 on manylinux_2_36_x86_64 (and every older manylinux) for a CPython 3.11 on glibc 2.36, x86_64."""
    from packaging import tags

    os_info = manifest["os"]
    machine = os_info.get("machine") or ""
    implementation = {"cpython": "cp", "pypy": "pp"}.get(str(manifest["python"].get("implementation")).lower())
    if implementation is None or os_info.get("system") != "Linux" or not re.fullmatch(r"[a-z0-9_]+", machine):
        raise BadInput("--vendor: the manifest's Python is not CPython or PyPy on Linux "
                       f"({manifest['python'].get('implementation')} on {os_info.get('system')} {machine}); "
                       "envcapture vendors wheels for Linux images only")
    libc = os_info.get("libc") or {}
    platforms = _platforms(machine, libc.get("name"), libc.get("version"))
    minor = ".".join(python_version.split(".")[:2])
    version = tuple(int(p) for p in minor.split("."))
    interpreter = f"{implementation}{version[0]}{version[1]}"
    if implementation == "cp":
        supported = list(tags.cpython_tags(version, [interpreter], platforms))
    else:
        supported = list(tags.generic_tags(interpreter, [f"pypy{version[0]}{version[1]}_pp73"], platforms))
    supported += list(tags.compatible_tags(version, interpreter, platforms))
    return Target(minor, implementation, platforms, frozenset(supported))


def _platforms(machine: str, libc_name, libc_version) -> list[str]:
    match = re.fullmatch(r"([0-9]+)\.([0-9]+)", str(libc_version or ""))
    if libc_name == "glibc" and match and match[1] == "2":
        minor = int(match[2])
        found = []
        for m in range(minor, 4, -1):
            found.append(f"manylinux_2_{m}_{machine}")
            if m in _LEGACY_MANYLINUX:
                found.append(f"{_LEGACY_MANYLINUX[m]}_{machine}")
        return found
    if libc_name == "musl" and match:
        return [f"musllinux_{match[1]}_{m}_{machine}" for m in range(int(match[2]), -1, -1)]
    raise BadInput(f"--vendor: the manifest records no glibc or musl version ({libc_name} {libc_version}), so "
                   "envcapture cannot tell which Linux wheels the environment can use")


# ------------------------------------------------------------------ wheels


def build_requires(plan, kit: dict) -> list[str]:
    """The project's build requirements ([build-system] requires of its pyproject.toml in project/; setuptools
    when it has none, as pip and uv assume), when the kit installs the project."""
    if plan.project is None or not plan.project_in_kit:
        return []
    sub = f"{plan.project.subdirectory}/" if plan.project.subdirectory else ""
    text = kit.get(f"project/{sub}pyproject.toml")
    if text is None:
        return ["setuptools>=40.8.0"]
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"--vendor: project/{sub}pyproject.toml cannot be read ({exc}), so its build "
                       "requirements cannot be vendored") from None
    system = data.get("build-system")
    if not isinstance(system, dict) or "requires" not in system:
        return ["setuptools>=40.8.0"]
    requires = system["requires"]
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise BadInput(f"--vendor: project/{sub}pyproject.toml: build-system.requires is not a list of strings")
    return list(requires)


def vendor_wheels(plan, manifest: dict, staging: Path, tools: list[str], say, backend=()) -> Vendored:
    """Download (or build) a wheel for every line of the plan's lock into ``staging``; nothing is written into
    the kit here. ``backend``: the project's build requirements, resolved with their dependencies."""
    target = target_for(manifest, plan.python_version)
    done = Vendored()
    folder = staging / WHEELS
    folder.mkdir(parents=True, exist_ok=True)
    pins, direct = _split_lock(plan.lock.requirements)
    say(f"vendoring {len(pins)} wheel(s) for {target.describe()}")
    groups = index_groups(pins + tools, plan.lock, manifest)
    options = groups[0][0]
    failed: dict[str, tuple[str, list[str]]] = {}
    for group_options, group in groups:
        if group_options is not options:
            say(f"{', '.join(group)}: from {group_options[0].split(' ', 1)[1]} only (the index its label implies)")
        for requirement, pip_says in _download(group, folder, target, group_options).items():
            failed[requirement] = (pip_says, group_options)
    for requirement, (pip_says, group_options) in failed.items():
        why = f"no wheel for {target.describe()} (pip: {pip_says})"
        if requirement in tools:
            raise ToolFailed(f"--vendor: cannot download {requirement} for {target.describe()}: {why}")
        built = _build_from_sdist(requirement, folder, target, group_options, plan.created)
        if isinstance(built, str):
            done.missing.append((requirement, f"{why}; {built}"))
        else:
            done.built.append(requirement)
    if backend:
        say(f"vendoring the project's build requirements: {', '.join(backend)}")
        done.backend = _download_resolved(list(backend), folder, target, options)
    for name, url in direct:
        built = _build_wheel(f"{name} @ {url}", folder, target, plan.created)
        if isinstance(built, str):
            done.missing.append((f"{name} @ {url}", built))
        else:
            done.built.append(name)
    _check_wheels(folder, target, pins, tools, plan, done)
    return done


def index_groups(pins: list[str], lock, manifest: dict) -> list[tuple[list[str], list[str]]]:
    """(pip index options, pins), the configured indexes first: a pin with a local label that implies an index
    (``torch==2.6.0+cu126``: PyTorch's cu126 index) is downloaded from that index alone, and the other pins
    from the configured indexes without it (an implied index serves other projects' files too, which are not
    what the environment installed from the configured ones)."""
    implied: dict[str, list[str]] = {}
    rest = []
    for pin in pins:
        version = _PIN.match(pin)["version"]
        index = implied_index(version.partition("+")[2]) if "+" in version else None
        if index:
            implied.setdefault(index, []).append(pin)
        else:
            rest.append(pin)
    configured = set((manifest["python"].get("package_indexes") or {}).get("extra_index_urls") or [])
    options = [f"--index-url {lock.index_url}"] if lock.index_url else []
    options += [f"--extra-index-url {url}" for url in lock.extra_index_urls if url not in implied or url in configured]
    return [(options, rest)] + [([f"--index-url {index}"], group) for index, group in sorted(implied.items())]


def _split_lock(lines) -> tuple[list[str], list[tuple[str, str]]]:
    pins, direct = [], []
    for line in lines:
        if _PIN.match(line):
            pins.append(line)
        elif _DIRECT.match(line):
            found = _DIRECT.match(line)
            direct.append((found["name"], found["url"]))
        else:
            raise BadInput(f"--vendor: cannot vendor the lock line {line!r}")
    return pins, direct


def _pip(args: list[str], timeout: int = _PIP_TIMEOUT, env=None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              env={**os.environ, **(env or {})})
    except FileNotFoundError:
        raise ToolFailed("--vendor needs pip (python -m pip) to download wheels") from None
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"pip {args[0]} timed out after {timeout} s") from None


def _target_args(target: Target) -> list[str]:
    args = ["--only-binary", ":all:", "--python-version", target.python, "--implementation", target.implementation]
    if target.implementation == "cp":
        args += ["--abi", f"cp{target.python.replace('.', '')}"]
    for platform in target.platforms:
        args += ["--platform", platform]
    return args


def _download(requirements: list[str], folder: Path, target: Target, options: list[str]) -> dict[str, str]:
    """Download every requirement pip can; returns the others, each with pip's own words for why not."""
    extra = [word for line in options for word in line.split(" ", 1)]
    failed: dict[str, str] = {}
    left = list(requirements)
    while left:
        done = _pip(["download", "--no-deps", "--dest", str(folder), *_target_args(target), *extra, *left])
        if done.returncode == 0:
            break
        # pip stops at the first requirement it cannot satisfy and names it: set that one aside, try the rest.
        culprit = _named_in_error(done, left) or (left[0] if len(left) == 1 else None)
        if culprit is None:
            for requirement in left:  # pip named none of them: one at a time
                single = _pip(["download", "--no-deps", "--dest", str(folder), *_target_args(target), *extra,
                               requirement])
                if single.returncode != 0:
                    failed[requirement] = _pip_error(single)
            break
        failed[culprit] = _pip_error(done)
        left.remove(culprit)
    return failed


def _download_resolved(requirements: list[str], folder: Path, target: Target, options: list[str]) -> list[str]:
    """Requirements with their dependencies, as wheels for the target; returns the wheel files pip saved."""
    extra = [word for line in options for word in line.split(" ", 1)]
    before = set(os.listdir(folder))
    done = _pip(["download", "--dest", str(folder), *_target_args(target), *extra, *requirements])
    if done.returncode != 0:
        raise ToolFailed(f"--vendor: the project's build requirements ({', '.join(requirements)}) have no wheels "
                         f"for {target.describe()}: {_pip_error(done)}")
    return sorted(set(os.listdir(folder)) - before)


def _named_in_error(done: subprocess.CompletedProcess, requirements: list[str]) -> str | None:
    for line in (done.stderr or "").splitlines():
        if line.startswith("ERROR:"):
            for requirement in requirements:
                if line.rstrip().endswith(f" {requirement}") or f"requirement {requirement} " in line:
                    return requirement
    return None


def _pip_error(done: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in (done.stderr or "").splitlines() if line.startswith("ERROR:")]
    text = lines[0].removeprefix("ERROR:").strip() if lines else f"pip exited with {done.returncode}"
    return text[:300]


def _build_from_sdist(requirement: str, folder: Path, target: Target, options, created: str):
    """An sdist built into a wheel here; the text of why not when that is impossible or gives a wheel the
    manifest's platform cannot use."""
    import tempfile

    extra = [word for line in options for word in line.split(" ", 1)]
    with tempfile.TemporaryDirectory(prefix="envcapture-sdist-") as tmp:
        done = _pip(["download", "--no-deps", "--no-binary", ":all:", "--dest", tmp, *extra, requirement])
        if done.returncode != 0:
            return "no sdist either"
        sdists = sorted(Path(tmp).iterdir())
        return _build_wheel(str(sdists[0]), folder, target, created)


def _build_wheel(source: str, folder: Path, target: Target, created: str):
    import tempfile

    from packaging.utils import parse_wheel_filename

    with tempfile.TemporaryDirectory(prefix="envcapture-wheel-") as tmp:
        done = _pip(["wheel", "--no-deps", "--wheel-dir", tmp, source], env={"SOURCE_DATE_EPOCH": _epoch(created)})
        if done.returncode != 0:
            return f"building a wheel here failed: {_pip_error(done)}"
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            return "building a wheel here gave no wheel"
        wheel = wheels[0]
        if not set(parse_wheel_filename(wheel.name)[3]) & target.tags:
            return (f"built here as {wheel.name}, which {target.describe()} cannot install "
                    "(this machine's platform or Python differs from the manifest's)")
        shutil.copyfile(wheel, folder / wheel.name)
        return wheel


def _epoch(created: str) -> str:
    import datetime

    return str(int(datetime.datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()))


def _check_wheels(folder: Path, target: Target, pins, tools, plan, done: Vendored) -> None:
    """Every file in the folder is one wheel of a wanted name at its pinned version, for the target."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    wanted = {}
    for line in list(pins) + list(tools):
        found = _PIN.match(line)
        wanted[canonical_name(found["name"])] = found["version"]
    recorded_hashes = _recorded_hashes(plan.lock.requirements)
    tool_names = {canonical_name(_PIN.match(t)["name"]) for t in tools}
    for path in sorted(folder.iterdir()):
        try:
            name, version, _, wheel_tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            raise ToolFailed(f"--vendor: pip left {path.name}, which is not a wheel") from None
        name = canonical_name(name)
        if path.name in done.backend:
            if not set(wheel_tags) & target.tags:
                raise ToolFailed(f"--vendor: {path.name} does not install on {target.describe()}")
            done.files[f"{WHEELS}/{path.name}"] = StagedFile(path, _sha256(path), path.stat().st_size)
            continue
        if name in wanted and not _same_version(version, wanted[name]):
            raise ToolFailed(f"--vendor: {path.name} is not version {wanted[name]} of {name}")
        if not set(wheel_tags) & target.tags:
            raise ToolFailed(f"--vendor: {path.name} does not install on {target.describe()}")
        digest = _sha256(path)
        if name in recorded_hashes and recorded_hashes[name] != digest:
            raise ToolFailed(f"--vendor: {path.name} has sha256 {digest}, the manifest recorded "
                             f"{recorded_hashes[name]}; not vendored")
        done.files[f"{WHEELS}/{path.name}"] = StagedFile(path, digest, path.stat().st_size)
        if name in tool_names:
            done.tools.append(f"{name}=={version}")
            done.tool_files.append(path.name)
        else:
            done.pins.append(f"{name}=={version}")
    done.pins.sort()


def _same_version(found, pinned: str) -> bool:
    """PEP 440 equality, as pip's ``==`` matched the wheel: ``1.0-beta`` is ``1.0b0``; a local label counts
    (``3.7+local1`` is another build than ``3.7``)."""
    from packaging.version import InvalidVersion, Version

    try:
        return found == Version(pinned)
    except InvalidVersion:
        return str(found) == pinned


def _recorded_hashes(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        match = _DIRECT.match(line)
        # Only a wheel's recorded hash is the vendored file's (pip checks an sdist's itself before building it).
        if match and "#sha256=" in match["url"] and match["url"].split("#")[0].endswith(".whl"):
            found[canonical_name(match["name"])] = match["url"].split("#sha256=")[1].split("&")[0].lower()
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------ Debian packages


HOST_APT_CACHE = Path("/var/cache/apt/archives")
_APT_GONE = re.compile(r"^E: Version '(?P<version>[^']+)' for '(?P<package>[^']+)' was not found", re.M)


@dataclass
class Debs:
    names: list[str] = field(default_factory=list)  # .deb files in staging/debs
    missing: list[tuple[str, str]] = field(default_factory=list)  # (name=version, why)


def vendor_debs(packages: list[str], image: str, staging: Path, codename: str | None, os_id: str | None,
                say, host_cache: Path = HOST_APT_CACHE) -> Debs:
    """The .deb files ``apt-get install`` of ``packages`` needs on ``image`` (its dependencies beyond the base
    included), downloaded inside a container of that image. A pinned version this machine's apt cache holds is
    taken from there (the archive may have replaced it by a security update since); one that neither has is
    named with the reason and left out, and the rest is vendored."""
    found = Debs()
    if not packages:
        return found
    import docker

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        raise ToolFailed("--vendor: the Debian packages are downloaded in a container of the base image, and no "
                         f"Docker engine answers ({str(exc).splitlines()[0][:200] if str(exc) else exc})") from None
    folder = staging / DEBS
    folder.mkdir(parents=True, exist_ok=True)
    cached = staging / "host-cache"
    cached.mkdir(exist_ok=True)
    from_cache = _from_host_cache(packages, host_cache, cached)
    (cached / "Packages").write_bytes(packages_index(cached, from_cache))
    sources = "deb [trusted=yes] file:/host-cache ./\n"
    if os_id == "debian" and codename:
        # The recorded versions may be security or point-release updates, which a minimal base lacks.
        sources += (f"deb http://deb.debian.org/debian {codename}-updates main\n"
                    f"deb http://security.debian.org/debian-security {codename}-security main\n")
    script = ("set -e; printf '%s' \"$ENVCAPTURE_SOURCES\" > /etc/apt/sources.list.d/envcapture-vendor.list; "
              "apt-get update -qq; mkdir -p /out/partial; "
              "DEBIAN_FRONTEND=noninteractive apt-get install -qq -y --download-only --no-install-recommends "
              "-o Dir::Cache::archives=/out \"$@\"; rm -rf /out/partial /out/lock")
    say(f"vendoring {len(packages)} Debian package(s) and their dependencies beyond {image}"
        + (f" ({len(from_cache)} from this machine's apt cache)" if from_cache else ""))
    wanted = list(packages)
    while wanted:
        try:
            client.containers.run(image, ["sh", "-c", script, "sh", *wanted], remove=True, user="0",
                                  environment={"ENVCAPTURE_SOURCES": sources}, stderr=True,
                                  volumes={str(folder.resolve()): {"bind": "/out", "mode": "rw"},
                                           str(cached.resolve()): {"bind": "/host-cache", "mode": "ro"}})
            break
        except docker.errors.ContainerError as exc:
            tail = (exc.stderr or b"").decode("utf-8", "replace")
            gone = [f"{m['package']}={m['version']}" for m in _APT_GONE.finditer(tail)]
            gone = [g for g in gone if g in wanted]
            if not gone:
                raise ToolFailed(f"--vendor: apt-get in a container of {image} could not download the Debian "
                                 "packages", tail="\n".join(tail.splitlines()[-15:])) from None
            for pin in gone:
                wanted.remove(pin)
                found.missing.append((pin, "that version is in neither the archive (it was replaced since) nor "
                                           "this machine's apt cache"))
        except docker.errors.DockerException as exc:
            raise ToolFailed(f"--vendor: cannot run a container of {image}: {str(exc).splitlines()[0][:300]}") \
                from None
    for path in folder.iterdir():
        if not path.name.endswith(".deb"):
            raise ToolFailed(f"--vendor: apt left {path.name} among the packages")
    for name in from_cache:  # apt uses a file: repository in place, so these are copied here
        shutil.copyfile(cached / name, folder / name)
    found.names = sorted(p.name for p in folder.iterdir())
    (folder / "Packages").write_bytes(packages_index(folder, found.names))
    return found


def _from_host_cache(packages: list[str], cache: Path, into: Path) -> list[str]:
    """Pinned packages whose exact version this machine's apt cache holds, checked by their control file."""
    taken = []
    for pin in packages:
        name, sep, version = pin.partition("=")
        if not sep:
            continue
        quoted = version.replace(":", "%3a")
        try:
            candidates = sorted(cache.glob(f"{name}_{quoted}_*.deb"))
        except OSError:
            continue
        for path in candidates:
            try:
                data = path.read_bytes()
                control = deb_control(data, path.name)
            except (OSError, ToolFailed):
                continue
            fields = dict(line.split(": ", 1) for line in control.splitlines() if ": " in line and line[0] != " ")
            if fields.get("Package") == name and fields.get("Version") == version:
                (into / path.name).write_bytes(data)
                taken.append(path.name)
                break
    return sorted(taken)


def packages_index(folder: Path, names: list[str]) -> bytes:
    """A flat repository's Packages file (what dpkg-scanpackages writes): each control paragraph, then where
    the file is, its size and sha256. Sorted by file name, so the same packages give the same bytes."""
    out = io.StringIO()
    for name in names:
        data = (folder / name).read_bytes()
        control = deb_control(data, name).rstrip("\n")
        out.write(f"{control}\nFilename: ./{name}\nSize: {len(data)}\nSHA256: {hashlib.sha256(data).hexdigest()}\n\n")
    return out.getvalue().encode("utf-8")


def deb_control(data: bytes, name: str) -> str:
    """The control file of a .deb (an ar archive holding control.tar.{gz,xz,zst})."""
    if not data.startswith(b"!<arch>\n"):
        raise ToolFailed(f"--vendor: {name} is not a Debian package")
    offset = 8
    while offset + 60 <= len(data):
        header = data[offset:offset + 60]
        member = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        body = data[offset + 60:offset + 60 + size]
        if member.startswith("control.tar"):
            if member.endswith(".zst"):
                raise ToolFailed(f"--vendor: {name}: zstd-compressed control archives are not supported")
            with tarfile.open(fileobj=io.BytesIO(body)) as archive:
                for entry in archive.getmembers():
                    if entry.name in ("./control", "control") and entry.isfile():
                        return archive.extractfile(entry).read().decode("utf-8")
        offset += 60 + size + (size % 2)
    raise ToolFailed(f"--vendor: {name} has no control file")


# ------------------------------------------------------------------ sums, and checking them


def sums_text(files: dict[str, StagedFile], folder: str) -> str:
    """``sha256sum -c`` input for one vendored folder (paths relative to it)."""
    lines = sorted(f"{staged.sha256}  {rel[len(folder) + 1:]}\n" for rel, staged in files.items()
                   if rel.startswith(folder + "/"))
    return "".join(lines)


def verify_kit(kit: Path) -> int:
    """Every vendored file as the kit's index recorded it; BadInput naming the first that is not."""
    from envcapture.render.kitfiles import INDEX_NAME, read_index

    recorded = read_index(kit)
    if not recorded:
        raise BadInput(f"{kit}/{INDEX_NAME}: missing or unreadable, so the vendored files cannot be verified")
    checked = 0
    for folder in VERIFIED:
        root = kit / folder
        if root.is_symlink():
            raise BadInput(f"{root}: is a symbolic link; a kit's vendored folders are plain folders")
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_symlink():
                raise BadInput(f"{path}: is a symbolic link; refusing to build from it (vendor again)")
            if path.is_dir():
                continue
            rel = str(path.relative_to(kit))
            if rel not in recorded:
                raise BadInput(f"{path}: not in the kit's index ({INDEX_NAME}); the kit was changed after "
                               "vendoring (remove the file, or vendor again)")
            if _sha256(path) != recorded[rel]:
                raise BadInput(f"{path}: differs from the sha256 the kit's index recorded when it was vendored; "
                               "refusing to build from a changed package (vendor again to replace it)")
            checked += 1
    for rel in recorded:
        if rel.startswith(tuple(f + "/" for f in VERIFIED)) and not (kit / rel).is_file():
            raise BadInput(f"{kit / rel}: recorded in the kit's index but missing")
    return checked


# ------------------------------------------------------------------ the kit's vendored files


def kit_files(plan, manifest: dict, staging: Path, say, kit: dict | None = None) -> \
        tuple[dict[str, str | bytes | StagedFile], Vendored]:
    """Every vendored file of the kit and the offline Dockerfile (when the kit has one); ``kit`` is the rest of
    the kit, read for the project's build requirements when project/ holds its code."""
    from envcapture.render import bases, docker
    from envcapture.render.common import render_template, with_header

    refuse_unsupported(plan)
    tools = [f"uv=={bases.UV_VERSION}"]
    done = vendor_wheels(plan, manifest, staging, tools, say, build_requires(plan, kit or {}))
    apt = apt_to_vendor(plan)
    debs = vendor_debs(apt, plan.base.image, staging, plan.base.codename or plan.os_codename, plan.os_id, say)
    names = debs.names
    gone = {pin for pin, _ in debs.missing}
    apt = [p for p in apt if p not in gone]
    done.debs_missing = debs.missing
    files: dict[str, str | bytes | StagedFile] = dict(done.files)
    if plan.kit_data is not None:
        files.update({rel: StagedFile(*staged) for rel, staged in plan.kit_data.files.items()})
    for name in names:
        path = staging / DEBS / name
        files[f"{DEBS}/{name}"] = StagedFile(path, _sha256(path), path.stat().st_size)
    if names:
        index = (staging / DEBS / "Packages").read_bytes()
        files[f"{DEBS}/{SUMS}"] = sums_text(files, DEBS) + f"{hashlib.sha256(index).hexdigest()}  Packages\n"
        files[f"{DEBS}/Packages"] = index
        done.debs = apt
    files[f"{WHEELS}/{SUMS}"] = sums_text(files, WHEELS)
    files[f"{WHEELS}/{REQUIREMENTS}"] = with_header(plan, "#", "".join(pin + "\n" for pin in done.pins))
    if done.missing or done.debs_missing:
        from envcapture.render.plan import NotReproduced

        for requirement, why in done.missing:
            name = canonical_name(re.split(r"[=@ ]", requirement, maxsplit=1)[0])
            plan.not_reproduced.append(NotReproduced("python_packages", name, f"not vendored: {why}"))
        for pin, why in done.debs_missing:
            plan.not_reproduced.append(NotReproduced("system_packages", pin.split("=")[0],
                                                     f"not vendored: {pin}: {why}"))
        if "docker" in plan.options.targets:
            files[docker.NOT_REPRODUCED] = docker.not_reproduced_json(plan)
    gone_names = {pin.split("=")[0] for pin in gone}
    installer = {"uv_wheel": done.tool_files[0], "uv_program": uv_program(staging / WHEELS / done.tool_files[0]),
                 "wheel_pins": bool(done.pins), "vendored": True}
    if "docker" in plan.options.targets:
        context = docker.context(plan)
        context.update(installer, apt_packages=_kept(context["apt_packages"], gone_names))
        from envcapture.render.kit_data import dockerfile_context

        context.update(dockerfile_context(plan.kit_data))
        files["Dockerfile"] = render_template("Dockerfile.vendor.j2", plan, **context)
    files.update(vm_and_apptainer_files(plan, installer, gone_names, has_debs=bool(names)))
    return files, done


def apt_to_vendor(plan) -> list[str]:
    """The Debian packages of every vendored target: the Dockerfile's and Apptainer's list, and provision.sh's
    for the VM targets (downloaded for the base image: a VM's OS is the captured one, as the base is)."""
    from envcapture.render import docker, provision

    packages = list(docker.apt_packages(plan))
    if {"packer", "vagrant"} & set(plan.options.targets):
        packages += [p for p in provision.context(plan)["apt_packages"] if p not in packages]
    return packages


def _kept(packages: list[str], gone_names: set[str]) -> list[str]:
    return [p for p in packages if p.split("=")[0] not in gone_names]


def vm_and_apptainer_files(plan, installer: dict, gone_names: set[str], has_debs: bool) -> dict[str, str]:
    """The Apptainer definition, provision.sh and the Packer template that install from the kit's wheels/ and
    debs/ (in place of the networked ones the renderers wrote)."""
    from envcapture.render import apptainer, packer, provision
    from envcapture.render.common import render_template

    targets = set(plan.options.targets)
    files = {}
    if "apptainer" in targets:
        context = apptainer.context(plan)
        context.update(installer, apt_packages=_kept(context["apt_packages"], gone_names),
                       kit_files=sorted(context["kit_files"] + [WHEELS] + ([DEBS] if has_debs else [])))
        files["envcapture.def"] = render_template("envcapture.def.j2", plan, **context)
    if {"packer", "vagrant"} & targets:
        context = provision.context(plan)
        context.update(installer, apt_packages=_kept(context["apt_packages"], gone_names))
        files["provision.sh"] = render_template("provision.sh.j2", plan, **context)
    if "packer" in targets:
        files["packer/envcapture.pkr.hcl"] = render_template("envcapture.pkr.hcl.j2", plan,
                                                             **{**packer.context(plan), "vendored": True})
    return files


def uv_program(wheel: Path) -> str:
    """Where the uv wheel holds the uv program (``uv-X.Y.Z.data/scripts/uv``): the build unpacks the wheel and
    runs it from there, so uv itself never becomes part of the image."""
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise ToolFailed(f"--vendor: {wheel.name} cannot be read as a wheel ({exc})") from None
    found = sorted(n for n in names if re.fullmatch(r"[A-Za-z0-9_.-]+\.data/scripts/uv", n))
    if len(found) != 1:
        raise ToolFailed(f"--vendor: {wheel.name} does not hold one uv program (*.data/scripts/uv)")
    return found[0]


def refuse_unsupported(plan) -> None:
    """What the offline install cannot do yet, said before anything is downloaded."""
    if plan.base.python_setup == "uv":
        raise BadInput(f"--vendor: on {plan.base.image} uv downloads a Python build, which is not vendored yet; "
                       "pass a --base-image that has the manifest's Python (or installs it from apt)")
    other = sorted(set(plan.options.targets) - set(VENDORED_TARGETS))
    if other:
        raise BadInput(f"--vendor: only the {', '.join(VENDORED_TARGETS)} targets install from the vendored files "
                       f"so far, not {', '.join(other)}; generate those without --vendor")
    if {"packer", "vagrant"} & set(plan.options.targets):
        from envcapture.render import provision

        if provision.context(plan)["uv_python"]:
            raise BadInput(f"--vendor: the VM ({plan.vm_os[0]} {plan.vm_os[1]}) does not have the manifest's Python "
                           f"{plan.python_version} and uv would download one, which is not vendored yet; "
                           "vendor the docker or apptainer target instead")


def regenerate_words(kit: Path) -> list[str]:
    """The `envcapture generate ...` command recorded in a kit's index header, as argument words (without the
    leading `envcapture`); BadInput when the folder is not a kit envcapture wrote."""
    import shlex

    from envcapture.render.kitfiles import INDEX_NAME

    index = kit / INDEX_NAME
    if not (kit / "envcapture.json").is_file():
        raise BadInput(f"{kit}: not a kit (no envcapture.json); run `envcapture generate` first")
    try:
        fd = os.open(index, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            head = handle.read(64 * 1024).decode("utf-8", "replace")
    except OSError as exc:
        raise BadInput(f"{index}: cannot be read ({exc.strerror}); only a kit envcapture wrote can be vendored") \
            from None
    for line in head.splitlines():
        text = line.lstrip("#").strip()
        if text.startswith("envcapture generate "):
            try:
                words = shlex.split(text)[1:]
            except ValueError:
                break
            if "--archive" in words:  # the archive is written where this command says, not where the last one did
                i = words.index("--archive")
                del words[i:i + 2]
            return words
    raise BadInput(f"{index}: records no `envcapture generate` command; regenerate the kit with --vendor instead")


# ------------------------------------------------------------------ unvendoring


def remove_vendored(kit: Path, keep) -> int:
    """`vendor --remove`: delete the files under the vendored folders (wheels/, debs/, data/, conda/) that the
    kit's index vouches for and the networked kit (``keep``) does not write, then the folders left empty.
    Everything is checked first, through descriptors that follow no link: a file there that is not as vendored
    (changed, a link, not in the index) refuses the whole removal and changes nothing."""
    from envcapture.render.kitfiles import INDEX_NAME, read_index

    recorded = read_index(kit)
    if not recorded:
        raise BadInput(f"{kit}/{INDEX_NAME}: missing or unreadable, so the vendored files cannot be told apart "
                       "from the user's")
    doomed = []

    def check(fd: int, rel: str, info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode) or rel not in recorded:
            what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not in the kit's index"
            raise BadInput(f"{kit / rel}: not a file envcapture vendored ({what}); unvendoring removes only what "
                           "vendoring wrote: move it away first (nothing was changed)")
        if rel in keep:
            return
        opened = os.open(rel.rsplit("/", 1)[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=fd)
        with os.fdopen(opened, "rb") as handle:
            digest = hashlib.sha256()
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != recorded[rel]:
            raise BadInput(f"{kit / rel}: changed since it was vendored; unvendoring removes only what vendoring "
                           "wrote: move it away first (nothing was changed)")
        doomed.append(rel)

    _walk_vendored(kit, check)
    sidecars = _carried_sidecars(kit, keep, recorded, check)
    gone = set(doomed)

    def remove(fd: int, rel: str, info: os.stat_result) -> None:
        if rel in gone:
            os.unlink(rel.rsplit("/", 1)[-1], dir_fd=fd)

    try:
        _walk_vendored(kit, remove, prune=True)
        top = os.open(kit, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for name in sidecars:
                if name in gone:
                    os.unlink(name, dir_fd=top)
        finally:
            os.close(top)
    except OSError as exc:
        raise BadInput(f"{kit}: removing the vendored files failed ({exc.strerror}); some are gone, run "
                       "`envcapture vendor --remove` again") from None
    return len(doomed)


def _carried_sidecars(kit: Path, keep, recorded: dict, check) -> list[str]:
    """The data sidecars --with-data put beside the kit's envcapture.json, checked like the vendored files."""
    import json

    from envcapture.render.kit_data import sidecar_names

    try:
        names = sidecar_names(json.loads(keep["envcapture.json"]))
    except (KeyError, ValueError, TypeError, AttributeError):
        return []
    found = []
    top = os.open(kit, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in sorted(names):
            if name in keep or name not in recorded:
                continue
            try:
                info = os.stat(name, dir_fd=top, follow_symlinks=False)
            except FileNotFoundError:
                continue
            check(top, name, info)
            found.append(name)
    finally:
        os.close(top)
    return found


def _walk_vendored(kit: Path, visit, prune: bool = False) -> None:
    """``visit(folder_fd, rel, lstat)`` for every entry below the vendored folders, depth first; with ``prune``,
    each folder left empty afterwards is removed. Folders are opened one below the other, never through a link."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    top = os.open(kit, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def descend(parent: int, name: str, rel: str) -> None:
        fd = os.open(name, flags, dir_fd=parent)
        try:
            walk(fd, rel)
        finally:
            os.close(fd)
        if prune:
            _remove_if_empty(parent, name)

    def walk(fd: int, prefix: str) -> None:
        for name in sorted(os.listdir(fd)):
            rel = f"{prefix}/{name}"
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                descend(fd, name, rel)
            else:
                visit(fd, rel, info)

    try:
        for folder in VERIFIED:
            try:
                info = os.stat(folder, dir_fd=top, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if not stat.S_ISDIR(info.st_mode):
                raise BadInput(f"{kit / folder}: not a folder (a link?); unvendoring removes only what vendoring "
                               "wrote: move it away first (nothing was changed)")
            descend(top, folder, folder)
    finally:
        os.close(top)


def _remove_if_empty(fd: int, name: str) -> None:
    try:
        os.rmdir(name, dir_fd=fd)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
