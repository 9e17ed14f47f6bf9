"""The Textual app: a thin shell that opens the services after its first frame.

The first frame must not wait for SQLAlchemy, the database or httpx, so the services are built by
a factory in a worker once the app is on screen; screens await them through ``ServiceHandle``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.screen import Screen

from tui import textual_fixes
from tui.safe_text import inert
from tui.screens.conversation import ConversationScreen
from tui.screens.conversations import ConversationsScreen
from tui.services.handle import ServiceHandle

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from tui.gc_tuning import IdleCollector
    from tui.services.container import Services


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


def _conversation_commands() -> type[Provider]:
    from tui.commands import ConversationCommands

    return ConversationCommands


_INPUT_EVENTS = (events.Key, events.MouseEvent, events.Paste, events.Resize)


class TuiApp(App[None]):
    """tui-chat."""

    CSS_PATH = ["app.tcss", "screens/conversation.tcss"]
    COMMANDS = App.COMMANDS | {lambda: _conversation_commands()}
    TITLE = "tui-chat"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+o", "open_conversations", "Chats", priority=True, id="app.open_conversations"
        ),
        Binding("ctrl+n", "new_chat", "New", tooltip="Start a new chat", id="app.new_chat"),
        Binding(
            "ctrl+t",
            "switch_model",
            "Model",
            tooltip="Choose the model (and API) of this conversation",
            id="app.switch_model",
            priority=True,  # handled before the next key is read, so that key reaches the picker
        ),
        Binding("ctrl+s", "open_settings", "Settings", show=False, id="app.open_settings"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]

    def __init__(
        self,
        services_factory: Callable[[], Awaitable[Services]],
        *,
        conversation_id: int | None = None,
        new_chat: bool = False,
        home: bool = False,
        theme: str | None = None,
        themes_dir: Path | None = None,
        tune_gc: bool = False,
    ) -> None:
        """``home``: open on the conversations list (an empty history goes on to a new chat).

        ``tune_gc``: apply ``tui.gc_tuning`` once started (the real app; not in tests).
        """
        textual_fixes.install("core")
        super().__init__()
        self.services_factory = services_factory
        self.handle = ServiceHandle()
        self._conversation_id = conversation_id
        self._new_chat = new_chat or home
        self._home = home
        self._conversations: ConversationsScreen | None = None
        self._wanted_theme = theme
        self._themes_dir = themes_dir
        self._tune_gc = tune_gc
        self._idle_collector: IdleCollector | None = None
        self._offering_move = False

    def get_default_screen(self) -> Screen[None]:
        return ConversationScreen(
            self.handle, conversation_id=self._conversation_id, open_latest=not self._new_chat
        )

    def on_mount(self) -> None:
        self._register_themes()
        if self._home:
            self.show_conversations(None, focus_search=False, auto=True)
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
        from tui.safe_text import inert
        from tui.services.settings_edit import SettingsFileError, apply_settings

        services = await self.handle.get()
        previous = services.settings
        if previous.ui.theme == theme:
            return
        updated = replace(previous, ui=UiSettings(theme=theme))
        services.apply_settings(updated)
        try:
            # Only the theme changes in the file; a file that did not load is not written.
            await apply_settings(updated, updated.config_path, previous=previous)
        except SettingsFileError as exc:
            self.notify(
                inert(f"The theme is used for this run but not saved: {exc}"),
                severity="warning",
                timeout=15,
                markup=False,
            )
        except (OSError, ValueError) as exc:
            self.notify(
                inert(f"The theme could not be saved: {exc}"), severity="warning", markup=False
            )

    @work(group="services", exclusive=True, exit_on_error=False)
    async def open_services(self) -> None:
        """Build the services after the first frame, and say once what needs saying."""
        from tui.providers.errors import ConfigurationError
        from tui.store.errors import StoreError

        try:
            # Importing SQLAlchemy and httpx takes a few hundred ms: do it off the event loop.
            await asyncio.to_thread(_import_service_modules)
            textual_fixes.install("markdown")  # here, before any message is shown
            for line in textual_fixes.left_out():
                self.log.warning(line)  # Textual's debug log (TEXTUAL_LOG=FILE, textual console)
            services = await self.services_factory()
        except (StoreError, ConfigurationError) as exc:
            self._services_failed(exc)
            return
        self._use_services(services)
        if self._tune_gc:
            from tui.gc_tuning import IdleCollector, apply_gc_policy

            apply_gc_policy()  # after start-up, so everything built so far is frozen
            self._idle_collector = IdleCollector(self._streaming)
            self.set_interval(1.0, self._idle_collector.tick, name="idle-gc")
        self._show_settings_problems(services.problems)

    def _show_settings_problems(self, problems: Iterable[str]) -> None:
        for problem in problems:
            self.notify(problem, title="Settings", severity="warning", timeout=15)

    def _services_failed(self, exc: Exception) -> None:
        """The history could not be opened: say why, with the settings' problems as on a normal
        start, and offer to move a damaged file aside."""
        from tui.services.container import damaged_file

        self.handle.fail(str(exc))
        self._show_settings_problems(getattr(exc, "settings_problems", ()))
        self.notify(str(exc), title="Cannot open the history", severity="error", timeout=60)
        path = damaged_file(exc)
        if path is not None:
            self._offer_move_aside(path)

    def _use_services(self, services: Services) -> None:
        self.handle.set(services)
        services.on_damage(self._history_damaged)

    def _history_damaged(self, message: str, path: Path | None) -> None:
        """The store found its file damaged while working: nothing more is written to it."""
        self.notify(message, title="History damaged", severity="error", timeout=60)
        if path is not None:
            self._offer_move_aside(path)

    def _offer_move_aside(self, path: Path) -> None:
        """Ask before moving the damaged file aside (renamed, never deleted)."""
        from tui.screens.move_aside import MoveAsideScreen

        if self._offering_move:
            return
        self._offering_move = True

        def answered(move: bool | None) -> None:
            self._offering_move = False
            if move:
                self._move_aside(path)
            else:
                self.notify(
                    "The history file is kept as it is; nothing is saved to it in this run.",
                    title="History kept",
                    timeout=10,
                )

        self.push_screen(MoveAsideScreen(str(path)), answered)

    @work(group="move-aside", exclusive=True, exit_on_error=False)
    async def _move_aside(self, path: Path) -> None:
        """Close the store, rename its file, and open a new empty history in its place."""
        from tui.providers.errors import ConfigurationError
        from tui.services.container import move_database_aside
        from tui.store.errors import StoreError

        chat = self.conversation_screen
        chat.workers.cancel_group(chat, "stream")  # a reply could not be stored anyway
        old = self.handle.reopening()
        if old is not None:
            with contextlib.suppress(StoreError):
                await old.close()
        moved: Path | None = None
        try:
            moved = await move_database_aside(path)
        except StoreError as exc:
            self.notify(str(exc), title="Not moved", severity="error", timeout=30)
        try:
            services = await self.services_factory()
        except (StoreError, ConfigurationError) as exc:
            self.handle.fail(str(exc))
            self.notify(str(exc), title="Cannot open the history", severity="error", timeout=60)
            return
        self._use_services(services)
        self._back_to_base()  # on the new chat, with what was typed still in the prompt
        chat.history_replaced()
        if moved is not None:
            self.notify(
                f"The damaged history was moved to {moved} (kept, not deleted). "
                f"A new empty history is in {path}.",
                title="History moved aside",
                timeout=30,
            )

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

    # ------------------------------------------------------------------ navigation

    @property
    def conversation_screen(self) -> ConversationScreen:
        """The one conversation screen, at the bottom of the stack."""
        base = self.screen_stack[0]
        assert isinstance(base, ConversationScreen)
        return base

    def show_conversations(
        self, came_from: int | None, *, focus_search: bool = True, auto: bool = False
    ) -> None:
        """Show the conversations list on top of whatever is open."""

        if self._conversations is None:
            self._conversations = ConversationsScreen(self.handle)
            self.install_screen(self._conversations, "conversations")
        screen = self._conversations
        screen.auto_opened = auto
        screen.prepare(came_from, focus_search=focus_search)
        if self.screen is screen:
            screen.reload(keep=came_from)
            return
        self._close_settings()
        self.push_screen("conversations")

    def _close_settings(self) -> None:
        """Ctrl+O from the settings: they close as with Esc (nothing unsaved is written)."""
        from tui.screens.settings import SettingsScreen

        for screen in self.screen_stack[1:]:
            if isinstance(screen, SettingsScreen):
                screen.dismiss(None)

    def _back_to_base(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def open_conversation(self, conversation_id: int, message_id: int | None = None) -> None:
        """Open a conversation from the list (scrolled to ``message_id`` when given)."""
        chat = self.conversation_screen
        if chat.streaming and chat.conversation_id != conversation_id:
            self.notify(
                "A reply is still streaming in the open conversation: Esc there stops it.",
                severity="warning",
            )
            return
        chat.open_conversation(conversation_id, message_id, reveal=self._back_to_base)

    def on_conversations_screen_open_requested(
        self, event: ConversationsScreen.OpenRequested
    ) -> None:
        self.open_conversation(event.conversation_id, event.message_id)

    def on_conversations_screen_back_requested(self) -> None:
        self.leave_conversations()

    def leave_conversations(self) -> None:
        """Esc on the list: back to the conversation underneath."""
        self._back_to_base()

    def action_open_conversations(self) -> None:
        self.show_conversations(self.conversation_screen.conversation_id, focus_search=True)

    async def action_new_chat(self) -> None:
        chat = self.conversation_screen
        if chat.streaming:
            self.notify("Stop the reply first (Esc).", severity="warning")
            return
        self._back_to_base()
        await chat.start_new_chat()

    def action_toggle_keys(self) -> None:
        """``?`` on the list: Textual's keys panel (every key, the footer's and the rest)."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_open_settings(self, tab: str = "providers") -> None:
        self.conversation_screen.open_settings(tab=tab)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification, made inert: many quote a provider's error, a tool's name or a
        file name, and a control character in one must not reach the terminal. Markup is
        always off, also for a screen's or widget's ``notify`` (Textual's default there is on),
        so ``[@click=...]`` in quoted text is shown, never run."""
        del markup  # no caller may turn it on: the text is rarely all its own
        super().notify(
            inert(message), title=inert(title), severity=severity, timeout=timeout, markup=False
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "switch_model":  # only where there is a conversation to choose for
            return isinstance(self.screen, (ConversationScreen, ConversationsScreen))
        return True

    def action_switch_model(self) -> None:
        """The model picker: for the conversation highlighted in the list, else the open one
        (or the next new chat)."""
        screen = self.screen
        chat = self.conversation_screen
        if isinstance(screen, ConversationsScreen):
            current = screen.listing.current
            chat.pick_model(current.id if current is not None else None)
        elif screen is chat:
            chat.pick_model(chat.conversation_id)

    def _on_chat(self, action: Callable[[], object]) -> Callable[[], object]:
        """``action`` on the conversation screen, brought to the front first."""

        def run() -> object:
            self._back_to_base()
            return action()

        return run

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New chat", "Start a new conversation (Ctrl+N)", self.action_new_chat)
        yield SystemCommand(
            "Open conversation…",
            "Browse and search the saved conversations (Ctrl+O)",
            self.action_open_conversations,
        )
        chat = self.conversation_screen
        for title, help_text, callback in (
            (
                "Switch model…",
                "Choose the model and API of this conversation (Ctrl+T)",
                self.action_switch_model,
            ),
            (
                "Chat settings…",
                "This conversation's API, reasoning effort, verbosity, temperature, output "
                "limit and system prompt (Ctrl+G)",
                self._on_chat(chat.action_chat_settings),
            ),
            (
                "System prompt…",
                "Edit the system prompt (developer message) of this conversation",
                self._on_chat(chat.action_chat_settings),
            ),
            ("Settings", "Keys, providers, defaults (Ctrl+S)", self.action_open_settings),
            (
                "Settings: providers and keys",
                "API keys, base URLs, custom providers",
                partial(self.action_open_settings, "providers"),
            ),
            (
                "Settings: defaults for new chats",
                "Model, API, reasoning effort, limits and system prompt of new conversations",
                partial(self.action_open_settings, "defaults"),
            ),
            (
                "Settings: MCP servers (tools)",
                "The tool servers: their state, enable, disable, start, add",
                partial(self.action_open_settings, "mcp"),
            ),
            (
                "Settings: appearance",
                "The theme, saved for next time",
                partial(self.action_open_settings, "appearance"),
            ),
            (
                "Toggle reasoning display",
                "Show every reply's reasoning open, or folded away",
                self._on_chat(chat.action_toggle_reasoning),
            ),
            (
                "Copy last reply",
                "Copy the last answer to the clipboard (Ctrl+Y)",
                self._on_chat(chat.action_copy_last),
            ),
        ):
            yield SystemCommand(title, help_text, callback)
        if not isinstance(screen, ConversationsScreen):
            for title, help_text, callback in (
                ("Rename conversation", "Give this conversation a new title", chat.action_rename),
                (
                    "Archive or restore conversation",
                    "Hide this conversation in the archive, or bring it back",
                    chat.action_archive,
                ),
                (
                    "Export conversation",
                    "Write this conversation to a Markdown or JSON file",
                    chat.action_export,
                ),
            ):
                yield SystemCommand(title, help_text, self._on_chat(callback))

        if isinstance(screen, ConversationsScreen):
            for title, help_text, action in (
                (
                    "Rename conversation",
                    "Give the highlighted conversation a new title (r)",
                    "rename",
                ),
                ("Pin or unpin conversation", "Keep it on top of the list (p)", "pin"),
                (
                    "Archive or restore conversation",
                    "Hide it in the archive, or bring it back (a)",
                    "archive",
                ),
                (
                    "Delete conversation",
                    "Delete it, with a few seconds to undo (d, then u)",
                    "delete",
                ),
                (
                    "Fork conversation",
                    "Copy it with its whole tree, to take another way (f)",
                    "fork",
                ),
                ("Export conversation", "Write it to a Markdown or JSON file (e)", "export"),
                (
                    "Import conversations",
                    "From a tui-chat export or ChatGPT's conversations.json (i)",
                    "import",
                ),
                (
                    "Show the archive",
                    "Switch between the conversations and the archive (v)",
                    "toggle_archive",
                ),
            ):
                yield SystemCommand(title, help_text, getattr(screen, f"action_{action}"))

    async def on_unmount(self) -> None:
        services = self.handle.current
        if services is not None:
            await services.close()
