"""The footer of key bindings, rebuilt only when the keys it shows change.

Textual's ``Footer`` rebuilds all its keys (some fifteen widgets, each styled anew) on every
"bindings updated" signal, and a screen sends one for each change of focus: opening a
conversation sent five in a row, and rebuilding them cost more than loading and laying out the
conversation itself. This footer rebuilds once per burst of signals, and not at all when the
keys, their descriptions and their enabled states are the ones it already shows, nor while its
screen is not the one in front (Textual signals again when a screen is resumed).
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    """A ``Footer`` that packs its keys below ``roomy`` columns and skips needless rebuilds."""

    def __init__(self, *, roomy: int, width: int, **kwargs: Any) -> None:
        super().__init__(compact=width < roomy, **kwargs)
        self.roomy = roomy
        self._queued = False
        self._shown: object = None

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < self.roomy

    def shown_keys(self) -> object:
        """What the footer would show now: each shown binding, enabled or not, and its tip."""
        return tuple(
            (binding, enabled, tooltip)
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self._queued:
            return  # a rebuild is already on its way; it will read the newest bindings
        super().bindings_changed(screen)
        self._queued = self.is_attached and screen is self.screen and self.app.app_focus

    async def recompose(self) -> None:
        self._queued = False
        if not self.is_attached or self.screen is not self.app.screen:
            return  # a screen coming back to the front asks again (its stack updates)
        shown = self.shown_keys()
        if shown == self._shown and self.children:
            return
        self._shown = shown
        await super().recompose()
