"""Dockerfile and .dockerignore: the same environment as a container image."""

from __future__ import annotations

from envcapture.render import bases
from envcapture.render.plan import BOOTSTRAP_PACKAGES
from envcapture.render.common import render_template

USER = "envcapture"
CONDA_USER = "mambauser"


NOT_REPRODUCED = "not-reproduced.json"


def render(plan) -> dict[str, str]:
    return {"Dockerfile": render_template("Dockerfile.j2", plan, **context(plan)),
            ".dockerignore": render_template("dockerignore.j2", plan),
            NOT_REPRODUCED: not_reproduced_json(plan)}


def not_reproduced_json(plan) -> str:
    """What the image leaves out by design, read by `check --image` from /etc/envcapture/ beside the manifest."""
    import json

    items = [{"section": n.section, "item": n.item, "why": n.why} for n in plan.not_reproduced]
    return json.dumps({"_comment": plan.header_lines, "envcapture_not_reproduced": 1,
                       "manifest_sha256": plan.options.manifest_sha256, "items": items}, indent=1,
                      sort_keys=True) + "\n"


def context(plan) -> dict:
    conda = plan.is_conda
    return {
        "base": plan.base,
        "labels": labels(plan),
        "ca_bundle": plan.options.ca_bundle is not None,
        "ca_file": bases.EXTRA_CA_FILE,
        "system_bundle": bases.SYSTEM_CA_BUNDLE,
        "snapshot": bool(plan.snapshot_lines) and plan.system_install,
        "snapshot_date": plan.options.apt_snapshot,
        "fallback_date": plan.created[:10] if plan.fallback_snapshot_lines and not plan.snapshot_lines else None,
        "buildkit": plan.options.buildkit,
        "multistage": not conda,
        "project": plan.project if plan.project_in_kit else None,
        "project_home": f"/home/{CONDA_USER if conda else USER}/project",
        "project_path": project_path(plan),
        "apt_packages": apt_packages(plan),
        "apt_suites": plan.apt_suites if apt_packages(plan) else [],
        "apt_unpinned": plan.base.python_setup in ("uv", "apt") and plan.base.kind != "distro",
        "environment": plan.environment,
        "gpu_wheels": plan.gpu.mode == "wheels",
        "gpu_cuda": plan.gpu.cuda or "12",
        "conda": conda,
        "lock_lines": bool(plan.lock.requirements),
        "bootstrap_python": bootstrap_python(plan),
        "uv_python": plan.base.python_setup == "uv",
        "uv_version": bases.UV_VERSION,
        "python_version": plan.python_version,
        "uv_args": plan.uv_index_args,
        "create_user": not conda,
        "user": CONDA_USER if conda else USER,
    }


def project_path(plan) -> str:
    home = f"/home/{CONDA_USER if plan.is_conda else USER}/project"
    if plan.project is not None and plan.project.subdirectory:
        return f"{home}/{plan.project.subdirectory}"
    return home


def bootstrap_python(plan) -> str:
    """The interpreter that creates the tool venv for uv (and the environment's venv, unless uv installs Python)."""
    return "/usr/bin/python3" if plan.base.python_setup in ("apt", "uv") else "python3"


def apt_packages(plan) -> list[str]:
    """Bootstrap packages the Python setup needs, then the recorded manual packages when they can be pinned."""
    packages: list[str] = []
    if plan.base.python_setup == "apt" and plan.base.kind == "distro":
        packages += plan.apt_python
    elif plan.base.python_setup in ("apt", "uv"):
        packages += list(BOOTSTRAP_PACKAGES)
    if plan.system_install:
        present = {p.split("=")[0] for p in packages}
        packages += [f"{name}={version}" for name, version in plan.system_packages if name not in present]
    return packages


def labels(plan) -> list[tuple[str, str]]:
    found = [("org.opencontainers.image.title", "envcapture reproduction"),
             ("org.opencontainers.image.description", f"Python {plan.python_version} environment captured "
                                                      f"{plan.created}"),
             ("org.opencontainers.image.base.name", plan.base.image)]
    if plan.code_remote:
        found.append(("org.opencontainers.image.source", plan.code_remote))
    if plan.code_commit:
        found.append(("org.opencontainers.image.revision", plan.code_commit))
    found += [("dev.envcapture.version", plan.version),
              ("dev.envcapture.manifest.sha256", plan.options.manifest_sha256)]
    return found
