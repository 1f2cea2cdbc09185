"""provision.sh: one script that turns a fresh Debian/Ubuntu machine into the captured environment.

Shared by the VM targets (Vagrant and Packer's docker/qemu/amazon-ebs sources). The VM's OS is the captured
one when the box table has it, so the recorded manual packages are installed pinned there.
"""

from __future__ import annotations

from envcapture.render import bases
from envcapture.render.common import render_template

PREFIX = "/opt/envcapture"


def render(plan) -> dict[str, str]:
    from envcapture.render.docker import NOT_REPRODUCED, not_reproduced_json

    # What the kit leaves out by design, beside the manifest on the machine as in the image, so that
    # `check --image` of a Packer-built image grades it the same way.
    return {"provision.sh": render_template("provision.sh.j2", plan, **context(plan)),
            NOT_REPRODUCED: not_reproduced_json(plan)}


def context(plan) -> dict:
    conda = plan.is_conda
    distro_python = plan.origin == "distro" and plan.vagrant_box_exact
    packages = ["ca-certificates", "python3", "python3-venv"]
    if conda:
        packages += ["curl", "bzip2"]
    if plan.vm_system_install:
        present = set(packages)
        packages += [f"{name}={version}" for name, version in plan.system_packages if name not in present]
    return {
        "box_os": f"{plan.vm_os[0]} {plan.vm_os[1]}",
        "prefix": PREFIX,
        "ca_bundle": plan.options.ca_bundle is not None,
        "ca_file": bases.EXTRA_CA_FILE,
        "system_bundle": bases.SYSTEM_CA_BUNDLE,
        "snapshot": bool(plan.snapshot_lines) and plan.vm_system_install,
        "snapshot_date": plan.options.apt_snapshot,
        "apt_packages": packages,
        "conda": conda,
        "micromamba_version": bases.MICROMAMBA_VERSION,
        "micromamba_url": f"https://micro.mamba.pm/api/micromamba/linux-64/{bases.MICROMAMBA_VERSION}",
        "environment": plan.environment,
        "env_bin": f"{PREFIX}/env/bin" if conda else f"{PREFIX}/venv/bin",
        "lock_lines": bool(plan.lock.requirements),
        "uv_version": bases.UV_VERSION,
        "bootstrap_python": "/usr/bin/python3",
        "uv_python": not distro_python,
        "python_version": plan.python_version,
        "uv_args": plan.uv_index_args,
        "vendored": False,
    }
