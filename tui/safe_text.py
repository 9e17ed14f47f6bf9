"""Text from outside made safe to show on a terminal.

Model replies, reasoning, tool results, provider error messages, imported titles and file names
are untrusted: an escape sequence in one could set the window title, write the clipboard, clear
the screen or make the terminal type an answer into the user's input, and a bidi override could
make text read other than it is. Everything from outside passes through :func:`inert` on its
way to a terminal (the store keeps the text as received). Newline and tab are kept.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␛ for ESC, ␇ for BEL
    if code == 0x7F:
        return "␡"
    if code <= 0x9F:
        return f"\\x{code:02x}"  # C1 controls (0x9B is a one-byte CSI)
    return f"<U+{code:04X}>"  # bidi controls, shown, not obeyed


def inert(text: str) -> str:
    """``text`` with every control character except newline and tab made visible.

    C0 controls become their Control Pictures (``␛``), DEL ``␡``, C1 controls ``\\x9b``, and
    bidi controls ``<U+202E>``. Each character is replaced on its own, so text that arrives in
    pieces (a streamed reply) can be made inert piece by piece.
    """
    return _CONTROL.sub(_visible, text)


def is_inert(text: str) -> bool:
    """Whether ``text`` holds nothing :func:`inert` would change."""
    return _CONTROL.search(text) is None
