"""Removed children must not stay alive in a container's cached list of displayed children.

NodeList caches its list of displayed nodes until the list is next read, so a
container whose children are removed, and which is not laid out again (here,
because it is hidden), kept the removed children alive.
"""

import gc
import weakref

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Label


class HiddenApp(App[None]):
    CSS = "#container { display: none; }"

    def compose(self) -> ComposeResult:
        with Vertical(id="container"):
            yield Label("one")
            yield Label("two")


async def test_removed_children_are_freed() -> None:
    app = HiddenApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        container = app.query_one("#container")
        child_refs = [weakref.ref(child) for child in container.children]
        assert len(container.displayed_children) == 2
        await container.remove_children()
        await pilot.pause()
        gc.collect()
        assert [ref() for ref in child_refs] == [None, None]
        assert list(container.displayed_children) == []
