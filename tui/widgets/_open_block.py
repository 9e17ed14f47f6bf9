"""Updating the widget of the open (still streaming) Markdown block in place.

Rebuilding the open block every frame would create and discard a widget tree per frame: with a
list that is dozens of widgets, and every discarded widget is cyclic garbage that only Python's
slow full collections reclaim. A paragraph, heading or code block only needs its content set
again; a list keeps the rows of its finished items and updates or replaces only the last ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets._markdown import (
    MarkdownBlock,
    MarkdownFence,
    MarkdownHeader,
    MarkdownList,
    MarkdownOrderedList,
    MarkdownParagraph,
    MarkdownTable,
    MarkdownTableCellContents,
    MarkdownTableContent,
)

from tui.widgets._lists import CompactBulletList, CompactOrderedList

if TYPE_CHECKING:
    from markdown_it.token import Token

Item = tuple[tuple[str, str, str], ...]


async def update_in_place(
    widget: MarkdownBlock,
    old_tokens: Sequence[Token],
    new_tokens: Sequence[Token],
    build: Callable[[Sequence[Token]], MarkdownBlock],
) -> bool:
    """Make ``widget`` (built from ``old_tokens``) show ``new_tokens``; false if it cannot."""
    kind = new_tokens[0].type
    if kind != old_tokens[0].type:
        return False
    if kind in ("paragraph_open", "heading_open"):
        if not isinstance(widget, MarkdownParagraph | MarkdownHeader) or len(new_tokens) != 3:
            return False
        if old_tokens[0].tag != new_tokens[0].tag:
            return False  # a setext underline turned the paragraph into a heading
        widget.build_from_token(new_tokens[1])
        return True
    if kind in ("fence", "code_block"):
        if not isinstance(widget, MarkdownFence):
            return False
        set_code(widget, new_tokens[0])
        return True
    if kind in ("bullet_list_open", "ordered_list_open") and isinstance(widget, MarkdownList):
        return await _update_list(widget, old_tokens, new_tokens, build)
    if kind == "table_open" and isinstance(widget, MarkdownTable):
        fresh = build(new_tokens)
        return isinstance(fresh, MarkdownTable) and await _update_table(widget, fresh)
    return False


def set_code(fence: MarkdownFence, token: Token) -> None:
    """Show the code of ``token`` in ``fence``, highlighted as ``MarkdownFence`` does."""
    fence.code = token.content.rstrip()
    fence.lexer = token.info
    fence._highlighted_code = fence.highlight(
        fence.code,
        fence.lexer,
        ansi=fence.app.native_ansi_color,
        dark=fence.app.current_theme.dark,
    )
    fence.set_content(fence._highlighted_code)


def list_items(tokens: Sequence[Token]) -> list[Item]:
    """The tokens of each item of a top-level list, to tell which items a new parse changed."""
    items: list[Item] = []
    current: list[tuple[str, str, str]] = []
    for token in tokens:
        if token.level == 1 and token.type == "list_item_open":
            current = []
        elif token.level == 1 and token.type == "list_item_close":
            items.append(tuple(current))
        else:
            current.append((token.type, token.tag, token.content))
    return items


def _number_width(tokens: Sequence[Token], count: int) -> int:
    """Digits in the last number of an ordered list of ``count`` items."""
    start = next((token.info for token in tokens if token.type == "list_item_open"), "1")
    return len(str((int(start) if start.isdigit() else 1) + count - 1))


def _item_inline(tokens: Sequence[Token], index: int) -> Token | None:
    """The inline token of item ``index`` when the item is one plain paragraph."""
    seen = -1
    inside: list[Token] = []
    for token in tokens:
        if token.level == 1 and token.type == "list_item_open":
            seen += 1
            inside = []
        elif token.level == 1 and token.type == "list_item_close":
            if seen == index:
                break
        elif seen == index:
            inside.append(token)
    if len(inside) == 3 and inside[0].type == "paragraph_open" and inside[1].type == "inline":
        return inside[1]
    return None


async def _update_list(
    widget: MarkdownList,
    old_tokens: Sequence[Token],
    new_tokens: Sequence[Token],
    build: Callable[[Sequence[Token]], MarkdownBlock],
) -> bool:
    # Textual's lists have one row per item; the compact ones a bullet and a content widget.
    per_item = 2 if isinstance(widget, CompactBulletList | CompactOrderedList) else 1
    rows = list(widget.children)
    old_items, new_items = list_items(old_tokens), list_items(new_tokens)
    if len(rows) != len(old_items) * per_item or not new_items:
        return False
    same = 0
    for old_item, new_item in zip(old_items, new_items, strict=False):
        if old_item != new_item:
            break
        same += 1
    if isinstance(widget, MarkdownOrderedList) and _number_width(
        old_tokens, len(old_items)
    ) != _number_width(new_tokens, len(new_items)):
        same = 0  # numbers are right-aligned: one more digit moves every bullet
    if same == len(old_items) == len(new_items):
        return True
    last = len(old_items) - 1
    if same == last and len(new_items) == len(old_items):
        # The usual case: more text in the last item, still one paragraph.
        inline = _item_inline(new_tokens, last)
        content = rows[(last + 1) * per_item - 1]
        paragraphs = [content] if isinstance(content, MarkdownParagraph) else []
        paragraphs.extend(content.query(MarkdownParagraph))
        if inline is not None and _item_inline(old_tokens, last) is not None and paragraphs:
            paragraphs[0].build_from_token(inline)
            return True
    # Build rows for the changed items only: a list of just those items numbers and bullets
    # them as the whole list would (the widest number is the last one, which it includes).
    spans = _item_spans(new_tokens)
    tail = [new_tokens[0], *new_tokens[spans[same][0] : spans[-1][1]], new_tokens[-1]]
    new_rows = list(build(tail).compose())
    if rows[same * per_item :]:
        await widget.remove_children(rows[same * per_item :])
    if new_rows:
        await widget.mount_all(new_rows)
    return True


def _item_spans(tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """Token index ranges of each item of a top-level list."""
    spans: list[tuple[int, int]] = []
    start = 0
    for index, token in enumerate(tokens):
        if token.level == 1 and token.type == "list_item_open":
            start = index
        elif token.level == 1 and token.type == "list_item_close":
            spans.append((start, index + 1))
    return spans


async def _update_table(widget: MarkdownTable, fresh: MarkdownTable) -> bool:
    """Replace the cells of the rows that changed, made as ``MarkdownTableContent`` makes them."""
    contents = widget.query_children(MarkdownTableContent)
    if not contents:
        return False
    content = contents.first()
    headers, rows = fresh._get_headers_and_rows()
    if [header.plain for header in headers] != [header.plain for header in content.headers]:
        return False
    old_rows = content.rows
    same = 0
    for old_row, new_row in zip(old_rows, rows, strict=False):
        if [cell.markup for cell in old_row] != [cell.markup for cell in new_row]:
            break
        same += 1
    stale = [
        child
        for child in content.children
        if any(child.has_class(f"row{index}") for index in range(same + 1, len(old_rows) + 1))
    ]
    cells = [
        MarkdownTableCellContents(
            cell, classes=f"row{row_index} cell", name=f"cell{row_index}.{cell_index}"
        ).with_tooltip(Content(cell.plain))  # a tooltip reads a str as markup
        for row_index, row in enumerate(rows[same:], same + 1)
        for cell_index, cell in enumerate(row, 1)
    ]
    if stale:
        await content.remove_children(stale)
    if cells:
        await content.mount_all(cells)
    content.rows = rows
    content.last_row = len(rows)
    widget._headers, widget._rows = headers, rows
    return True
