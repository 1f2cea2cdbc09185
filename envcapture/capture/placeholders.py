"""Placeholders in `freeze -o`: one manifest per node or per task, named by envcapture itself.

``srun ... envcapture freeze -o node-%n.json`` does not work: srun expands ``%n`` only in its own
``--output``/``--error`` (and there ``%n`` is the node's index in the job, not its name), so every task wrote
the same literal file. envcapture fills ``{node}``, ``{hostname}``, ``{rank}`` and ``{jobid}`` from the
task's environment instead, and refuses srun's spelling with the right one.

A filled value comes from the environment or the host name, which this process does not control: it must be
a plain name (no ``/``, no leading dot), so ``-o {node}.json`` can never write outside the folder given.
"""

from __future__ import annotations

import re
import socket
from typing import Callable, Mapping

from envcapture.manifest import grammar
from envcapture.errors import BadInput

# srun's filename patterns -> what envcapture fills in their place.
SRUN_PATTERNS = {"%n": "{node}", "%N": "{node}", "%t": "{rank}", "%j": "{jobid}"}
RANK_VARIABLES = ("SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "RANK")
JOBID_VARIABLES = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_VALUE = 200


def _first(env: Mapping[str, str], names) -> tuple[str | None, str]:
    for name in names:
        if env.get(name):
            return env[name], name
    return None, " or ".join(names)


def _hostname(env: Mapping[str, str]) -> tuple[str | None, str]:
    return socket.gethostname() or None, "the host name"


def _node(env: Mapping[str, str]) -> tuple[str | None, str]:
    if env.get("SLURMD_NODENAME"):
        return env["SLURMD_NODENAME"], "SLURMD_NODENAME"
    return _hostname(env)


FILLERS: dict[str, Callable[[Mapping[str, str]], tuple[str | None, str]]] = {
    "node": _node,
    "hostname": _hostname,
    "rank": lambda env: _first(env, RANK_VARIABLES),
    "jobid": lambda env: _first(env, JOBID_VARIABLES),
}


def is_safe_value(value: str) -> bool:
    """A file name part: letters, digits, . _ + - and no leading dot; so never a path, never '..'."""
    return len(value) <= MAX_VALUE and grammar.check("identifier", value)


def refuse_srun_patterns(output: str) -> None:
    found = [pattern for pattern in SRUN_PATTERNS if pattern in output]
    if not found:
        return
    fixed = output
    for pattern, placeholder in SRUN_PATTERNS.items():
        fixed = fixed.replace(pattern, placeholder)
    raise BadInput(f"-o {output}: {', '.join(found)} is srun's spelling, which srun expands only in its own "
                   f"--output, never in a command's arguments; envcapture fills {{node}}, {{rank}}, {{jobid}} "
                   f"itself: use -o {fixed}")


def fill(output: str, env: Mapping[str, str]) -> str:
    """``output`` with its placeholders filled from ``env``; a bad or unknown placeholder is a BadInput."""
    refuse_srun_patterns(output)

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in FILLERS:
            known = ", ".join("{" + n + "}" for n in FILLERS)
            raise BadInput(f"-o {output}: unknown placeholder {grammar.quote_for_message(match.group(0))} "
                           f"(envcapture fills {known})")
        value, source = FILLERS[name](env)
        if value is None:
            raise BadInput(f"-o {output}: {{{name}}} needs {source}, which is not set here "
                           "(run it as a task of srun, mpirun or torchrun)")
        if not is_safe_value(value):
            raise BadInput(f"-o {output}: {{{name}}} would be {grammar.quote_for_message(value)} (from {source}), "
                           "which is not a plain file name; refusing to write there")
        return value

    return _PLACEHOLDER.sub(replace, output)
