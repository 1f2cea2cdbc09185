"""The target probe: runs INSIDE the interpreter being inspected and prints one JSON document.

Stdlib only, Python 3.8 to 3.14, no import of envcapture: it is run as a plain script with any interpreter
(``python target.py``), piped into ``docker run -i IMAGE python3 -`` by ``check --image``, and imported
in-process when the target is envcapture's own interpreter. It reads dist-info folders directly (faster than
importlib.metadata, and it survives broken ones). With ``--deep`` it imports numpy/torch/tensorflow/jax to
record runtime facts; without it, it never imports them.
"""

import json
import os
import platform
import sys

PROBE_VERSION = 1
HEADERS = ("name", "version", "requires-dist")


def marker_environment():
    """PEP 508 marker values of this interpreter (the same keys as packaging's default_environment)."""
    impl = sys.implementation
    info = impl.version
    version = "{0.major}.{0.minor}.{0.micro}".format(info)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return {
        "implementation_name": impl.name,
        "implementation_version": version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def read_metadata_headers(path):
    """Name, Version, Requires-Dist from a METADATA/PKG-INFO file: headers only, the body is never read."""
    found = {"requires-dist": [], "license-classifiers": []}
    with open(path, "rb") as handle:
        raw = handle.read(8192)
        # The headers end at the first blank line; long descriptions after it are not even read.
        while b"\n\n" not in raw and b"\n\r\n" not in raw and len(raw) < (1 << 20):
            more = handle.read(65536)
            if not more:
                break
            raw += more
    end = raw.find(b"\n\n")
    if end < 0:
        end = raw.find(b"\n\r\n")
    text = (raw if end < 0 else raw[:end]).decode("utf-8")  # non-UTF-8 headers: the caller reports it
    key = None
    for line in text.splitlines():
        if line[:1] in (" ", "\t"):
            if key == "license":  # a License header that goes on is a whole license text, not a name
                found["license-multiline"] = True
            continue
        key, sep, value = line.partition(":")
        if not sep:
            key = None
            continue
        key = key.strip().lower()
        if key == "requires-dist":
            found["requires-dist"].append(value.strip())
        elif key in ("name", "version", "license", "license-expression") and key not in found:
            found[key] = value.strip()
        elif key == "classifier" and value.strip().startswith("License ::"):
            found["license-classifiers"].append(value.strip())
    return found


def license_headers(headers):
    """The license facts as written, for python_env to choose from: SBOMs need them, freeze must not judge here."""
    declared = None if headers.get("license-multiline") else headers.get("license")
    if not (headers.get("license-expression") or declared or headers["license-classifiers"]):
        return None
    return {"expression": headers.get("license-expression"), "license": declared,
            "classifiers": headers["license-classifiers"]}


def read_small(path, limit=1 << 16):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def name_version_from_folder(folder):
    stem = folder.rsplit(".", 1)[0]
    name, _, version = stem.partition("-")
    return name, version.split("-")[0]


def read_distribution(directory, folder):
    """One installed distribution, or a record with an 'error' for a broken one (never an exception)."""
    path = os.path.join(directory, folder)
    record = {"path": path, "folder": folder, "requested": False, "installer": None, "direct_url": None,
              "requires": [], "error": None}
    single_file = folder.endswith(".egg-info") and os.path.isfile(path)
    try:
        # A single-file .egg-info (distutils' install_egg_info, e.g. Debian's crit-3.17.1-py3.11.egg-info) is
        # the PKG-INFO itself, with nothing beside it.
        files = set() if single_file else set(os.listdir(path))
    except OSError as exc:
        fallback_name, fallback_version = name_version_from_folder(folder)
        record.update(name=fallback_name, version=fallback_version,
                      error="cannot list folder: " + (exc.strerror or str(exc)))
        return record
    meta_name = "METADATA" if folder.endswith(".dist-info") else "PKG-INFO"
    try:
        headers = read_metadata_headers(path if single_file else os.path.join(path, meta_name))
        record["name"] = headers.get("name")
        record["version"] = headers.get("version")
        record["requires"] = headers["requires-dist"]
        record["license"] = license_headers(headers)
        if not record["name"] or not record["version"]:
            record["error"] = meta_name + " has no Name or Version"
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or str(exc))
        record["error"] = meta_name + ": " + reason
    if not record.get("name") or not record.get("version"):
        fallback_name, fallback_version = name_version_from_folder(folder)
        record["name"] = record.get("name") or fallback_name
        record["version"] = record.get("version") or fallback_version
    if folder.endswith(".egg-info") and "requires.txt" in files:
        record["requires"] = egg_requires(os.path.join(path, "requires.txt"))
    record["requested"] = "REQUESTED" in files
    if "INSTALLER" in files:
        installer = read_small(os.path.join(path, "INSTALLER"))
        record["installer"] = installer.strip() if installer else None
    if "direct_url.json" in files:
        raw = read_small(os.path.join(path, "direct_url.json"))
        try:
            record["direct_url"] = json.loads(raw) if raw else None
        except ValueError:
            record["error"] = "direct_url.json is not valid JSON"
    return record


def egg_requires(path):
    """requires.txt of an .egg-info: plain lines, [extra] sections become markers."""
    text = read_small(path) or ""
    requires, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section:
            extra, _, marker = section.partition(":")
            conditions = []
            if extra:
                conditions.append('extra == "%s"' % extra)
            if marker:
                conditions.append("(%s)" % marker)
            line = line + "; " + " and ".join(conditions) if conditions else line
        requires.append(line)
    return requires


def normalize(name):
    return name.lower().replace("_", "-").replace(".", "-")


def distributions(paths):
    """Every distribution visible on sys.path; the first one of a name wins, as for importlib.metadata."""
    seen, found = set(), []
    for directory in paths:
        try:
            entries = sorted(os.listdir(directory or "."))
        except OSError:
            continue
        for folder in entries:
            if not (folder.endswith(".dist-info") or folder.endswith(".egg-info")):
                continue
            record = read_distribution(directory, folder)
            key = normalize(record["name"] or folder)
            if key in seen:
                continue
            seen.add(key)
            found.append(record)
    return found


def site_packages():
    import site
    import sysconfig

    paths = []
    for key in ("purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path and path not in paths:
            paths.append(path)
    try:
        for path in site.getsitepackages():
            if path not in paths:
                paths.append(path)
    except AttributeError:  # old virtualenv's site.py
        pass
    return paths


def libc():
    try:
        name, version = platform.libc_ver()
        return {"name": name or None, "version": version or None}
    except (OSError, ValueError):
        return {"name": None, "version": None}


def one_line(value):
    """Deep facts come from library self-descriptions: keep them to one line of text."""
    if isinstance(value, str):
        return " ".join(value.split())[:4000]
    if isinstance(value, dict):
        return {one_line(str(k)): one_line(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [one_line(v) for v in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return one_line(str(value))


def deep_numpy():
    import numpy

    facts = {"version": numpy.__version__}
    try:
        config = numpy.show_config(mode="dicts")
        deps = config.get("Build Dependencies", {})
        for key in ("blas", "lapack"):
            if key in deps:
                facts[key] = {k: deps[key].get(k) for k in ("name", "version", "openblas configuration")
                              if deps[key].get(k) is not None}
        simd = config.get("SIMD Extensions", {})
        if simd:
            facts["simd"] = simd
    except (TypeError, AttributeError):  # numpy < 1.25 has no mode="dicts"
        pass
    try:
        from threadpoolctl import threadpool_info

        facts["threadpools"] = [{k: v for k, v in pool.items() if k in (
            "user_api", "internal_api", "version", "num_threads", "architecture", "threading_layer")}
            for pool in threadpool_info()]
    except ImportError:
        pass
    return facts


def deep_torch():
    import torch

    facts = {"version": torch.__version__, "cuda": getattr(torch.version, "cuda", None),
             "hip": getattr(torch.version, "hip", None), "num_threads": torch.get_num_threads()}
    backends = torch.backends
    facts["cudnn"] = backends.cudnn.version() if backends.cudnn.is_available() else None
    facts["cudnn_deterministic"] = bool(backends.cudnn.deterministic)
    facts["cudnn_benchmark"] = bool(backends.cudnn.benchmark)
    facts["deterministic_algorithms"] = bool(torch.are_deterministic_algorithms_enabled())
    facts["tf32_matmul"] = bool(backends.cuda.matmul.allow_tf32)
    facts["cuda_available"] = bool(torch.cuda.is_available())
    facts["device_count"] = torch.cuda.device_count() if facts["cuda_available"] else 0
    devices = []
    for index in range(facts["device_count"]):
        props = torch.cuda.get_device_properties(index)
        devices.append({"index": index, "name": props.name, "memory_total": props.total_memory,
                        "compute_capability": "%d.%d" % (props.major, props.minor)})
    facts["devices"] = devices
    mps = getattr(backends, "mps", None)
    facts["mps_available"] = bool(mps and mps.is_available())
    return facts


def deep_tensorflow():
    import tensorflow as tf

    facts = {"version": tf.__version__}
    try:
        build = tf.sysconfig.get_build_info()
        facts["cuda"] = build.get("cuda_version")
        facts["cudnn"] = build.get("cudnn_version")
    except AttributeError:
        pass
    facts["gpus"] = len(tf.config.list_physical_devices("GPU"))
    facts["deterministic_ops"] = os.environ.get("TF_DETERMINISTIC_OPS")
    return facts


def deep_jax():
    import jax

    return {"version": jax.__version__, "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()], "x64": bool(jax.config.jax_enable_x64)}


def deep_facts(names):
    """Import the frameworks that are installed and record what they say at run time."""
    facts, errors = {}, {}
    for module, collect in (("numpy", deep_numpy), ("torch", deep_torch), ("tensorflow", deep_tensorflow),
                            ("jax", deep_jax)):
        if module not in names:
            continue
        try:
            facts[module] = one_line(collect())
        except Exception as exc:  # a framework failing to import is a fact, not a crash
            errors[module] = one_line("%s: %s" % (type(exc).__name__, exc))
    if errors:
        facts["errors"] = errors
    return facts


def collect(deep=False):
    # sys.path[0] is the folder of the running script (or of envcapture itself), not the environment.
    paths = [p for p in sys.path[1:] if p]
    dists = distributions(paths)
    facts = {
        "probe_version": PROBE_VERSION,
        "implementation": sys.implementation.name,
        "version": platform.python_version(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "real_prefix": getattr(sys, "real_prefix", None),
        "markers": marker_environment(),
        "site_packages": site_packages(),
        "sys_path": paths,
        "libc": libc(),
        "distributions": dists,
        "deep": None,
    }
    if deep:
        facts["deep"] = deep_facts({normalize(d["name"]) for d in dists})
    return facts


def main(argv):
    facts = collect(deep="--deep" in argv)
    out = json.dumps(facts, ensure_ascii=True)
    sys.stdout.write(out)
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
