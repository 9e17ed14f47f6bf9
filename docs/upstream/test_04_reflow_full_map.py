"""A full layout (Compositor.reflow) must leave the full map it built marked as valid.

After a scroll (Compositor.reflow_visible marks the full map invalid), the next
full layout built a new full map but left it marked invalid, so the next query
about a widget's geometry laid the whole screen out a second time.
"""

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label


class LongApp(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            for index in range(100):
                yield Label(f"Label {index}", id=f"label-{index}")


async def test_full_map_is_valid_after_reflow() -> None:
    app = LongApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        compositor = screen._compositor
        compositor.reflow_visible(screen, screen.size)  # as a scroll does
        compositor.reflow(screen, screen.size)  # a full layout

        arrangements = []
        arrange_root = compositor._arrange_root

        def counting_arrange_root(*args, **kwargs):
            arrangements.append(args)
            return arrange_root(*args, **kwargs)

        compositor._arrange_root = counting_arrange_root
        try:
            # A label far off screen, so not in the visible map
            geometry = screen.find_widget(app.query_one("#label-90"))
        finally:
            del compositor._arrange_root
        assert geometry.region.y >= 90
        assert arrangements == []
