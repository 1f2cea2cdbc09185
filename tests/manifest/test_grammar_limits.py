"""Every length bound of the grammar, at the bound and one past it (a bound off by one, or gone, fails here)."""

from __future__ import annotations

import pytest

from envcapture.manifest import grammar


def padded(head: str, fill: str, tail: str = ""):
    """A value of exactly ``n`` characters: head, then fill repeated, then tail."""
    return lambda n: head + fill * (n - len(head) - len(tail)) + tail


# rule -> (value of length n, the longest length accepted)
LONGEST = {
    "text": (padded("", "a"), 4096),
    "dist-name": (padded("", "a"), 200),
    "pep440-version": (padded("", "1"), 200),
    "pep508-requirement": (padded("a>=", "1"), 1000),
    "marker-value": (padded("", "a"), 500),
    "deb-name": (padded("", "a"), 200),
    "deb-version": (padded("", "1"), 200),
    "package-token": (padded("", "a"), 200),
    "arch": (padded("", "a"), 64),
    "identifier": (padded("", "a"), 200),
    "git-ref": (padded("", "a"), 255),
    "conda-channel": (padded("", "a"), 255),
    "env-name": (padded("", "A"), 200),
    "image-ref": (padded("", "a"), 255),
    "url": (padded("https://example.org/", "a"), 2000),
    "path": (padded("/", "a"), 4096),
    "subdirectory": (padded("", "a"), 500),
    "apt-source": (padded("deb http://deb.debian.org/", "a", " bookworm main"), 1000),
    "hex-digest": (padded("", "a"), 128),
    "data-path": (padded("", "a"), 4096),
}


@pytest.mark.parametrize("rule", sorted(LONGEST))
def test_the_longest_value_passes_and_one_more_character_fails(rule):
    make, longest = LONGEST[rule]
    assert grammar.check(rule, make(longest)), f"{rule}: {longest} characters must pass"
    assert not grammar.check(rule, make(longest + 1)), f"{rule}: {longest + 1} characters must fail"


@pytest.mark.parametrize("rule, lengths", [("sha256", {64}), ("md5", {32}), ("git-commit", {40, 64}),
                                           ("hex-digest", set(range(32, 129)))])
def test_digests_have_their_exact_lengths(rule, lengths):
    for n in range(1, 140):
        assert grammar.check(rule, "a" * n) == (n in lengths), f"{rule}: {n} hex digits"


@pytest.mark.parametrize("rule", ["path", "data-path"])
def test_an_empty_path_fails(rule):
    assert not grammar.check(rule, "")


@pytest.mark.parametrize("value, valid", [
    ("foo (>=1", False), ("foo @ ", False), ("foo[bar", False), ("foo ==", False), ("foo @ https://x/y z", False),
    ("foo @ https://example.org/foo-1.0-py3-none-any.whl", True), ("Foo [bar] (>=1.0)", True),
])
def test_requirements_the_fast_path_leaves_to_packaging(value, valid):
    """Shapes the regex does not take go through packaging: an invalid one is refused, never an exception."""
    assert grammar.is_pep508_requirement(value) is valid
