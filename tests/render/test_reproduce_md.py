"""REPRODUCE.md states each decision once, and what it states is what the plan decided (every golden case)."""

from __future__ import annotations

import hashlib
import re

import pytest

from envcapture.manifest import file as manifest_io
from envcapture.render.plan import Options, make_plan

from .conftest import CASES, EXTRA_CA, GOLDEN, MANIFESTS


def plan_of(case: str):
    name, targets, extra = CASES[case]
    flags = dict(zip(extra[::2], extra[1::2]))
    raw = (MANIFESTS / name).read_bytes()
    targets = ("docker", "binder", "packer", "vagrant", "apptainer", "devcontainer") if targets == ["all"] \
        else tuple(targets)
    options = Options(targets=targets, command="x", manifest_sha256=hashlib.sha256(raw).hexdigest(),
                      base_image=flags.get("--base-image"), base_os=flags.get("--base-os"),
                      apt_snapshot=flags.get("--apt-snapshot"),
                      ca_bundle=EXTRA_CA.read_bytes() if "--ca-bundle" in flags else None)
    return make_plan(manifest_io.load(MANIFESTS / name), options)


def decisions(text: str) -> list[str]:
    section = text.split("## Decisions", 1)[1].split("\n## ", 1)[0]
    return [line[2:] for line in section.splitlines() if line.startswith("- ")]


def problems(text: str, plan) -> list[str]:
    """Where REPRODUCE.md repeats a decision, or says something else than the plan decided."""
    found = []
    bullets = decisions(text)
    topics = [b.split(":", 1)[0] for b in bullets]
    if len(topics) != len(set(topics)):
        found.append(f"a decision is stated twice: {topics}")
    if not bullets[0].startswith(f"Base image `{plan.base.image}`"):
        found.append("base image")
    python = [b for b in bullets if b.startswith("Python packages:")]
    if len(python) != 1 or not python[0].startswith(f"Python packages: {len(plan.lock.requirements)} pinned"):
        found.append("python packages")
    system = [b for b in bullets if b.startswith("System packages:")]
    recorded = len(plan.system_packages) + len(plan.left_to_base)
    if len(system) != (1 if recorded else 0):
        found.append("system packages stated %d times" % len(system))
    lowered = text.lower()
    if recorded and plan.system_install:
        if not re.search(rf"\b{len(plan.system_packages)} installed pinned, {len(plan.left_to_base)} left to the "
                         r"base image", system[0]) or "not installed" in lowered:
            found.append("system packages: the plan installs them pinned")
    elif recorded and ("not installed" not in system[0] or "installed pinned" in lowered):
        found.append("system packages: the plan does not install them")
    project = [b for b in bullets if b.startswith("Project:")]
    if len(project) != 1 or (plan.project is None) != ("records no install of the project" in project[0]):
        found.append("project")
    if ("BuildKit is required" in text) != plan.options.buildkit:
        found.append("builder")
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_decision_is_stated_once_and_matches_the_plan(case):
    plan = plan_of(case)
    text = (GOLDEN / case / "REPRODUCE.md").read_text(encoding="utf-8")
    assert problems(text, plan) == []


def test_the_check_finds_the_contradiction_of_issue_9():
    """The parser is not vacuous: the old wording ('not installed' next to 'installed pinned') fails it."""
    text = (GOLDEN / "override-base-os" / "REPRODUCE.md").read_text(encoding="utf-8")
    old = text.replace("- Python packages:", "- The override is a Debian image: its distribution is unknown, so "
                                             "the recorded system packages are not installed.\n- Python packages:", 1)
    assert problems(old, plan_of("override-base-os")) == ["system packages: the plan installs them pinned"]
    twice = text.replace("- Project:", "- Python packages: 3 pinned.\n- Project:", 1)
    assert "python packages" in problems(twice, plan_of("override-base-os"))
