"""check --image of a kit that installs only what the environment needs: the packages it leaves out on purpose
are one summary line, what it installs unpinned is by design, and a changed pin is still an error."""

from __future__ import annotations

from envcapture.compare.grading import ALL_OTHERS, compare
from envcapture.compare.rules import ERROR, WARNING

import pytest

from envcapture.manifest import file as manifest_io

from .conftest import FIXTURES, edited


@pytest.fixture(scope="module")
def base() -> dict:
    """This machine's real manifest: 865 system packages, 113 by hand (tests/fixtures/manifests/SOURCES.md)."""
    return manifest_io.load(FIXTURES.parent / "manifests" / "workstation.json")

WHY = "left out by design: the Python environment does not need it"


def image_of(base: dict, keep: set[str], changed: dict[str, str] | None = None) -> dict:
    def edit(m):
        m["system_packages"]["packages"] = [
            dict(p, version=(changed or {}).get(p["name"], p["version"]))
            for p in m["system_packages"]["packages"] if p["name"] in keep]
    return edited(base, edit, valid=False)


def system_differences(result):
    return [d for d in result.differences if d.section == "system_packages"]


def test_packages_left_out_on_purpose_are_one_warning_and_the_rebuild_passes(base):
    packages = [p["name"] for p in base["system_packages"]["packages"]]
    assert len(packages) > 10
    kept = set(packages[:3])
    by_design = {("system_packages", ALL_OTHERS): WHY}
    result = compare([base, image_of(base, kept)], ["envcapture.json", "image"], by_design=by_design)
    differences = system_differences(result)
    assert len(differences) == 1 and result.ok
    summary = differences[0]
    assert summary.grade == WARNING
    assert summary.message(result.labels) == (f"{len(packages) - 3} recorded system packages not in the image, "
                                              "left out by design: `--system-packages all` adds them")
    assert sorted(item["item"] for item in summary.to_json(result.labels)["items"]) == sorted(packages[3:])


def test_a_changed_pin_is_an_error_whatever_else_was_left_out(base):
    packages = [p for p in base["system_packages"]["packages"]]
    pin = next(p for p in packages if p.get("manual")) if any(p.get("manual") for p in packages) else packages[0]
    kept = {p["name"] for p in packages[:3]} | {pin["name"]}
    by_design = {("system_packages", ALL_OTHERS): WHY}
    result = compare([base, image_of(base, kept, {pin["name"]: pin["version"] + "+changed"})],
                     ["envcapture.json", "image"], by_design=by_design)
    errors = [d for d in result.differences if d.grade == ERROR]
    assert [d.item.split(":")[0] for d in errors] == [pin["name"]] and not result.ok
    assert errors[0].by_design is None


def test_without_the_kit_record_every_missing_package_counts(base):
    packages = [p["name"] for p in base["system_packages"]["packages"]]
    result = compare([base, image_of(base, set(packages[:3]))], ["envcapture.json", "image"])
    assert len(system_differences(result)) == len(packages) - 3
