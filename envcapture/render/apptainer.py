"""envcapture.def: the Dockerfile's base and steps as an Apptainer/Singularity definition."""

from __future__ import annotations

from envcapture.render import bases, docker
from envcapture.render.common import render_template


def render(plan) -> dict[str, str]:
    return {"envcapture.def": render_template("envcapture.def.j2", plan, **context(plan))}


def context(plan) -> dict:
    steps = docker.context(plan)
    kit_files = ["requirements.lock", "envcapture.json"]
    if plan.is_conda:
        kit_files.append("conda-explicit.txt")
    if plan.options.ca_bundle is not None:
        kit_files.append("ca-bundle.crt")
    if steps["snapshot"]:
        kit_files.append("apt-snapshot.list")
    env_bin = "/opt/conda/bin" if plan.is_conda else "/opt/venv/bin"
    exports = [("PATH", f"{env_bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")]
    if not plan.is_conda:
        exports += [("VIRTUAL_ENV", "/opt/venv"), ("UV_PYTHON_INSTALL_DIR", "/opt/python")]
    if plan.options.ca_bundle is not None:
        exports += [("PIP_CERT", bases.SYSTEM_CA_BUNDLE), ("SSL_CERT_FILE", bases.SYSTEM_CA_BUNDLE)]
    exports += plan.environment
    return {
        **steps,
        "kit_files": sorted(kit_files),
        "vendored": False,
        "exports": exports,
        "gpu": plan.needs_gpu,
        "uv_version": bases.UV_VERSION,
        # Apptainer labels are "key value" lines: the values are identifiers, URLs and digests, all one word.
        "labels": [(k, v) for k, v in steps["labels"] if " " not in v],
    }
