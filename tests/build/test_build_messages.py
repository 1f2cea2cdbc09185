"""The docker builder's own text, without an engine: the line for a version gone from the archive, and the
labels every stage gets."""

from __future__ import annotations

import json

from envcapture.build.docker import failure, labelled_stages

GONE = "E: Version '2.5.0-1+deb12u1' for 'libexpat1' was not found"
# apt's real lines from a build on this machine (snapshot.debian.org does not resolve here).
UNREACHABLE = ("W: Failed to fetch http://snapshot.debian.org/archive/debian/20261207T000000Z/dists/bookworm/InRelease"
               "  Could not resolve 'snapshot.debian.org'")


def kit_with(tmp_path, packages):
    (tmp_path / "envcapture.json").write_text(json.dumps({"system_packages": {"packages": packages}}))
    return tmp_path


def test_a_gone_version_names_the_suite_it_came_from(tmp_path):
    kit = kit_with(tmp_path, [{"name": "libexpat1", "version": "2.5.0-1+deb12u1", "origin": {
        "archive": "Debian", "url": "http://deb.debian.org/debian-security", "suite": "bookworm-security",
        "component": "main"}}])
    error = failure(kit, "returned a non-zero code: 100", [], [GONE], "2026-12-07")
    assert str(error) == (f"docker build of {kit} failed: apt has no libexpat1 2.5.0-1+deb12u1 (recorded from the "
                          "suite bookworm-security of http://deb.debian.org/debian-security) any more; build again "
                          "with --apt-snapshot 2026-12-07")
    assert error.tail == GONE


def test_an_unreachable_snapshot_archive_is_said_instead_of_advising_it_again(tmp_path):
    kit = kit_with(tmp_path, [{"name": "libexpat1", "version": "2.5.0-1+deb12u1", "origin": None}])
    tool_errors = [GONE, UNREACHABLE]
    error = failure(kit, "returned a non-zero code: 100", [], tool_errors, "2026-12-07")
    assert "--apt-snapshot" not in str(error)
    assert "(no apt source configured at capture time offered it)" in str(error)
    assert "could not be reached from the build (snapshot.debian.org: Could not resolve" in str(error)
    # apt's own lines, each once.
    assert error.tail.splitlines() == tool_errors


def test_every_stage_is_labelled_after_its_from():
    text = "FROM base:1 AS system\nRUN a\nFROM system AS build\nRUN b\n\nFROM system\nCOPY x y\n"
    out = labelled_stages(text, {"envcapture.test": "1", "team": "a b"})
    label = 'LABEL envcapture.test="1" team="a b"'
    assert out.splitlines() == ["FROM base:1 AS system", label, "RUN a", "FROM system AS build", label, "RUN b", "",
                                "FROM system", label, "COPY x y"]
    assert labelled_stages(text, None) == text
