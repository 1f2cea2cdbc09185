"""The JSON Schema of manifest version 1: the one place that says what a manifest may contain.

Every string carries a ``format`` naming a rule in ``grammar.py``; ``manifest.validate`` checks them all,
so a hostile value is refused before any renderer sees it. ``envcapture schema`` prints this schema and
``envcapture/manifest/manifest.schema.json`` is the published copy (a test keeps the two identical).
"""

from __future__ import annotations

SCHEMA_ID = "https://envcapture.dev/schema/manifest-v1.json"


def s(fmt: str = "text", nullable: bool = False, max_length: int = 4096) -> dict:
    t: dict = {"type": ["string", "null"] if nullable else "string", "format": fmt, "maxLength": max_length}
    return t


def obj(props: dict, required: list[str] | None = None, nullable: bool = False, extra: bool = False) -> dict:
    o: dict = {
        "type": ["object", "null"] if nullable else "object",
        "properties": props,
        "required": sorted(props) if required is None else required,
        "additionalProperties": extra,
    }
    return o


def arr(items: dict, max_items: int = 200_000) -> dict:
    return {"type": "array", "items": items, "maxItems": max_items}


# Counts and sizes have a maximum: the largest signed 64-bit integer (9.2 EB, beyond any file system a probe
# measures), so a hostile 1e300 or 1e309 is refused by validate instead of reaching show, report or export.
MAX_INT = 2 ** 63 - 1
INT = {"type": "integer", "minimum": 0, "maximum": MAX_INT}
NINT = {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_INT}
MODE = {"type": "integer", "minimum": 0, "maximum": 0o7777}  # permission bits of a file
BOOL = {"type": "boolean"}
# Free-form facts (``--deep`` runtime views): any JSON, but every string in it is still one line of text, and
# the section is bounded: nested at most MAX_FACT_DEPTH levels (the definition is unrolled, one level per
# $defs entry, because JSON Schema cannot count depth), 1,000 items or keys per level, and at most
# MAX_FACT_BYTES of JSON in all (``x-max-json-bytes``, an envcapture keyword other validators ignore).
MAX_FACT_DEPTH = 10
MAX_FACT_BYTES = 1_000_000
FACT = {"$ref": "#/$defs/fact-1", "x-max-json-bytes": MAX_FACT_BYTES}


def _fact_defs() -> dict:
    defs = {}
    for level in range(1, MAX_FACT_DEPTH + 1):
        branches: list = [{"type": ["number", "boolean", "null"]}, {"type": "string", "format": "text", "maxLength": 4096}]
        if level < MAX_FACT_DEPTH:
            child = {"$ref": f"#/$defs/fact-{level + 1}"}
            branches += [{"type": "array", "items": child, "maxItems": 1000},
                         {"type": "object", "additionalProperties": child, "maxProperties": 1000,
                          "propertyNames": {"format": "text", "maxLength": 200}}]
        defs[f"fact-{level}"] = {"anyOf": branches}
    return defs


NBOOL = {"type": ["boolean", "null"]}
NUM = {"type": ["number", "null"]}


def _warning() -> dict:
    return obj({"source": s("identifier"), "message": s()})


def _python() -> dict:
    return obj({
        "implementation": s("identifier"),
        "version": s("python-version"),
        "executable": s("path"),
        "prefix": s("path"),
        "base_prefix": s("path"),
        "is_virtualenv": BOOL,
        "origin": {"enum": ["distro", "official", "pyenv", "conda", "uv", "homebrew", "other"]},
        "markers": {"type": "object", "additionalProperties": s("marker-value"),
                    "propertyNames": {"pattern": "^[a-z_]+$"}},
        "site_packages": arr(s("path"), 100),
        "package_indexes": obj({"index_url": s("url", nullable=True), "extra_index_urls": arr(s("url"), 50),
                                "find_links": arr(s("url"), 50), "sources": arr(s("path"), 20)}),
    })


def _package_source() -> dict:
    return obj({
        "kind": {"enum": ["index", "vcs", "archive", "directory", "editable"]},
        "url": s("url", nullable=True),
        "vcs": {"enum": ["git", "hg", "svn", "bzr", None]},
        "commit": s("identifier", nullable=True),
        "requested_revision": s("git-ref", nullable=True),
        "subdirectory": s("subdirectory", nullable=True),
        "hash": s("hash", nullable=True),
        "checkout": obj({"commit": s("git-commit"), "dirty": BOOL}, nullable=True),
    }, required=["kind"])


def _python_package() -> dict:
    return obj({
        "name": s("dist-name"),
        "version": s("pep440-version"),
        "requested": BOOL,
        "installer": s("identifier", nullable=True),
        "top_level": BOOL,
        "requires": arr(s("pep508-requirement"), 2000),
        "source": _package_source(),
        "local_label": s("identifier", nullable=True),
        "index_url": s("url", nullable=True),
        # Added after 0.1.0 (SBOM export): optional, so older manifests stay valid.
        "license": s("text", nullable=True, max_length=400),
        "license_kind": {"enum": ["spdx", "text", None]},
        "purl": s("purl", nullable=True, max_length=400),
    }, required=["name", "version", "requested", "installer", "top_level", "requires", "source", "local_label",
                 "index_url"])


def _conda() -> dict:
    package = obj({
        "name": s("package-token"),
        "version": s("package-token"),
        "build": s("package-token"),
        "build_number": NINT,
        "channel": s("conda-channel", nullable=True),
        "subdir": s("identifier", nullable=True),
        "url": s("url", nullable=True),
        "md5": s("md5", nullable=True),
        "sha256": s("sha256", nullable=True),
        "requested_spec": s("text", nullable=True),
    }, required=["name", "version", "build"])
    return obj({
        "prefix": s("path"),
        "name": s("identifier", nullable=True),
        "conda_version": s("package-token", nullable=True),
        "channels": arr(s("url")),
        "packages": arr(package),
        "explicit_specs": arr(s("text")),
    }, nullable=True)


def _os() -> dict:
    return obj({
        "system": s("identifier"),
        "id": s("identifier", nullable=True),
        "version_id": s("identifier", nullable=True),
        "codename": s("identifier", nullable=True),
        "pretty_name": s("text", nullable=True),
        "id_like": arr(s("identifier"), 20),
        "kernel": s("text", nullable=True),
        "machine": s("arch"),
        "libc": obj({"name": s("identifier", nullable=True), "version": s("identifier", nullable=True)}),
        "container": {"enum": ["docker", "podman", "kubernetes", "lxc", "other", None]},
        "wsl": BOOL,
    })


def _system_packages() -> dict:
    # Where a hand-installed apt package came from (dpkg only); null: no configured apt source offered the
    # installed version (a downloaded .deb, a removed or disabled repository). Absent when not known.
    origin = obj({
        "archive": s("text", nullable=True),  # the Release file's Origin: Debian, Ubuntu, a vendor's name
        "url": s("url"),
        "suite": s("apt-source"),
        "component": s("apt-source", nullable=True),
    }, nullable=True)
    package = obj({
        "name": s("package-token"),
        "version": s("deb-version"),
        "architecture": s("arch", nullable=True),
        "manual": NBOOL,
        "origin": origin,
        # dpkg only (absent from older manifests): what the base of every image already has
        # (Essential: yes, Priority required/important) and the installed packages it depends on.
        "essential": BOOL,
        "priority": s("identifier", nullable=True),
        "depends": arr(s("package-token"), 1000),
        # dpkg only (absent from older manifests): the ones of ``depends`` allowed at exactly one version
        # (``libpq5 (= 15.18-0+deb12u1)``), which a kit pinning this package must pin too.
        "depends_exact": arr(s("package-token"), 1000),
        # dpkg only, optional: the short license names of /usr/share/doc/NAME/copyright when it is
        # machine-readable (DEP-5), "A; B" (what SBOMs list for a deb, as syft reads them).
        "license": s("text", max_length=400),
    }, required=["architecture", "manual", "name", "version"])
    return obj({
        "manager": {"enum": ["dpkg", "rpm", "apk", None]},
        "packages": arr(package),
        "sources": arr(s("apt-source"), 1000),
    })


def _shared_libraries() -> dict:
    # Optional (absent from older manifests): the system libraries the Python environment links against or
    # opens by name, and the system packages that own them (probes/shared_libs.py). A kit installs these.
    library = obj({
        "name": s("package-token"),  # the soname, as DT_NEEDED or the ctypes table names it
        "package": s("package-token", nullable=True),  # null: no package of the manager owns a file of that name
        # elf: a compiled module links against it; ctypes: opened by name; interpreter: only the interpreter
        # links against it (the kit's own Python brings it); run: mapped into a recorded run (generate --only-used)
        "via": {"enum": ["elf", "ctypes", "interpreter", "run"]},
        "users": arr(s("text"), 10),
    })
    return obj({
        "manager": {"enum": ["dpkg", "rpm", "apk", None]},
        "files_read": INT,
        "libraries": arr(library, 10_000),
        "packages": arr(s("package-token"), 10_000),
        "requested": arr(s("package-token"), 1000),  # [tool.envcapture] system-packages in pyproject.toml
    }, nullable=True)


def _hardware() -> dict:
    return obj({
        "cpu_model": s("text", nullable=True),
        "vendor": s("text", nullable=True),
        "architecture": s("arch"),
        "physical_cores": NINT,
        "logical_cores": NINT,
        "flags": arr(s("identifier"), 500),
        "memory_total": NINT,
    })


def _filesystem() -> dict:
    mount = obj({"mount_point": s("path"), "fstype": s("identifier"), "size": NINT})
    entry = obj({"path": s("path"), "size": INT})
    project = obj({
        "root": s("path"),
        "files": arr(entry),
        "file_count": INT,
        "total_size": INT,
        "truncated": BOOL,
        "note": s("text", nullable=True),
    }, nullable=True)
    return obj({
        "mounts": arr(mount, 1000),
        "project": project,
        "search_paths": {"type": "object", "additionalProperties": arr(s("path"), 1000),
                         "propertyNames": {"enum": ["PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "CUDA_HOME",
                                                    "CUDA_PATH", "LIBRARY_PATH", "CPATH"]}},
    })


def _code() -> dict:
    return obj({
        "commit": s("git-commit", nullable=True),
        "branch": s("git-ref", nullable=True),
        "dirty": BOOL,
        "dirty_files": INT,
        "remote": s("url", nullable=True),
    }, nullable=True)


def _determinism() -> dict:
    return obj({
        "environment": {"type": "object", "additionalProperties": s("text", nullable=True),
                        "propertyNames": {"format": "env-name"}},
        "threads": {"type": "object", "additionalProperties": NINT},
        "deep": FACT,
        "warnings": arr(s(), 100),
    })


def _gpu() -> dict:
    """Filled in by the GPU probe (probes/gpu.py); keys documented in the README.

    Memory sizes are MiB (what nvidia-smi reports). ``source`` names where a fact was read, so a reader can
    tell a driver's answer from a guess made from a file name.
    """
    fact_source = {"enum": ["nvml", "nvidia-smi", "libcuda", "header", "library", "wheel", "conda",
                            "version.json", "version.txt", "nvcc", "metadata", "runtime", "rocm", "mps", None]}
    mig_device = obj({"index": INT, "profile": s("identifier", nullable=True), "memory_total_mib": NINT},
                     required=["index"])
    device = obj({
        "index": INT,
        "name": s("text"),
        "memory_total_mib": NINT,
        "compute_capability": s("identifier", nullable=True),
        "architecture": s("identifier", nullable=True),
        "mig_mode": s("identifier", nullable=True),
        "mig_devices": arr(mig_device, 64),
        "pci_bus_id": s("text", nullable=True),  # 00000000:00:09.0 has colons
        "uuid": s("identifier", nullable=True),
        "source": fact_source,
    }, required=["index", "name"])
    toolkit = obj({"path": s("path"), "version": s("identifier", nullable=True),
                   "nvcc_version": s("identifier", nullable=True), "source": fact_source},
                  required=["path", "version"])
    cudnn = obj({"version": s("identifier"), "path": s("path", nullable=True), "source": fact_source,
                 "package": s("package-token", nullable=True)},
                required=["version", "source"])
    wheel = obj({"name": s("dist-name"), "version": s("pep440-version"),
                 "cuda_major": NINT}, required=["name", "version"])
    framework = obj({
        "name": s("dist-name"),
        "version": s("pep440-version"),
        "cuda": s("identifier", nullable=True),
        "cudnn": s("identifier", nullable=True),
        "rocm": s("identifier", nullable=True),
        "source": fact_source,
        "runtime": FACT,
    }, required=["name", "version"])
    return obj({
        "vendor": {"enum": ["nvidia", "amd", "apple", None]},
        "driver": obj({"version": s("identifier", nullable=True),
                       "cuda_version": s("identifier", nullable=True),
                       "source": fact_source}, nullable=True, required=["version"]),
        "devices": arr(device, 256),
        "toolkits": arr(toolkit, 50),
        "cudnn": arr(cudnn, 50),
        "cuda_wheels": arr(wheel, 200),
        "frameworks": arr(framework, 50),
        "rocm": obj({"version": s("identifier", nullable=True), "path": s("path", nullable=True)},
                    nullable=True, required=[]),
        "mps": NBOOL,
        "verdict": arr(s(), 50),
    }, nullable=True, required=["vendor", "driver", "devices", "toolkits", "cudnn", "verdict"])


def _scheduler() -> dict:
    """The batch scheduler task the manifest was taken in (probes/scheduler.py); null outside one.

    Optional, so manifests written before it existed stay valid.
    """
    name = s("identifier", nullable=True, max_length=200)
    return obj({
        "kind": {"enum": ["slurm", "kubernetes", "pbs", "lsf"]},
        "job_id": name,
        "node": name,
        "partition": name,
        "rank": NINT,
        "node_index": NINT,
        "nodes": NINT,
        "cluster": name,
        "namespace": name,
        "pod": name,
    }, nullable=True, required=["kind"])


def _data() -> dict:
    """Data sets fingerprinted by ``freeze --data`` (datasets.py; root hash defined in probes/data.py)."""
    file_record = obj({"path": s("data-path"), "size": INT, "hash": s("hex-digest"), "link": s(),
                       "error": s()}, required=["path"])
    data_set = obj({
        "name": s("identifier"),
        "path": s("path"),
        "kind": {"enum": ["folder", "file"]},
        "role": {"enum": ["raw", "derived"]},
        "algorithm": {"enum": ["blake3", "sha256"]},
        "root_hash": s("hex-digest"),
        "file_count": INT,
        "total_bytes": INT,
        "unreadable": INT,
        "excludes": arr(s(), 100),
        "read_only": BOOL,
        "files": {**arr(file_record, 10_000), "type": ["array", "null"]},
        "sidecar": obj({"file": s("path"), "sha256": s("sha256")}, nullable=True),
        # `protect`: each mode before it took the write bits (the usual ones and the exceptions), for --undo
        "protected": obj({"at_ns": INT, "root": MODE, "files": MODE, "folders": MODE,
                          "exceptions": arr(obj({"path": s("data-path"), "mode": MODE}), 10_000),
                          "file_count": INT, "folder_count": INT}, nullable=True),
    }, required=["algorithm", "excludes", "file_count", "files", "kind", "name", "path", "read_only", "role",
                 "root_hash", "sidecar", "total_bytes", "unreadable"])
    dvc_file = obj({"path": s("path"), "sha256": s("sha256")})
    dvc = obj({
        "lock": {**dvc_file, "type": ["object", "null"]},
        "files": arr(dvc_file, 10_000),
        "outputs": arr(obj({"path": s("path"), "md5": s("dvc-hash", nullable=True), "size": NINT, "nfiles": NINT,
                            "source": s("path"), "stage": s(nullable=True)}), 100_000),
    }, nullable=True)
    return obj({"sets": arr(data_set, 1000), "dvc": dvc}, nullable=True, required=["sets"])


def _host() -> dict:
    return obj({"hostname": s("text", nullable=True), "user": s("text", nullable=True),
                "machine_id": s("text", nullable=True)}, nullable=True, required=[])


# ---------------------------------------------------------------------------------------- run (envcapture run)
# Written by `envcapture run` (envcapture/run/record.py) beside the environment of the Python that ran the
# command; optional, so manifests without it stay valid. Kept as one block: other sections are edited elsewhere.

def _seed_record() -> dict:
    """What ``envcapture.seed_everything`` did (envcapture/seed.py), by the program's call or run's hook."""
    seeded = obj({"name": s("identifier"), "version": s("identifier", nullable=True, max_length=200),
                  "call": s(max_length=400), "when": {"enum": ["at call", "on import"]}})
    not_set = obj({"name": s("identifier", max_length=200), "reason": s(max_length=1000),
                   "value_to_set": s(nullable=True, max_length=200)})
    return obj({
        "seed": INT,
        "deterministic": BOOL,
        "warn_only": BOOL,
        "mode": {"enum": ["call", "hook"]},
        "seeded": arr(seeded, 50),
        "switches": {"type": "object", "additionalProperties": {"type": ["boolean", "string"], "format": "text",
                                                                 "maxLength": 200},
                     "propertyNames": {"format": "identifier", "maxLength": 200}, "maxProperties": 100},
        "environment": {"type": "object", "additionalProperties": s(max_length=200),
                        "propertyNames": {"format": "env-name"}, "maxProperties": 100},
        "not_set": arr(not_set, 100),
        "waiting": arr(s("identifier"), 50),
    })


def _run() -> dict:
    data_sets = _data()["properties"]["sets"]
    return obj({
        "argv": arr(s(), 10_000),
        "working_folder": s("path"),
        "started": s("iso-datetime"),
        "ended": s("iso-datetime"),
        "duration_seconds": {"type": "number", "minimum": 0},
        "status": {"enum": ["succeeded", "failed", "killed", "not started"]},
        "exit_code": {"type": ["integer", "null"]},
        "signal": s("identifier", nullable=True, max_length=40),
        "seed": NINT,
        "seed_records": arr(_seed_record(), 100),
        "outputs": data_sets,  # fingerprinted after the run; the --data inputs are the manifest's data section
        "used": obj({
            "recorded": BOOL,
            "python_packages": {**arr(s("dist-name"), 20_000), "type": ["array", "null"]},
            "shared_libraries": arr(s(), 1000),
            "files_read": arr(s(), 100_000),  # relative to the project, else ~/... or absolute
            "files_written": arr(s(), 100_000),
            "files_not_listed": INT,
            "problems": arr(s(), 100),
            # the shared objects mapped into the process at exit (/proc/self/maps) and the system packages that
            # own them (null: not recorded); optional, absent from older run records
            "shared_objects": arr(obj({"path": s("path"), "package": s("package-token", nullable=True)}), 5000),
            "system_packages": {**arr(s("package-token"), 5000), "type": ["array", "null"]},
        }, required=["recorded", "python_packages", "shared_libraries", "files_read", "files_written",
                     "files_not_listed", "problems"]),
        "warnings": arr(s(), 1000),
    }, nullable=True)


def build_schema() -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "envcapture manifest",
        "$defs": _fact_defs(),
        "description": "One environment captured by `envcapture freeze`. Every string has a format naming "
                       "an envcapture grammar rule; validators that do not know the rule treat it as a note.",
        **obj({
            "schema_version": {"const": 1},
            "envcapture": obj({"version": s("pep440-version"), "command": arr(s(), 200)}),
            "created": s("iso-datetime"),
            "python": _python(),
            "python_packages": arr(_python_package()),
            "conda": _conda(),
            "os": _os(),
            "system_packages": _system_packages(),
            "shared_libraries": _shared_libraries(),
            "hardware": _hardware(),
            "filesystem": _filesystem(),
            "code": _code(),
            "determinism": _determinism(),
            "gpu": _gpu(),
            "scheduler": _scheduler(),
            "host": _host(),
            "data": _data(),
            "run": _run(),
            "warnings": arr(_warning(), 10_000),
        }, required=["schema_version", "envcapture", "created", "python", "python_packages", "conda", "os",
                     "system_packages", "hardware", "filesystem", "code", "determinism", "gpu", "warnings"]),
    }
