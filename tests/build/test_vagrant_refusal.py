"""build of a Vagrant kit folder without a Vagrantfile is one line naming the file and what to run.

Found by bench/mutation.py: ``kit / 'Vagrantfile'`` -> ``kit << 'Vagrantfile'`` and ``kit % 'Vagrantfile'``
in the refusal (a TypeError traceback instead of the line) survived every fast test.
"""

from __future__ import annotations

import pytest

from envcapture.build import vagrant
from envcapture.errors import BadInput


def test_a_folder_without_a_vagrantfile_is_refused_in_one_line(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(BadInput) as refused:
        vagrant.build(tmp_path)
    assert str(refused.value) == (f"{tmp_path / 'Vagrantfile'}: no Vagrantfile to build "
                                  "(run `envcapture generate vagrant` first)")
