"""The leading literal that lets a secret rule skip text (redact's prefilter): every match of every rule
starts with it, so no text a rule would match is ever skipped.

Judging a bench/mutation.py survivor in ``_leading_literal`` (``i + 1`` -> ``i ^ 1``: equivalent, it differs
only for a pattern ending in a lone backslash, which is no regex) showed that a leading group with an
alternative, ``(ab|cd)x``, gave the anchor ``ab`` (and ``ab|cd`` gave ``ab``, ``(ab)?c`` gave ``ab``): a rule
written that way would never have run on text holding only ``cdx``. No shipped rule is written that way yet.
"""

from __future__ import annotations

import re

import pytest

from envcapture.manifest.redact import SECRET_RULES, Rule, _leading_literal

from .corpus import SHAPES, free_text, plant


@pytest.mark.parametrize("pattern, anchor", [
    (r"(\.git)x", ".git"),  # an escaped character first inside the leading group
    (r"\(ab", "(ab"),
    (r"(xoxb-)\d", "xoxb-"),
    (r"ghp_[A-Za-z0-9]{36}", "ghp_"),
    (r"ab*c", "a"),
    (r"abc?", "ab"),
    (r"ab(c|d)", "ab"),
    (r"a[|]b", "a"),
    (r"(ab|cd)=\d", ""),
    (r"ab|cd", ""),
    (r"ab[|]c|d", ""),
    (r"(ab)?c", ""),
    (r"\d+x", ""),
    (r"[a-z]x", ""),
])
def test_the_leading_literal(pattern, anchor):
    assert _leading_literal(pattern) == anchor


@pytest.mark.parametrize("pattern, text", [
    (r"(ab|cd)=\d+", "x cd=12 y"),
    (r"(token)?=[0-9a-f]{8}", "=deadbeef"),
    (r"key|pass=\w+", "pass=hunter2"),
])
def test_a_rule_finds_every_match_whatever_its_anchor(pattern, text):
    rule = Rule("test", pattern)
    assert rule.search(text, text.lower()) is not None
    assert rule.search(text, text.lower()).group(0) == re.search(pattern, text).group(0)


def corpus_texts() -> list[str]:
    return [free_text(plant(shape, "free-text")) for shape in SHAPES]


def test_every_shipped_rule_matches_only_where_its_anchor_starts():
    checked = 0
    for text in corpus_texts():
        for rule in SECRET_RULES:
            haystack = text.lower() if rule.folded else text
            for match in rule.scan.finditer(haystack):
                assert haystack.startswith(rule.anchor, match.start()), (rule.name, rule.anchor, match.group(0))
                checked += 1
    assert checked >= len(SHAPES)  # the corpus did reach the rules
