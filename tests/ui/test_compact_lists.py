"""Lists in answers: drawn exactly as Textual's Markdown draws them, with half the widgets."""

from __future__ import annotations

from rich.segment import Segment
from textual.app import App
from textual.widgets import Markdown
from textual.widgets._markdown import MarkdownBullet, MarkdownParagraph

from tests.ui.conftest import wait_for
from tests.ui.hosts import Host, screen_lines, settle
from tui.widgets._lists import CompactBulletList, CompactOrderedList
from tui.widgets.streaming_markdown import StreamingMarkdown

LISTS = """Before the lists.

- one
- two with **bold**, `code` and a [link](https://example.com) that is long enough to wrap
  across more than one line of the terminal
- three
  - nested a
  - nested b
    1. deep one
    2. deep two
- four

  a second paragraph in four

- five

  ```python
  print("in an item")
  ```

7. seven
8. eight
9. nine
10. ten
11. eleven

1) paren one
2) paren two

* star
+ plus

> A quote
> - with a list inside

After the lists.
"""


def drawn_cells(app: App[None]) -> list[list[tuple[str, str]]]:
    """Every row of the screen as (text, style) runs: what the terminal is sent."""
    rows = []
    for strip in app.screen._compositor.render_strips():
        rows.append([(text, str(style)) for text, style, _ in Segment.simplify(strip) if text])
    return rows


async def render(
    widget: Markdown, width: int, theme: str
) -> tuple[list[list[tuple[str, str]]], int]:
    app = Host(widget)
    async with app.run_test(size=(width, 60)) as pilot:
        app.theme = theme
        await settle(pilot)
        return drawn_cells(app), len(list(widget.query("*")))


async def test_lists_look_exactly_like_textuals_with_half_the_widgets() -> None:
    for width, theme in ((100, "textual-dark"), (44, "textual-light")):
        expected, textual_widgets = await render(Markdown(LISTS), width, theme)
        drawn, our_widgets = await render(StreamingMarkdown(LISTS), width, theme)
        assert drawn == expected, f"differs at width {width} in {theme}"
        assert our_widgets <= textual_widgets * 2 / 3  # (one-line items: 4 widgets, now 2)


async def test_items_are_a_bullet_then_their_block() -> None:
    markdown = StreamingMarkdown("- alpha\n- beta\n\n3. gamma\n4. delta\n")
    app = Host(markdown)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        bullets, numbers = markdown.children
        assert isinstance(bullets, CompactBulletList)
        assert isinstance(numbers, CompactOrderedList)
        assert [type(child) for child in bullets.children] == [
            MarkdownBullet,
            MarkdownParagraph,
            MarkdownBullet,
            MarkdownParagraph,
        ]
        assert [child.symbol for child in numbers.query(MarkdownBullet)] == [
            " 3. ",
            " 4. ",
        ]  # as Textual pads them
        lines = screen_lines(app)
        assert any(line.strip() == "• alpha" for line in lines)
        assert any(line.strip() == "4. delta" for line in lines)


async def test_a_streamed_list_grows_in_place() -> None:
    markdown = StreamingMarkdown()
    app = Host(markdown)
    async with app.run_test(size=(60, 30)) as pilot:

        def items() -> list[str]:
            found = markdown.query(CompactOrderedList)
            if not found:
                return []
            return [p._content.plain for p in found.first().query(MarkdownParagraph)]

        markdown.append("Steps:\n\n1. first step\n2. second")
        await wait_for(lambda: items() == ["first step", "second"])
        numbers = markdown.query_one(CompactOrderedList)
        first_row = numbers.children[:2]
        markdown.append(" step, longer now\n3. third")
        await wait_for(lambda: items() == ["first step", "second step, longer now", "third"])
        # While it streams, the open list is updated in place: the finished item keeps its
        # bullet and paragraph, the growing one gets its new text.
        assert markdown.query_one(CompactOrderedList) is numbers
        assert numbers.children[:2] == first_row
        markdown.append(" step\n")
        await markdown.finish()
        await markdown.confirmed()
        await settle(pilot)
        numbers = markdown.query_one(CompactOrderedList)
        texts = [paragraph._content.plain for paragraph in numbers.query(MarkdownParagraph)]
        assert texts == ["first step", "second step, longer now", "third step"]
        lines = screen_lines(app)
        assert any(line.strip() == "3. third step" for line in lines)
