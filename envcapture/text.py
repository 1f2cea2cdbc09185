"""Text helpers every part uses: one line for a message, and what is safe to print on a terminal.

They sit at the bottom of the imports (nothing of envcapture's below them), so that any module may use them.
"""

from __future__ import annotations

import re


def one_line(text: str, limit: int = 4000) -> str:
    """Warnings quote exceptions and tool output: keep them to one line of text, as the schema requires."""
    return " ".join(str(text).split())[:limit]


_TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text, keep_newlines: bool = False) -> str:
    """``text`` made safe to print on a terminal: control characters and bidi marks become visible escapes.

    A value read from a manifest, a live environment or an image may hold ESC (colour, cursor moves, title
    changes), the 8-bit CSI U+009B or a right-to-left override; shown as ``\\x1b`` or ``\\u202e`` they can neither
    drive the terminal nor reorder what the reader sees. Tabs and (with ``keep_newlines``) newlines are kept.
    """
    text = str(text)

    def escape(match) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    text = _TERMINAL_UNSAFE.sub(escape, text)
    return text if keep_newlines else text.replace("\n", "\\n")
