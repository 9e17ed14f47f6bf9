"""Markdown lists drawn with half the widgets of Textual's own.

Textual's lists put every item in a ``Horizontal`` holding its bullet and a ``Vertical`` of its
blocks: four widgets for a one-line item. Mounting, styling and laying out those widgets is
most of the cost of showing a list-heavy answer, so these lists lay their items out as a
two-column grid instead: the bullet, then the item's only block (or a ``Vertical`` when it has
several). They look the same: the bullets' column is as wide as the widest bullet, which Textual
pads to the same width anyway, and the items take the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets._markdown import (
    MarkdownBullet,
    MarkdownBulletList,
    MarkdownListItem,
    MarkdownOrderedList,
)

from tui.textual_fixes.core import release_block

_GRID_CSS = """
    layout: grid;
    grid-size: 2;
    grid-columns: auto 1fr;
    grid-rows: auto;
    height: auto;
    & > Vertical { height: auto; width: 1fr; }
"""


def _item_widgets(item: MarkdownListItem, symbol: str) -> Iterator[Widget]:
    """The bullet and the contents of one item; the item itself is released (never mounted)."""
    bullet = MarkdownBullet()
    bullet.symbol = symbol
    yield bullet
    blocks = list(item._blocks)
    item._blocks.clear()  # (its blocks are mounted in the list: they are not the item's)
    release_block(item)
    if len(blocks) == 1:
        yield blocks[0]
    else:
        yield Vertical(*blocks)


class CompactBulletList(MarkdownBulletList):
    """A bullet list: two widgets per one-block item instead of four."""

    DEFAULT_CSS = "CompactBulletList {" + _GRID_CSS + "}"

    def compose(self) -> Iterator[Widget]:
        items = [block for block in self._blocks if isinstance(block, MarkdownListItem)]
        self._blocks.clear()
        for item in items:
            yield from _item_widgets(item, item.bullet)


class CompactOrderedList(MarkdownOrderedList):
    """A numbered list: two widgets per one-block item instead of four."""

    DEFAULT_CSS = "CompactOrderedList {" + _GRID_CSS + "}"

    def compose(self) -> Iterator[Widget]:
        items = [block for block in self._blocks if isinstance(block, MarkdownListItem)]
        self._blocks.clear()
        if not items:
            return
        suffix = ". "
        start = 1
        try:
            start = int(items[0].bullet)
        except ValueError:
            pass
        symbols = [f"{number}{suffix}" for number in range(start, start + len(items))]
        width = max(len(symbol) for symbol in symbols) + 1
        for item, symbol in zip(items, symbols, strict=True):
            yield from _item_widgets(item, symbol.rjust(width))
