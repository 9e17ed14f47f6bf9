"""Frames an app really draws, for the benchmarks that time them.

``call_after_refresh`` is no frame signal: its callbacks also run when Textual holds a screen
update back (as it does while widgets are mounted in a batch), and a widget's ``region`` read
then comes from a map that was never drawn. These helpers hook the app's display, where a
terminal app hands each frame to the terminal, and read the map that frame was drawn from.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.widget import Widget


class DrawnFrames:
    """Waits for the next frame the app draws; ask with ``next()`` before causing it.

    ``probe`` runs as each awaited frame is drawn (so it sees exactly that frame's map); its
    result comes with the frame's time.
    """

    def __init__(self, app: App[Any], probe: Callable[[], bool] = lambda: False) -> None:
        self._waiter: asyncio.Future[tuple[float, bool]] | None = None
        display = app._display

        def display_and_note(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            waiter = self._waiter
            if renderable is not None and waiter is not None and not waiter.done():
                waiter.set_result((time.perf_counter(), probe()))

        app._display = display_and_note  # type: ignore[method-assign]

    def next(self) -> asyncio.Future[tuple[float, bool]]:
        """A future set to the time (``perf_counter``) the next frame was drawn, and what the
        probe found in it."""
        self._waiter = asyncio.get_running_loop().create_future()
        return self._waiter


def blank_rows(area: Widget) -> bool:
    """The last frame drew a placeholder (a folded run of messages or blocks) in ``area``."""
    from tui.widgets._virtual import Spacer

    view = area.content_region
    drawn = area.screen._compositor.visible_widgets
    return any(
        isinstance(widget, Spacer) and region.intersection(clip).overlaps(view)
        for widget, (region, clip) in drawn.items()
    )
