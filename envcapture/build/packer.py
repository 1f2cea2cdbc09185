"""`envcapture build packer`: validate, `packer init` where needed, build the kit's docker source.

The kit keeps `required_plugins` in `packer/plugins.pkr.hcl`, apart from `packer/envcapture.pkr.hcl`:
Packer >= 1.7 needs that block (and `packer init`) and works on the whole folder, while Packer < 1.7
(Debian 12 ships 1.6.6, builders bundled) refuses the block and is given the main file by name.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from envcapture.build.tool import find_tool, run_streamed, tool_version
from envcapture.errors import BadInput, ToolFailed

MAIN_FILE = "envcapture.pkr.hcl"
FIRST_WITH_INIT = (1, 7)
DOCKER_SOURCE = re.compile(r'^\s*source\s+"docker"\s+"([A-Za-z0-9_-]+)"', re.M)
# How Packer's docker builder reports its artifact: the committed image id, or the tag a post-processor set.
ARTIFACT = re.compile(r"(?:Imported|Tagged) Docker image:\s*(\S+)")


@dataclass
class PackerBuild:
    source: str
    artifact: str  # image id (sha256:...) or name:tag
    version: tuple[int, ...]


def packer_environment() -> dict[str, str]:
    # No call home for a version check: builds must work offline, and the output stays quiet.
    return {**os.environ, "CHECKPOINT_DISABLE": "1", "PACKER_NO_COLOR": "1"}


def docker_source_name(template: Path) -> str:
    names = DOCKER_SOURCE.findall(template.read_text(encoding="utf-8"))
    if not names:
        raise BadInput(f"{template}: no `source \"docker\"` block to build (regenerate the kit with "
                       f"`envcapture generate packer`)")
    return names[0]


def build(kit: Path, *, timeout: float = 3600, echo: Callable[[str], None] | None = None) -> PackerBuild:
    folder = Path(kit) / "packer"
    template = folder / MAIN_FILE
    if not template.is_file():
        raise BadInput(f"{template}: no Packer template to build (run `envcapture generate packer` first)")
    packer = find_tool("packer")
    version = tool_version(packer)
    source = docker_source_name(template)
    env = packer_environment()
    # Paths are given relative to the packer folder, which is also the working directory.
    target = "." if version >= FIRST_WITH_INIT else MAIN_FILE
    if version >= FIRST_WITH_INIT:
        run_streamed([packer, "init", "."], cwd=folder, env=env, timeout=600, what="packer init", echo=echo)
    only = f"-only=docker.{source}"
    # Validating only the source we build: the VM sources fetch checksum files at validate time.
    run_streamed([packer, "validate", only, target], cwd=folder, env=env, timeout=300, what="packer validate",
                 echo=echo)
    run = run_streamed([packer, "build", "-color=false", only, target], cwd=folder, env=env,
                       timeout=timeout, what="packer build", echo=echo, keep_lines=True)
    artifacts = [match.group(1) for line in run.lines for match in [ARTIFACT.search(line)] if match]
    if not artifacts:
        raise ToolFailed("packer build finished but reported no Docker image (does the docker source commit?)",
                         tail="\n".join(run.tail))
    return PackerBuild(source=source, artifact=artifacts[-1], version=version)
