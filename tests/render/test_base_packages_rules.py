"""Which release's table a kit leaves to the base, and when a manifest counts as recording the base's marks.

Found by bench/mutation.py: ``os_id == "debian" and version`` -> ``or`` and ``"essential" in p or "priority"
in p`` -> ``and`` survived every test (an Ubuntu release numbered like a Debian one got Debian's table).
"""

from __future__ import annotations

import pytest

from envcapture.render.base_packages import DEBIAN, left_to_base, marked_in_manifest


@pytest.mark.parametrize("os_id, version, release", [
    ("debian", "12", "12"),
    ("debian", "12.7", "12"),
    ("debian", "11.11", "11"),
    ("debian", "13", "13"),
])
def test_a_debian_release_gets_its_own_table(os_id, version, release):
    assert left_to_base(os_id, version) == DEBIAN[release] and "bash" in DEBIAN[release]


@pytest.mark.parametrize("os_id, version", [
    ("ubuntu", "12.04"),  # numbered like Debian 12: not Debian's table
    ("ubuntu", "11.10"),
    ("ubuntu", "24.04"),
    ("debian", None),  # no version recorded
    ("debian", ""),
    ("debian", "14"),  # no row yet
    (None, "12"),
])
def test_anything_else_gets_no_table(os_id, version):
    assert left_to_base(os_id, version) == frozenset()


@pytest.mark.parametrize("keys, recorded", [
    (("essential",), True),
    (("priority",), True),
    (("essential", "priority"), True),
    ((), False),
])
def test_marks_count_as_recorded_when_either_mark_is(keys, recorded):
    values = {"essential": True, "priority": "required"}
    packages = [{"name": "bash", "version": "5.2", **{k: values[k] for k in keys}},
                {"name": "jq", "version": "1.6"}]
    marked = marked_in_manifest(packages)
    assert marked.marks_recorded is recorded
    assert marked.names == (frozenset({"bash"}) if keys else frozenset())
    assert marked.depends_recorded is False
