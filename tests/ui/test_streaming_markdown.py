"""StreamingMarkdown: what streams in ends up exactly as a one-shot Markdown render shows it."""

from __future__ import annotations

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Markdown
from textual.widgets._markdown import MarkdownBlock, MarkdownFence, MarkdownTable

from tests.ui.conftest import wait_for
from tests.ui.hosts import Host, screen_lines, settle
from tui.widgets.streaming_markdown import StreamingMarkdown

DOCUMENT = """# Streaming notes

A first paragraph with **bold**, `code` and a [link](https://example.com) that is long
enough to wrap across more than one line of the terminal when it is rendered.

Setext heading
--------------

- one
- two with *emphasis*
  - nested item
- three

1. first
2. second
3. third
4. fourth
5. fifth
6. sixth
7. seventh
8. eighth
9. ninth
10. tenth

```python
def main() -> None:
    print("hello")

    print("after a blank line")
```

> A quote
> over two lines.

| name | value |
|------|-------|
| a    | 1     |
| b    | 2     |

---

Last paragraph.
"""


def chunks(text: str, size: int) -> list[str]:
    return [text[index : index + size] for index in range(0, len(text), size)]


def top_level_structure(markdown: Markdown) -> list[tuple[str, str]]:
    """Each top-level block: its kind (the Textual class it is or extends) and its text."""
    result: list[tuple[str, str]] = []
    for block in markdown.children:
        assert isinstance(block, MarkdownBlock)
        kind = next(cls for cls in type(block).__mro__ if cls.__module__.startswith("textual."))
        texts = [block._content.plain] + [
            child._content.plain for child in block.query(MarkdownBlock)
        ]
        if isinstance(block, MarkdownFence):
            texts.append(block.code)
        result.append((kind.__name__, "|".join(texts)))
    return result


async def stream(pilot: Pilot[None], markdown: StreamingMarkdown, text: str, size: int) -> None:
    """Append ``text`` in pieces of ``size``, letting a frame through now and then."""
    for index, piece in enumerate(chunks(text, size)):
        shown = markdown.append(piece)
        if index % 7 == 0:
            await shown  # the frame that shows it
    await markdown.finish()
    await markdown.confirmed()
    await pilot.pause()


async def one_shot(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    app = Host(Markdown(text, id="md"))
    async with app.run_test(size=(80, 120)) as pilot:
        await pilot.pause()
        markdown = app.query_one("#md", Markdown)
        return screen_lines(app), top_level_structure(markdown)


async def test_many_small_deltas_end_with_exactly_the_text() -> None:
    markdown = StreamingMarkdown()
    app = Host(markdown)
    async with app.run_test(size=(80, 120)) as pilot:
        await stream(pilot, markdown, DOCUMENT, 3)
        assert markdown.text == DOCUMENT
        assert markdown.source == DOCUMENT
        assert not markdown.is_streaming


async def test_final_render_equals_a_one_shot_render() -> None:
    expected_lines, expected_structure = await one_shot(DOCUMENT)
    for size in (1, 5, 17):
        markdown = StreamingMarkdown()
        app = Host(markdown)
        async with app.run_test(size=(80, 120)) as pilot:
            await stream(pilot, markdown, DOCUMENT, size)
            assert top_level_structure(markdown) == expected_structure
            assert screen_lines(app) == expected_lines


async def test_finished_blocks_are_rendered_once() -> None:
    markdown = StreamingMarkdown()
    app = Host(markdown)
    async with app.run_test(size=(80, 120)) as pilot:
        await markdown.append("# Title\n\nFirst paragraph.\n\n")
        heading = markdown.children[0]
        for piece in chunks("Second paragraph grows word by word. " * 8, 6):
            await markdown.append(piece)  # a frame for each piece
        assert markdown.frozen_count == 2
        assert markdown.children[0] is heading  # never rebuilt while the tail streamed
        await markdown.finish()
        await markdown.confirmed()
        await pilot.pause()
        assert markdown.children[0] is heading
        # Three blocks, each built once, plus the open paragraph built afresh by ``finish``;
        # the clean parse that follows agrees with all of them and rebuilds none.
        assert markdown.block_renders == 4
        assert markdown.confirm_rebuilds == 0


async def test_open_code_fence_shows_code_while_streaming_and_after_finish() -> None:
    markdown = StreamingMarkdown()
    app = Host(markdown)
    async with app.run_test(size=(80, 40)) as pilot:
        await markdown.append("Intro\n\n```python\nprint(1)\n\nprint(2)")
        await pilot.pause()
        fences = list(markdown.query(MarkdownFence))
        assert [fence.code for fence in fences] == ["print(1)\n\nprint(2)"]
        await markdown.finish()
        await pilot.pause()
        fences = list(markdown.query(MarkdownFence))
        assert [fence.code for fence in fences] == ["print(1)\n\nprint(2)"]
        assert any("print(2)" in line for line in screen_lines(app))


async def test_set_text_renders_a_static_message() -> None:
    expected_lines, expected_structure = await one_shot(DOCUMENT)
    markdown = StreamingMarkdown("placeholder")
    app = Host(markdown)
    async with app.run_test(size=(80, 120)) as pilot:
        await markdown.set_text(DOCUMENT)
        await pilot.pause()
        assert top_level_structure(markdown) == expected_structure
        # The frame after the update may still be on its way: wait for it, not a fixed time.
        await wait_for(lambda: screen_lines(app) == expected_lines, timeout=5)
        assert screen_lines(app) == expected_lines


async def test_a_long_answer_keeps_only_the_blocks_near_the_view_mounted() -> None:
    text = "".join(f"Paragraph {index} of a long answer.\n\n" for index in range(150))
    markdown = StreamingMarkdown()
    app = Host(markdown)
    async with app.run_test(size=(60, 20)) as pilot:
        app.query_one("#scroll").anchor()
        for index, piece in enumerate(chunks(text, 40)):
            shown = markdown.append(piece)
            if index % 7 == 0:
                await shown
        await markdown.finish()
        await settle(pilot)
        assert markdown.block_count == 150
        assert markdown.mounted_block_count < 60
        # The last line streamed is in view, at the bottom.
        visible = [line for line in screen_lines(app) if line.strip()]
        assert "Paragraph 149 of a long answer." in visible[-1]
        # Scrolling back to the top mounts the first blocks again, at the same height.
        scroll = app.query_one("#scroll")
        scroll.scroll_home(animate=False)
        await settle(pilot)
        await settle(pilot)
        assert any("Paragraph 0 of a long answer." in line for line in screen_lines(app))


async def test_append_before_mount_is_shown_once_mounted() -> None:
    markdown = StreamingMarkdown()
    app: App[None] = Host()
    async with app.run_test(size=(60, 20)) as pilot:
        markdown.append("Hello **world**")
        await app.query_one("#scroll").mount(markdown)
        await settle(pilot)
        await markdown.finish()
        await pilot.pause()
        assert "Hello world" in "\n".join(screen_lines(app))


async def test_a_streaming_table_grows_row_by_row_in_the_same_widget() -> None:
    rows = "".join(f"| {index} | {index * index} |\n" for index in range(12))
    text = "| n | square |\n|---|--------|\n" + rows
    expected_lines, _ = await one_shot(text)
    markdown = StreamingMarkdown()
    app = Host(markdown)
    async with app.run_test(size=(80, 120)) as pilot:
        for line in text.splitlines(keepends=True)[:3]:
            shown = markdown.append(line)
        await shown
        table = markdown.query_one(MarkdownTable)
        for line in text.splitlines(keepends=True)[3:]:
            await markdown.append(line)  # waits for the frame that shows the line
        await pilot.pause()
        assert markdown.query_one(MarkdownTable) is table
        assert any("11" in line and "121" in line for line in screen_lines(app))
        await markdown.finish()
        await markdown.confirmed()
        await pilot.pause()
        assert screen_lines(app) == expected_lines


async def test_reading_the_text_mid_stream_never_holds_back_the_screen() -> None:
    markdown = StreamingMarkdown()
    app = Host(markdown)
    async with app.run_test(size=(80, 30)) as pilot:
        markdown.append("First paragraph.\n\nSecond para")
        assert markdown.text == "First paragraph.\n\nSecond para"  # e.g. a copy mid-stream
        await settle(pilot)
        shown = "\n".join(screen_lines(app))
        assert "Second para" in shown  # drawn although nothing more arrived
        assert markdown.is_streaming


async def test_finish_shows_the_rest_at_once_and_the_clean_parse_mends_the_rest() -> None:
    # A link reference defined at the very end turns "[docs]" further up into a link: the
    # paragraph was frozen long before, so only the clean parse after ``finish`` can see it.
    text = (
        "See [docs] for more.\n\n"
        + "".join(f"Paragraph {index}.\n\n" for index in range(6))
        + "Last words\n\n[docs]: https://example.com/docs\n"
    )
    expected_lines, expected_structure = await one_shot(text)
    markdown = StreamingMarkdown()
    app = Host(markdown)
    async with app.run_test(size=(80, 120)) as pilot:
        for index, piece in enumerate(chunks(text, 4)):
            shown = markdown.append(piece)
            if index % 7 == 0:
                await shown
        assert top_level_structure(markdown)[0] == ("MarkdownParagraph", "See [docs] for more.")
        await markdown.finish()
        assert not markdown.is_confirmed
        assert markdown.text == text
        # Everything that arrived is shown by the time ``finish`` returns.
        assert top_level_structure(markdown)[-1] == ("MarkdownParagraph", "Last words")
        await markdown.confirmed()
        await pilot.pause()
        assert markdown.confirm_rebuilds > 0
        assert top_level_structure(markdown) == expected_structure
        assert top_level_structure(markdown)[0] == ("MarkdownParagraph", "See docs for more.")
        assert screen_lines(app) == expected_lines


async def test_finishing_twice_or_a_text_that_never_streamed_changes_nothing() -> None:
    markdown = StreamingMarkdown("Static **text**.")
    app = Host(markdown)
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        renders = markdown.block_renders
        await markdown.finish()
        await markdown.confirmed()
        assert markdown.block_renders == renders
        markdown.append(" More.")
        await markdown.finish()
        await markdown.confirmed()
        renders = markdown.block_renders
        await markdown.finish()
        await pilot.pause()
        assert markdown.block_renders == renders
        assert markdown.text == "Static **text**. More."
        assert any("Static text. More." in line for line in screen_lines(app))


async def test_a_table_cell_with_markup_in_it_is_text_in_its_tooltip() -> None:
    """A cell's tooltip shows its text: ``[/b]`` in a reply's table neither fails nor styles."""
    from textual.content import Content

    text = "| a | b |\n|---|---|\n| x [/b] y | [@click=app.quit]z[/] |\n| 1 | 2 |\n"
    markdown = StreamingMarkdown()
    app = Host(markdown)
    async with app.run_test(size=(80, 30), tooltips=True) as pilot:
        for line in text.splitlines(keepends=True):
            await markdown.append(line)  # the table grows in place, row by row
        cells = [
            cell for cell in markdown.query("MarkdownTableCellContents") if "[" in str(cell.tooltip)
        ]
        assert [str(cell.tooltip) for cell in cells] == ["x [/b] y", "[@click=app.quit]z[/]"]
        assert all(isinstance(cell.tooltip, Content) for cell in cells)
        await pilot.hover(cells[0])
        await pilot.hover(cells[1])
        await wait_for(lambda: app.is_running and app.screen.query("Tooltip"))
        assert app.is_running


async def test_a_finished_table_with_markup_in_a_cell_survives_the_pointer() -> None:
    """The same table shown whole (a stored reply, reopened): Textual's own table gives the
    tooltips, and they are text too."""
    from textual.content import Content

    text = "| a | b |\n|---|---|\n| x [/b] y | [@click=app.quit]z[/] |\n"
    markdown = StreamingMarkdown(text)
    app = Host(markdown)
    async with app.run_test(size=(80, 30), tooltips=True) as pilot:
        await markdown.confirmed()
        cells = [c for c in markdown.query("MarkdownTableCellContents") if "[" in str(c.tooltip)]
        assert [str(cell.tooltip) for cell in cells] == ["x [/b] y", "[@click=app.quit]z[/]"]
        assert all(isinstance(cell.tooltip, Content) for cell in cells)
        await pilot.hover(cells[0])
        await wait_for(lambda: app.screen.query("Tooltip"))
        assert app.is_running
