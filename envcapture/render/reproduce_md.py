"""REPRODUCE.md: how to use each target of the kit, which decisions were made, and what is not exact."""

from __future__ import annotations

from envcapture.render import bases
from envcapture.render.common import render_template
from envcapture.render.kit_data import IMAGE_DATA

CONDA = "conda"  # the vendored conda folder of a kit (render/vendor_conda.py)


def render(plan, files: list[str]) -> str:
    return render_template("REPRODUCE.md.j2", plan, **context(plan, files))


def context(plan, files) -> dict:
    return {
        "targets": plan.options.targets,
        "files": [f for f in files if f != "REPRODUCE.md"] + ["REPRODUCE.md"],
        "decisions": decisions(plan, conda_kit=f"{CONDA}/" in files),
        "inexact": inexact(plan),
        "table_date": bases.TABLE_DATE,
        "gpu_run": "--gpus all " if plan.needs_gpu else "",
        "python_image_override": plan.base.kind == "override" and plan.base.python_setup == "image",
        "project_home": project_home(plan),
        "test_command": test_command(plan),
        "data": plan.kit_data,
        "image_data": IMAGE_DATA,
    }


def project_home(plan) -> str:
    from envcapture.render.docker import project_path

    return project_path(plan)


def test_command(plan) -> str:
    """How to run the project's tests in the image (the environment's own Python, from the project folder)."""
    return "python -m pytest"


def decisions(plan, conda_kit: bool = False) -> list[str]:
    """``conda_kit``: the kit carries a conda environment's packages (render/vendor_conda.py)."""
    found = [f"Base image `{plan.base.image}`: {plan.base.reason}."]
    if conda_kit:
        found += conda_kit_decisions(plan)
    elif plan.base.kind == "override":
        if plan.base.python_setup == "image":
            found.append("The override is an official Python image: its Python is used as it is, so the Python "
                         f"version is the image's, not necessarily the recorded {plan.python_version}.")
        else:
            found.append("The override is taken to be a Debian/Ubuntu image without Python: the image installs "
                         "the distribution's `python3` and `python3-venv` with apt, so the Python version is the "
                         f"distribution's, not necessarily the recorded {plan.python_version}.")
    if plan.base.python_setup == "uv":
        found.append(f"Python {plan.python_version} exactly, as a uv-managed build (`uv venv --python`).")
    if plan.base.kind == "distro":
        found.append("The distribution's Python, pinned with apt: " + ", ".join(f"`{p}`" for p in plan.apt_python) + ".")
    if not conda_kit:
        found.append(f"Python packages: {len(plan.lock.requirements)} pinned in `requirements.lock`, installed "
                     f"with uv {bases.UV_VERSION} (`--no-deps`: exactly the recorded set) into a virtualenv.")
    if plan.lock.index_url:
        found.append(f"Primary package index replaced: <{plan.lock.index_url}> instead of PyPI (`--index-url` in "
                     "`requirements.lock`): every package without an index of its own is taken from it.")
    if plan.lock.extra_index_urls:
        found.append("Extra package indexes: " + ", ".join(f"<{u}>" for u in plan.lock.extra_index_urls) +
                     " (each pin is exact, so uv may take a package from whichever index has that version).")
    if plan.is_conda and not conda_kit:
        found.append(f"Conda: {len(plan.conda_explicit)} exact records (URL and md5) in `conda-explicit.txt`, "
                     "installed with micromamba.")
    line = system_packages_line(plan)
    if line:
        found.append(line)
    if plan.snapshot_lines:
        found.append(f"Apt snapshot of {plan.options.apt_snapshot}: `apt-snapshot.list` adds the snapshot archive "
                     "for versions the live archive no longer has.")
    elif plan.fallback_snapshot_lines and "docker" in plan.options.targets:
        found.append(f"Apt fallback: a pinned version no longer in the live archive is installed from the snapshot "
                     f"archive of the capture date, {plan.created[:10]} (`apt-snapshot.list`; `--apt-snapshot off` "
                     "turns this off, `--apt-snapshot DATE` uses one snapshot for everything).")
    found.append(project_line(plan))
    if plan.gpu.mode == "wheels":
        found.append(f"GPU: CUDA comes from pip wheels, so no CUDA base image is needed; run with `--gpus all` on "
                     f"a host whose NVIDIA driver supports CUDA {plan.gpu.cuda or '(the wheels major version)'}.")
    if plan.gpu.mode == "system":
        found.append(f"GPU: a system CUDA {plan.gpu.toolkit or plan.gpu.cuda}"
                     f"{' and cuDNN ' + plan.gpu.cudnn if plan.gpu.cudnn else ''}: NVIDIA's CUDA image from "
                     f"envcapture's table of {bases.TABLE_DATE}; run with `--gpus all`.")
    if plan.options.ca_bundle is not None:
        found.append("`ca-bundle.crt` (--ca-bundle) is added to the system trust store (`update-ca-certificates`, "
                     "installing `ca-certificates` when the base lacks it): apt, pip, uv and Python HTTPS clients "
                     "trust it together with the public CAs (PIP_CERT, SSL_CERT_FILE and REQUESTS_CA_BUNDLE name "
                     f"the system bundle {bases.SYSTEM_CA_BUNDLE}).")
    if plan.environment:
        found.append("Determinism settings set in the image: " +
                     ", ".join(f"`{k}={v}`" for k, v in plan.environment) + ".")
    return found


def conda_kit_decisions(plan) -> list[str]:
    from envcapture.render.vendor_conda import PREFIX

    found = [f"Conda: the {len(plan.conda_specs)} recorded packages from the kit's own channel (`{CONDA}/channel/`, "
             f"each file checked against its recorded digest), installed into `{PREFIX}` offline by py-rattler "
             f"(`{CONDA}/install.py`, the wheel in `{CONDA}/installer/`), run by the base's `python3` from "
             "`debs/`: exactly the recorded records, nothing solved, no link scripts."]
    if plan.lock.requirements:
        found.append(f"Python packages pip added to the conda environment: {len(plan.lock.requirements)} pinned, "
                     "installed from `wheels/` by the environment's own pip (`--no-index --no-deps`).")
    return found


def system_packages_line(plan) -> str | None:
    """The one sentence about the recorded system packages (REPRODUCE.md states each decision once)."""
    if plan.system_selection == "needed" and plan.system_install:
        return needed_packages_line(plan)
    total = len(plan.system_packages) + len(plan.left_to_base)
    if not total:
        return None
    if plan.system_install:
        return (f"System packages: {total} installed by hand; {len(plan.system_packages)} installed pinned, "
                f"{len(plan.left_to_base)} left to the base image (essential, required or already in the base: "
                f"they keep the base's versions). The base is the captured {plan.base.distro[0]} "
                f"{plan.base.distro[1]}.")
    return f"System packages: {total} installed by hand, {plan.system_note}."


SHOWN_LEFT_OUT = 5


def needed_packages_line(plan) -> str:
    wanted = ", ".join(f"`{name}`" for name in plan.system_wanted[:10]) or "none"
    if len(plan.system_wanted) > 10:
        wanted += f" and {len(plan.system_wanted) - 10} more"
    line = (f"System packages: the ones the Python environment needs ({wanted}: the owners of the libraries its "
            f"compiled modules link against or open, and what `--system-packages` or pyproject.toml name), with "
            f"their recorded dependencies: {len(plan.system_packages)} installed pinned, {len(plan.left_to_base)} "
            f"left to the base image (the captured {plan.base.distro[0]} {plan.base.distro[1]}).")
    left_out = plan.system_left_out
    if left_out:
        shown = ", ".join(f"`{name}`" for name in left_out[:SHOWN_LEFT_OUT])
        more = f" and {len(left_out) - SHOWN_LEFT_OUT} more" if len(left_out) > SHOWN_LEFT_OUT else ""
        line += (f" {len(left_out)} recorded hand-installed packages left out ({shown}{more}): "
                 "`--system-packages NAME...` adds them, `--system-packages all` adds every one.")
    return line


def project_line(plan) -> str:
    project = plan.project
    if project is None:
        return ("Project: the manifest records no install of the project itself; `project/` is copied into the "
                "image as it is.")
    how = "editable (`pip install -e`)" if project.editable else "from its folder"
    commit = f" at commit `{project.commit}`" if project.commit else ""
    if plan.project_in_kit:
        return (f"Project: `{project.name}` {project.version}{commit} is in `project/` (--with-code) and is "
                f"installed {how} after the dependency layers, so they stay cached when the code changes.")
    return (f"Project: `{project.name}` {project.version}{commit} was installed {how}; its code is expected in "
            f"`project/`, and the image does not install it until you copy the source there (or generate with "
            f"`--with-code`) and build again.")


def inexact(plan) -> list[str]:
    found = list(plan.warnings) + list(plan.notes)
    if plan.dropped_system:
        found.append("Machine-only packages left out (kernels, boot loaders, drivers, firmware): " +
                     ", ".join(f"`{n}`" for n in plan.dropped_system) + ".")
    by_reason: dict[str, list[str]] = {}
    for name, version, why in plan.unavailable_system:
        by_reason.setdefault(why, []).append(f"`{name}={version}`")
    for why, packages in sorted(by_reason.items()):
        found.append(f"Hand-installed system packages left out, {why}: " + ", ".join(packages) + ".")
    if plan.lock.has_vcs and plan.options.hashes:
        found.append("Git requirements have no archive hash: `pip install --require-hashes` refuses them "
                     "(uv installs them, checking the commit).")
    if plan.cpu_lock.swapped_to_cpu:
        found.append("Binder has no GPU: " + ", ".join(f"`{n}`" for n in plan.cpu_lock.swapped_to_cpu) +
                     " are installed as `+cpu` builds from PyTorch's CPU index and the CUDA wheels are left out.")
    if not plan.conda_subdirs_ok:
        found.append("The conda records are not linux-64 builds: the Linux images cannot install them as recorded.")
    return found
