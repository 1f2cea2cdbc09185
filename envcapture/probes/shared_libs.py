"""The system libraries the Python environment needs, and the system packages that own them.

Sources of facts, all read, never run: the ELF dynamic section (``DT_NEEDED``) of every shared object in the
environment's site-packages and of the interpreter (pyelftools), a small table of libraries that packages load by
name through ctypes (python-magic opens ``libmagic.so.1``), and the package manager's own file lists
(``/var/lib/dpkg/info/*.list``, apk's ``installed`` database, ``rpm -qf``) to learn which package owns each library.
A library found inside the environment itself (a wheel's vendored ``numpy.libs/``) needs no system package.

What a shared object needs does not change while the file does not: results are cached per file (path, size,
mtime) under ``~/.cache/envcapture``, so a second freeze of the same environment reads no ELF file at all.
"""

from __future__ import annotations

import json
import os
import re

from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning, ToolError, run_tool

SOURCE = "shared-libs"
# Bounds: an environment with more shared objects than this is read up to the bound, and the probe says so.
MAX_FILES = 20_000
MAX_USERS = 3
CACHE_NAME = "shared-libs-v1.json"
# Libraries opened by name through ctypes/cffi (dlopen), which no ELF header names: distribution -> sonames.
# A fallback for what the run record cannot tell yet; each entry is the library the package's own code opens.
CTYPES_LIBRARIES: dict[str, tuple[str, ...]] = {
    "python-magic": ("libmagic.so.1",),
    "file-magic": ("libmagic.so.1",),
    "pyzbar": ("libzbar.so.0",),
    "pylibdmtx": ("libdmtx.so.0",),
    "cairocffi": ("libcairo.so.2",),
    "soundfile": ("libsndfile.so.1",),
    "pyvips": ("libvips.so.42",),
    "weasyprint": ("libpango-1.0.so.0", "libpangoft2-1.0.so.0"),
    "python-libarchive-c": ("libarchive.so.13",),
    "libarchive-c": ("libarchive.so.13",),
    "openslide-python": ("libopenslide.so.0",),
    "pygraphviz": ("libcgraph.so.6",),
}
# Where the dynamic loader looks when nothing else says (ld.so(8)), for managers without file lists.
LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib", "/usr/local/lib")
_SHARED_OBJECT = re.compile(r"\.so(\.[0-9]+)*$")
# Folders that never hold a shared object: metadata and bytecode (a site-packages of 10,000 distributions is
# mostly these).
_NO_MODULES = (".dist-info", ".egg-info", "__pycache__")
_SONAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+~-]*$")


def is_shared_object(name: str) -> bool:
    return bool(_SHARED_OBJECT.search(name))


def shared_objects(folders: list[str], limit: int = MAX_FILES) -> tuple[list[str], bool]:
    """Paths of the shared objects under ``folders`` (symlinks not followed), and whether ``limit`` cut them."""
    found: list[str] = []
    todo = [folder for folder in folders if os.path.isdir(folder)]
    seen = set()
    while todo:
        folder = todo.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            try:
                if ".so" in name and is_shared_object(name) and entry.is_file(follow_symlinks=False):
                    found.append(entry.path)
                    if len(found) >= limit:
                        return sorted(found), True
                elif not name.endswith(_NO_MODULES) and entry.is_dir(follow_symlinks=False):
                    key = entry.inode()
                    if key not in seen:
                        seen.add(key)
                        todo.append(entry.path)
            except OSError:
                continue
    return sorted(found), False


def needed(path: str) -> list[str]:
    """The ``DT_NEEDED`` names of one ELF file (empty for anything that is not a dynamic ELF object)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as handle:
            if handle.read(4) != b"\x7fELF":
                return []
            handle.seek(0)
            elf = ELFFile(handle)
            for section in elf.iter_sections():
                if isinstance(section, DynamicSection):
                    return [tag.needed for tag in section.iter_tags("DT_NEEDED")]
    except (OSError, ELFError, ValueError, KeyError, AttributeError):
        return []
    return []


class NeededCache:
    """DT_NEEDED per file, keyed by (size, mtime): a file that did not change needs the same libraries."""

    def __init__(self, home: str):
        self.path = os.path.join(home, ".cache", "envcapture", CACHE_NAME)
        self.entries: dict[str, list] = {}
        self.changed = False
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.loads(handle.read(64 << 20))
            if isinstance(data, dict):
                self.entries = data
        except (OSError, ValueError):
            pass

    def needed(self, path: str) -> list[str]:
        try:
            stat = os.stat(path)
        except OSError:
            return []
        stamp = [stat.st_size, stat.st_mtime_ns]
        entry = self.entries.get(path)
        if isinstance(entry, list) and len(entry) == 2 and entry[0] == stamp and isinstance(entry[1], list):
            return [name for name in entry[1] if isinstance(name, str)]
        names = needed(path)
        self.entries[path] = [stamp, names]
        self.changed = True
        return names

    def owners(self, manager: str | None, ctx: ProbeContext, names: set[str]) -> dict[str, str]:
        """soname -> owning package, remembered while the package database does not change."""
        if manager not in OWNERS:
            return {}
        from envcapture.probes.system_packages import DATABASES

        stamps = []
        for path in DATABASES[manager]:
            try:
                stat = ctx.path(path).stat()
                stamps.append([path, stat.st_size, stat.st_mtime_ns])
            except OSError:
                continue
        key = f"owners:{manager}:{ctx.root}"
        entry = self.entries.get(key)
        known: dict = entry[1] if isinstance(entry, list) and len(entry) == 2 and entry[0] == stamps \
            and isinstance(entry[1], dict) else {}
        missing = {name for name in names if name not in known}
        if missing:
            found = OWNERS[manager](ctx, missing)
            known = {**known, **{name: found.get(name) for name in missing}}
            self.entries[key] = [stamps, known]
            self.changed = True
        return {name: known[name] for name in names if isinstance(known.get(name), str)}

    def save(self) -> None:
        if not self.changed:
            return
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            temporary = f"{self.path}.{os.getpid()}.tmp"
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump(self.entries, handle)
            os.replace(temporary, self.path)
        except OSError:
            pass  # a cache that cannot be written costs only time


# ---- who owns a library --------------------------------------------------------------------------------------

def dpkg_owners(ctx: ProbeContext, names: set[str]) -> dict[str, str]:
    """soname -> the dpkg package whose file list has a file of that name (first in name order)."""
    if not names:
        return {}
    pattern = re.compile(rb"/(" + b"|".join(re.escape(n.encode()) for n in sorted(names)) + rb")$", re.M)
    info = ctx.path("/var/lib/dpkg/info")
    owners: dict[str, str] = {}
    try:
        lists = sorted(entry.name for entry in os.scandir(info) if entry.name.endswith(".list"))
    except OSError:
        return owners
    for name in lists:
        try:
            with open(os.path.join(info, name), "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        for match in pattern.finditer(data):
            owners.setdefault(match.group(1).decode(), name[:-len(".list")].split(":")[0])
        if len(owners) == len(names):
            break
    return owners


def apk_owners(ctx: ProbeContext, names: set[str]) -> dict[str, str]:
    """soname -> apk package, from the ``P:`` (package) and ``R:`` (file) lines of apk's database."""
    owners: dict[str, str] = {}
    try:
        text = ctx.path("/lib/apk/db/installed").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return owners
    package = None
    for line in text.splitlines():
        if line.startswith("P:"):
            package = line[2:].strip()
        elif line.startswith("R:") and package and line[2:].strip() in names:
            owners.setdefault(line[2:].strip(), package)
    return owners


def rpm_owners(ctx: ProbeContext, names: set[str]) -> dict[str, str]:
    """soname -> rpm package, asking rpm (the system's own tool) about the file the loader would find."""
    owners: dict[str, str] = {}
    for name in sorted(names):
        path = next((f"{folder}/{name}" for folder in LIBRARY_DIRS if ctx.path(f"{folder}/{name}").exists()), None)
        if path is None:
            continue
        try:
            owner = run_tool(["rpm", "-qf", "--qf", "%{NAME}\n", path], timeout=ctx.timeout).strip().splitlines()
        except ToolError:
            continue
        if owner and _SONAME.match(owner[0]):
            owners[name] = owner[0]
    return owners


OWNERS = {"dpkg": dpkg_owners, "apk": apk_owners, "rpm": rpm_owners}


def manager_of(ctx: ProbeContext) -> str | None:
    from envcapture.probes.system_packages import pick_manager

    return pick_manager(ctx)


# ---- what the user names ---------------------------------------------------------------------------------------

def requested_in_pyproject(ctx: ProbeContext, warnings: list[ProbeWarning]) -> list[str]:
    """``[tool.envcapture] system-packages = [...]`` of the project's pyproject.toml."""
    path = os.path.join(str(ctx.project), "pyproject.toml")
    try:
        with open(path, "rb") as handle:
            data = handle.read(4 << 20)
    except OSError:
        return []
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        table = tomllib.loads(data.decode("utf-8", "replace"))
    except ValueError as exc:
        warnings.append(ProbeWarning(SOURCE, f"pyproject.toml is not valid TOML ({str(exc)[:100]}); its "
                                             "[tool.envcapture] system-packages were not read"))
        return []
    names = ((table.get("tool") or {}).get("envcapture") or {}).get("system-packages")
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) and _SONAME.match(n) for n in names):
        warnings.append(ProbeWarning(SOURCE, "[tool.envcapture] system-packages in pyproject.toml is not a list of "
                                             "package names; left out"))
        return []
    return sorted(set(names))


# ---- the probe ---------------------------------------------------------------------------------------------------

def _users(path: str, roots: list[str]) -> str:
    for root in roots:
        if path.startswith(root.rstrip("/") + "/"):
            return path[len(root.rstrip("/")) + 1:]
    return os.path.basename(path)


def collect(ctx: ProbeContext) -> ProbeResult:
    warnings: list[ProbeWarning] = []
    target = ctx.target or {}
    roots = [p for p in target.get("site_packages") or [] if isinstance(p, str)]
    files, cut = shared_objects(roots)
    if cut:
        warnings.append(ProbeWarning(SOURCE, f"more than {MAX_FILES} shared objects in the environment; only the "
                                             f"first {MAX_FILES} were read for the libraries they need"))
    executable = target.get("executable")
    interpreter = None
    if isinstance(executable, str) and os.path.isfile(executable):
        interpreter = os.path.realpath(executable)
        files.append(interpreter)
    try:
        import elftools  # noqa: F401
    except ImportError:
        warnings.append(ProbeWarning(SOURCE, "pyelftools is not installed: the libraries compiled modules need "
                                             "were not read"))
        files = []
    cache = NeededCache(ctx.home)
    inside = {os.path.basename(path) for path in files}
    # The interpreter's own libpython (pyenv, python.org builds) lives beside it, not in a system package.
    own_lib = os.path.join(str(target.get("base_prefix") or ""), "lib")
    users: dict[str, list[str]] = {}
    via: dict[str, str] = {}
    for path in files:
        for name in cache.needed(path):
            if name in inside or not _SONAME.match(name) or os.path.exists(os.path.join(own_lib, name)):
                continue
            users.setdefault(name, [])
            if via.get(name) != "elf":
                via[name] = "interpreter" if path == interpreter else "elf"
            if len(users[name]) < MAX_USERS:
                users[name].append(_users(path, roots))
    distributions = {_canonical(d.get("name")) for d in target.get("distributions") or [] if isinstance(d, dict)}
    for distribution in sorted(distributions):
        for name in CTYPES_LIBRARIES.get(distribution, ()):
            if name not in via:
                users[name] = [f"{distribution} (ctypes)"]
                via[name] = "ctypes"
    manager = manager_of(ctx)
    owners = cache.owners(manager, ctx, set(users))
    cache.save()
    libraries = [{"name": name, "package": owners.get(name), "via": via[name], "users": users[name]}
                 for name in sorted(users)]
    return ProbeResult({"manager": manager, "files_read": len(files), "libraries": libraries,
                        "packages": sorted({owner for owner in owners.values()}),
                        "requested": requested_in_pyproject(ctx, warnings)}, warnings)


def _canonical(name) -> str:
    return re.sub(r"[-_.]+", "-", name).lower() if isinstance(name, str) else ""
