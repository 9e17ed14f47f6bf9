"""The startup baseline: the smallest Textual app, one label on an otherwise empty screen.

``bench/startup.py`` times it from launch to its first frame; ``python bench/minimal_app.py``
runs it by hand (Ctrl+Q quits).
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Label

SENTINEL = "minimal textual app ready"


class MinimalApp(App[None]):
    """One label; nothing else is imported or mounted."""

    def compose(self) -> ComposeResult:
        yield Label(SENTINEL)


if __name__ == "__main__":
    MinimalApp().run()
