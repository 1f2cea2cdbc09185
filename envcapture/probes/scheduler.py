"""Which batch scheduler task this manifest was taken in: Slurm, Kubernetes, PBS/Torque or LSF.

Read from the environment the scheduler gives its tasks (and, for Kubernetes, the pod's namespace file),
so a manifest says which node and job it came from without ``--include-host``: the node is what a cluster
diff is about. Nothing is run; a value that does not fit its grammar is left out with a warning.
"""

from __future__ import annotations

import socket
from typing import Mapping

from envcapture.manifest import grammar
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning

K8S_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

# kind -> field -> environment variables, first set one wins. Node names: Slurm says it; PBS and LSF run the
# task on the node itself, so the host name is the node; Kubernetes says it only when the pod spec passes
# spec.nodeName in (NODE_NAME / KUBERNETES_NODE_NAME by convention).
VARIABLES = {
    "slurm": {"job_id": ("SLURM_JOB_ID", "SLURM_JOBID"), "node": ("SLURMD_NODENAME",),
              "partition": ("SLURM_JOB_PARTITION",), "rank": ("SLURM_PROCID",),
              "node_index": ("SLURM_NODEID",), "nodes": ("SLURM_JOB_NUM_NODES", "SLURM_NNODES"),
              "cluster": ("SLURM_CLUSTER_NAME",)},
    "pbs": {"job_id": ("PBS_JOBID",), "partition": ("PBS_QUEUE",), "rank": ("PBS_TASKNUM",),
            "node_index": ("PBS_NODENUM",), "cluster": ("PBS_SERVER",)},
    "lsf": {"job_id": ("LSB_JOBID",), "partition": ("LSB_QUEUE",), "rank": ("LSF_PM_TASKID",),
            "cluster": ("LSF_CLUSTER_NAME",)},
    "kubernetes": {"node": ("NODE_NAME", "KUBERNETES_NODE_NAME"), "pod": ("POD_NAME", "HOSTNAME"),
                   "namespace": ("POD_NAMESPACE",), "rank": ("JOB_COMPLETION_INDEX",)},
}
# The variable that says "this process is a task of that scheduler", checked in this order.
MARKERS = (("slurm", "SLURM_JOB_ID"), ("slurm", "SLURM_JOBID"), ("pbs", "PBS_JOBID"), ("lsf", "LSB_JOBID"),
           ("kubernetes", "KUBERNETES_SERVICE_HOST"))
NUMBERS = ("rank", "node_index", "nodes")
FIELDS = ("job_id", "node", "partition", "rank", "node_index", "nodes", "cluster", "namespace", "pod")


def detect(env: Mapping[str, str]) -> str | None:
    for kind, variable in MARKERS:
        if env.get(variable):
            return kind
    return None


def _value(env: Mapping[str, str], names) -> tuple[str | None, str]:
    for name in names:
        if env.get(name):
            return env[name], name
    return None, ""


def _checked(field: str, value: str, source: str, warnings: list) -> str | int | None:
    if field in NUMBERS:
        if value.isascii() and value.isdigit() and len(value) < 10:
            return int(value)
    elif len(value) <= 200 and grammar.check("identifier", value):
        return value
    warnings.append(ProbeWarning("scheduler", f"{source} is not a plain {'number' if field in NUMBERS else 'name'}: "
                                              "left out"))
    return None


def _kubernetes_namespace(ctx: ProbeContext) -> str | None:
    try:
        text = ctx.path(K8S_NAMESPACE_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if grammar.check("identifier", text) and len(text) <= 200 else None


def collect(ctx: ProbeContext) -> ProbeResult:
    kind = detect(ctx.env)
    if kind is None:
        return ProbeResult(None)
    warnings: list[ProbeWarning] = []
    section: dict = {"kind": kind}
    for field in FIELDS:
        raw, source = _value(ctx.env, VARIABLES[kind].get(field, ()))
        section[field] = None if raw is None else _checked(field, raw, source, warnings)
    if section["node"] is None and kind in ("pbs", "lsf"):
        host = socket.gethostname().split(".")[0]
        section["node"] = host if grammar.check("identifier", host) else None
    if kind == "kubernetes" and section["namespace"] is None:
        section["namespace"] = _kubernetes_namespace(ctx)
    return ProbeResult(section, warnings)
