"""A Markdown table cell's tooltip must show the cell's text, not parse it as markup.

Cells were given their plain text as a tooltip `str`, which is read as content
markup: text such as `x [/b] y` in a cell raised MarkupError when the tooltip was
shown, and `[@click=app.quit]` would run an action.
"""

from textual.app import App, ComposeResult
from textual.visual import visualize
from textual.widgets import Markdown
from textual.widgets._markdown import MarkdownTableCellContents

TABLE = """\
| Header | Other |
| ------ | ----- |
| x [/b] y | [@click=app.quit]quit[/] |
"""


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Markdown(TABLE)


async def test_table_cell_tooltips_are_text() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        cells = list(app.query(MarkdownTableCellContents))
        assert len(cells) == 4
        tooltips = [visualize(cell, cell.tooltip).plain for cell in cells]
        assert tooltips == ["Header", "Other", "x [/b] y", "[@click=app.quit]quit[/]"]
