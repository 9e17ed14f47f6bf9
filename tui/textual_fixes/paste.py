"""Bracketed paste as text: escape sequences inside a paste are never replayed as keys."""

from __future__ import annotations

import re
from typing import Any

from tui.textual_fixes import Fix, Needs, Undo, replace_attribute

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


class PasteGuard:
    """Makes every ESC inside a bracketed paste a visible ``␛``, chunk by chunk.

    Textual's ``XTermParser`` reads an ESC inside a paste as the start of an escape sequence and,
    when the sequence is not one it knows (``ESC ] 0 ; title BEL``), replays its characters as key
    presses: pasted text can press Ctrl+G, Ctrl+Q or any key the app binds ("pastejacking").
    Text between the paste markers is text: only the end marker keeps its ESC. A marker split
    across reads is recognised; inside a paste a possible start of the end marker is held back
    until the next read (the paste always ends with one), outside a paste nothing is held, so the
    Escape key is never delayed.
    """

    def __init__(self) -> None:
        self.in_paste = False
        self._tail = ""  # outside: the end of the last read, if it may begin the start marker
        self._hold = ""  # inside: a possible start of the end marker, not yet passed on

    def feed(self, data: str) -> str:
        out: list[str] = []
        while data:
            if not self.in_paste:
                seen = self._tail + data
                found = seen.find(PASTE_START)
                if found < 0:
                    out.append(data)
                    self._tail = _marker_prefix_at_end(seen, PASTE_START)
                    return "".join(out)
                cut = found + len(PASTE_START) - len(self._tail)
                out.append(data[:cut])
                data = data[cut:]
                self._tail = ""
                self.in_paste = True
                continue
            text = self._hold + data
            self._hold = ""
            data = ""
            position = 0
            while True:
                escape = text.find("\x1b", position)
                if escape < 0:
                    out.append(_c1_visible(text[position:]))
                    break
                out.append(_c1_visible(text[position:escape]))
                rest = text[escape:]
                if rest.startswith(PASTE_END):
                    out.append(PASTE_END)
                    self.in_paste = False
                    data = rest[len(PASTE_END) :]
                    break
                if PASTE_END.startswith(rest):  # cut off by the end of this read
                    self._hold = rest
                    break
                out.append("\u241b")  # ␛
                position = escape + 1
        return "".join(out)


_C1 = re.compile("[\x80-\x9f]")


def _c1_visible(text: str) -> str:
    """C1 controls (``\x9b`` is a one-byte CSI) shown as ``\x9b``: pasted, they are text."""
    return _C1.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _marker_prefix_at_end(text: str, marker: str) -> str:
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-size:]):
            return text[-size:]
    return ""


def _paste_as_text() -> Undo:
    """Escape sequences inside a bracketed paste are replayed as key presses by Textual's
    terminal parser (see ``PasteGuard``): each parser's input goes through a guard first."""
    from textual._xterm_parser import XTermParser

    original = XTermParser.__dict__["feed"]

    def guarded_feed(self: XTermParser, data: str) -> Any:
        guard = self.__dict__.get("_tui_paste_guard")
        if guard is None:
            guard = self.__dict__["_tui_paste_guard"] = PasteGuard()
        if not data:
            return original(self, data)  # the end of the input
        guarded = guard.feed(data)
        return original(self, guarded) if guarded else ()  # all of it held back, for now

    guarded_feed.__doc__ = original.__doc__
    return replace_attribute(XTermParser, "feed", guarded_feed)


FIX = Fix(
    name="paste-as-text",
    group="core",
    summary="escape sequences in pasted text are text, not key presses (pastejacking)",
    upstream="not filed: XTermParser replays unknown sequences inside a paste as keys",
    verified=("8.2.8",),
    needs=(Needs("textual._xterm_parser:XTermParser.feed", params=("self", "data")),),
    apply=_paste_as_text,
    protects=True,
)
