"""Escapers for each report format. A value arrives as plain text from a manifest a stranger may have written.

Every escaper first makes the value printable (envcapture/text.py: control characters and bidi marks become
visible escapes), so no ESC or BEL reaches a terminal or a file through a report.
"""

from __future__ import annotations

import re

from envcapture.text import printable

_LATEX = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
    "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}", "<": r"\textless{}",
    ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"{\ttfamily\char34}", "'": r"{\ttfamily\char13}",
    "`": r"{\ttfamily\char18}", "-": "-{}",
}
# Latin-1 letters that exist only in the T1 font encoding: under LaTeX's default OT1 (article, IEEEtran) pdflatex
# stops on them ("Command \th unavailable in encoding OT1"). Each is set in T1 locally, so the section compiles
# in any preamble; every other Latin-1 character works from the UTF-8 input as it is (accents, TS1 symbols).
_T1_ONLY = {"Þ": r"\TH", "þ": r"\th", "Ð": r"\DH", "ð": r"\dh", "«": r"\guillemotleft", "»": r"\guillemotright"}
_LATEX_BREAK_AFTER = set("/.-_:?&=+@,;")
# A word longer than BREAKABLE may break after punctuation (BLAS/LAPACK, 2.13.0+cpu, URLs); one longer than
# LONG_WORD also every 8 characters (a 64-hex hash). Short words stay whole, so prose hyphenates as usual.
BREAKABLE = 8
LONG_WORD = 24


def _latex_char(char: str) -> str:
    if char in _LATEX:
        return _LATEX[char]
    if char in _T1_ONLY:
        return rf"{{\fontencoding{{T1}}\selectfont{_T1_ONLY[char]}}}"
    code = ord(char)
    if 0x20 <= code < 0x7F or 0xA1 <= code <= 0xFF and code != 0xAD:  # ASCII and Latin-1 (not the soft hyphen)
        return char
    if char == "\t" or char == "\xa0":
        return " "
    # Anything else (CJK, emoji, other scripts) would stop pdflatex or need fonts we cannot assume: name it.
    return rf"\texttt{{[U+{code:04X}]}}"


def _latex_word(word: str) -> str:
    if len(word) <= BREAKABLE:
        return "".join(_latex_char(c) for c in word)
    out, run = [], 0
    for index, char in enumerate(word):
        out.append(_latex_char(char))
        run += 1
        if index < len(word) - 1 and (char in _LATEX_BREAK_AFTER or (len(word) > LONG_WORD and run >= 8)):
            out.append(r"\allowbreak{}")  # a 64-hex hash or a long URL breaks inside a narrow column
            run = 0
    return "".join(out)


def latex(value) -> str:
    if value is None:
        return ""
    text = printable(value)
    return " ".join(_latex_word(word) for word in text.split(" "))


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~!])")
# A list marker, setext underline or thematic break only means something at the start of a line; any of these
# characters there is escaped (a value that is only "---" would otherwise be a rule).
_MARKDOWN_LINE_START = re.compile(r"^(\s*)([-+=])")
_MARKDOWN_ORDERED = re.compile(r"^(\s*\d+)([.)])(?=\s|$)")
# GitHub-style autolinking (markdown-it-py's "gfm-like" linkify) makes links of bare URLs, www. names, e-mail
# addresses and domain-like words (numpy.org, train.py): a backslash before the dot of a name or the colon of a
# scheme splits the text where the linker looks, and renders as the same character.
_LINKABLE_DOT = re.compile(r"(?<=[A-Za-z0-9_-])\.(?=[A-Za-z])")
_LINKABLE_COLON = re.compile(r"(?<=[A-Za-z0-9])(:)(?=//)|(?<=mailto)(:)", re.I)


class Code(str):
    """A line meant for a fenced code block (a command to paste): shown as written, not Markdown-escaped."""


def markdown(value) -> str:
    """Text for a Markdown table cell or paragraph: no emphasis, links, HTML or table breaks can come from it."""
    if value is None:
        return ""
    if isinstance(value, Code):
        return markdown_code(value)
    text = printable(value).replace("\t", " ").strip()
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("&", "&amp;")
    text = _LINKABLE_DOT.sub(r"\\.", text)
    text = _LINKABLE_COLON.sub(lambda m: "\\:", text)
    text = _MARKDOWN_ORDERED.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return _MARKDOWN_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def markdown_code(value) -> str:
    """Text for inside a fenced code block: a line that could close the fence is indented by four spaces (CommonMark
    reads a closing fence indented by up to three)."""
    text = printable(value)
    return "    " + text if text.lstrip().startswith(("```", "~~~")) else text
