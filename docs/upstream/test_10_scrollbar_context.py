"""Starting a widget must not keep the message pump active at that moment alive.

A widget's message task is created in a copy of the current context, in which
`active_message_pump` is whichever widget is being handled, and the task keeps
that value for as long as it runs. A scrollbar is built when it is first needed,
so it kept the widget that happened to trigger it alive for as long as the
scrollbar lived (as long as its container).
"""

import gc
import weakref

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label


class Trigger(Label):
    def on_mount(self) -> None:
        # Something this widget does first builds the scroll container's scrollbar
        self.app.query_one("#scroll").vertical_scrollbar  # noqa: B018 (built for its effect)


class ScrollApp(App[None]):
    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="scroll")


async def test_scrollbar_does_not_keep_trigger_alive() -> None:
    app = ScrollApp()
    async with app.run_test() as pilot:
        trigger = Trigger("trigger")
        await app.screen.mount(trigger)
        await pilot.pause()
        assert app.query_one("#scroll")._vertical_scrollbar is not None
        trigger_ref = weakref.ref(trigger)
        await trigger.remove()
        del trigger
        await pilot.pause()
        # Rebuild the screen's cached list of displayed children, which may still
        # hold the removed widget (a separate defect)
        app.screen.displayed_children  # noqa: B018 (read for its effect)
        gc.collect()
        assert trigger_ref() is None
