"""binder/: the repo2docker configuration (mybinder.org). No GPUs there, so torch & co. become CPU builds."""

from __future__ import annotations

from envcapture.render.common import comment, render_template, with_header

# repo2docker's conda buildpack installs for linux-64; records of other platforms cannot be pinned there.
BINDER_SUBDIRS = ("linux-64", "noarch")


def render(plan) -> dict[str, str]:
    files = {}
    if plan.is_conda:
        files["binder/environment.yml"] = render_template("environment.yml.j2", plan, **conda_context(plan))
    else:
        files["binder/requirements.txt"] = with_header(plan, "#", plan.cpu_lock.body())
        # repo2docker reads runtime.txt whole (no comments) and accepts only python-X.Y.
        files["binder/runtime.txt"] = f"python-{plan.python_minor}\n"
    if plan.system_packages:
        files["binder/apt.txt"] = with_header(plan, "#", apt_text(plan))
    files["binder/postBuild"] = render_template("postBuild.j2", plan)
    if plan.environment:
        files["binder/start"] = render_template("start.j2", plan, environment=plan.environment)
    return files


def apt_text(plan) -> str:
    """Binder runs Ubuntu 24.04, so recorded versions rarely exist there: names only, commented out to choose."""
    lines = ["Recorded manual packages, commented out: Binder's Ubuntu 24.04 has other versions and names.",
             "Uncomment the ones the code needs (repo2docker installs each line with apt-get)."]
    body = comment(lines, "#") + "\n"
    return body + "".join(f"# {name}\n" for name, _ in plan.system_packages)


def conda_context(plan) -> dict:
    exact = plan.conda_subdirs_ok
    return {"channels": plan.conda_channels,
            "conda_specs": plan.conda_specs if exact else [s.rsplit("=", 1)[0] for s in plan.conda_specs],
            "exact": exact,
            "pip_lines": plan.cpu_lock.option_lines() + plan.cpu_lock.requirements}
