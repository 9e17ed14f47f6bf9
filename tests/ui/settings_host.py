"""A tiny host app that opens the settings screen and records what it is dismissed with."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from textual.app import App

from tui.config.settings import Settings
from tui.providers.catalog import ModelCatalog
from tui.screens.settings import SettingsScreen, key_statuses
from tui.themes import load_themes

_TEXT = re.compile(r'<text[^>]*\by="([\d.]+)"[^>]*>([^<]*)</text>')


class SettingsHost(App[None]):
    """Registers the bundled themes, pins one, and pushes ``SettingsScreen``."""

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        focus_provider: str | None = None,
        theme: str = "dusk",
        preview_theme: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.env = dict(env or {})
        self.focus_provider = focus_provider
        self.pinned_theme = theme
        self.preview_theme = preview_theme
        self.results: list[Settings | None] = []
        self.animation_level = "none"  # deterministic frames, and no waiting on tab underlines

    def on_mount(self) -> None:
        themes, problems = load_themes(None)
        assert problems == []
        for theme in themes:
            self.register_theme(theme)
        self.theme = self.pinned_theme
        providers = ModelCatalog(self.settings).providers()
        self.push_screen(
            SettingsScreen(
                self.settings,
                providers,
                key_statuses(providers, self.settings, self.env),
                focus_provider=self.focus_provider,
                preview_theme=self.preview_theme,
            ),
            self.results.append,
        )

    @property
    def settings_screen(self) -> SettingsScreen:
        """The open settings screen (fails if it was dismissed)."""
        screen = self.screen
        assert isinstance(screen, SettingsScreen)
        return screen

    def screen_text(self) -> str:
        """What the terminal shows, line by line, read back from the SVG screenshot."""
        lines: dict[float, list[str]] = {}
        for y, text in _TEXT.findall(self.export_screenshot()):
            lines.setdefault(float(y), []).append(html.unescape(text).replace("\xa0", " "))
        return "\n".join("".join(parts) for _, parts in sorted(lines.items()))
