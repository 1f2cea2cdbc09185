"""render/base_packages.py: what a manifest marks as the base's (Essential, Priority required/important and
everything those depend on, transitively), on this machine's own dpkg database as recorded by the dpkg probe."""

from __future__ import annotations

from pathlib import Path

import pytest

from envcapture.render.base_packages import DEBIAN, left_to_base, marked_in_manifest


def pkg(name, depends=(), essential=False, priority="optional"):
    return {"name": name, "version": "1", "architecture": "amd64", "manual": False, "essential": essential,
            "priority": priority, "depends": list(depends)}


def test_seeds_and_their_dependencies_transitively_and_nothing_else():
    packages = [pkg("bash", ["libtinfo6", "base-files"], essential=True), pkg("libtinfo6", ["libc6"]),
                pkg("libc6", ["libgcc-s1"]), pkg("libgcc-s1", ["libc6"]),  # a cycle ends
                pkg("apt", ["libapt-pkg6.0"], priority="important"), pkg("libapt-pkg6.0"),
                pkg("base-files", priority="required"),
                pkg("jq", ["libjq1"]), pkg("libjq1", ["libc6"]), pkg("curl", ["libcurl4"], priority="optional")]
    marked = marked_in_manifest(packages)
    assert marked.names == {"bash", "libtinfo6", "libc6", "libgcc-s1", "apt", "libapt-pkg6.0", "base-files"}
    assert marked.marks_recorded and marked.depends_recorded


def test_older_manifests_without_marks_or_dependencies_say_so():
    old = [{"name": "bash", "version": "1", "architecture": "amd64", "manual": False}]
    marked = marked_in_manifest(old)
    assert marked.names == frozenset() and not marked.marks_recorded and not marked.depends_recorded
    marks_only = [{**old[0], "essential": True}]
    marked = marked_in_manifest(marks_only)
    assert marked.names == {"bash"} and marked.marks_recorded and not marked.depends_recorded


def test_the_table_is_per_release():
    assert left_to_base("debian", "11") == DEBIAN["11"] and "libssl1.1" in DEBIAN["11"]
    assert left_to_base("debian", "13") == DEBIAN["13"] and "libssl1.1" not in DEBIAN["13"]
    assert left_to_base("debian", "14") == frozenset()


@pytest.mark.skipif(not Path("/var/lib/dpkg/status").exists(), reason="needs a dpkg database")
def test_on_this_machine_the_marked_base_is_dpkgs_own_required_set():
    """This machine's own dpkg database through the probe: every Essential or required/important package is
    marked, and what it marks is installed."""
    from envcapture.probes import ProbeContext, dpkg

    packages = dpkg.collect(ProbeContext()).data["packages"]
    marked = marked_in_manifest(packages)
    installed = {p["name"] for p in packages}
    status = Path("/var/lib/dpkg/status").read_text(errors="replace").split("\n\n")
    seeds = {s.split("\n", 1)[0].removeprefix("Package: ") for s in status
             if "\nEssential: yes" in s or "\nPriority: required" in s or "\nPriority: important" in s}
    seeds &= installed
    assert len(seeds) > 20 and seeds <= marked.names <= installed
    assert "libc6" in marked.names
