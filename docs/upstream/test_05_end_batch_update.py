"""The screen must be updated when a batch update ends.

While `App.batch_update` is open the screen skips its updates, and its idle
handler does not resume its update timer. Ending the batch prompted only the
app, not the screen, so what changed during the batch was not shown until
something else happened to make the screen idle again.
"""

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import Label


class BatchApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Label("before", id="label")


async def test_screen_updates_after_batch() -> None:
    app = BatchApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        frames = []
        display = app._display

        def counting_display(screen, renderable) -> None:
            frames.append(renderable)
            display(screen, renderable)

        app._display = counting_display
        with app.batch_update():
            app.query_one("#label", Label).update("after")
            await asyncio.sleep(0.05)
            assert frames == []  # nothing is shown during the batch
        for _ in range(20):
            await asyncio.sleep(0.05)
            if frames:
                break
        assert frames, "the screen was not updated after the batch ended"
