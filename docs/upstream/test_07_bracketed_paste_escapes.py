"""Escape sequences inside a bracketed paste must be pasted text, never key presses.

The parser parsed escape sequences inside a paste; one it did not recognise
was replayed character by character as Key events (so pasted text could press
any key the app binds) and its characters were missing from the Paste event.
"""

import pytest
from textual._xterm_parser import XTermParser
from textual.events import Paste

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


@pytest.mark.parametrize(
    "pasted_text",
    [
        "title: \x1b]0;hello\x07 done",  # OSC sequence
        "colour: \x1b[31mred\x1b[0m",  # SGR sequences
        "escape then q: \x1bq",  # would be alt+q
        "lone escape at the end \x1b",
        "up: \x1b[A",  # a known key sequence
    ],
)
def test_escape_sequences_in_paste_are_text(pasted_text: str) -> None:
    parser = XTermParser()
    events = list(parser.feed(f"{PASTE_START}{pasted_text}{PASTE_END}"))
    assert [type(event) for event in events] == [Paste]
    assert events[0].text == pasted_text


def test_paste_split_across_reads() -> None:
    parser = XTermParser()
    data = f"a{PASTE_START}one \x1b]0;x\x07 two{PASTE_END}b"
    events = []
    for character in data:
        events.extend(parser.feed(character))
    assert [type(event).__name__ for event in events] == ["Key", "Paste", "Key"]
    assert events[1].text == "one \x1b]0;x\x07 two"


def test_empty_paste() -> None:
    parser = XTermParser()
    events = list(parser.feed(f"{PASTE_START}{PASTE_END}"))
    assert [type(event) for event in events] == [Paste]
    assert events[0].text == ""
