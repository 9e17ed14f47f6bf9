"""Compositor._arrange_root must not leave its layout map in a reference cycle.

The recursive nested function it uses refers to itself through its closure, so
the function, the map and the set of widgets it builds stay in a cycle that only
the garbage collector can free, on every layout.
"""

import gc

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label


class LayoutApp(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            for index in range(20):
                yield Label(f"Label {index}")


async def test_arrange_root_leaves_no_cycle() -> None:
    app = LayoutApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        compositor = screen._compositor
        gc.collect()
        gc.disable()
        try:
            layout_map, widgets = compositor._arrange_root(screen, screen.size, visible_only=False)
            assert len(layout_map) > 20
            del layout_map, widgets
            assert gc.collect() == 0
        finally:
            gc.enable()
