"""The ``determinism`` section: the environment variables and thread settings that change results, the
``--deep`` runtime facts the target probe gathered, and plain-language warnings about common traps.

Only variables on ``redact.ENV_ALLOW_LIST`` are recorded; PYTHONHASHSEED always appears (null when unset),
because its absence is itself a fact: string hashing, and with it set iteration order, changes every run.
"""

from __future__ import annotations

import os

from envcapture.manifest import grammar
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning
from envcapture.manifest.redact import ENV_ALLOW_LIST

SOURCE = "determinism"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")
MANY_CORES = 8
TENSORFLOW_DISTS = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos", "tensorflow-intel",
                    "tf-nightly", "tf-nightly-cpu", "tf-nightly-gpu"}


def installed_names(ctx: ProbeContext) -> set[str]:
    names = set()
    for dist in ctx.target.get("distributions") or []:
        name = dist.get("name") if isinstance(dist, dict) else dist
        if isinstance(name, str):
            names.add(grammar.canonical_name(name))
    return names


def environment(ctx: ProbeContext, warnings: list[ProbeWarning]) -> dict[str, str | None]:
    recorded: dict[str, str | None] = {"PYTHONHASHSEED": None}
    for name in ENV_ALLOW_LIST:
        value = ctx.env.get(name)
        if value is None:
            continue
        if grammar.is_text(value):
            recorded[name] = value
        else:
            warnings.append(ProbeWarning(SOURCE, f"{name} holds control characters; its value is not recorded"))
    return recorded


def as_count(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def threads(ctx: ProbeContext) -> dict[str, int | None]:
    counts: dict[str, int | None] = {"cpu_count": os.cpu_count()}
    try:
        counts["affinity"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        counts["affinity"] = None  # macOS and Windows have no affinity masks in os
    for name in THREAD_VARIABLES:
        if name in ctx.env:
            counts[name] = as_count(ctx.env[name])
    return counts


def traps(ctx: ProbeContext, env: dict[str, str | None], counts: dict[str, int | None]) -> list[str]:
    names = installed_names(ctx)
    found = []
    if env.get("PYTHONHASHSEED") is None:
        found.append("PYTHONHASHSEED is unset: str and bytes hashes, and so the iteration order of sets, change "
                     "from run to run; set PYTHONHASHSEED=0 (or any fixed number) for repeatable runs")
    if "torch" in names and env.get("CUBLAS_WORKSPACE_CONFIG") is None:
        found.append("PyTorch is installed and CUBLAS_WORKSPACE_CONFIG is unset: cuBLAS results on the GPU can "
                     "differ between runs, and torch.use_deterministic_algorithms(True) raises an error; set "
                     "CUBLAS_WORKSPACE_CONFIG=:4096:8")
    if names & TENSORFLOW_DISTS and env.get("TF_DETERMINISTIC_OPS") is None:
        found.append("TensorFlow is installed and TF_DETERMINISTIC_OPS is unset: some GPU kernels are "
                     "nondeterministic; set TF_DETERMINISTIC_OPS=1 (or call "
                     "tf.config.experimental.enable_op_determinism())")
    usable = counts.get("affinity") or counts.get("cpu_count") or 0
    unset = [name for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS") if name not in ctx.env]
    if usable >= MANY_CORES and len(unset) == 3:
        found.append(f"no thread count is set (OMP_NUM_THREADS, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS) on a "
                     f"machine with {usable} usable CPUs: BLAS libraries pick their own thread counts, which "
                     "changes the order of floating-point sums and so the last digits of results between machines")
    return found


def collect(ctx: ProbeContext) -> ProbeResult:
    warnings: list[ProbeWarning] = []
    env = environment(ctx, warnings)
    counts = threads(ctx)
    section = {"environment": env, "threads": counts, "deep": ctx.target.get("deep"),
               "warnings": traps(ctx, env, counts)}
    return ProbeResult(section, warnings)
