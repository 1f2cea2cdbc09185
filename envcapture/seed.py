"""``seed_everything``: seed every random number generator a run uses, turn on the deterministic switches, and
say what was done in a record that can be saved into a manifest.

Stdlib-only and Python 3.8+: it runs inside the user's interpreter (their script, or the ``envcapture run``
hook), so importing it must stay cheap (no framework, no envcapture dependency).

Which frameworks: a framework the program has already imported is seeded at once; one it has not imported
is *not* imported here (importing torch or TensorFlow costs seconds and allocates devices). Instead a small
finder on ``sys.meta_path`` seeds it the moment the program first imports it, and the record is updated in
place (``seeded`` gains the entry, ``waiting`` loses the name). A framework never imported is never touched
and stays under ``waiting``.

What cannot be fixed from inside a running interpreter is never pretended: ``PYTHONHASHSEED`` is read once at
start-up (setting it later has no effect), and cuBLAS reads ``CUBLAS_WORKSPACE_CONFIG`` when CUDA initialises.
Both are listed under ``not_set`` with the value to set (``envcapture run --seed N`` sets them for the child);
``CUBLAS_WORKSPACE_CONFIG`` is set here only while CUDA is not yet initialised in this process.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["seed_everything", "seed_worker", "dataloader_generator", "SeedRecord"]

# Framework top-level modules, in the order they are seeded.
FRAMEWORKS = ("random", "numpy", "torch", "tensorflow", "jax", "cupy")
MAX_SEED = 2 ** 32 - 1  # NumPy's legacy generator and PYTHONHASHSEED both stop here
CUBLAS_VALUE = ":4096:8"
# The in-process hook of ``envcapture run`` registers itself under this name; a record made by the program's
# own call to seed_everything is handed to it so the run record shows it.
RUN_HOOK_MODULE = "_envcapture_hook"


class SeedRecord(dict):
    """The record (a plain dict, JSON-ready) plus what a program needs back: ``jax_key`` (JAX's PRNGKey for
    this seed, or None where JAX is not imported), ``worker_init_fn`` and ``generator()`` for DataLoaders."""

    jax_key = None

    @staticmethod
    def worker_init_fn(worker_id):
        seed_worker(worker_id)

    def generator(self):
        return dataloader_generator(self["seed"])


def _version(module) -> str | None:
    version = getattr(module, "__version__", None)
    if module.__name__ == "random":
        version = "%d.%d.%d" % sys.version_info[:3]
    return version if isinstance(version, str) else None


def _attempt(record: dict, name: str, action, *args, **kwargs) -> bool:
    """One switch or seed call; a failure is recorded, never raised (the program keeps running)."""
    try:
        action(*args, **kwargs)
        return True
    except Exception as exc:  # a framework's own refusal (old version, no device) is a fact for the record
        record["not_set"].append({"name": name, "reason": "%s: %s" % (type(exc).__name__, str(exc)[:300]),
                                  "value_to_set": None})
        return False


def _seed_random(module, record, seed, deterministic, warn_only):
    module.seed(seed)
    return "random.seed(%d)" % seed


def _seed_numpy(module, record, seed, deterministic, warn_only):
    module.random.seed(seed)
    return "numpy.random.seed(%d)" % seed


def _seed_torch(module, record, seed, deterministic, warn_only):
    module.manual_seed(seed)  # CPU, and every CUDA device (lazily, when CUDA initialises)
    calls = "torch.manual_seed(%d)" % seed
    cuda = getattr(module, "cuda", None)
    if cuda is not None and _attempt(record, "torch.cuda.manual_seed_all", cuda.manual_seed_all, seed):
        calls += ", torch.cuda.manual_seed_all(%d)" % seed
    if deterministic:
        switches = record["switches"]
        if _attempt(record, "torch.use_deterministic_algorithms", module.use_deterministic_algorithms, True,
                    warn_only=warn_only):
            switches["torch.use_deterministic_algorithms"] = "warn_only" if warn_only else True
        backends = getattr(module, "backends", None)
        cudnn = getattr(backends, "cudnn", None)
        if cudnn is not None:
            cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32 = True, False, False
            switches.update({"torch.backends.cudnn.deterministic": True, "torch.backends.cudnn.benchmark": False,
                             "torch.backends.cudnn.allow_tf32": False})
        matmul = getattr(getattr(backends, "cuda", None), "matmul", None)
        if matmul is not None:
            matmul.allow_tf32 = False  # TF32 matmuls round to 10 mantissa bits: results differ across GPUs
            switches["torch.backends.cuda.matmul.allow_tf32"] = False
        _cublas(module, record)
    return calls


def _cublas(torch, record) -> None:
    if os.environ.get("CUBLAS_WORKSPACE_CONFIG") in (":4096:8", ":16:8"):
        record["environment"]["CUBLAS_WORKSPACE_CONFIG"] = os.environ["CUBLAS_WORKSPACE_CONFIG"]
        return
    try:
        initialised = bool(torch.cuda.is_initialized())
    except Exception:
        initialised = False
    if initialised:
        record["not_set"].append({"name": "CUBLAS_WORKSPACE_CONFIG", "value_to_set": CUBLAS_VALUE,
                                  "reason": "CUDA was already initialised: cuBLAS reads it only then; set "
                                            "CUBLAS_WORKSPACE_CONFIG=%s before starting Python" % CUBLAS_VALUE})
        return
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_VALUE  # read by cuBLAS when CUDA initialises, still ahead
    record["environment"]["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_VALUE


def _seed_tensorflow(module, record, seed, deterministic, warn_only):
    random = getattr(module, "random", None)
    if random is not None and hasattr(random, "set_seed"):
        random.set_seed(seed)
        calls = "tf.random.set_seed(%d)" % seed
    else:  # TensorFlow 1.x
        module.set_random_seed(seed)
        calls = "tf.set_random_seed(%d)" % seed
    if deterministic:
        experimental = getattr(getattr(module, "config", None), "experimental", None)
        enable = getattr(experimental, "enable_op_determinism", None)
        if enable is not None:
            if _attempt(record, "tf.config.experimental.enable_op_determinism", enable):
                record["switches"]["tf.config.experimental.enable_op_determinism"] = True
        else:  # before TensorFlow 2.8 the variable was the switch, read when the ops are built
            os.environ["TF_DETERMINISTIC_OPS"] = "1"
            record["environment"]["TF_DETERMINISTIC_OPS"] = "1"
    return calls


def _seed_jax(module, record, seed, deterministic, warn_only):
    # JAX has no global generator: the key is what the program must pass on. Made only on a direct call (on
    # import it would initialise a backend the program may never use).
    if record.get("mode") == "call":
        record.jax_key = module.random.PRNGKey(seed)
        return "jax.random.PRNGKey(%d) returned as record.jax_key" % seed
    record["not_set"].append({"name": "jax", "value_to_set": None,
                              "reason": "JAX has no global generator: the program's own PRNGKey decides"})
    return None


def _seed_cupy(module, record, seed, deterministic, warn_only):
    module.random.seed(seed)
    return "cupy.random.seed(%d)" % seed


SEEDERS = {"random": _seed_random, "numpy": _seed_numpy, "torch": _seed_torch, "tensorflow": _seed_tensorflow,
           "jax": _seed_jax, "cupy": _seed_cupy}


def _seed_one(record: SeedRecord, name: str, module, when: str) -> None:
    try:
        call = SEEDERS[name](module, record, record["seed"], record["deterministic"], record["warn_only"])
    except Exception as exc:  # never break the program: the failure goes into the record
        record["not_set"].append({"name": name, "value_to_set": None,
                                  "reason": "%s: %s" % (type(exc).__name__, str(exc)[:300])})
        call = None
    if name in record["waiting"]:
        record["waiting"].remove(name)
    if call is not None:
        record["seeded"].append({"name": name, "version": _version(module), "call": call, "when": when})


def _startup_environment(name: str) -> str | None:
    """A variable as it was when this process started (Linux: /proc/self/environ). ``os.environ[...] = ...``
    in the program does not change it, so the common mistake of setting PYTHONHASHSEED from inside is seen
    as what it is: no effect."""
    try:
        with open("/proc/self/environ", "rb") as handle:
            block = handle.read()  # whole: the kernel bounds it (ARG_MAX, 2 MiB here); a cut could hide the variable
    except OSError:
        return os.environ.get(name)
    prefix = name.encode() + b"="
    for entry in block.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix):].decode("utf-8", "replace")
    return None


def _hash_seed(record: SeedRecord, seed: int) -> None:
    value = _startup_environment("PYTHONHASHSEED")
    if value is not None and value.isdigit():  # fixed at start-up, to this value (0: no randomization)
        record["environment"]["PYTHONHASHSEED"] = value
        return
    record["not_set"].append({"name": "PYTHONHASHSEED", "value_to_set": str(seed),
                              "reason": "read once when Python starts (setting it now has no effect): start "
                                        "Python with PYTHONHASHSEED=%d, or use envcapture run --seed %d"
                                        % (seed, seed)})


class _SeedOnImport:
    """A meta path finder that finds nothing itself: it lets the real finder find a framework, then wraps that
    module's loader once so the framework is seeded right after its own code has run."""

    def __init__(self):
        self.records: list = []  # SeedRecords still waiting for a framework

    def find_spec(self, name, path=None, target=None):
        if "." in name or not any(name in r["waiting"] for r in self.records):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None or "exec_module" in getattr(loader, "__dict__", {}):
            return spec
        hook = self

        def seeding_exec_module(module):
            try:
                exec_module(module)
            finally:
                try:
                    del loader.exec_module  # one wrap only: the loader is as it was
                except AttributeError:
                    pass
            hook.imported(name, module)

        try:
            loader.exec_module = seeding_exec_module
        except (AttributeError, TypeError):  # a loader that takes no attributes: seed it at the next call
            return spec
        return spec

    def imported(self, name, module):
        for record in list(self.records):
            if name in record["waiting"]:
                _seed_one(record, name, module, "on import")
            if not record["waiting"]:
                self.records.remove(record)
        if not self.records and self in sys.meta_path:
            sys.meta_path.remove(self)


_FINDER = _SeedOnImport()


def seed_everything(seed: int, deterministic: bool = True, warn_only: bool = False,
                    _mode: str = "call") -> SeedRecord:
    """Seed Python's ``random``, NumPy's global generator, PyTorch (CPU and every CUDA device), TensorFlow,
    CuPy and JAX (the key comes back as ``record.jax_key``); with ``deterministic`` also turn on each
    framework's deterministic switches (``warn_only``: PyTorch warns instead of raising on an operation that
    has no deterministic implementation). Frameworks not imported yet are seeded when first imported.

    Returns the record: ``seed``, ``seeded`` (name, version, call, when), ``switches`` as set, ``environment``
    (the variables that matter, as they are), ``not_set`` (name, reason, value to set) and ``waiting``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError("seed must be an integer from 0 to %d (NumPy's limit), not %r" % (MAX_SEED, seed))
    record = SeedRecord(seed=seed, deterministic=bool(deterministic), warn_only=bool(warn_only), mode=_mode,
                        seeded=[], switches={}, environment={}, not_set=[], waiting=[])
    _hash_seed(record, seed)
    for name in FRAMEWORKS:
        module = sys.modules.get(name)
        if module is not None:
            _seed_one(record, name, module, "at call")
        else:
            record["waiting"].append(name)
    if record["waiting"]:
        _FINDER.records.append(record)
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
    for problem in record["not_set"]:
        if problem["value_to_set"]:
            warnings.warn("seed_everything: %s is not set: %s" % (problem["name"], problem["reason"]),
                          RuntimeWarning, stacklevel=2)
    hook = sys.modules.get(RUN_HOOK_MODULE)
    if hook is not None and _mode == "call":
        try:
            hook.seed_called(record)
        except Exception:  # the run record loses this entry, the program loses nothing
            pass
    return record


def seed_worker(worker_id: int) -> None:
    """``DataLoader(..., worker_init_fn=seed_worker)``: each worker seeds ``random`` and NumPy from the seed
    PyTorch gave it (base seed + worker id), so workers differ from each other and from run to run only
    when the base seed does."""
    import random

    torch = sys.modules.get("torch")
    worker_seed = (torch.initial_seed() if torch is not None else worker_id) % 2 ** 32
    random.seed(worker_seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(worker_seed)


def dataloader_generator(seed: int):
    """``DataLoader(..., generator=dataloader_generator(seed))``: the shuffling order and the workers' base
    seeds come from this generator, not from the global one."""
    import torch

    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
