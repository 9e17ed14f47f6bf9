"""The conversation screen: the active path of a thread, a prompt, and the reply streaming in.

Workers do every piece of I/O; the screen only turns engine events into widget calls. What the user
typed stays in the prompt until the engine has committed it, so no error can lose it.

Here the screen lays itself out, loads a conversation, sends, branches and copies. A turn is run
by ``TurnRunner`` (``conversation_turn``); what the screen does to the conversation beside chatting
in it (files, rename, archive, export, model, settings) is the ``ConversationActions`` mixin
(``conversation_actions``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Input, Static
from textual.worker import Worker

from tui.domain import Attachment, ChatSettings, Conversation, Message, Role
from tui.screens.conversation_actions import ConversationActions
from tui.screens.conversation_turn import TurnRunner
from tui.screens.worker_notices import notify_store_failure
from tui.services.history import inert
from tui.widgets.chat_log import ChatLog
from tui.widgets.footer import KeysFooter
from tui.widgets.path_input import PathInput
from tui.widgets.prompt_input import PromptInput
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from tui.services.container import Services
    from tui.services.handle import ServiceHandle
    from tui.services.turns import TurnEvent
    from tui.widgets.message_view import MessageView


ROOMY_FOOTER_WIDTH = 100
"""From this many columns the footer spaces its keys out; narrower, it packs them (compact)."""
SPARE_KEYS = ("ctrl+g", "ctrl+n", "ctrl+t")
"""App keys a narrow footer leaves out first when a focused message brings its own keys (the
keys panel, F1, and the palette list them all)."""


DEMO_NOTICE = (
    "[b]You are chatting with the offline demo model.[/b] Its replies are made up on this "
    "machine: no key, no network.\n\nTo chat with a real model, set [b]OPENAI_API_KEY[/b], "
    "[b]AIMLAPI_API_KEY[/b] or [b]GMI_API_KEY[/b] before starting, or add a key in Settings "
    "([b]Ctrl+S[/b])."
)
START_HINT = (
    "Ask anything. [b]Enter[/b] sends, [b]Ctrl+J[/b] starts a new line, [b]Ctrl+F[/b] attaches "
    "a file, [b]Ctrl+N[/b] starts a new chat, [b]Ctrl+P[/b] lists every command."
)


class ConversationScreen(ConversationActions, Screen[None]):
    """One conversation: browse its active path, chat, branch, copy, attach."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "Stop", id="conversation.stop"),
        Binding("escape", "cancel", "Cancel", id="conversation.cancel"),
        Binding(
            "ctrl+r",
            "regenerate",
            "Retry",
            tooltip="Answer the last message again, as a new branch",
            id="conversation.regenerate",
        ),
        Binding("ctrl+f", "attach", "Attach", id="conversation.attach"),
        Binding(
            "ctrl+g",
            "chat_settings",
            "Chat settings",
            tooltip="This conversation's API, reasoning effort, limits and system prompt",
            id="conversation.chat_settings",
        ),
        Binding(
            "ctrl+y", "copy_last", "Copy reply", show=False, priority=True, id="conversation.copy"
        ),
        Binding("ctrl+l", "focus_log", "Messages", show=False, id="conversation.focus_log"),
        Binding("f1", "app.toggle_keys", "Keys", id="conversation.keys"),
        Binding("pageup", "scroll_log(-1)", "Page up", show=False, priority=True),
        Binding("pagedown", "scroll_log(1)", "Page down", show=False, priority=True),
    ]

    streaming: reactive[bool] = reactive(False)
    """True while a reply streams in."""

    def __init__(
        self,
        handle: ServiceHandle,
        *,
        conversation_id: int | None = None,
        open_latest: bool = True,
    ) -> None:
        super().__init__()
        self.handle = handle
        self.conversation_id = conversation_id
        self._open_latest = open_latest and conversation_id is None
        self.attachments: list[Attachment] = []
        self.editing: Message | None = None
        """The user message being edited: the next send replaces it with a new branch."""
        self.turns = TurnRunner(self, clock=_monotonic)
        """Runs each turn: the engine's events turned into widget calls."""
        self.conversation: Conversation | None = None
        """The open conversation as last read (its settings); None on a new chat."""
        self.new_chat_settings: ChatSettings | None = None
        """What the next new chat uses when chosen here (picker, chat settings); None: the
        defaults."""

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Vertical(id="empty-state"):
            yield Static("", id="empty-text")
        yield ChatLog(id="log")
        with Vertical(id="composer"):
            yield Static("", id="editing")
            yield Static("", id="attachments")
            yield PathInput(id="attach-path")
            yield PromptInput(
                id="prompt",
                placeholder="Message: Enter sends, Ctrl+J new line, ↑ edits your last message",
            )
        yield StatusBar(id="status")
        yield KeysFooter(
            roomy=ROOMY_FOOTER_WIDTH,
            width=self.app.size.width,
            spare=SPARE_KEYS,
            panel_key="f1",
        )

    def on_mount(self) -> None:
        self.query_one(PathInput).display = False
        self.query_one("#editing").display = False
        self.query_one("#attachments").display = False
        self.query_one(PromptInput).focus()
        self.load_conversation()

    @property
    def log_widget(self) -> ChatLog:
        return self.query_one(ChatLog)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    # ------------------------------------------------------------------ loading

    def open_conversation(
        self,
        conversation_id: int,
        message_id: int | None = None,
        reveal: Callable[[], object] | None = None,
    ) -> None:
        """Show a saved conversation; with ``message_id``, scrolled to that message, marked.

        ``reveal`` (bringing this screen to the front) is called once the conversation is read,
        in the same update as the log is filled: the screen never shows the conversation it
        held before, and a conversation that no longer exists leaves the caller's screen up.
        """
        if conversation_id != self.conversation_id or message_id is not None:
            self._set_editing(None)
        self.conversation_id = conversation_id
        self._open_latest = False
        self.load_conversation(found=message_id, reveal=reveal)

    @work(group="load", exclusive=True, exit_on_error=False)
    async def load_conversation(
        self, found: int | None = None, reveal: Callable[[], object] | None = None
    ) -> None:
        services = await self.handle.get()
        history = services.history
        if self._open_latest:
            latest = await history.latest_conversation()
            self.conversation_id = latest.id if latest else None
            self._open_latest = False
        services.chat.on_title = self._title_landed
        thread = None
        if self.conversation_id is not None:
            thread = await history.open_thread(self.conversation_id, found)
            if thread is None:
                self.notify(
                    f"Conversation {self.conversation_id} no longer exists.", severity="error"
                )
                self.conversation_id = None
                return
        with self.app.batch_update():  # one frame: this screen, with the conversation in it
            if reveal is not None:
                reveal()
            self.prompt.focus()
            if thread is None:
                self.title, self.sub_title = "tui-chat", "New chat"
                self.conversation = None
                self.show_next_turn(services)
                await self.log_widget.set_messages([])
                self._show_empty_state(services)
                return
            conversation = thread.conversation
            self.title, self.sub_title = "tui-chat", conversation.title
            await self.log_widget.set_messages(thread.path, thread.positions)
            self._show_empty_state(services)
            self.conversation = conversation
            self.show_next_turn(services)
            last = next((m for m in reversed(thread.path) if m.role is Role.ASSISTANT), None)
            if last is not None:
                self.status.show_message(last)
            else:
                self.status.clear_message()
        if found is not None:
            await self._mark_found(found)

    async def _mark_found(self, message_id: int) -> None:
        """Scroll to a message found by a search and mark it until another is marked."""
        log = self.log_widget
        log.mark(message_id)
        target = await log.show_message(message_id)
        if target is not None:
            target.focus(scroll_visible=False)

    def _title_landed(self, conversation_id: int, title: str) -> None:
        """A model-written title arrived for a conversation (maybe this one)."""
        if conversation_id == self.conversation_id:
            self.sub_title = title

    def _show_empty_state(self, services: Services | None) -> None:
        """An empty chat says how to start, and on the demo how to use a real model."""
        empty = self.query_one("#empty-state")
        empty.display = self.log_widget.message_count == 0
        self.log_widget.display = not empty.display
        if not empty.display:
            return
        on_demo = (
            services is not None
            and not services.settings.defaults.provider
            and services.registry.default_provider() == "demo"
        )
        text = DEMO_NOTICE + "\n\n" + START_HINT if on_demo else START_HINT
        self.query_one("#empty-text", Static).update(text)

    def history_replaced(self) -> None:
        """A new, empty history replaced the old one (moved aside): show a new chat there.

        What is typed in the prompt stays.
        """
        self.conversation_id = None
        self.conversation = None
        self._open_latest = False
        self.status.clear_message()
        self.load_conversation()

    def validate_title(self, title: str | None) -> str | None:
        return inert(title) if title else title  # the Header draws it

    def validate_sub_title(self, sub_title: str | None) -> str | None:
        """A conversation's title (imported, or written by the model) is drawn inert."""
        return inert(sub_title) if sub_title else sub_title

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        notify_store_failure(self, event)

    async def start_new_chat(self) -> None:
        """Ctrl+N: an empty conversation; the current one stays in the history."""
        if self.streaming:
            self.notify("Stop the reply first (Esc).", severity="warning")
            return
        self.conversation_id = None
        self.conversation = None
        self.new_chat_settings = None
        self._set_editing(None)
        self.sub_title = "New chat"
        self.status.clear_message()
        self.show_next_turn()
        await self.log_widget.set_messages([])
        self._show_empty_state(self.handle.current)
        self.prompt.focus()

    # ------------------------------------------------------------------ sending

    @on(PromptInput.Submitted)
    def send_prompt(self, event: PromptInput.Submitted) -> None:
        text = event.text
        if not text.strip() and not self.attachments:
            return
        if self.streaming:
            self.notify("A reply is still streaming: Esc stops it.", severity="warning")
            return
        attachments = list(self.attachments)
        if self.editing is not None:
            edited = self.editing
            self.run_turn(
                lambda s: s.chat.edit(
                    edited.id, text, attachments=attachments or None, options=self.turns.options()
                ),
                reset_to=edited.parent_id,
                clear_prompt=True,
            )
        else:
            conversation_id = self.conversation_id
            settings = self.new_chat_settings if conversation_id is None else None
            self.run_turn(
                lambda s: s.chat.send(
                    conversation_id,
                    text,
                    attachments=attachments,
                    settings=settings,
                    options=self.turns.options(),
                ),
                clear_prompt=True,
            )

    @on(Input.Submitted, "#attach-path")
    def attach_path(self, event: Input.Submitted) -> None:
        self.take_path(event.value)

    @work(group="stream", exclusive=True, exit_on_error=False)
    async def run_turn(
        self,
        start: Callable[[Services], AsyncGenerator[TurnEvent, None]],
        *,
        reset_to: int | None | bool = False,
        clear_prompt: bool = False,
    ) -> None:
        """Run one turn: ``start(services)`` gives the engine's event stream."""
        await self.turns.run(start, reset_to=reset_to, clear_prompt=clear_prompt)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Each key only while it applies (else hidden): Esc stops a reply, or else cancels the
        open file path or the edit; Retry needs an answer and no reply streaming."""
        if not self.is_mounted:
            return True
        if action == "stop":
            return self.streaming
        if action == "cancel":
            can_cancel = self.editing is not None or bool(self.query_one(PathInput).display)
            return can_cancel and not self.streaming
        if action == "regenerate":
            return not self.streaming and self._last(Role.ASSISTANT) is not None
        return True

    def watch_streaming(self, streaming: bool) -> None:
        if self.is_mounted:  # the status line counts until the reply starts (or the turn ends)
            if streaming:
                self.status.show_waiting()
            else:
                self.status.stop_waiting()
        if not streaming:  # a turn that starts shows Esc with its own message
            self.refresh_bindings()

    def action_stop(self) -> None:
        """Stop the reply streaming in; what arrived is kept."""
        self.workers.cancel_group(self, "stream")

    def action_cancel(self) -> None:
        """Close the file path being typed, or else give up editing a message, or else go
        back from the messages to the prompt."""
        if self.query_one(PathInput).display:
            self._close_attach()
        elif self.editing is not None:
            self._set_editing(None)
            self.prompt.clear()
        else:
            self.prompt.focus()

    # ------------------------------------------------------------------ branches

    def on_message_view_back_requested(self, event: MessageView.BackRequested) -> None:
        event.stop()
        self.action_cancel()

    def on_message_view_regenerate_requested(self, event: MessageView.RegenerateRequested) -> None:
        event.stop()
        self._regenerate(event.message_id)

    def action_regenerate(self) -> None:
        last = self._last(Role.ASSISTANT)
        if last is not None:
            self._regenerate(last.id)

    def _regenerate(self, message_id: int) -> None:
        if self.streaming:
            return
        view = self.log_widget.view_for(message_id)
        parent = view.message.parent_id if view is not None else None
        self.run_turn(
            lambda s: s.chat.regenerate(message_id, options=self.turns.options()), reset_to=parent
        )

    def on_message_view_edit_requested(self, event: MessageView.EditRequested) -> None:
        event.stop()
        view = self.log_widget.view_for(event.message_id)
        if view is not None and view.message.role is Role.USER:
            self._set_editing(view.message)

    def action_edit_last(self) -> None:
        last = self._last(Role.USER)
        if last is not None:
            self._set_editing(last)

    def _set_editing(self, message: Message | None) -> None:
        self.editing = message
        self.refresh_bindings()
        label = self.query_one("#editing", Static)
        label.display = message is not None
        if message is not None:
            label.update("Editing your message: Enter sends it as a new branch, Esc cancels.")
            self.prompt.load_text(inert(message.content))  # (it may come from an import)
            self.prompt.move_cursor(self.prompt.document.end)
            self.prompt.focus()

    @on(PromptInput.EditLastRequested)
    def edit_last_from_prompt(self, event: PromptInput.EditLastRequested) -> None:
        event.stop()
        if not self.streaming:
            self.action_edit_last()

    def on_message_view_sibling_requested(self, event: MessageView.SiblingRequested) -> None:
        event.stop()
        if not self.streaming:
            self._switch_branch(event.message_id, event.direction)

    @work(group="load", exclusive=True, exit_on_error=False)
    async def _switch_branch(self, message_id: int, direction: int) -> None:
        services = await self.handle.get()
        history = services.history
        siblings = await history.siblings(message_id)
        index = next(i for i, m in enumerate(siblings) if m.id == message_id) + direction
        if not 0 <= index < len(siblings) or self.conversation_id is None:
            return
        path = await history.switch_to_branch(siblings[index].id)
        positions = await history.sibling_positions(self.conversation_id, path)
        await self.log_widget.set_messages(path, positions)
        last = next((m for m in reversed(path) if m.role is Role.ASSISTANT), None)
        if last is not None:
            self.status.show_message(last)
        # Keep the message whose branch changed in view, with its switcher, not the bottom.
        target = await self.log_widget.show_message(siblings[index].id)
        if target is not None:
            target.focus(scroll_visible=False)

    def _last(self, role: Role) -> Message | None:
        for view in reversed(self.log_widget.views):
            if view.message.role is role:
                return view.message
        return None

    # ------------------------------------------------------------------ copy

    def on_message_view_copy_requested(self, event: MessageView.CopyRequested) -> None:
        event.stop()
        self.app.copy_to_clipboard(event.text)
        what = "code block" if event.code_block is not None else "message"
        self.notify(f"Copied the {what} ({len(event.text)} characters).", timeout=3)

    def action_copy_last(self) -> None:
        for view in reversed(self.log_widget.views):
            if view.message.role is Role.ASSISTANT:
                view.action_copy_message()
                return

    def action_scroll_log(self, direction: int) -> None:
        """PageUp/PageDown scroll the conversation even while typing."""
        log = self.log_widget
        if direction < 0:
            log.scroll_page_up(animate=False)
        else:
            log.scroll_page_down(animate=False)

    def action_focus_log(self) -> None:
        views = self.log_widget.views
        if views:
            views[-1].focus()

    def action_toggle_reasoning(self) -> None:
        """Show every reply's reasoning open, or closed (the default)."""
        from tui.widgets.message_view import MessageView

        shown = not MessageView.reasoning_shown
        MessageView.reasoning_shown = shown
        for view in self.query(MessageView):
            view.show_reasoning(shown)
        self.notify("Reasoning is shown open." if shown else "Reasoning is folded away.")


def _monotonic() -> float:
    """The clock behind the streaming figures, read through this module so a test can pin it."""
    return time.monotonic()
