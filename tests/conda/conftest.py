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
