"""Top-level Markdown blocks of a text being streamed, and when each of them is final."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from tui.widgets._virtual import Slot

if TYPE_CHECKING:
    from markdown_it.token import Token

_DRAWN = frozenset(
    {
        "heading_open",
        "hr",
        "paragraph_open",
        "blockquote_open",
        "bullet_list_open",
        "ordered_list_open",
        "table_open",
        "fence",
        "code_block",
    }
)
"""Top-level token types Textual's Markdown draws a widget for (it skips raw HTML)."""


class Block(Slot):
    """One top-level block: where it is in the text, its tokens, and its widget when mounted."""

    __slots__ = ("start_line", "end_line", "kind", "source", "tokens", "drawn", "code")

    def __init__(
        self, start_line: int, end_line: int, kind: str, source: str, tokens: list[Token]
    ) -> None:
        super().__init__(height=max(1, end_line - start_line))
        self.start_line = start_line
        self.end_line = end_line
        self.kind = kind
        self.source = source
        self.tokens: list[Token] | None = tokens
        """Dropped once the block is final: a long answer would keep ~10 objects a token alive
        (and scanned by every full garbage collection); the source is parsed again if needed."""
        self.drawn = kind in _DRAWN
        self.code = tuple(
            token.content.rstrip() for token in tokens if token.type in ("fence", "code_block")
        )
        """The code of the code blocks in this block (for copying)."""

    def estimate(self, width: int) -> None:
        """Guess the height from the source until the block has been laid out once."""
        rows = sum(len(line) // width + 1 for line in self.source.splitlines())
        self.height = max(1, rows)
        self.margin_top = 1 if self.kind in ("heading_open", "fence", "code_block") else 0
        self.margin_bottom = 1

    def same_as(self, other: Block) -> bool:
        return (
            self.start_line == other.start_line
            and self.end_line == other.end_line
            and self.kind == other.kind
            and self.source == other.source
        )


def split_blocks(tokens: Sequence[Token], text: str, base_line: int) -> Iterator[Block]:
    """Split a parse into its top-level blocks (``text`` is what was parsed)."""
    starts = line_starts(text)
    depth = 0
    current: list[Token] = []
    for token in tokens:
        current.append(token)
        depth += token.nesting
        if depth == 0:
            opener = current[0]
            start, end = opener.map if opener.map is not None else (0, 0)
            source = text[line_offset(starts, start, text) : line_offset(starts, end, text)]
            yield Block(base_line + start, base_line + end, opener.type, source, current)
            current = []


_LISTS = frozenset({"bullet_list_open", "ordered_list_open"})


def first_open(blocks: Sequence[Block], complete_lines: int) -> int:
    """Index of the first block that more text may still change.

    A complete line never changes the blocks before the one it belongs to (setext underlines
    and table delimiter rows only change the paragraph they follow, which is that block). So the
    last block starting on a complete line stays open, and so do blocks on the unfinished last
    line. The block before those stays open too when the unfinished line follows it directly
    (``#`` may turn into ``#5``, a paragraph continuation) or it is a list (``2`` may turn into
    its next item ``2.``).
    """
    index = len(blocks)
    while index > 0 and blocks[index - 1].start_line >= complete_lines:
        index -= 1
    if index == 0:
        return 0
    if index == len(blocks):
        return index - 1
    previous, unfinished = blocks[index - 1], blocks[index]
    if unfinished.start_line <= previous.end_line or previous.kind in _LISTS:
        return index - 1
    return index


def line_starts(text: str) -> list[int]:
    """Offsets at which each line of ``text`` starts (one more than the count of newlines)."""
    starts = [0]
    find = text.find
    position = find("\n")
    while position != -1:
        starts.append(position + 1)
        position = find("\n", position + 1)
    return starts


def line_offset(starts: list[int], line: int, text: str) -> int:
    """Offset where ``line`` starts (the end of the text past the last line)."""
    return starts[line] if line < len(starts) else len(text)


def count_last_rows(blocks: Sequence[Block], width: int, rows: int) -> int:
    """How many of the last ``blocks`` fill about ``rows`` rows (estimated where not measured)."""
    for block in blocks:
        if not block.measured:
            block.estimate(width)
    count = 0
    for block in reversed(blocks):
        if rows <= 0:
            break
        rows -= block.height + block.margin_bottom
        count += 1
    return count
