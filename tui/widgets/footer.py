"""The footer of key bindings, rebuilt only when the keys it shows change.

Textual's ``Footer`` rebuilds all its keys (some fifteen widgets, each styled anew) on every
"bindings updated" signal, and a screen sends one for each change of focus: opening a
conversation sent five in a row, and rebuilding them cost more than loading and laying out the
conversation itself. This footer rebuilds once per burst of signals, and not at all when the
keys, their descriptions and their enabled states are the ones it already shows, nor while its
screen is not the one in front (it looks again when its screen comes back to the front).

A screen with more keys than a narrow terminal fits names the ones it can spare (``spare``, the
first to go first) and a key for the rest: those are left out of the footer, last named first,
until the others fit whole, and the key for the rest shows only when some are left out (Textual's
keys panel lists every key; the command palette has each action too).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

KEYS_PANEL_KEY = "question_mark"
"""The key that opens Textual's keys panel, for the keys a narrow footer leaves out."""


class KeysFooter(Footer):
    """A ``Footer`` that packs its keys below ``roomy`` columns and skips needless rebuilds."""

    def __init__(
        self,
        *,
        roomy: int,
        width: int,
        spare: Sequence[str] = (),
        panel_key: str = KEYS_PANEL_KEY,
        **kwargs: Any,
    ) -> None:
        """``panel_key``: the screen's key for the keys panel, shown only when keys are left
        out (a screen whose focus takes typing needs one that does not type, e.g. ``f1``)."""
        super().__init__(compact=width < roomy, **kwargs)
        self.roomy = roomy
        self.panel_key = panel_key
        self.spare = tuple(spare)
        """Keys (as bound, e.g. ``"v"``) that may be left out when not all fit, first out first."""
        self.left_out: list[str] = []
        """The keys the footer leaves out at its present width."""
        self._queued = False
        self._shown: object = None
        self._width = width

    def on_mount(self) -> None:
        super().on_mount()
        # Back in front (a modal closed): keys that changed meanwhile are shown now.
        self.watch(self.screen, "stack_updates", self._screen_resumed, init=False)

    def _screen_resumed(self, _updates: int) -> None:
        # A rebuild queued just before the modal opened waited for a refresh that a screen
        # behind a modal never gets: queue afresh.
        self._queued = False
        self.bindings_changed(self.screen)

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < self.roomy
        if self.spare and event.size.width != self._width:
            self._width = event.size.width
            self._shown = None  # another width may fit other keys
            self.call_after_refresh(self.recompose)

    def compose(self) -> ComposeResult:
        left_out = self._left_out(self._width) if self.spare else set()
        for widget in super().compose():
            key = getattr(widget, "key", None)
            if isinstance(key, str) and hasattr(widget, "description") and key in left_out:
                continue
            yield widget

    def _left_out(self, width: int) -> set[str]:
        """The spare keys to leave out for the others to fit in ``width`` columns, and the key
        for the keys panel when none is left out."""
        pad = 1 if self.compact else 2
        by_action: dict[str, Any] = {}  # the first binding of each action, as the footer shows
        for _node, binding, _enabled, _tip in self.screen.active_bindings.values():
            if binding.show and binding.action not in by_action:
                by_action[binding.action] = binding
        keys: dict[str, int] = {}
        for group, grouped in groupby(by_action.values(), lambda binding: binding.group):
            members = list(grouped)
            if group is not None and len(members) > 1:  # shown as "[ ] y Code": never spare
                cells = sum(cell_len(self.app.get_key_display(b)) + 1 for b in members)
                keys[f"group:{group.description}"] = cells + cell_len(group.description) + pad
                continue
            for binding in members:
                shown = f"{self.app.get_key_display(binding)} {binding.description}"
                keys[binding.key] = cell_len(shown) + pad
        palette = "^p palette"  # docked at the right, with a border
        room = width - cell_len(palette) - 3
        spare = [key for key in self.spare if key in keys]
        left_out: set[str] = set()

        def total() -> int:
            panel = 0 if left_out else keys.get(self.panel_key, 0)
            return sum(cells for key, cells in keys.items() if key not in left_out) - panel

        while spare and total() > room:
            left_out.add(spare.pop(0))
        self.left_out = [key for key in self.spare if key in left_out]
        if not left_out:
            left_out.add(self.panel_key)
        return left_out

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
        if not (self.is_attached and screen is self.screen and screen.is_current):
            # Behind a modal the screen is not refreshed, so a rebuild queued now would wait
            # for ever and block the next ones; the screen signals again when it is resumed.
            return
        super().bindings_changed(screen)
        self._queued = self.app.app_focus

    async def recompose(self) -> None:
        self._queued = False
        if not self.is_attached or self.screen is not self.app.screen:
            return  # a screen coming back to the front asks again (its stack updates)
        shown = self.shown_keys()
        if shown == self._shown and self.children:
            return
        self._shown = shown
        await super().recompose()
