"""`envcapture build vagrant`: `vagrant validate`, then `vagrant up --provision` in the kit folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from envcapture.build.tool import find_tool, run_streamed
from envcapture.errors import BadInput


def vagrant_environment() -> dict[str, str]:
    return {**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1", "VAGRANT_NO_COLOR": "1"}


def build(kit: Path, *, timeout: float = 3600, echo: Callable[[str], None] | None = None) -> None:
    kit = Path(kit)
    if not (kit / "Vagrantfile").is_file():
        raise BadInput(f"{kit / 'Vagrantfile'}: no Vagrantfile to build (run `envcapture generate vagrant` first)")
    vagrant = find_tool("vagrant")
    env = vagrant_environment()
    run_streamed([vagrant, "validate"], cwd=kit, env=env, timeout=300, what="vagrant validate", echo=echo)
    run_streamed([vagrant, "up", "--provision"], cwd=kit, env=env, timeout=timeout, what="vagrant up", echo=echo)
