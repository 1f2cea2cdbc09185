"""Manifests in, one neutral report model out: what a paper's "Computational environment" section says.

The views (templates/report.*.j2 through views.py) only escape and lay out what this module decides, so the three
formats always say the same thing. Nothing here escapes: every value is plain text until a view writes it.

A report is read by reviewers: it states facts and gives no advice (advice belongs to `show` and `check`). It
says what the reproducibility checklists ask for (versions of the libraries the results depend on, compute,
seeds and runs, data, licenses) and leaves out what only meant something on the capturing machine (scratch
paths, file names of manifests, Python's True/False).
"""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from envcapture.manifest.grammar import canonical_name, parse_iso_datetime
from envcapture.show.summary import human_size

# The numerical and ML frameworks whose versions results depend on: listed in the main table whenever present,
# requested or not (PyTorch's collect_env lists "relevant libraries" the same way).
FRAMEWORKS = frozenset(canonical_name(n) for n in (
    "numpy", "scipy", "scikit-learn", "pandas", "polars", "matplotlib", "statsmodels", "numba", "cupy",
    "torch", "torchvision", "torchaudio", "lightning", "pytorch-lightning", "tensorflow", "tensorflow-cpu",
    "tensorflow-gpu", "keras", "jax", "jaxlib", "flax", "optax", "xgboost", "lightgbm", "catboost", "transformers",
    "datasets", "tokenizers", "accelerate", "diffusers", "peft", "sentence-transformers", "onnx", "onnxruntime",
    "onnxruntime-gpu", "scikit-image", "opencv-python", "opencv-python-headless", "triton", "deepspeed", "mxnet",
    "paddlepaddle", "dask", "pyspark", "spacy", "nltk", "gensim",
))
# Installers and build tools: in every environment, not something results depend on.
INSTALLERS = frozenset({"pip", "setuptools", "wheel", "uv", "distribute", "pip-tools"})

IMPLEMENTATIONS = {"cpython": "CPython", "pypy": "PyPy", "graalpy": "GraalPy", "ironpython": "IronPython"}

# Indexes whose URL says what they serve (the local-label builds of PyTorch, JAX and friends).
KNOWN_INDEXES = {
    "https://download.pytorch.org/whl/cpu": "PyTorch CPU index",
    "https://pypi.org/simple": "PyPI",
    "https://pypi.nvidia.com": "NVIDIA index",
}


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    source: str
    license: str = ""


@dataclass(frozen=True)
class DataSet:
    name: str
    files: str
    size: str
    hash: str  # algorithm:root hash
    state: str  # "read-only (protected)" or "not protected"


@dataclass
class Report:
    title: str
    captures: list[str]  # one line per manifest: when it was captured
    environment: list[tuple[str, str]]
    software: list[Package]
    software_note: str
    determinism: list[tuple[str, str]]
    determinism_note: str
    run: list[tuple[str, str]]
    data: list[DataSet]
    rebuild: str  # one command
    rebuild_note: str
    packages: list[Package]
    sources_chart: list[tuple[str, int]]
    # Only with several manifests: (fact, value per manifest) for each fact that is not the same everywhere.
    labels: list[str] = field(default_factory=list)
    differences: list[tuple[str, list[str]]] = field(default_factory=list)


# --- environment ------------------------------------------------------------------------------------------------

def python_text(py: dict) -> str:
    implementation = IMPLEMENTATIONS.get(str(py.get("implementation")).lower(), str(py.get("implementation")))
    return f"{implementation} {py['version']}"


def os_text(os_: dict) -> str:
    name = os_.get("pretty_name") or os_.get("system") or "unknown"
    text = f"{name}, {os_.get('machine') or '?'}"
    if os_.get("kernel"):
        text += f", {os_.get('system') or 'kernel'} {os_['kernel']}"
    return text


def cpu_text(hw: dict) -> str:
    cores = hw.get("physical_cores")
    threads = hw.get("logical_cores")
    count = f"{cores} cores" if cores else "cores unknown"
    if threads and threads != cores:
        count += f" ({threads} threads)"
    return f"{hw.get('cpu_model') or 'unknown'}, {count}"


def gpu_text(gpu: dict | None) -> str:
    gpu = gpu or {}
    devices = gpu.get("devices") or []
    if not devices:
        return "none recorded (no GPU driver found)" if not (gpu.get("driver") or {}).get("version") \
            else "none recorded"
    names = Counter(f"{d.get('name') or 'GPU'}"
                    + (f" ({human_size(d['memory_total_mib'] * 1024 * 1024)})" if d.get("memory_total_mib") else "")
                    for d in devices)
    text = ", ".join(f"{count} x {name}" for name, count in sorted(names.items()))
    driver = gpu.get("driver") or {}
    if driver.get("version"):
        text += f"; {gpu.get('vendor') or 'NVIDIA'} driver {driver['version']}".replace("nvidia", "NVIDIA")
        if driver.get("cuda_version"):
            text += f" (CUDA {driver['cuda_version']})"
    return text


def accelerator_stack(gpu: dict | None) -> str | None:
    """What the frameworks were built against: torch 2.11.0 for CUDA 13.0 with cuDNN 9.19."""
    parts = []
    for framework in (gpu or {}).get("frameworks") or []:
        if framework.get("cuda") or framework.get("rocm"):
            built = f"CUDA {framework['cuda']}" if framework.get("cuda") else f"ROCm {framework['rocm']}"
            if framework.get("cudnn"):
                built += f", cuDNN {framework['cudnn']}"
            parts.append(f"{framework['name']} {framework['version']}: {built}")
    return "; ".join(parts) or None


def blas_text(determinism: dict) -> str:
    """The BLAS/LAPACK libraries numerical code used, from freeze --deep (numpy's build and threadpoolctl)."""
    deep = determinism.get("deep") or {}
    numpy = deep.get("numpy") if isinstance(deep.get("numpy"), dict) else {}
    if not numpy:
        return "not recorded"
    parts = []
    for kind in ("blas", "lapack"):
        lib = numpy.get(kind) if isinstance(numpy.get(kind), dict) else {}
        if lib.get("name"):
            parts.append(f"{kind.upper()}: {lib['name']} {lib.get('version') or ''}".strip())
    pools = [p for p in numpy.get("threadpools") or [] if isinstance(p, dict) and p.get("user_api") == "blas"]
    for pool in pools[:2]:
        detail = ", ".join(str(pool[k]) for k in ("internal_api", "threading_layer", "architecture") if pool.get(k))
        if pool.get("num_threads"):
            detail += f", {pool['num_threads']} threads"
        parts.append(f"loaded: {detail}")
    if parts and parts[0].startswith("BLAS") and len(parts) > 1 and parts[1].startswith("LAPACK") \
            and parts[0][6:] == parts[1][8:]:
        parts[:2] = [f"BLAS and LAPACK: {parts[0][6:]}"]
    return "; ".join(parts) or "not recorded"


def code_text(code: dict | None) -> str:
    if not code or not code.get("commit"):
        return "not a git checkout"
    text = f"git commit {code['commit'][:12]}"
    if code.get("branch"):
        text += f" (branch {code['branch']})"
    if code.get("dirty"):
        text += ", with uncommitted changes"
    if code.get("remote"):
        text += f", {code['remote']}"
    return text


def captured_text(m: dict) -> str:
    when = parse_iso_datetime(m["created"])
    shown = when.strftime("%Y-%m-%d %H:%M UTC") if when else m["created"]
    return f"{shown}, envcapture {m['envcapture']['version']}"


def environment_rows(m: dict) -> list[tuple[str, str]]:
    py, os_, hw = m["python"], m["os"], m["hardware"]
    libc = os_.get("libc") or {}
    rows = [
        ("Python", python_text(py)),
        ("Operating system", os_text(os_)),
    ]
    if libc.get("name"):
        rows.append(("C library", f"{libc['name']} {libc.get('version') or ''}".strip()))
    if os_.get("container"):
        rows.append(("Container", str(os_["container"])))
    rows += [
        ("CPU", cpu_text(hw)),
        ("Memory", human_size(hw.get("memory_total"))),
        ("GPU", gpu_text(m.get("gpu"))),
    ]
    stack = accelerator_stack(m.get("gpu"))
    if stack:
        rows.append(("GPU software", stack))
    rows.append(("BLAS/LAPACK", blas_text(m.get("determinism") or {})))
    scheduler = m.get("scheduler") or {}
    if scheduler.get("kind"):
        rows.append(("Scheduler", str(scheduler["kind"]).capitalize() if scheduler["kind"] != "pbs" else "PBS"))
    conda = m.get("conda")
    if conda:
        rows.append(("Conda", f"{len(conda['packages'])} packages from {', '.join(conda['channels']) or 'unknown'}"))
    system = m.get("system_packages") or {}
    if system.get("manager"):
        rows.append(("System packages", f"{len(system['packages'])} {system['manager']} packages"))
    rows.append(("Python packages", f"{len(m['python_packages'])} installed"))
    rows.append(("Code", code_text(m.get("code"))))
    return rows


# --- software ---------------------------------------------------------------------------------------------------

def index_name(url: str) -> str:
    url = url.rstrip("/")
    if url in KNOWN_INDEXES:
        return f"{KNOWN_INDEXES[url]} ({url})"
    if url.startswith("https://download.pytorch.org/whl/"):
        return f"PyTorch {url.rsplit('/', 1)[1]} index ({url})"
    return f"index {url}"


def default_index(m: dict) -> str:
    indexes = (m.get("python") or {}).get("package_indexes") or {}
    main = indexes.get("index_url")
    if (not main or main.rstrip("/") == "https://pypi.org/simple") and not indexes.get("extra_index_urls"):
        return "PyPI"
    return "package index" if not main else index_name(main)


def package_source(p: dict, m: dict, project: str | None = None) -> str:
    """Where a package came from, in words a reader can use: never a path on the capturing machine."""
    source = p.get("source") or {}
    kind = source.get("kind", "index")
    if p.get("index_url"):
        return index_name(p["index_url"])
    if kind == "index":
        return default_index(m)
    if kind == "vcs":
        url = (source.get("url") or "").split("#", 1)[0]
        commit = (source.get("commit") or "")[:12]
        return f"{source.get('vcs') or 'git'} {url}" + (f" at {commit}" if commit else "")
    if kind == "archive":
        url = source.get("url") or ""
        return f"archive {url}" if url.startswith(("https://", "http://")) else "wheel file"
    if canonical_name(p["name"]) == project:
        return "this project (local source)"
    return "local folder"


def project_name(m: dict) -> str | None:
    local = [p for p in m["python_packages"] if (p.get("source") or {}).get("kind") in ("editable", "directory")]
    local.sort(key=lambda p: (p["source"]["kind"] != "editable", not p.get("top_level"), p["name"].lower()))
    return canonical_name(local[0]["name"]) if local else None


def as_package(p: dict, m: dict, project: str | None) -> Package:
    return Package(p["name"], p["version"], package_source(p, m, project), p.get("license") or "")


def software(m: dict) -> list[Package]:
    """The packages results depend on: what the user asked for and the known frameworks, never the installers."""
    project = project_name(m)
    chosen = [p for p in m["python_packages"]
              if canonical_name(p["name"]) not in INSTALLERS
              and (p.get("requested") or p.get("top_level") or canonical_name(p["name"]) in FRAMEWORKS)]
    chosen.sort(key=lambda p: (canonical_name(p["name"]) != project, p["name"].lower()))
    return [as_package(p, m, project) for p in chosen]


def package_list(m: dict) -> list[Package]:
    project = project_name(m)
    return sorted((as_package(p, m, project) for p in m["python_packages"]), key=lambda p: p.name.lower())


# --- determinism and runs ---------------------------------------------------------------------------------------

def determinism_rows(m: dict) -> list[tuple[str, str]]:
    """Only what the capture saw: the environment variables that change results (set or not)."""
    det = m["determinism"]
    return [(name, "not set" if value is None else str(value)) for name, value in sorted(det["environment"].items())]


def _switch_value(value) -> str:
    return {True: "on", False: "off"}.get(value, str(value)) if isinstance(value, bool) else str(value)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _program_by_name(argv: list[str]) -> list[str]:
    """``/home/me/venv/bin/python train.py`` -> ``python train.py``: the program's folder is this machine's (one
    under the home folder is recorded as ``~/...``)."""
    return [Path(argv[0]).name or argv[0], *argv[1:]] if argv and argv[0].startswith(("/", "~/")) else list(argv)


def run_rows(manifests: list[dict]) -> list[tuple[str, str]]:
    """From the run records (envcapture run): the command, runs, time, seeds and the switches the run set."""
    runs = [m["run"] for m in manifests if isinstance(m.get("run"), dict)]
    if not runs:
        return []
    rows = []
    commands = sorted({shlex.join(_program_by_name(r["argv"])) for r in runs if r.get("argv")})
    for command in commands[:3]:
        rows.append(("Command", command))
    statuses = Counter(r.get("status") or "unknown" for r in runs)
    rows.append(("Runs", f"{len(runs)} ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))})"))
    durations = [float(r["duration_seconds"]) for r in runs if isinstance(r.get("duration_seconds"), (int, float))]
    if durations:
        per_run = _duration(sum(durations) / len(durations))
        if len(durations) > 1:
            per_run += f" on average ({_duration(min(durations))} to {_duration(max(durations))})"
            rows.append(("Time per run", per_run))
            rows.append(("Time in all", _duration(sum(durations))))
        else:
            rows.append(("Time per run", per_run))
    seeds = sorted({r["seed"] for r in runs if isinstance(r.get("seed"), int)})
    rows.append(("Seeds", ", ".join(map(str, seeds)) if seeds else "none recorded"))
    switches: dict[str, set[str]] = {}
    environment: dict[str, set[str]] = {}
    seeded: set[str] = set()
    for record in (s for r in runs for s in r.get("seed_records") or []):
        for name, value in (record.get("switches") or {}).items():
            switches.setdefault(name, set()).add(_switch_value(value))
        for name, value in (record.get("environment") or {}).items():
            environment.setdefault(name, set()).add(str(value))
        seeded.update(s["name"] + (f" {s['version']}" if s.get("version") else "")
                      for s in record.get("seeded") or [] if s.get("name"))
    if seeded:
        rows.append(("Seeded", ", ".join(sorted(seeded))))
    for name, values in sorted(switches.items()):
        rows.append((f"Switch {name}", " / ".join(sorted(values))))
    for name, values in sorted(environment.items()):
        rows.append((f"Set by the run: {name}", " / ".join(sorted(values))))
    rows += used_rows(manifests, runs)
    rows += output_rows(runs)
    return rows


# At most this many names in one row of used packages; the rest are counted (all are in the run record).
MAX_NAMES_SHOWN = 40


def _names_row(names: list[str], of: int | None = None) -> str:
    shown = ", ".join(names[:MAX_NAMES_SHOWN])
    if len(names) > MAX_NAMES_SHOWN:
        shown += f" and {len(names) - MAX_NAMES_SHOWN} more"
    count = f"{len(names)} of {of} installed" if of is not None else str(len(names))
    return f"{count}: {shown}" if names else f"{count}"


def used_rows(manifests: list[dict], runs: list[dict]) -> list[tuple[str, str]]:
    """The packages the runs imported or mapped (their union), with the versions the environment holds."""
    recorded = [r["used"] for r in runs if isinstance(r.get("used"), dict) and r["used"].get("recorded")]
    if not recorded:
        return [("Packages used", "not recorded (the command was not a Python program envcapture could watch)")]
    rows = []
    python_used = [u["python_packages"] for u in recorded if isinstance(u.get("python_packages"), list)]
    if python_used:
        versions = {canonical_name(p["name"]): p["version"] for p in manifests[0]["python_packages"]}
        names = sorted({canonical_name(n) for used in python_used for n in used})
        rows.append(("Python packages used", _names_row(
            [f"{n} {versions[n]}" if n in versions else n for n in names], len(versions))))
    system_used = [u["system_packages"] for u in recorded if isinstance(u.get("system_packages"), list)]
    if system_used:
        installed = (manifests[0].get("system_packages") or {}).get("packages") or []
        versions = {p["name"]: p.get("version") for p in installed}
        names = sorted({n for used in system_used for n in used})
        rows.append(("System packages used", _names_row(
            [f"{n} {versions[n]}" if versions.get(n) else n for n in names], len(versions) or None)))
    return rows


def output_rows(runs: list[dict]) -> list[tuple[str, str]]:
    """The --output paths as the last run left them: files, size and fingerprint."""
    rows = []
    outputs = {o["name"]: o for r in runs for o in r.get("outputs") or [] if isinstance(o, dict) and o.get("name")}
    for name, o in sorted(outputs.items()):
        count = o.get("file_count")
        files = f"{count} file{'' if count == 1 else 's'}, " if isinstance(count, int) else ""
        size = human_size(o["total_bytes"]) if isinstance(o.get("total_bytes"), int) else "size not recorded"
        digest = f", {o['algorithm']}:{o['root_hash']}" if o.get("algorithm") and o.get("root_hash") else ""
        rows.append((f"Output {name}", f"{files}{size}{digest}"))
    return rows


# --- data -------------------------------------------------------------------------------------------------------

def data_sets(m: dict) -> list[DataSet]:
    return [DataSet(name=d["name"], files=f"{d['file_count']} file{'' if d['file_count'] == 1 else 's'}", size=human_size(d["total_bytes"]),
                    hash=f"{d['algorithm']}:{d['root_hash']}",
                    state="read-only (protected)" if d.get("role") == "raw" and d.get("read_only") else
                    "raw" if d.get("role") == "raw" else "not protected")
            for d in (m.get("data") or {}).get("sets") or []]


def sources_chart(m: dict) -> list[tuple[str, int]]:
    counts = Counter(p["source"].get("kind", "index") for p in m["python_packages"])
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


# --- several manifests ------------------------------------------------------------------------------------------

def comparable_facts(m: dict) -> dict[str, str]:
    facts = dict(environment_rows(m))
    project = project_name(m)
    for p in m["python_packages"]:
        facts[f"package {p['name']}"] = p["version"]
        facts[f"source of {p['name']}"] = package_source(p, m, project)
    for name, value in determinism_rows(m):
        facts[f"variable {name}"] = value
    for d in data_sets(m):
        facts[f"data set {d.name}"] = f"{d.hash} ({d.files}, {d.size})"
    return facts


def differences(manifests: list[dict]) -> list[tuple[str, list[str]]]:
    """Facts whose value is not the same in every manifest: environment, data sets, variables, packages."""
    rows: dict[str, list[str]] = {}
    for index, m in enumerate(manifests):
        for key, value in comparable_facts(m).items():
            rows.setdefault(key, ["absent"] * len(manifests))[index] = value
    order = ("data set ", "variable ", "package ", "source of ")

    def rank(key: str) -> tuple:
        return (next((i + 1 for i, prefix in enumerate(order) if key.startswith(prefix)), 0), key.lower())

    return [(key, rows[key]) for key in sorted(rows, key=rank) if len(set(rows[key])) > 1]


def build_report(manifests: list[dict], names: list[str]) -> Report:
    first = manifests[0]
    labels = [chr(ord("A") + i) if i < 26 else str(i + 1) for i in range(len(manifests))]
    if len(manifests) == 1:
        captures = [f"Captured {captured_text(first)}."]
    else:
        captures = [f"{label}: captured {captured_text(m)}." for label, m in zip(labels, manifests)]
    shown = software(first)
    manifest_name = Path(names[0]).name
    report = Report(
        title="Computational environment",
        captures=captures,
        environment=environment_rows(first),
        software=shown,
        software_note=(f"The packages requested and the numerical and machine-learning frameworks present: "
                       f"{len(shown)} of {len(first['python_packages'])}; all are listed in the appendix."),
        determinism=determinism_rows(first),
        determinism_note="Environment variables that change numerical results, as they were at capture."
        if isinstance(first.get("run"), dict) else
        "Environment variables that change numerical results, as they were at capture; no run was recorded, so "
        "the seeds and switches of the runs are not known from this record.",
        run=run_rows(manifests),
        data=data_sets(first),
        rebuild=f"envcapture build docker -m {shlex.quote(manifest_name)}",
        rebuild_note="The manifest, this report and the Docker reproduction kit (folder reproduce/) are in the "
                     "RO-Crate made by envcapture export --format ro-crate.",
        packages=package_list(first),
        sources_chart=sources_chart(first),
    )
    if len(manifests) > 1:
        report.labels = labels
        report.differences = differences(manifests)
    return report
