"""Server-sent-event framing over raw bytes, strict about UTF-8.

Follows the WHATWG event-stream rules the OpenAI SDK follows too: ``\\n``, ``\\r\\n`` and
``\\r`` end lines; a blank line ends an event; ``:`` lines are comments (keep-alives); one
space after the field colon is dropped; several ``data:`` lines join with ``\\n``; ``id`` and
``retry`` are not needed here and are ignored. One leniency: an event cut off by the end of the
stream (no final blank line) is still delivered, as some servers close right after their last
``data:`` line.

``httpx-sse`` reads through ``Response.aiter_text()``, which replaces invalid UTF-8 with U+FFFD
and so cannot report it, and it splits every line in Python; this framer decodes strictly and
splits whole events with ``str.split`` (``bench/wire_throughput.py`` compares the two).
"""

from __future__ import annotations

import codecs

from tui.providers.errors import MalformedResponseError

Frame = tuple[str, str]
"""``(event name or "", data)``."""


class SSEDecodeError(MalformedResponseError):
    """The stream is not valid UTF-8."""

    default_message = "The provider sent text that is not valid UTF-8."


class SSEFramer:
    """Turns chunks of bytes into ``(event, data)`` frames as they complete."""

    __slots__ = ("_decoder", "_parts", "_cr")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._parts: list[str] = []
        self._cr = False

    def feed(self, chunk: bytes) -> list[Frame]:
        """Add bytes; return the events they complete (often none or several)."""
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise SSEDecodeError(detail=f"invalid UTF-8 at byte {exc.start} of a chunk") from None
        if not text:
            return []
        if self._cr or "\r" in text:
            text = self._normalise(text)
            if not text:
                return []
        parts = self._parts
        if parts:
            # An event boundary may straddle the previous chunk and this one.
            if "\n\n" not in text and not (text[0] == "\n" and parts[-1][-1:] == "\n"):
                parts.append(text)
                return []
            parts.append(text)
            text = "".join(parts)
            parts.clear()
        blocks = text.split("\n\n")
        rest = blocks.pop()
        if rest:
            parts.append(rest)
        frames: list[Frame] = []
        for block in blocks:
            if block[:6] == "data: " and "\n" not in block:
                frames.append(("", block[6:]))
            elif block:
                frame = _parse_block(block)
                if frame is not None:
                    frames.append(frame)
        return frames

    def flush(self) -> list[Frame]:
        """End of stream: the event left without a closing blank line, if any."""
        try:
            tail = self._decoder.decode(b"", True)
        except UnicodeDecodeError:
            raise SSEDecodeError(detail="the stream ends inside a UTF-8 character") from None
        text = "".join(self._parts) + tail
        self._parts.clear()
        frame = _parse_block(text.replace("\r\n", "\n").replace("\r", "\n")) if text else None
        return [frame] if frame is not None else []

    def _normalise(self, text: str) -> str:
        if self._cr:
            text = "\r" + text
            self._cr = False
        if text[-1] == "\r":
            # Maybe the first half of "\r\n": decide when the next chunk comes.
            self._cr = True
            text = text[:-1]
        return text.replace("\r\n", "\n").replace("\r", "\n")


def _parse_block(block: str) -> Frame | None:
    event = ""
    data: list[str] = []
    for line in block.split("\n"):
        if not line or line[0] == ":":
            continue
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if not data:
        return None
    return event, "\n".join(data)
