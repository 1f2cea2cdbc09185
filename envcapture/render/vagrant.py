"""Vagrantfile: a VM of the captured OS release, provisioned by provision.sh."""

from __future__ import annotations

from envcapture.render.common import render_template
from envcapture.render.plan import MAX_VAGRANT_CPUS, MAX_VAGRANT_MEMORY_MB


def render(plan, kit_dir: str = "") -> dict[str, str]:
    """``kit_dir``: where the kit lies relative to the Vagrantfile (envcapture's own dev VM keeps it apart)."""
    return {"Vagrantfile": render_template("Vagrantfile.j2", plan, kit_dir=kit_dir, **context(plan))}


def context(plan) -> dict:
    box_note = "the box matches the captured OS" if plan.vagrant_box_exact else \
        f"no box in envcapture's table for {plan.os_id} {plan.os_version}, so the default box"
    return {
        "box": plan.vagrant_box,
        "box_os": f"{plan.vm_os[0]} {plan.vm_os[1]}",
        "box_note": box_note,
        "cpus": plan.cpus,
        "memory": plan.memory_mb,
        "max_cpus": MAX_VAGRANT_CPUS,
        "max_memory": MAX_VAGRANT_MEMORY_MB,
        "gpu_note": gpu_note(plan),
    }


def gpu_note(plan) -> str:
    if not plan.needs_gpu:
        return ""
    return ("This environment used an NVIDIA GPU: Vagrant's default providers have no GPU passthrough, so CUDA "
            "code falls back or fails here; use the Docker kit with --gpus all on a GPU host.")
