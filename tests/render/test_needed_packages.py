"""A kit installs what the environment needs, not what the machine has (issue 20), on this machine's real manifest
(tests/fixtures/manifests/workstation.json: 113 hand-installed packages, a project needing libmagic1)."""

from __future__ import annotations

import copy
import json

import pytest

from envcapture.errors import BadInput
from envcapture.manifest import file as manifest_io
from envcapture.render import docker, reproduce_md
from envcapture.render.plan import ALL_OTHERS, Options, make_plan

from .conftest import MANIFESTS, TEST_BASE_IMAGE

WORKSTATION = MANIFESTS / "workstation.json"


def workstation() -> dict:
    return manifest_io.load(WORKSTATION)


def plan_of(manifest: dict, system_packages=None, **options):
    defaults = dict(targets=("docker",), command="envcapture generate docker", manifest_sha256="0" * 64,
                    base_image=TEST_BASE_IMAGE, base_os="debian:12", system_packages=system_packages)
    return make_plan(manifest, Options(**{**defaults, **options}))


def pinned(plan) -> dict[str, str]:
    return dict(plan.system_packages)


def test_only_what_the_environment_needs_is_pinned_with_its_exact_dependency():
    plan = plan_of(workstation())
    # libmagic1 (python-magic opens it through ctypes) and libmagic-mgc, which libmagic1 needs at exactly 1:5.44-3.
    assert pinned(plan) == {"libmagic1": "1:5.44-3", "libmagic-mgc": "1:5.44-3"}
    manual = [p["name"] for p in workstation()["system_packages"]["packages"] if p["manual"]]
    assert "chromium" in manual and "chromium" in plan.system_left_out
    # The interpreter's own libexpat1 comes with the image's python3, not pinned from the recorded machine.
    assert "libexpat1" not in pinned(plan)
    # The bootstrap packages installed unpinned are not "left out".
    assert "ca-certificates" not in plan.system_left_out


def test_all_brings_back_every_hand_installed_package():
    plan = plan_of(workstation(), system_packages=("all",))
    assert {"chromium", "libpq-dev", "libmagic1"} <= set(pinned(plan)) | {n for n, _, _ in plan.unavailable_system}
    assert plan.system_left_out == []


def test_a_named_package_is_pinned_with_the_exact_version_its_dependency_must_have():
    plan = plan_of(workstation(), system_packages=("libpq-dev",))
    # libpq-dev Depends: libpq5 (= 15.18-0+deb12u1): without the second pin apt picks the archive's newer libpq5.
    assert pinned(plan)["libpq-dev"] == "15.18-0+deb12u1"
    assert pinned(plan)["libpq5"] == "15.18-0+deb12u1"
    assert "libmagic1" in pinned(plan)


def test_a_name_not_recorded_is_one_line_of_refusal():
    with pytest.raises(BadInput, match="no-such-package: the manifest records no installed package"):
        plan_of(workstation(), system_packages=("no-such-package",))


def test_pyproject_names_join_and_unrecorded_ones_are_said():
    data = workstation()
    data["shared_libraries"]["requested"] = ["libpq-dev", "libfoo-not-installed"]
    plan = plan_of(data)
    assert "libpq-dev" in pinned(plan) and "libpq5" in pinned(plan)
    assert any("libfoo-not-installed" in line for line in plan.warnings)


def test_a_manifest_without_the_record_keeps_installing_every_hand_installed_package():
    data = workstation()
    del data["shared_libraries"]
    plan = plan_of(data)
    assert "libpq-dev" in pinned(plan) and plan.system_selection == "all"
    assert any("does not record which system libraries" in note for note in plan.notes)


def test_reproduce_md_says_in_one_line_how_many_were_left_out_and_how_to_add_them():
    plan = plan_of(workstation())
    line = reproduce_md.system_packages_line(plan)
    left = len(plan.system_left_out)
    assert left > 100
    assert f"{left} recorded hand-installed packages left out (`apt-transport-https`, " in line
    assert "`--system-packages all` adds every one" in line


def test_the_kit_adds_the_recorded_update_suites_with_the_archive_key():
    plan = plan_of(workstation())
    assert plan.apt_suites == [
        ("bookworm-updates", "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                             "http://deb.debian.org/debian bookworm-updates main"),
        ("bookworm-security", "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                              "http://deb.debian.org/debian-security bookworm-security main")]
    data = workstation()
    data["system_packages"]["sources"] = [line for line in data["system_packages"]["sources"]
                                          if "security" not in line]
    assert [suite for suite, _ in plan_of(data).apt_suites] == ["bookworm-updates"]


def test_not_reproduced_covers_the_left_out_and_the_unpinned_but_never_a_pin():
    plan = plan_of(workstation())
    items = json.loads(docker.not_reproduced_json(plan))["items"]
    by_item = {(i["section"], i["item"]): i["why"] for i in items}
    assert ("system_packages", ALL_OTHERS) in by_item
    assert "unpinned by design" in by_item[("system_packages", "ca-certificates")]
    assert "left out by design" in by_item[("system_packages", "chromium")]
    assert ("system_packages", "libmagic1") not in by_item


def test_the_dockerfile_layers_do_not_change_with_a_new_freeze():
    """A new freeze after a commit changes the manifest (hash, date, commit): every line up to the project's
    layers stays the same, so the cache serves them."""
    first = workstation()
    second = copy.deepcopy(first)
    second["created"] = "2026-12-07T10:00:00Z"
    second["code"]["commit"] = "1" * 40
    plans = plan_of(first, manifest_sha256="a" * 64), plan_of(second, manifest_sha256="b" * 64)
    a, b = (docker.render(plan)["Dockerfile"].splitlines() for plan in plans)
    last_block = a.index("COPY envcapture.json not-reproduced.json /etc/envcapture/")
    changed = [i for i, (x, y) in enumerate(zip(a, b)) if x != y and not x.startswith("#")]
    assert changed and min(changed) > last_block
    # The files copied before the install steps are the same too (their headers do not name the manifest's hash).
    from envcapture.render.kit import shared_files

    for name in ("requirements.lock", "apt-snapshot.list"):
        assert shared_files(plans[0])[name] == shared_files(plans[1])[name], name
