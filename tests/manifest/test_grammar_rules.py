"""The grammar rules one character class at a time: real-world values pass, each hostile shape is refused.

The URLs below are the shapes envcapture records in practice (package indexes of PyPI, PyTorch, GitLab, Azure
Artifacts, Google Artifact Registry and Artifactory; git remotes; pip's direct_url.json archive and VCS URLs;
conda package URLs; presigned object-store URLs after credential stripping). A tightened rule must keep them.
"""

from __future__ import annotations

import pytest

from envcapture.manifest import grammar

REAL_URLS = [
    "https://pypi.org/simple",
    "https://download.pytorch.org/whl/cu126",
    "https://gitlab.example.com/api/v4/projects/42/packages/pypi/simple",
    "https://pkgs.dev.azure.com/contoso/_packaging/feed/pypi/simple/",
    "https://europe-west1-python.pkg.dev/my-project/my-repo/simple/",
    "https://example.jfrog.io/artifactory/api/pypi/pypi-remote/simple",
    "http://[::1]:8080/simple",
    "http://[2001:db8::1]/simple/",
    "https://github.com/goncamateus/rSoccer.git",
    "git+https://github.com/pypa/pip.git",
    "git+ssh://git@github.com/org/repo.git",
    "ssh://git@gitlab.com:2222/group/sub-group/proj.git",
    "git+https://github.com/org/mono.git#egg=pkg&subdirectory=libs/pkg",
    "https://files.pythonhosted.org/packages/97/75/10a9ebee3fd790d20926a90a2547f0bf78f371b2f13aa822c759680ca7b9/"
    "tomli-2.0.1-py3-none-any.whl#sha256=939de3e7a6161af0c887ef91b7d41a53e7c5a1ca976325f429cb46ea9bc30ecc",
    "https://github.com/user/repo/archive/refs/tags/v1.0.tar.gz",
    "https://conda.anaconda.org/conda-forge/linux-64/numpy-1.26.4-py311h64a7726_0.conda",
    "https://bucket.s3.amazonaws.com/x-1.0-py3-none-any.whl?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=3600&X-Amz-Signature=REDACTED",
    "https://huggingface.co/org/model/resolve/main/pkg-1.0-py3-none-any.whl?download=true",
    "https://example.com/%7Euser/pkg-1.0.tar.gz",
    "https://gitea.example.org/jörg/projekt.git",
    "file:///home/user/wheels",
    "file:///opt/pypi/simple",
    "git+file:///srv/git/pkg.git",
    "s3://bucket/wheels/pkg-1.0-py3-none-any.whl",
    "https://pypi.internal.example/simple/pkg/?format=json,v1",
]

HOSTILE_URLS = {
    "and-chain": "https://host/evil&&evil/x&&true",
    "background in path": "https://host/x&id",
    "and-chain in query": "https://host/x?a=1&&id",
    "bare semicolon": "https://host/x;id",
    "semicolon in query": "https://host/x?a=1;id",
    "subshell": "https://host/$(id)",
    "backtick": "https://host/`id`",
    "pipe": "https://host/x|sh",
    "redirect out": "https://host/x>f",
    "redirect in": "https://host/x<f",
    "parentheses": "https://host/x(1)",
    "glob star": "https://host/*.whl",
    "history": "https://host/x!!",
    "space": "https://host/x y",
    "tab": "https://host/x\ty",
    "single quote": "https://host/x'y",
    "double quote": 'https://host/x"y',
    "backslash": "https://host/x\\y",
    "braces": "https://host/x?{a}",
    "caret": "https://host/x^y",
    "glob class": "https://host/[abc].whl",
    "bracket outside the host": "http://[::1]/x[1]",
    "newline": "https://host/x\nRUN id",
    "ESC": "https://host/\x1b[2J",
    "8-bit CSI": "https://host/\x9b31m",
    "NEL": "https://host/\x85x",
    "RLO": "https://host/\u202eexe.txt",
    "LRI": "https://host/\u2066x",
    "RLM": "https://host/\u200fx",
    "ALM": "https://host/\u061cx",
    "zero-width space": "https://host/\u200bx",
    "no-break space": "https://host/\u00a0x",
    "credentials": "https://user:secret@host/simple",
    "scheme": "javascript:alert(1)",
}


@pytest.mark.parametrize("url", REAL_URLS)
def test_real_urls_pass(url):
    assert grammar.is_url(url), url


@pytest.mark.parametrize("name", sorted(HOSTILE_URLS))
def test_hostile_urls_are_refused(name):
    assert not grammar.is_url(HOSTILE_URLS[name])


# C0 (all but none), DEL, C1 and the bidirectional controls: refused by every rule that admits free text.
INVISIBLE = ["\x00", "\x07", "\x1b", "\x7f", "\x80", "\x85", "\x9b", "\x9f", "\u061c", "\u200e", "\u200f",
             *[chr(c) for c in range(0x202A, 0x202F)], *[chr(c) for c in range(0x2066, 0x206A)],
             "\u2028", "\u2029"]
FREE_TEXT_RULES = ["text", "url", "path", "apt-source", "marker-value", "pep508-requirement"]
VALID = {"text": "NVIDIA H100 80GB HBM3", "url": "https://pypi.org/simple", "path": "/usr/lib/python3",
         "apt-source": "deb http://deb.debian.org/debian bookworm main", "marker-value": "linux",
         "pep508-requirement": "numpy>=1.26; python_version >= '3.9'"}


@pytest.mark.parametrize("rule", FREE_TEXT_RULES)
@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_free_text_refuses_controls_and_bidi(rule, char):
    assert grammar.check(rule, VALID[rule])
    assert not grammar.check(rule, VALID[rule] + char), f"{rule} accepted U+{ord(char):04X}"


def test_text_keeps_real_non_ascii():
    assert grammar.is_text("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz — Größe 東京")


@pytest.mark.parametrize("value", [" 1.0", "1.0 ", " 2.1.3 ", "1.0\t"])
def test_versions_with_surrounding_space_are_refused(value):
    assert grammar.is_pep440_version(value.strip())
    assert not grammar.is_pep440_version(value)


@pytest.mark.parametrize("text,shown", [
    ("plain", "plain"),
    ("red \x1b[31mALERT\x1b[0m", "red \\x1b[31mALERT\\x1b[0m"),
    ("csi \x9b2J", "csi \\x9b2J"),
    ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
    ("title \x1b]0;pwned\x07", "title \\x1b]0;pwned\\x07"),
    ("cr\roverwrite", "cr\\x0doverwrite"),
    ("two\nlines", "two\\nlines"),
    ("tab\tkept", "tab\tkept"),
    ("Größe", "Größe"),
])
def test_printable_escapes_what_drives_a_terminal(text, shown):
    assert grammar.printable(text) == shown


def test_printable_keeps_newlines_of_a_tool_tail():
    assert grammar.printable("one\n\x1b[2Jtwo", keep_newlines=True) == "one\n\\x1b[2Jtwo"


@pytest.mark.parametrize("value", ["pkg", "libs/pkg", "python/", "./python", "src/my_pkg.v2", ".config/x"])
def test_real_subdirectories_pass(value):
    assert grammar.is_subdirectory(value)


@pytest.mark.parametrize("value", ["..", "../x", "a/../../etc", "a/..", "/etc", "-e", "a/--index-url",
                                   "x --index-url https://evil.example/simple", "a b", "a//b", "a#egg=x", "a;b",
                                   "a\nb", "a\\b", ""])
def test_subdirectories_that_leave_the_source_or_carry_options_are_refused(value):
    assert not grammar.is_subdirectory(value)


# Data sets name their files by people's habits (spaces, quotes), but a path inside a data set never leaves it.
@pytest.mark.parametrize("value", ["train.csv", "images/cat 01.png", "notes/it's.txt", "a/b/c/d.parquet"])
def test_data_paths_inside_the_set_pass(value):
    assert grammar.check("data-path", value)


@pytest.mark.parametrize("value", ["/etc/passwd", "/data/train.csv", "../secrets", "a/../../b", "a//b", "./a", "",
                                   "a/\nb", "x" * 4097])
def test_data_paths_that_leave_the_set_or_break_lines_are_refused(value):
    assert not grammar.check("data-path", value)


def test_hash_digests_up_to_sha512_pass_and_longer_ones_do_not():
    assert grammar.check("hash", "sha512=" + "a" * 128)
    assert grammar.check("hash", "sha256=" + "0f" * 32)
    assert not grammar.check("hash", "sha512=" + "a" * 129)
    assert not grammar.check("hash", "sha256=" + "g" * 64)
    assert not grammar.check("hash", "crc32=deadbeef")


@pytest.mark.parametrize("value", ["2026-11-29", "2024-02-29", "1999-12-31"])
def test_real_calendar_days_pass(value):
    assert grammar.check("date", value)


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "2023-02-29", "26-11-29", "2026-11-29T00:00:00Z"])
def test_impossible_or_misshapen_days_are_refused(value):
    assert not grammar.check("date", value)


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\x9b", "\x1b", "\u2028"])
def test_error_lines_never_carry_a_raw_control_or_bidi_character(char):
    message = grammar.describe_violation("python.packages[0].version", f"1.0{char}evil", "pep440-version")
    assert char not in message
    assert message.isascii()
