"""Reading `displayed_and_visible_children` must not change `displayed_children`.

NodeList.displayed_and_visible stored its result in the cache of the displayed
nodes, so afterwards `displayed_children` left out the invisible children (and
the displayed-and-visible list was never cached itself).
"""

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Label


class VisibilityApp(App[None]):
    CSS = "#hidden { visibility: hidden; }"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("shown", id="shown")
            yield Label("hidden", id="hidden")


async def test_displayed_children_include_invisible_children() -> None:
    app = VisibilityApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        container = app.query_one(Vertical)
        shown = app.query_one("#shown")
        hidden = app.query_one("#hidden")
        assert list(container.displayed_and_visible_children) == [shown]
        assert list(container.displayed_children) == [shown, hidden]
        assert list(container.displayed_and_visible_children) == [shown]
