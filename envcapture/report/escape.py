"""Escapers for each report format. A value arrives as plain text from a manifest a stranger may have written."""

from __future__ import annotations

import re

_LATEX = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
    "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}", "<": r"\textless{}",
    ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"{\ttfamily\char34}", "'": r"{\ttfamily\char13}",
    "`": r"{\ttfamily\char18}", "-": "-{}",
}


def _latex_char(char: str) -> str:
    if char in _LATEX:
        return _LATEX[char]
    code = ord(char)
    if 0x20 <= code < 0x7F or 0xA0 <= code <= 0xFF:  # ASCII and Latin-1: pdflatex's utf8 input reads them
        return char
    # Anything else (controls, CJK, emoji) would stop pdflatex or need fonts we cannot assume: name it.
    return rf"\texttt{{[U+{code:04X}]}}"


def latex(value) -> str:
    if value is None:
        return ""
    return "".join(_latex_char(c) for c in str(value))


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~])")
_MARKDOWN_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])(?=\s|$)")


class Code(str):
    """A line meant for a fenced code block (a command to paste): shown as written, not Markdown-escaped."""


def markdown(value) -> str:
    """Text for a Markdown table cell or paragraph: no emphasis, links, HTML or table breaks can come from it."""
    if value is None:
        return ""
    if isinstance(value, Code):
        return markdown_code(value)
    text = str(value).replace("\r", " ").replace("\n", " ")
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("&", "&amp;")
    # A list marker or setext underline only means something at the start of a line.
    return _MARKDOWN_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def markdown_code(value) -> str:
    """Text for inside a fenced code block: a line that could close the fence is indented away from column 0."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return " " + text if text.lstrip().startswith(("```", "~~~")) else text
