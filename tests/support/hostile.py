"""Text an attacker would put in a model's reply, a provider's error or a file: each piece would
act on the terminal if it reached it as is. Each is followed by a marker, so a test can find the
exact bytes in a terminal's output."""

from __future__ import annotations

PIECES: dict[str, str] = {
    "title": "\x1b]0;PWN-TITLE\x07",  # OSC 0: sets the window title
    "clipboard": "\x1b]52;c;UFdOLUNMSVA=\x07",  # OSC 52: writes the clipboard
    "clear": "\x1b[2JPWN-CLEAR",  # CSI 2J: clears the screen
    "alt-screen": "\x1b[?1049hPWN-ALT",  # switches to the alternate screen
    "report": "\x1b[6nPWN-REPORT",  # the terminal answers into the user's input
    "c1-csi": "\x9b31mPWN-C1",  # the one-byte C1 CSI
    "bidi": "\u202ePWN-BIDI",  # right-to-left override
}
"""What would act, by what it would do."""

SHOWN: dict[str, str] = {
    "title": "␛]0;PWN-TITLE␇",
    "clipboard": "␛]52;c;UFdOLUNMSVA=␇",
    "clear": "␛[2JPWN-CLEAR",
    "alt-screen": "␛[?1049hPWN-ALT",
    "report": "␛[6nPWN-REPORT",
    "c1-csi": "\\x9b31mPWN-C1",
    "bidi": "<U+202E>PWN-BIDI",
}
"""How each piece must be shown instead."""

END = "PWN-END"

REPLY = "\n\n".join([*PIECES.values(), END])
"""A reply with every piece, a paragraph each, then the end marker."""


def raw_bytes(piece: str) -> bytes:
    """The bytes a terminal would receive if ``piece`` got through as is."""
    return piece.encode("utf-8")


def leaked(output: bytes) -> list[str]:
    """The names of the pieces whose raw bytes are in ``output``."""
    return [name for name, piece in PIECES.items() if raw_bytes(piece) in output]
