"""The planner at the edges of its rules, called directly (no CLI): the first day snapshot.ubuntu.com serves."""

from __future__ import annotations

import pytest

from envcapture.errors import BadInput
from envcapture.render import bases
from envcapture.render.plan import Options, make_plan

from .conftest import load_manifest


def plan_with_snapshot(date: str):
    options = Options(targets=("docker",), command="envcapture generate docker", manifest_sha256="0" * 64,
                      apt_snapshot=date)
    return make_plan(load_manifest("pytorch-pip-gpu.json"), options)  # Ubuntu 24.04 (noble)


def test_ubuntu_snapshot_starts_on_its_first_day():
    assert bases.UBUNTU_SNAPSHOT_START == "2023-03-01"
    plan = plan_with_snapshot("2023-03-01")
    assert plan.snapshot_lines[0] == ("deb [check-valid-until=no] http://snapshot.ubuntu.com/ubuntu/20230301T000000Z "
                                      "noble main")
    with pytest.raises(BadInput, match="snapshot.ubuntu.com starts on 2023-03-01"):
        plan_with_snapshot("2023-02-28")
