"""A real conda environment, made once per session: a local channel of tiny packages (tests/helpers/
condachannel.py) solved and installed by py-rattler, so conda-meta/ is what a real installer wrote."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def real_conda(tmp_path_factory):
    """(channel, prefix) of an environment with hello, greeting-data and python."""
    pytest.importorskip("rattler", reason="py-rattler makes the real conda environments (pip install -e '.[test]')")
    from tests.helpers.condachannel import HOST_PYTHON, host_python_files, real_env

    if host_python_files() is None:
        pytest.skip(f"{HOST_PYTHON}: no Debian CPython on this machine to repackage as the environment's python")
    return real_env(tmp_path_factory.mktemp("conda"))


@pytest.fixture(scope="session")
def real_conda_pip(tmp_path_factory):
    """(channel, prefix) of an environment with hello, python and pip from conda, and six installed into it
    with that pip from the package index, as users add what conda lacks."""
    import subprocess

    pytest.importorskip("rattler", reason="py-rattler makes the real conda environments (pip install -e '.[test]')")
    from tests.helpers.condachannel import HOST_PYTHON, host_python_files, real_env

    if host_python_files() is None:
        pytest.skip(f"{HOST_PYTHON}: no Debian CPython on this machine to repackage as the environment's python")
    channel, prefix = real_env(tmp_path_factory.mktemp("conda-pip"), specs=("hello", "python", "pip"))
    subprocess.run([str(prefix / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "six==1.16.0"], check=True, timeout=600, capture_output=True)
    return channel, prefix


def freeze_prefix(prefix, out) -> dict:
    """freeze of the environment, in-process: the CLI in a subprocess would put this checkout on the
    environment's PYTHONPATH too, and the manifest would record envcapture as one of its packages."""
    import json

    from envcapture.cli import main as run_cli

    assert run_cli(["freeze", "--python", str(prefix), "-o", str(out)]) == 0
    return json.loads(out.read_text())
