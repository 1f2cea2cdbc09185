"""packer/: required plugins apart from the build (Packer 1.6 refuses the plugins block)."""

from __future__ import annotations

from envcapture.render.common import render_template
from envcapture.render.provision import PREFIX

BUILD_PASSWORD = "envcapture-build"


def render(plan) -> dict[str, str]:
    return {"packer/plugins.pkr.hcl": render_template("plugins.pkr.hcl.j2", plan),
            "packer/envcapture.pkr.hcl": render_template("envcapture.pkr.hcl.j2", plan, **context(plan)),
            "packer/cloud-init/user-data": render_template("user-data.j2", plan, password=BUILD_PASSWORD),
            "packer/cloud-init/meta-data": render_template("meta-data.j2", plan)}


def context(plan) -> dict:
    return {
        "base_image": plan.base.image,
        "vm_os": f"{plan.vm_os[0]} {plan.vm_os[1]}",
        "cloud_image_url": plan.cloud_image.url,
        "cloud_image_checksum": plan.cloud_image.checksum,
        "ssh_username": plan.vm_os[0],
        "aws_instance_type": "g5.xlarge" if plan.needs_gpu else "t3.large",
        "env_bin": f"{PREFIX}/env/bin" if plan.is_conda else f"{PREFIX}/venv/bin",
        "manifest_sha256": plan.options.manifest_sha256,
        "cpus": plan.cpus,
        "memory": plan.memory_mb,
        "vendored": False,
    }
