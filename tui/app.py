"""The Textual app: a thin shell that opens the services after its first frame.

The first frame must not wait for SQLAlchemy, the database or httpx, so the services are built by
a factory in a worker once the app is on screen; screens await them through ``ServiceHandle``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from tui.screens.conversation import ConversationScreen
from tui.textual_fixes import apply_textual_fixes

if TYPE_CHECKING:
    from tui.gc_tuning import IdleCollector
    from tui.services.container import Services


class ServicesUnavailableError(RuntimeError):
    """The services could not be opened (the database is unusable); the message says why."""


class ServiceHandle:
    """The services, available once the factory has run; awaited by screens and workers."""

    def __init__(self) -> None:
        self._ready = asyncio.Event()
        self._services: Services | None = None
        self._failure: str | None = None

    def set(self, services: Services) -> None:
        self._services = services
        self._ready.set()

    def fail(self, reason: str) -> None:
        self._failure = reason
        self._ready.set()

    @property
    def current(self) -> Services | None:
        """The services if they are open already."""
        return self._services

    async def get(self) -> Services:
        await self._ready.wait()
        if self._services is None:
            raise ServicesUnavailableError(self._failure or "The services are not available.")
        return self._services


def _import_service_modules() -> None:
    """Everything the first send needs, loaded in a thread so the event loop never waits."""
    import anyio

    import tui.providers.openai_compat  # noqa: F401
    import tui.services.container  # noqa: F401
    import tui.store.db  # noqa: F401
    import tui.widgets.message_view  # noqa: F401

    # httpx's transport loads most of anyio (and its asyncio backend) on the first connection.
    for name in dir(anyio):
        if not name.startswith("_"):
            getattr(anyio, name)
    anyio.run(anyio.sleep, 0)


_INPUT_EVENTS = (events.Key, events.MouseEvent, events.Paste, events.Resize)


class TuiApp(App[None]):
    """tui-chat."""

    CSS_PATH = ["app.tcss", "screens/conversation.tcss"]
    TITLE = "tui-chat"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new_chat", "New chat", id="app.new_chat"),
        Binding("ctrl+s", "open_settings", "Settings", id="app.open_settings"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]

    def __init__(
        self,
        services_factory: Callable[[], Awaitable[Services]],
        *,
        conversation_id: int | None = None,
        new_chat: bool = False,
        theme: str | None = None,
        themes_dir: Path | None = None,
        tune_gc: bool = False,
    ) -> None:
        """``tune_gc``: apply ``tui.gc_tuning`` once started (the real app; not in tests)."""
        apply_textual_fixes()
        super().__init__()
        self.services_factory = services_factory
        self.handle = ServiceHandle()
        self._conversation_id = conversation_id
        self._new_chat = new_chat
        self._wanted_theme = theme
        self._themes_dir = themes_dir
        self._tune_gc = tune_gc
        self._idle_collector: IdleCollector | None = None

    def get_default_screen(self) -> Screen[None]:
        return ConversationScreen(
            self.handle, conversation_id=self._conversation_id, open_latest=not self._new_chat
        )

    def on_mount(self) -> None:
        self._register_themes()
        # The first frame is drawn before any database or network module is even imported.
        self.call_after_refresh(self.open_services)

    def _register_themes(self) -> None:
        """Bundled and user themes; a broken file is reported once, never fatal."""
        from tui.themes import load_themes

        themes, problems = load_themes(self._themes_dir)
        for theme in themes:
            self.register_theme(theme)
        if problems:
            self.notify("\n".join(problems), title="Themes", severity="warning", timeout=15)
        wanted = self._wanted_theme
        if wanted and wanted in self.available_themes:
            self.theme = wanted
        elif wanted:
            self.notify(
                f"There is no theme {wanted!r}; using {self.theme}.", title="Themes", timeout=8
            )
        self.watch(self, "theme", self._theme_changed, init=False)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        from tui.themes import theme_variable_defaults

        return theme_variable_defaults(self.current_theme)

    def _theme_changed(self, theme: str) -> None:
        from tui.screens.settings import SettingsScreen

        if isinstance(self.screen, SettingsScreen):
            return  # a live preview; the settings screen saves (or undoes) it
        self._save_theme(theme)

    @work(group="save-theme", exclusive=True, exit_on_error=False)
    async def _save_theme(self, theme: str) -> None:
        from dataclasses import replace

        from tui.config.settings import UiSettings
        from tui.services.settings_edit import apply_settings

        services = await self.handle.get()
        if services.settings.ui.theme == theme:
            return
        updated = replace(services.settings, ui=UiSettings(theme=theme))
        services.apply_settings(updated)
        try:
            await apply_settings(updated, updated.config_path)
        except (OSError, ValueError) as exc:
            self.notify(f"The theme could not be saved: {exc}", severity="warning")

    @work(group="services", exclusive=True, exit_on_error=False)
    async def open_services(self) -> None:
        """Build the services after the first frame, and say once what needs saying."""
        from tui.providers.errors import ConfigurationError
        from tui.store.errors import StoreError

        try:
            # Importing SQLAlchemy and httpx takes a few hundred ms: do it off the event loop.
            await asyncio.to_thread(_import_service_modules)
            services = await self.services_factory()
        except (StoreError, ConfigurationError) as exc:
            self.handle.fail(str(exc))
            self.notify(str(exc), title="Cannot open the history", severity="error", timeout=60)
            return
        self.handle.set(services)
        if self._tune_gc:
            from tui.gc_tuning import IdleCollector, apply_gc_policy

            apply_gc_policy()  # after start-up, so everything built so far is frozen
            self._idle_collector = IdleCollector(self._streaming)
            self.set_interval(1.0, self._idle_collector.tick, name="idle-gc")
        for problem in services.problems:
            self.notify(problem, title="Settings", severity="warning", timeout=15)

    @property
    def idle_collector(self) -> IdleCollector | None:
        """The garbage-collection scheduler, when ``tune_gc`` is on and the app has started."""
        return self._idle_collector

    def _streaming(self) -> bool:
        return any(getattr(screen, "streaming", False) for screen in self.screen_stack)

    async def on_event(self, event: events.Event) -> None:
        if self._idle_collector is not None and isinstance(event, _INPUT_EVENTS):
            self._idle_collector.note_activity()
        await super().on_event(event)

    async def action_new_chat(self) -> None:
        screen = self.screen
        if isinstance(screen, ConversationScreen):
            await screen.start_new_chat()

    def action_open_settings(self) -> None:
        screen = self.screen
        if isinstance(screen, ConversationScreen):
            screen.open_settings()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New chat", "Start a new conversation (Ctrl+N)", self.action_new_chat)
        yield SystemCommand(
            "Settings", "Keys, providers, defaults (Ctrl+S)", self.action_open_settings
        )

    async def on_unmount(self) -> None:
        services = self.handle.current
        if services is not None:
            await services.close()
