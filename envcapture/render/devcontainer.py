"""devcontainer.json: open the Docker kit in VS Code / Codespaces (GPU passthrough when the manifest had one)."""

from __future__ import annotations

import json

from envcapture.render import docker
from envcapture.render.common import comment


def render(plan) -> dict[str, str]:
    return {".devcontainer/devcontainer.json": comment(plan.header_lines, "//") + "\n" +
            json.dumps(document(plan), indent=2, ensure_ascii=True) + "\n"}


def document(plan) -> dict:
    user = docker.CONDA_USER if plan.is_conda else docker.USER
    doc: dict = {
        "name": f"envcapture: Python {plan.python_version}",
        "build": {"dockerfile": "../Dockerfile", "context": ".."},
        "remoteUser": user,
        "workspaceFolder": f"/home/{user}/project",
        "workspaceMount": f"source=${{localWorkspaceFolder}}/project,target=/home/{user}/project,type=bind",
    }
    if plan.needs_gpu:
        doc["runArgs"] = ["--gpus", "all"]
        doc["hostRequirements"] = {"gpu": True}
    return doc
