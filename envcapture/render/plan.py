"""Every decision a kit needs, computed once from the manifest and the options.

Renderers and templates only lay this out. Every manifest value copied into the plan passes
``grammar.require`` here, so a hostile value stops generation before any file is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envcapture.errors import BadInput
from envcapture.manifest import grammar
from envcapture.manifest.grammar import require
from envcapture.render import bases
from envcapture.render.lock import Lock, build_lock

# Manual packages that belong to a machine, not to an environment (kernels, boot loaders, firmware).
_MACHINE_ONLY = re.compile(r"^(linux-(image|headers|modules)|grub|firmware-|shim-|efibootmgr|systemd-boot|"
                           r"intel-microcode|amd64-microcode|nvidia-driver|nvidia-kernel|cuda-drivers|libnvidia-)")
# Values allowed in ENV lines and shell exports (`:4096:8`, `--xla_gpu_deterministic_ops=true`, `0`).
_SAFE_ENV_VALUE = re.compile(r"^[A-Za-z0-9_.,:=/+@%-]*$")
# Free text shown in comments and REPRODUCE.md: one line, and nothing a reader could mistake for markup or shell.
_UNSAFE_TEXT = re.compile(r"[`$\"'\\<>&;|{}]")
MAX_VAGRANT_CPUS = 8
MAX_VAGRANT_MEMORY_MB = 16384
MIN_VAGRANT_MEMORY_MB = 2048
# --apt-snapshot off: no snapshot archive, not even as the fallback for versions gone from the live archive.
SNAPSHOT_OFF = "off"


@dataclass
class Options:
    targets: tuple[str, ...]
    command: str
    manifest_sha256: str
    base_image: str | None = None
    ca_bundle: bytes | None = None
    hashes: bool = False
    apt_snapshot: str | None = None
    base_os: str | None = None  # "ID:VERSION" of --base-image, when given or read from the image
    with_code: bool = False  # --with-code: project/ is filled from the recorded commit
    buildkit: bool = False  # --buildkit: cache mounts for pip/uv downloads (BuildKit only)
    base_has: frozenset[str] | None = None  # packages the base image already has (read by `build`)
    # --system-packages: None installs what the Python environment needs (and what pyproject.toml names);
    # names add to that; ("all",) installs every recorded hand-installed package.
    system_packages: tuple[str, ...] | None = None


@dataclass
class Base:
    image: str
    kind: str  # python | distro | cuda | conda | override
    python_setup: str  # image | apt | uv | conda
    distro: tuple[str, str] | None  # (id, version_id) of the base when known
    codename: str | None
    reason: str


@dataclass
class Gpu:
    mode: str  # none | wheels | system
    cuda: str | None = None  # CUDA version the host driver must support
    device_names: list[str] = field(default_factory=list)
    cudnn: str | None = None
    toolkit: str | None = None


@dataclass
class Project:
    """The frozen project itself, installed from a local folder (`pip install -e .`)."""

    name: str
    version: str
    editable: bool
    commit: str | None
    dirty: bool
    source: str | None  # its folder on the captured machine (for --with-code)
    subdirectory: str | None = None


@dataclass
class NotReproduced:
    """Something the manifest records that the kit leaves out on purpose; `check --image` reads these."""

    section: str  # python_packages | system_packages
    item: str
    why: str


@dataclass
class Plan:
    options: Options
    version: str
    python_version: str
    python_minor: str
    origin: str
    os_id: str | None
    os_version: str | None
    os_codename: str | None
    os_pretty: str | None
    base: Base
    gpu: Gpu
    lock: Lock
    cpu_lock: Lock
    system_packages: list[tuple[str, str]]
    system_install: bool
    system_note: str
    dropped_system: list[str]
    unavailable_system: list[tuple[str, str, str]]  # (name, version, why) of hand-installed packages left out
    apt_python: list[str]
    snapshot_lines: list[str]
    environment: list[tuple[str, str]]
    conda_explicit: list[str]
    conda_specs: list[str]
    conda_channels: list[str]
    conda_missing: list[str]
    code_remote: str | None
    code_commit: str | None
    code_dirty: bool
    created: str
    vagrant_box: str
    vagrant_box_exact: bool
    cloud_image: bases.CloudImage
    cpus: int
    memory_mb: int
    vm_os: tuple[str, str] = bases.DEFAULT_VAGRANT_BOX
    vm_system_install: bool = False
    conda_subdirs_ok: bool = True
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    project: Project | None = None
    project_in_kit: bool = False  # project/ holds the code (--with-code), so the kit installs it
    left_to_base: list[str] = field(default_factory=list)  # manual packages the base image brings itself
    fallback_snapshot_lines: list[str] = field(default_factory=list)  # capture date, used when a pin is gone
    not_reproduced: list[NotReproduced] = field(default_factory=list)
    # How the installed system packages were chosen: "needed" (what the environment needs), "all" (every
    # hand-installed package: --system-packages all, or a manifest without the shared_libraries record).
    system_selection: str = "all"
    system_wanted: list[str] = field(default_factory=list)  # the chosen roots (before their dependencies)
    system_left_out: list[str] = field(default_factory=list)  # recorded hand-installed packages not installed
    apt_suites: list[tuple[str, str]] = field(default_factory=list)  # (suite, one-line source) the kit adds
    kit_data: object | None = None  # --with-data: the data sets copied or referenced (render/kit_data.KitData)

    @property
    def header_lines(self) -> list[str]:
        return [f"Generated by envcapture {self.version}; do not edit, regenerate with:",
                f"  {self.options.command}",
                f"manifest sha256: {self.options.manifest_sha256}"]

    @property
    def is_conda(self) -> bool:
        return self.base.kind == "conda"

    @property
    def needs_gpu(self) -> bool:
        return self.gpu.mode != "none"

    @property
    def uv_index_args(self) -> list[str]:
        # All pins are exact (==), so taking each package from whichever index has that version is safe, and
        # needed: PyTorch's index also carries numpy, jinja2, ... at only a few versions.
        return ["--index-strategy", "unsafe-best-match"] if self.lock.extra_index_urls else []


def safe_text(value, where: str) -> str:
    require("text", value, where)
    if _UNSAFE_TEXT.search(value):
        raise BadInput(f"{where}: {value[:80]!r} contains characters envcapture will not copy into a kit "
                       "(quotes, backticks, $, \\, <, >, &, ;, |, braces)")
    return value


def make_plan(manifest: dict, options: Options) -> Plan:
    from envcapture import __version__

    python = manifest["python"]
    python_version = require("python-version", python["version"], "python.version").rstrip("+")
    python_minor = ".".join(python_version.split(".")[:2])
    os_info = manifest["os"]
    os_id = _opt("identifier", os_info.get("id"), "os.id")
    os_version = _opt("identifier", os_info.get("version_id"), "os.version_id")
    os_codename = _opt("identifier", os_info.get("codename"), "os.codename")
    os_pretty = safe_text(os_info["pretty_name"], "os.pretty_name") if os_info.get("pretty_name") else None
    gpu = _gpu(manifest.get("gpu"))
    base = choose_base(manifest, options, python_version, python_minor, os_id, os_version, os_codename, gpu)
    plan = Plan(
        options=options, version=__version__, python_version=python_version, python_minor=python_minor,
        origin=python["origin"], os_id=os_id, os_version=os_version, os_codename=os_codename,
        os_pretty=os_pretty, base=base, gpu=gpu, lock=build_lock(manifest), cpu_lock=build_lock(manifest, True),
        system_packages=[], system_install=False, system_note="", dropped_system=[], unavailable_system=[], apt_python=[],
        snapshot_lines=[], environment=_environment(manifest), conda_explicit=[], conda_specs=[],
        conda_channels=[], conda_missing=[], code_remote=None, code_commit=None, code_dirty=False,
        created=require("iso-datetime", manifest["created"], "created"),
        vagrant_box="", vagrant_box_exact=False, cloud_image=bases.CLOUD_IMAGES[bases.DEFAULT_VAGRANT_BOX],
        cpus=2, memory_mb=MIN_VAGRANT_MEMORY_MB,
    )
    _system_packages(plan, manifest)
    _snapshot(plan)
    _fallback_snapshot(plan)
    _code(plan, manifest.get("code"))  # before _project: a project without a checkout record takes code.dirty
    _project(plan, manifest)
    _conda(plan, manifest)
    _machine(plan, manifest)
    _warnings(plan)
    _not_reproduced(plan, manifest)
    return plan


def _opt(rule: str, value, where: str):
    return None if value is None else require(rule, value, where)


def choose_base(manifest, options, python_version, python_minor, os_id, os_version, os_codename, gpu) -> Base:
    """The decision table of the issue, in order: override, conda, system CUDA, distro Python, Python image."""
    if options.base_image:
        image = require("image-ref", options.base_image, "--base-image")
        setup = "image" if _is_python_image(image) else "apt"
        distro = _override_distro(image, options.base_os)
        codename = None
        if distro:
            codename = (bases.DEBIAN_RELEASES if distro[0] == "debian" else bases.UBUNTU_RELEASES).get(distro[1])
        return Base(image, "override", setup, distro, codename, "given with --base-image")
    if manifest.get("conda") is not None and manifest["python"]["origin"] == "conda":
        return Base(bases.MICROMAMBA_IMAGE, "conda", "conda", ("debian", "12"), "bookworm",
                    "a conda environment: micromamba installs the exact conda records")
    if gpu.mode == "system":
        tag = bases.cuda_tag_for(gpu.toolkit or gpu.cuda or "") or bases.nearest_cuda_tag(gpu.toolkit or gpu.cuda)
        flavor = bases.cuda_flavor(tag, needs_compiler=gpu.toolkit is not None, needs_cudnn=gpu.cudnn is not None)
        os_tag = bases.cuda_os(tag, os_id, os_version)
        image = f"nvidia/cuda:{tag.version}-{flavor}-{os_tag}"
        distro = ("ubuntu", os_tag.removeprefix("ubuntu"))
        return Base(image, "cuda", "uv", distro, bases.UBUNTU_RELEASES.get(distro[1]),
                    f"a system CUDA {'toolkit' if gpu.toolkit else 'runtime'}"
                    f"{' and cuDNN' if gpu.cudnn else ''}: NVIDIA's CUDA image (table of {bases.TABLE_DATE})")
    if manifest["python"]["origin"] == "distro" and (os_id, os_version) in bases.DISTRO_IMAGES:
        codename = bases.DEBIAN_RELEASES.get(os_version) if os_id == "debian" else bases.UBUNTU_RELEASES.get(os_version)
        return Base(bases.DISTRO_IMAGES[(os_id, os_version)], "distro", "apt", (os_id, os_version), codename,
                    "the distribution's own Python: the same distribution image, python3 pinned from apt")
    captured_debian = os_codename if os_id == "debian" else None
    codename = bases.python_image_codename(python_minor, captured_debian)
    image = f"python:{python_version}-slim-{codename}" if codename else f"python:{python_version}-slim"
    debian_version = {v: k for k, v in bases.DEBIAN_RELEASES.items()}.get(codename)
    why = "CUDA comes from pip wheels, so a plain Python image and the host driver suffice" \
        if gpu.mode == "wheels" else f"a {manifest['python']['origin']} Python build: the official Python image"
    return Base(image, "python", "image", ("debian", debian_version) if debian_version else None, codename, why)


def _override_distro(image: str, base_os: str | None) -> tuple[str, str] | None:
    """The distribution of a --base-image: as given with --base-os, else from an official image's name."""
    if base_os:
        os_id, sep, version = base_os.partition(":")
        if not sep or not grammar.is_identifier(os_id) or not grammar.is_identifier(version):
            raise BadInput(f"--base-os {grammar.quote_for_message(base_os)}: expected ID:VERSION, e.g. debian:12")
        return os_id.lower(), _release_number(os_id.lower(), version)
    name, _, tag = image.split("@")[0].rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    name = name.removeprefix("docker.io/").removeprefix("library/")
    if name in ("debian", "ubuntu") and tag:
        return name, _release_number(name, tag.split("-")[0])
    if name == "python":
        for codename in tag.split("-")[1:]:
            version = _release_number("debian", codename)
            if version in bases.DEBIAN_RELEASES:
                return "debian", version
    return None


def _release_number(os_id: str, version: str) -> str:
    """bookworm -> 12, jammy -> 22.04, 12.5 -> 12 (Debian point releases share one archive)."""
    table = bases.DEBIAN_RELEASES if os_id == "debian" else bases.UBUNTU_RELEASES
    by_name = {name: number for number, name in table.items()}
    if version in by_name:
        return by_name[version]
    return version.split(".")[0] if os_id == "debian" else version


def _is_python_image(image: str) -> bool:
    path = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image.split("@")[0]
    return path in ("python", "library/python", "docker.io/library/python")


def _gpu(gpu) -> Gpu:
    if not gpu or gpu.get("vendor") != "nvidia" and not gpu.get("cuda_wheels") and not gpu.get("toolkits"):
        return Gpu("none")
    names = [safe_text(d["name"], f"gpu.devices[{i}].name") for i, d in enumerate(gpu.get("devices") or [])]
    toolkit = None
    for i, kit in enumerate(gpu.get("toolkits") or []):
        toolkit = _opt("identifier", kit.get("version"), f"gpu.toolkits[{i}].version") or toolkit
    system_cudnn = None
    for i, entry in enumerate(gpu.get("cudnn") or []):
        if entry.get("source") in ("header", "library"):
            system_cudnn = require("identifier", entry["version"], f"gpu.cudnn[{i}].version")
    framework_cuda = None
    for i, fw in enumerate(gpu.get("frameworks") or []):
        framework_cuda = _opt("identifier", fw.get("cuda"), f"gpu.frameworks[{i}].cuda") or framework_cuda
    wheels = gpu.get("cuda_wheels") or []
    uses_cuda = bool(gpu.get("driver") or names or wheels or framework_cuda)
    if (toolkit or system_cudnn) and not uses_cuda:
        # A toolkit on a machine without a driver and without CUDA frameworks: nothing here runs CUDA code.
        return Gpu("none", toolkit=toolkit, cudnn=system_cudnn)
    if toolkit or system_cudnn:
        return Gpu("system", toolkit or framework_cuda, names, system_cudnn, toolkit)
    if wheels or framework_cuda:
        return Gpu("wheels", framework_cuda or _cuda_from_wheels(wheels), names)
    return Gpu("none", device_names=names)


def _cuda_from_wheels(wheels) -> str | None:
    for i, wheel in enumerate(wheels):
        if wheel.get("name", "").startswith("nvidia-cuda-runtime"):
            version = require("pep440-version", wheel["version"], f"gpu.cuda_wheels[{i}].version")
            return ".".join(version.split(".")[:2])
    majors = {w.get("cuda_major") for w in wheels if w.get("cuda_major")}
    return f"{max(majors)}.0" if majors else None


def _environment(manifest) -> list[tuple[str, str]]:
    found = []
    env = (manifest.get("determinism") or {}).get("environment") or {}
    for name in sorted(env):
        value = env[name]
        if value is None:
            continue
        where = f"determinism.environment.{name}"
        require("env-name", name, where)
        require("text", value, where)
        if not _SAFE_ENV_VALUE.match(value):
            raise BadInput(f"{where}: {value[:80]!r} has characters envcapture will not put in an ENV line "
                           "(allowed: letters, digits and _ . , : = / + @ % -)")
        found.append((name, value))
    return found


_OFFICIAL_ARCHIVES = ("deb.debian.org", "security.debian.org", "archive.ubuntu.com", "security.ubuntu.com",
                      "ports.ubuntu.com", "snapshot.debian.org", "snapshot.ubuntu.com")


def _third_party_sources(plan: Plan, system: dict) -> None:
    """Packages from other archives cannot be installed without those archives' sources and keys."""
    others = []
    for i, line in enumerate(system.get("sources") or []):
        require("apt-source", line, f"system_packages.sources[{i}]")
        if not any(host in line for host in _OFFICIAL_ARCHIVES):
            others.append(line)
    if others and plan.system_packages:
        plan.notes.append("apt sources beyond the distribution's archive were configured (" +
                          "; ".join(f"`{line}`" for line in sorted(others)[:5]) + "): hand-installed packages "
                          "from them fail to install until their source and signing key are added to the image")


def _system_packages(plan: Plan, manifest: dict) -> None:
    system = manifest["system_packages"]
    packages = system.get("packages") or []
    roots = _chosen_roots(plan, manifest)
    chosen, dropped = [], []
    for i, package in enumerate(packages):
        if package.get("name") not in roots:
            continue
        name = require("deb-name" if system.get("manager") == "dpkg" else "package-token", package["name"],
                       f"system_packages.packages[{i}].name")
        version = require("deb-version", package["version"], f"system_packages.packages[{i}].version")
        if _MACHINE_ONLY.match(name):
            dropped.append((name, version))
        elif "origin" in package and (why := _unavailable(package["origin"], plan, i)):
            plan.unavailable_system.append((name, version, why))
        else:
            chosen.append((name, version))
    plan.system_packages = sorted(set(chosen))
    plan.unavailable_system.sort()
    plan.dropped_system = sorted({name for name, _ in dropped})
    _third_party_sources(plan, system)
    captured = (plan.os_id, plan.os_version)
    same = system.get("manager") == "dpkg" and plan.base.distro == captured
    if plan.base.kind == "conda":
        plan.system_note = "the conda image is Debian-based; apt packages recorded on another system are not installed"
        same = same and captured == ("debian", "12")
    if same:
        plan.system_install = True
        plan.system_note = f"installed pinned (the base is the captured {captured[0]} {captured[1]})"
    elif plan.system_packages:
        base_os = "an unknown distribution (--base-image)" if plan.base.distro is None else \
            f"{plan.base.distro[0]} {plan.base.distro[1]}"
        plan.system_note = (f"not installed in the image: they were recorded on {captured[0]} {captured[1]} "
                            f"and the base is {base_os}, where these exact versions do not exist; "
                            "they are listed in system-packages.txt")
    _leave_to_base(plan, packages)
    _with_dependencies(plan, manifest, packages)
    installed = {name for name, _ in plan.system_packages} | set(plan.left_to_base) | set(_unpinned_bootstrap(plan))
    plan.system_left_out = sorted({p["name"] for p in packages if p.get("manual") and p.get("name") not in installed
                                   and p.get("name") not in roots})
    _apt_suites(plan, system)
    if plan.base.python_setup == "apt" and plan.base.kind == "distro":
        versions = dict((name, version) for name, version in _all_packages(system))
        plan.apt_python = [f"{name}={versions[name]}" if name in versions else name
                           for name in ("python3", "python3-venv")]


ALL_SYSTEM_PACKAGES = "all"


def _unpinned_bootstrap(plan: Plan) -> tuple[str, ...]:
    """What the Dockerfile installs unpinned from the base's archive: the Python of a non-Python base image."""
    return BOOTSTRAP_PACKAGES if plan.base.python_setup in ("apt", "uv") and plan.base.kind != "distro" else ()


def _chosen_roots(plan: Plan, manifest: dict) -> set[str]:
    """The recorded packages the kit starts from: every hand-installed one (--system-packages all, or a manifest
    without the shared_libraries record), else the owners of the libraries the environment needs, what
    pyproject.toml names, and what --system-packages names."""
    system = manifest["system_packages"]
    recorded = {p.get("name") for p in system.get("packages") or []}
    manual = {p.get("name") for p in system.get("packages") or [] if p.get("manual")}
    asked = list(plan.options.system_packages or ())
    needs = manifest.get("shared_libraries")
    if ALL_SYSTEM_PACKAGES in asked or not isinstance(needs, dict):
        plan.system_selection = "all"
        if not isinstance(needs, dict) and ALL_SYSTEM_PACKAGES not in asked and manual:
            plan.notes.append("the manifest does not record which system libraries the environment needs (an older "
                              "envcapture made it), so every hand-installed system package is installed; freezing "
                              "again records them")
        return manual
    plan.system_selection = "needed"
    for i, name in enumerate(asked):
        if not grammar.is_package_token(name):
            raise BadInput(f"--system-packages {grammar.quote_for_message(name)}: not a package name")
        if name not in recorded:
            raise BadInput(f"--system-packages {name}: the manifest records no installed package of that name "
                           "(a kit installs recorded versions only)")
    roots = set(asked)
    for i, library in enumerate(needs.get("libraries") or []):
        # A library only the interpreter links against comes with the kit's own Python (apt's python3, the
        # Python image, uv's build), never the recorded machine's interpreter.
        if library.get("package") and library.get("via") != "interpreter":
            roots.add(require("package-token", library["package"], f"shared_libraries.libraries[{i}].package"))
    for i, name in enumerate(needs.get("requested") or []):
        require("package-token", name, f"shared_libraries.requested[{i}]")
        if name in recorded:
            roots.add(name)
        else:
            plan.warnings.append(f"[tool.envcapture] system-packages names {name}, which was not installed when "
                                 "the manifest was made: not in the kit")
    plan.system_wanted = sorted(roots & recorded)
    return roots & recorded


def _with_dependencies(plan: Plan, manifest: dict, packages: list[dict]) -> None:
    """The dependencies a chosen package allows at exactly one version, pinned to the recorded versions too: a
    pinned package that depends on an exact version of another (libpq-dev on libpq5 (= 15.18-0+deb12u1))
    installs only beside that version, which the recorded machine had. Other dependencies are apt's to choose
    (the archive's current versions: a superseded security update is gone from it). The base's packages stay
    the base's."""
    if not plan.system_install:
        return
    by_name = {p.get("name"): (i, p) for i, p in enumerate(packages)}
    base = set(plan.left_to_base) | _base_names(plan, packages)
    pinned = {name for name, _ in plan.system_packages}
    unavailable = {name for name, _, _ in plan.unavailable_system}
    todo = list(pinned)
    added = []
    while todo:
        _, package = by_name.get(todo.pop(), (None, {}))
        for dependency in package.get("depends_exact") or ():
            if dependency in pinned or dependency in base or dependency in unavailable or dependency not in by_name \
                    or _MACHINE_ONLY.match(dependency):
                continue
            i, record = by_name[dependency]
            version = require("deb-version", record["version"], f"system_packages.packages[{i}].version")
            require("deb-name", dependency, f"system_packages.packages[{i}].name")
            if "origin" in record and (why := _unavailable(record["origin"], plan, i)):
                plan.unavailable_system.append((dependency, version, why))
                unavailable.add(dependency)
                continue
            pinned.add(dependency)
            added.append((dependency, version))
            todo.append(dependency)
    plan.system_packages = sorted(set(plan.system_packages) | set(added))
    plan.unavailable_system.sort()


def _base_names(plan: Plan, packages: list[dict]) -> set[str]:
    from envcapture.render import base_packages

    if not plan.system_install:
        return set()
    table = base_packages.left_to_base(*(plan.base.distro or (None, None)))
    return set(table) | set(plan.options.base_has or ()) | base_packages.marked_in_manifest(packages).names


# Keys of the distributions' own archives, as their keyring packages install them (in every base image).
_ARCHIVE_KEYRINGS = {"debian": "/usr/share/keyrings/debian-archive-keyring.gpg",
                     "ubuntu": "/usr/share/keyrings/ubuntu-archive-keyring.gpg"}


def _apt_suites(plan: Plan, system: dict) -> None:
    """The official update suites the recorded machine used (-updates, -security): a base image built with
    debootstrap has only the release itself, and the recorded versions of security updates live there."""
    if not plan.system_install or plan.os_id not in _ARCHIVE_KEYRINGS or not plan.os_codename:
        return
    wanted = (f"{plan.os_codename}-updates", f"{plan.os_codename}-security")
    for i, line in enumerate(system.get("sources") or []):
        require("apt-source", line, f"system_packages.sources[{i}]")
        words = line.split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) < 3 or words[1] not in wanted:
            continue
        url, suite, components = words[0], words[1], words[2:]
        host = url.split("://", 1)[-1].split("/", 1)[0]
        if host not in _OFFICIAL_ARCHIVES or host.startswith("snapshot.") or \
                suite in {known for known, _ in plan.apt_suites}:
            continue
        require("url", url, f"system_packages.sources[{i}]")
        plan.apt_suites.append((suite, f"deb [signed-by={_ARCHIVE_KEYRINGS[plan.os_id]}] {url} {suite} "
                                       + " ".join(components)))


_DISTRIBUTION_ARCHIVES = ("Debian", "Ubuntu")


def _unavailable(origin, plan: Plan, i: int) -> str | None:
    """Why the image's apt cannot install this recorded version, None when the distribution's archive has it."""
    where = f"system_packages.packages[{i}].origin"
    if origin is None:
        return ("no apt source configured at capture time offered this version (a downloaded .deb, a removed or "
                "disabled repository, or an update the archive has since replaced)")
    url = require("url", origin["url"], f"{where}.url")
    suite = require("apt-source", origin["suite"], f"{where}.suite")
    archive = safe_text(origin["archive"], f"{where}.archive") if origin.get("archive") else None
    codename = plan.os_codename or ""
    if archive in _DISTRIBUTION_ARCHIVES and suite in (codename, f"{codename}-updates", f"{codename}-security"):
        return None
    if archive and archive.split()[0] in _DISTRIBUTION_ARCHIVES:  # "Debian Backports", Ubuntu's PPAs are not
        return f"from the {archive} suite `{suite}`, which the image's apt sources lack"
    return (f"from the third-party apt source `{url} {suite}` ({archive or 'no Origin in its Release file'}): "
            "add that source and its signing key to the image to install it")


def _leave_to_base(plan: Plan, packages: list[dict]) -> None:
    """Essential and required packages (and their dependencies), and those the base image already has, come
    from the base: a pin of libc6 or base-files fails at the next point release of the distribution."""
    if not plan.system_install:
        return
    from envcapture.render import base_packages

    table = base_packages.left_to_base(*(plan.base.distro or (None, None)))
    marked = base_packages.marked_in_manifest(packages)
    base = set(table) | set(plan.options.base_has or ()) | marked.names
    if plan.options.base_has is None and not table and not marked.depends_recorded:
        plan.notes.append(_unknown_base_note(plan, marked))
    plan.left_to_base = sorted({name for name, _ in plan.system_packages if name in base})
    plan.system_packages = [(name, version) for name, version in plan.system_packages if name not in base]
    plan.system_note = (f"{len(plan.system_packages)} installed pinned, {len(plan.left_to_base)} left to the base "
                        f"image (the base is the captured {plan.base.distro[0]} {plan.base.distro[1]})")


def _unknown_base_note(plan: Plan, marked) -> str:
    """Why packages of the base may be pinned: the manifest lacks the marks and envcapture has no table."""
    distro = f"{plan.base.distro[0]} {plan.base.distro[1]}"
    if marked.marks_recorded:
        what = ("the manifest records which packages are Essential or of Priority required/important but not what "
                "they depend on")
    else:
        what = ("the manifest does not record which packages are Essential or of Priority required/important "
                "(an older envcapture made it)")
    return (f"{what}, and envcapture has no table of {distro}'s base packages, so hand-installed packages the base "
            "image brings itself may be pinned; `build` leaves to the base whatever it already has, and freezing "
            "again with this envcapture records them")


def _all_packages(system):
    for i, package in enumerate(system.get("packages") or []):
        if package.get("name") in ("python3", "python3-venv"):
            yield package["name"], require("deb-version", package["version"], f"system_packages.packages[{i}].version")


def _snapshot(plan: Plan) -> None:
    date = plan.options.apt_snapshot
    if not date or date == SNAPSHOT_OFF:
        return
    _check_snapshot_date(date)
    lines = _snapshot_lines(plan, date)
    if lines is None:
        raise BadInput(f"--apt-snapshot: the manifest's OS ({plan.os_id} {plan.os_version}) has no snapshot archive "
                       "envcapture knows (Debian and Ubuntu do)")
    if plan.os_id == "ubuntu" and date < bases.UBUNTU_SNAPSHOT_START:
        raise BadInput(f"--apt-snapshot {date}: snapshot.ubuntu.com starts on {bases.UBUNTU_SNAPSHOT_START}")
    plan.snapshot_lines = lines


def _snapshot_lines(plan: Plan, date: str) -> list[str] | None:
    """Sources of the snapshot archive of ``date`` for the captured distribution (where the recorded versions
    exist); None when envcapture knows no snapshot archive for it."""
    codename = plan.os_codename or bases.DEBIAN_RELEASES.get(plan.os_version or "") \
        or bases.UBUNTU_RELEASES.get(plan.os_version or "")
    if plan.os_id not in bases.SNAPSHOT_ARCHIVES or codename is None:
        return None
    stamp = date.replace("-", "") + "T000000Z"
    main, security = bases.SNAPSHOT_ARCHIVES[plan.os_id]
    lines = [f"deb [check-valid-until=no] {main.format(stamp=stamp)} {codename} main",
             f"deb [check-valid-until=no] {main.format(stamp=stamp)} {codename}-updates main"]
    if security:
        lines.append(f"deb [check-valid-until=no] {security.format(stamp=stamp)} {codename}-security main")
    return lines


def _fallback_snapshot(plan: Plan) -> None:
    """Without --apt-snapshot, a pinned version that left the live archive is taken from the snapshot of the
    capture date (`--apt-snapshot off` turns this off: the build then fails naming the package)."""
    if plan.options.apt_snapshot or not plan.system_install or not plan.system_packages:
        return
    date = plan.created[:10]
    if plan.os_id == "ubuntu" and date < bases.UBUNTU_SNAPSHOT_START:
        return
    plan.fallback_snapshot_lines = _snapshot_lines(plan, date) or []


def _check_snapshot_date(date: str) -> None:
    """A real calendar date, not in the future: the snapshot archives have nothing for any other value."""
    import datetime

    if not grammar.is_date(date):
        raise BadInput(f"--apt-snapshot {grammar.quote_for_message(date)}: not a calendar date; give the day as "
                       "YYYY-MM-DD, e.g. 2025-06-01 (words like 'yesterday' are not accepted, so that the "
                       "command means the same day whenever it is rerun)")
    if datetime.date.fromisoformat(date) > datetime.datetime.now(datetime.timezone.utc).date():
        raise BadInput(f"--apt-snapshot {date}: that day is in the future; the snapshot archives have only past days")


def _conda(plan: Plan, manifest: dict) -> None:
    conda = manifest.get("conda")
    if conda is None:
        return
    channels = []
    for i, package in enumerate(conda.get("packages") or []):
        where = f"conda.packages[{i}]"
        name = require("package-token", package["name"], f"{where}.name")
        version = require("package-token", package["version"], f"{where}.version")
        build = require("package-token", package["build"], f"{where}.build")
        channel = _opt("conda-channel", package.get("channel"), f"{where}.channel")
        if channel == "pypi" or build.startswith("pypi"):
            continue
        subdir = _opt("identifier", package.get("subdir"), f"{where}.subdir")
        if subdir and subdir not in ("linux-64", "noarch"):
            plan.conda_subdirs_ok = False
        if channel and channel not in channels:
            channels.append(channel)
        plan.conda_specs.append(f"{name}={version}={build}")
        url, md5 = package.get("url"), package.get("md5")
        if url and md5:
            plan.conda_explicit.append(f"{require('url', url, where + '.url')}#{require('md5', md5, where + '.md5')}")
        else:
            plan.conda_missing.append(f"{name}={version}={build}")
    plan.conda_channels = channels or ["conda-forge"]
    plan.conda_specs.sort()
    plan.conda_explicit.sort()


def _code(plan: Plan, code) -> None:
    if not code:
        return
    plan.code_remote = _opt("url", code.get("remote"), "code.remote")
    plan.code_commit = _opt("git-commit", code.get("commit"), "code.commit")
    plan.code_dirty = bool(code.get("dirty"))


def _project(plan: Plan, manifest: dict) -> None:
    """The frozen project, when the manifest records it as a local install: an editable or directory install
    from the project folder itself, or from a checkout at the recorded commit."""
    root = ((manifest.get("filesystem") or {}).get("project") or {}).get("root")
    code_commit = (manifest.get("code") or {}).get("commit")
    for i, package in enumerate(manifest["python_packages"]):
        source = package.get("source") or {}
        if source.get("kind") not in ("editable", "directory"):
            continue
        path = _file_url_path(source.get("url"))
        checkout = source.get("checkout") or {}
        commit = checkout.get("commit")
        if not ((root and path and path.rstrip("/") == str(root).rstrip("/")) or (commit and commit == code_commit)):
            continue
        where = f"python_packages[{i}]"
        plan.project = Project(
            name=require("dist-name", package["name"], f"{where}.name"),
            version=require("pep440-version", package["version"], f"{where}.version"),
            editable=source["kind"] == "editable",
            commit=_opt("git-commit", commit or code_commit, f"{where}.source.checkout.commit"),
            dirty=bool(checkout.get("dirty")) if checkout else plan.code_dirty,
            source=path, subdirectory=_opt("subdirectory", source.get("subdirectory"), f"{where}.source.subdirectory"))
        break
    if plan.project is None:
        return
    plan.project_in_kit = plan.options.with_code
    # The lock leaves local installs out with a generic reason; the project gets its own handling.
    name = grammar.canonical_name(plan.project.name)
    for lock in (plan.lock, plan.cpu_lock):
        lock.omitted = [o for o in lock.omitted if grammar.canonical_name(o.name) != name]


def _file_url_path(url) -> str | None:
    if not isinstance(url, str) or not url.startswith("file://"):
        return None
    return url[len("file://"):] or None


def _not_reproduced(plan: Plan, manifest: dict) -> None:
    """What the Docker image leaves out by design, each with the reason `check --image` shows."""
    found = plan.not_reproduced
    project = plan.project
    if project is not None and not plan.project_in_kit:
        found.append(NotReproduced("python_packages", grammar.canonical_name(project.name),
                                   "the project: expected from project/, not installed (copy its source into "
                                   "project/, or generate with --with-code, and build again)"))
    for omitted in plan.lock.omitted:
        found.append(NotReproduced("python_packages", grammar.canonical_name(omitted.name), omitted.reason))
    if plan.is_conda:
        return
    manual = sorted({(p["name"], p.get("manager")) for p in manifest["system_packages"].get("packages") or []
                     if p.get("manual")})
    pinned = {name for name, _ in plan.system_packages}
    base = set(plan.left_to_base)
    unavailable = {name: why for name, _, why in plan.unavailable_system}
    left_out = set(plan.system_left_out)
    unpinned = set(_unpinned_bootstrap(plan))
    for name, _ in manual:
        if name in pinned and plan.system_install:
            continue
        if name in unpinned:
            why = ("installed unpinned by design, from the base's own archive (the bootstrap Python and the CA "
                   "certificates of the image)")
        elif name in unavailable:
            why = f"the image's apt cannot install it: {unavailable[name]}"
        elif name in base:
            why = "left to the base image: essential or already in the base, so it keeps the base's version"
        elif name in plan.dropped_system:
            why = "belongs to the machine (kernel, boot loader, driver, firmware), not to an image"
        elif name in {p.split("=")[0] for p in plan.apt_python}:
            continue
        elif name in left_out and plan.system_install:
            why = LEFT_OUT_WHY
        else:
            why = f"system packages are not installed on this base: {plan.system_note}"
        found.append(NotReproduced("system_packages", name, why))
    if plan.system_selection == "needed" and plan.system_install:
        # Every other recorded package (the dependencies of what was left out) is left out for the same reason;
        # what the kit pins is never covered by this: a changed pin stays an error.
        found.append(NotReproduced("system_packages", ALL_OTHERS, LEFT_OUT_WHY))


# not-reproduced.json: the item that stands for every recorded system package the kit does not install.
ALL_OTHERS = "*"
LEFT_OUT_WHY = ("left out by design: the Python environment does not need it (`--system-packages NAME` or "
                "`--system-packages all` adds it)")
# Installed unpinned when the Python comes from the base's archive (render/docker.py apt_packages).
BOOTSTRAP_PACKAGES = ("ca-certificates", "python3", "python3-venv")


def _machine(plan: Plan, manifest: dict) -> None:
    key = (plan.os_id, plan.os_version)
    plan.vagrant_box_exact = key in bases.VAGRANT_BOXES
    box_key = key if plan.vagrant_box_exact else bases.DEFAULT_VAGRANT_BOX
    plan.vagrant_box = bases.VAGRANT_BOXES[box_key]
    plan.vm_os = box_key
    plan.vm_system_install = plan.vagrant_box_exact and manifest["system_packages"].get("manager") == "dpkg" \
        and bool(plan.system_packages)
    plan.cloud_image = bases.CLOUD_IMAGES[box_key]
    hardware = manifest["hardware"]
    cores = hardware.get("logical_cores") or hardware.get("physical_cores") or 2
    plan.cpus = max(1, min(int(cores), MAX_VAGRANT_CPUS))
    memory_mb = int((hardware.get("memory_total") or 0) // (1024 * 1024) // 2)
    plan.memory_mb = max(MIN_VAGRANT_MEMORY_MB, min(memory_mb, MAX_VAGRANT_MEMORY_MB))


def _warnings(plan: Plan) -> None:
    if plan.base.kind == "cuda":
        tag = plan.base.image.split(":", 1)[1].split("-", 1)[0]
        row = next(r for r in bases.CUDA_TAGS if r.version == tag)
        if row.may_vanish_after <= bases.TABLE_DATE:
            plan.warnings.append(f"{plan.base.image}: CUDA {row.version} is past NVIDIA's support window "
                                 f"(tags may be deleted after {row.may_vanish_after}); if the pull fails, "
                                 "pick a newer tag with --base-image")
        wanted = plan.gpu.toolkit or plan.gpu.cuda
        if wanted and bases.cuda_tag_for(wanted) is None:
            plan.warnings.append(f"CUDA {wanted} is not in envcapture's table of nvidia/cuda tags; "
                                 f"using {row.version}, the nearest published release")
    if plan.base.kind == "override":
        plan.notes.append("--base-image replaces the base chosen from the manifest")
    if plan.gpu.mode == "none" and plan.gpu.toolkit:
        plan.notes.append(f"a CUDA {plan.gpu.toolkit} toolkit was installed on the machine, but no driver, GPU or "
                          "CUDA framework was recorded, so the base is not a CUDA image; to compile CUDA code "
                          "in the image, pass an nvidia/cuda devel image with --base-image")
    for url in plan.lock.local_indexes:
        plan.warnings.append(f"pip was configured with the local index {url}, which an image cannot reach; "
                             "packages found only there will fail to install")
    if plan.code_dirty:
        plan.warnings.append("the project had uncommitted changes when it was captured: the recorded commit "
                             "is not exactly the code that ran")
    for omitted in plan.lock.omitted:
        plan.warnings.append(f"{omitted.name}: {omitted.reason}")
    if plan.conda_missing:
        plan.warnings.append(f"{len(plan.conda_missing)} conda record(s) have no URL or md5 and are not in "
                             "conda-explicit.txt: " + ", ".join(plan.conda_missing[:10]))
