"""Textual's private names the widgets use outside the fixes, each with why, in one line.

Everything else the UI uses is Textual's public API (``textual.widgets.markdown`` for
``Markdown``, ``MarkdownBlock`` and ``MarkdownFence``). These are checked like a fix's needs:
``tests/ui/test_textual_fixes.py`` fails on a Textual that renamed one, and
``tui-chat --version --verbose`` names any that is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.textual_fixes import Needs

MARKDOWN = "textual.widgets._markdown"


@dataclass(frozen=True)
class PrivateUse:
    need: Needs
    where: str
    why: str


def _block(name: str, where: str, why: str) -> PrivateUse:
    return PrivateUse(Needs(f"{MARKDOWN}:{name}"), where, why)


LIST_WHY = "subclassed to lay a list out as a grid; public only as Markdown.BLOCKS values"
OPEN_WHY = "the open block is updated in place by its type; public only in Markdown.BLOCKS"

PRIVATE_USES = (
    _block("MarkdownBullet", "widgets/_lists.py", LIST_WHY),
    _block("MarkdownBulletList", "widgets/_lists.py", LIST_WHY),
    _block("MarkdownOrderedList", "widgets/_lists.py", LIST_WHY),
    _block("MarkdownListItem", "widgets/_lists.py", LIST_WHY),
    _block("MarkdownHeader", "widgets/_open_block.py", OPEN_WHY),
    _block("MarkdownList", "widgets/_open_block.py", OPEN_WHY),
    _block("MarkdownParagraph", "widgets/_open_block.py", OPEN_WHY),
    _block("MarkdownTable", "widgets/_open_block.py", OPEN_WHY),
    _block("MarkdownTableContent", "widgets/_open_block.py", OPEN_WHY),
    _block("MarkdownTableCellContents", "widgets/_open_block.py", OPEN_WHY),
    PrivateUse(
        Needs(f"{MARKDOWN}:Markdown._parse_markdown", params=("self", "tokens")),
        "widgets/streaming_markdown.py",
        "Textual's block builder for the tokens of one block; the public API parses documents",
    ),
    PrivateUse(
        Needs(f"{MARKDOWN}:Markdown", sets=("_markdown", "_table_of_contents")),
        "widgets/streaming_markdown.py",
        "kept in step with the text shown, so Markdown.source and the table of contents hold",
    ),
    PrivateUse(
        Needs(f"{MARKDOWN}:MarkdownTable._get_headers_and_rows", params=("self",)),
        "widgets/_open_block.py",
        "the cells a table would build, to update a streaming table a row at a time",
    ),
    PrivateUse(
        Needs(f"{MARKDOWN}:MarkdownFence", sets=("_highlighted_code",)),
        "widgets/_open_block.py",
        "a fence's code updated in place as MarkdownFence itself updates it",
    ),
    PrivateUse(
        Needs(f"{MARKDOWN}:MarkdownBlock", sets=("_blocks",)),
        "widgets/_lists.py",
        "the item blocks a list was built from, to lay them out and release them",
    ),
    PrivateUse(
        Needs("textual.widget:Widget", sets=("_anchor_released",)),
        "widgets/chat_log.py",
        "whether the reader scrolled away from the bottom; is_anchored stays true then",
    ),
    PrivateUse(
        Needs("textual.widgets._input:Input", sets=("_suggestion",)),
        "widgets/path_input.py",
        "Tab accepts the completion shown; Input has no public getter for it",
    ),
)


def missing() -> list[str]:
    """One line for each private name this Textual no longer has."""
    lines = []
    for use in PRIVATE_USES:
        problem = use.need.problem()
        if problem is not None:
            lines.append(f"{use.where}: {problem} ({use.why})")
    return lines
