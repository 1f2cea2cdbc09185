"""A build tool that vanished between the PATH lookup and its start is one line naming the step, the tool and
how to install it, whatever arguments it was given.

Found by bench/mutation.py: the hint looked up by the last argument (``argv[-1]``) instead of the program
(``argv[0]``) survived every test.
"""

from __future__ import annotations

import pytest

from envcapture.build.tool import run_streamed
from envcapture.errors import ToolFailed


@pytest.mark.parametrize("tool, hint", [
    ("packer", "install Packer (https://developer.hashicorp.com/packer/install"),
    ("vagrant", "install Vagrant (https://developer.hashicorp.com/vagrant/install"),
    ("docker", "install Docker (https://docs.docker.com/engine/install/)"),
])
def test_a_tool_gone_names_the_step_and_how_to_install_it(tmp_path, tool, hint):
    gone = tmp_path / "bin" / tool  # found on PATH earlier, removed since
    with pytest.raises(ToolFailed) as failed:
        run_streamed([str(gone), "build", "-color=false", "kit.pkr.hcl"], what=f"{tool} build", echo=lambda _: None)
    message = str(failed.value)
    assert message.startswith(f"{tool} build: {gone} is not installed: {hint}")
    assert "\n" not in message


def test_an_unknown_tool_has_no_hint_and_no_dangling_colon(tmp_path):
    with pytest.raises(ToolFailed) as failed:
        run_streamed([str(tmp_path / "mytool"), "packer"], what="step", echo=lambda _: None)
    assert str(failed.value) == f"step: {tmp_path / 'mytool'} is not installed"
