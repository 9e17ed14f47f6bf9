"""The conversation screen: the active path of a thread, a prompt, and the reply streaming in.

Workers do every piece of I/O; the screen only turns engine events into widget calls. What the user
typed stays in the prompt until the engine has committed it, so no error can lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Input, Static
from textual.worker import Worker

from tui.domain import (
    ApiMode,
    Attachment,
    ChatSettings,
    Citation,
    Conversation,
    Message,
    MessageStatus,
    ReasoningDelta,
    Role,
    TextDelta,
    ToolCallDelta,
    ToolCallRecord,
    ToolStatus,
    Usage,
    WebSearch,
)
from tui.screens.worker_notices import notify_store_failure
from tui.services.handle import store_problem
from tui.services.history import inert
from tui.services.turns import (
    ReplyFinished,
    ReplyStarted,
    ReplyTextEnded,
    RouteChosen,
    TitleChanged,
    ToolCallChanged,
    ToolCallsAsked,
    ToolNotice,
    TurnEvent,
    TurnOptions,
    UserMessageSaved,
)
from tui.widgets.chat_log import ChatLog
from tui.widgets.footer import KeysFooter
from tui.widgets.path_input import PathInput
from tui.widgets.prompt_input import PromptInput
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from tui.screens.model_picker import PickerResult
    from tui.services.container import Services
    from tui.services.handle import ServiceHandle
    from tui.services.tools import ApprovalRequest, Decision
    from tui.widgets.message_view import MessageView
    from tui.widgets.message_view import MessageView as View


STATUS_INTERVAL = 0.1
"""Seconds between updates of the streaming figures in the status line."""
UI_HEAD_START = 0.05
FRAME_BUDGET = 0.25
"""Seconds spent taking in answer text from one read before a frame of it is drawn again (a
burst shows its progress four times a second; more often costs the whole answer's time)."""
READ_GAP = 0.001
"""Deltas further apart than this came from separate reads (the screen waited for them)."""
FRAME_WAIT_LIMIT = 0.5
"""At most this long for a frame before taking in more (a view that cannot draw)."""
AWAITED_REPLY = 0
"""The id of the reply's message while it is awaited (stored rows start at 1)."""
"""Seconds the engine gets to send a request before the screen draws what the send changed."""
ROOMY_FOOTER_WIDTH = 100
SPARE_KEYS = ("ctrl+g", "ctrl+n", "ctrl+t")
"""App keys a narrow footer leaves out first when a focused message brings its own keys (the
keys panel, F1, and the palette list them all)."""
"""From this many columns the footer spaces its keys out; narrower, it packs them (compact)."""


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


class ConversationScreen(Screen[None]):
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
        self._stream_view: View | None = None
        self._request_out = asyncio.Event()
        """Set once the turn's request is out (see ``TurnOptions.request_sent``)."""
        self._preparing: asyncio.Future[View] | None = None
        """The mount of the turn's message and reply view (``_prepare_reply``)."""
        self._pending_view: View | None = None
        """The reply's view while no stored message backs it yet."""
        self._sibling_task: asyncio.Future[None] | None = None
        self._path_purpose = "attach"
        """What the path field is for: ``attach`` or ``export``."""
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

    def current_settings(self, services: Services) -> ChatSettings:
        """What the next turn here uses: the open conversation's settings, else the new
        chat's."""
        if self.conversation_id is not None and self.conversation is not None:
            return services.chat.settings_for(self.conversation)
        return self.new_chat_settings or services.chat.settings_for(None)

    def show_next_turn(self, services: Services | None = None) -> None:
        """The status line names what the next turn will use: provider, model, API, effort."""
        from tui.providers.errors import ProviderError

        services = services or self.handle.current
        if services is None:
            return
        settings = self.current_settings(services)
        try:
            turn = services.chat.next_turn(settings)
        except ProviderError:  # an unusable choice is reported when a message is sent
            self.status.show_route(settings.provider or "?", settings.model or "?", "")
            return
        self.status.show_route(
            turn.provider_label,
            turn.model.id,
            turn.api.value,
            effort=turn.reasoning_effort,
            reasoning=bool(turn.model.reasoning_efforts),
        )

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
                    edited.id, text, attachments=attachments or None, options=self._options()
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
                    options=self._options(),
                ),
                clear_prompt=True,
            )

    def _options(self) -> TurnOptions:
        """This screen's turn options: tool calls are asked about with a modal, and the turn
        is drawn once its request is out."""
        return TurnOptions(approve=self._approve, request_sent=self._request_sent)

    async def _request_sent(self) -> None:
        self._request_out.set()

    async def _approve(self, request: ApprovalRequest) -> Decision:
        """Ask about one tool call (the engine awaits this inside the turn); anything but an
        answer is Deny. A turn stopped meanwhile closes the question."""
        from tui.screens.tool_approval import ToolApprovalScreen
        from tui.services.tools import Decision

        answer: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        closed = False

        def answered(decision: Decision | None) -> None:
            nonlocal closed
            closed = True
            if not answer.done():
                answer.set_result(decision if decision is not None else Decision.DENY)

        question = ToolApprovalScreen(request)
        self.status.show_activity(f"waiting for your answer: run {request.record.name}?")
        try:
            await self.app.push_screen(question, answered)
            return await answer
        finally:
            if not closed and question.is_current:  # the turn stopped while it asked
                question.dismiss(None)

    @work(group="stream", exclusive=True, exit_on_error=False)
    async def run_turn(
        self,
        start: Callable[[Services], AsyncGenerator[TurnEvent, None]],
        *,
        reset_to: int | None | bool = False,
        clear_prompt: bool = False,
    ) -> None:
        """Run one turn: ``start(services)`` gives the engine's event stream."""
        from tui.providers.errors import ProviderError
        from tui.services.chat import ConversationNotFoundError

        self.streaming = True
        self._request_out = asyncio.Event()
        try:
            services = await self.handle.get()
            if reset_to is not False and self.conversation_id is not None:
                await self._show_path(services, reset_to if isinstance(reset_to, int) else None)
            await self._consume(services, start(services), clear_prompt)
        except (ProviderError, ConversationNotFoundError, ValueError) as exc:
            self.notify(str(exc), title="Not sent", severity="error", timeout=10)
        except asyncio.CancelledError:
            await self._after_cancel()
            raise
        except Exception as exc:  # the store failed mid-turn: say so, keep the app alive
            problem = store_problem(exc)  # one line: what went wrong and what to do
            message = problem if problem is not None else f"{type(exc).__name__}: {exc}"
            self.notify(message, title="Not sent", severity="error", timeout=15)
        finally:
            await self._drop_pending()
            self.streaming = False
            self._stream_view = None

    async def _show_path(self, services: Services, leaf: int | None) -> None:
        assert self.conversation_id is not None
        history = services.history
        path = await history.active_path(self.conversation_id, leaf) if leaf else []
        positions = await history.sibling_positions(self.conversation_id, path)
        await self.log_widget.set_messages(path, positions)

    async def _consume(
        self, services: Services, events: AsyncGenerator[TurnEvent, None], clear_prompt: bool
    ) -> None:
        history = services.history
        view: View | None = None
        started = time.monotonic()
        tokens = 0
        shown_at = 0.0
        first = True
        read_from = last_at = 0.0
        user: Message | None = None
        # Drawing the user's message, the reply's view and the footer's new keys costs tens of
        # ms of the event loop: they wait until the request is out (or UI_HEAD_START), and are
        # drawn while the model thinks, so its first words go straight into a view on screen.
        request_out = self._request_out
        calling: dict[int, str] = {}  # the arguments of each tool call streaming in
        self.set_timer(UI_HEAD_START, self.refresh_bindings, name="turn-keys")
        # Closed however the turn ends (Esc cancels this task wherever it waits): the engine
        # then marks the reply cancelled and keeps what arrived.
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, TextDelta):
                    assert view is not None
                    frame = view.append_text(event.text)
                    tokens += 1
                    now = time.monotonic()
                    if now - shown_at >= STATUS_INTERVAL:  # not once per token: 10 times a second
                        shown_at = now
                        self.status.show_speed(tokens, now - started)
                    if now - last_at > READ_GAP:  # it waited for the network: a new read
                        read_from = now
                    last_at = now
                    if first or now - read_from >= FRAME_BUDGET:
                        # The first words, and in a burst a frame every FRAME_BUDGET, are drawn
                        # before more is taken in: one read of thousands of tokens would
                        # otherwise hold back every frame until all of it was taken in.
                        first = False
                        await self._drawn(frame)  # the next delta starts a new run (a gap)
                elif isinstance(event, ReasoningDelta):
                    assert view is not None
                    await view.append_reasoning(event.text)
                elif isinstance(event, Usage):
                    if view is not None:
                        view.set_usage(event)
                elif isinstance(event, UserMessageSaved):
                    if self.conversation_id != event.message.conversation_id:
                        self.conversation_id = event.message.conversation_id
                        self.new_chat_settings = None  # now stored on the new conversation
                        self.conversation = await history.get(self.conversation_id)
                    if clear_prompt:
                        self.prompt.clear()
                        self.attachments.clear()
                        self._show_attachments()
                        self._set_editing(None)
                    user = event.message
                elif isinstance(event, RouteChosen):
                    await self._route_chosen(services, event)
                    if self._preparing is None:
                        self._preparing = asyncio.ensure_future(
                            self._prepare_reply(services, user, event, request_out)
                        )
                elif isinstance(event, ReplyStarted):
                    self.status.stop_waiting()
                    request_out.set()
                    view = await self._reply_view(services, event.message)
                    started = time.monotonic()
                    self._stream_view = view
                elif isinstance(event, ReplyTextEnded):
                    if view is not None:  # draw it all now; the engine is writing the record
                        await view.finish()
                elif isinstance(event, ReplyFinished):
                    request_out.set()
                    if view is None and self._preparing is not None:
                        view = await self._reply_view(services, event.message)
                    await self._finish_view(services, view, event)
                elif isinstance(event, TitleChanged):
                    self.sub_title = event.title
                elif isinstance(event, ToolCallDelta):
                    calling[event.index] = calling.get(event.index, "") + event.arguments
                    self.status.show_activity(f"calling {event.name} {calling[event.index][:80]}")
                elif isinstance(event, WebSearch):
                    searched = (
                        f"searched the web: {event.query}" if event.query else "searched the web"
                    )
                    self.status.show_activity(searched if event.done else "searching the web…")
                elif isinstance(event, ToolCallsAsked):
                    calling.clear()
                    if view is not None:
                        await view.add_tool_calls(event.calls)
                elif isinstance(event, ToolCallChanged):
                    if view is not None:
                        view.update_tool_call(event.call)
                    self._tool_changed(event.call)
                elif isinstance(event, ToolNotice):
                    self.notify(inert(event.text), severity="warning", timeout=10)
                elif isinstance(event, Citation):
                    if view is not None:
                        await view.add_citation(event)

    async def _drawn(self, frame: Awaitable[object]) -> None:
        """Wait until a frame of the reply's text is built and on the terminal (never longer
        than ``FRAME_WAIT_LIMIT``)."""
        painted = asyncio.get_running_loop().create_future()

        def after_refresh() -> None:
            if not painted.done():
                painted.set_result(None)

        async def shown() -> None:
            await frame
            self.call_after_refresh(after_refresh)
            await painted

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(shown(), FRAME_WAIT_LIMIT)

    def _tool_changed(self, call: ToolCallRecord) -> None:
        """The status line follows the calls; a call that failed is said in one line."""
        if call.status is ToolStatus.RUNNING:
            self.status.show_activity(f"running {call.name}…")
        elif call.status is ToolStatus.FAILED:
            why = call.error or "it failed"
            self.notify(
                inert(f"Tool {call.name} failed: {why}. The model is told, and the chat goes on."),
                severity="warning",
                timeout=8,
            )

    async def _route_chosen(self, services: Services, event: RouteChosen) -> None:
        """The engine chose (and stored) the route: show the conversation as it now is."""
        if self.conversation_id is not None:
            self.conversation = await services.history.get(self.conversation_id)
        self.show_next_turn(services)
        turn = self.status
        if self.conversation is None:  # not stored (yet): show the route as chosen
            label = services.registry.config(event.provider).label
            turn.show_route(label, event.model, event.api.value)

    async def _prepare_reply(
        self,
        services: Services,
        user: Message | None,
        route: RouteChosen,
        request_out: asyncio.Event,
    ) -> View:
        """Once the request is out (or soon anyway), show the message just sent (if any) and
        the reply's view, waiting for its first words, in one mount."""
        with contextlib.suppress(TimeoutError):  # the request is out, or waited long enough
            await asyncio.wait_for(request_out.wait(), UI_HEAD_START)
        items: list[tuple[Message, tuple[int, int], bool]] = []
        if user is not None:
            positions = await services.history.sibling_positions(user.conversation_id, [user])
            items.append((user, positions[user.id], False))
        awaited = Message(
            id=AWAITED_REPLY,
            conversation_id=self.conversation_id or 0,
            parent_id=user.id if user is not None else None,
            role=Role.ASSISTANT,
            content="",
            status=MessageStatus.STREAMING,
            created_at=datetime.now(UTC),
            provider=route.provider,
            model=route.model,
            api=route.api,
        )
        items.append((awaited, (1, 1), True))
        self.log_widget.follow()  # what was just sent, and its answer, are shown as they come
        views = await self.log_widget.add_messages(items)
        self._pending_view = views[-1]
        self._show_empty_state(services)
        return views[-1]

    async def _reply_view(self, services: Services, message: Message) -> View:
        """The view the reply streams into: the one shown while it was awaited, now given
        the stored message (its place among its siblings follows, not to delay the text)."""
        if self._preparing is None:
            positions = await services.history.sibling_positions(message.conversation_id, [message])
            return await self.log_widget.add_message(message, positions[message.id], streaming=True)
        view = await self._preparing
        self._pending_view = None
        self.log_widget.adopt(view, message, view.sibling)
        self._sibling_task = asyncio.ensure_future(self._show_siblings(services, message))
        return view

    async def _show_siblings(self, services: Services, message: Message) -> None:
        positions = await services.history.sibling_positions(message.conversation_id, [message])
        self.log_widget.set_sibling(message.id, positions[message.id])

    async def _drop_pending(self) -> None:
        """After a turn: a reply view still awaiting a stored message goes (the turn failed
        before any reply was stored); the message sent stays shown."""
        preparing, self._preparing = self._preparing, None
        siblings, self._sibling_task = self._sibling_task, None
        for task in (preparing, siblings):
            if task is not None:
                with contextlib.suppress(Exception):
                    await task
        view, self._pending_view = self._pending_view, None
        if view is not None:
            await self.log_widget.discard(view)

    async def _finish_view(
        self, services: Services, view: View | None, event: ReplyFinished
    ) -> None:
        message = event.message
        log = self.log_widget
        positions = await services.history.sibling_positions(message.conversation_id, [message])
        if view is None:  # failed before anything arrived
            view = await log.add_message(message, positions[message.id])
        else:
            await log.finish_streaming(message)  # one clean final parse, with status and error
        log.update_message(message, positions[message.id])
        self.status.show_message(message)
        if event.error is not None:
            await self._act_on(services, event.error)

    async def _act_on(self, services: Services, error: object) -> None:
        """Do what an error suggests: open settings or switch API (the wait is shown inline)."""
        from tui.providers.errors import Action, ProviderError

        assert isinstance(error, ProviderError)
        if error.action is Action.OPEN_SETTINGS:
            self.open_settings(focus_provider=error.provider)
        elif error.action is Action.USE_RESPONSES and self.conversation_id is not None:
            await services.history.set_api_mode(self.conversation_id, ApiMode.RESPONSES)
            self.conversation = await services.history.get(self.conversation_id)
            self.show_next_turn(services)
            self.notify(
                "This conversation now uses the Responses API: Ctrl+R answers again.",
                title="Switched API",
            )

    async def _after_cancel(self) -> None:
        """Show the partial reply as the engine stored it: cancelled, text kept."""
        view = self._stream_view
        services = self.handle.current
        if view is None or services is None:
            return
        stored = await services.history.get_message(view.message.id)
        if stored is not None:
            await self.log_widget.finish_streaming(stored)
            self.status.show_message(stored)

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
            lambda s: s.chat.regenerate(message_id, options=self._options()), reset_to=parent
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

    def on_prompt_input_backspace_on_empty(self, event: PromptInput.BackspaceOnEmpty) -> None:
        """Backspace in an empty prompt takes back the last file waiting to be sent."""
        event.stop()
        if self.attachments:
            removed = self.attachments.pop()
            self._show_attachments()
            self.notify(f"Removed {removed.name}.", timeout=3)

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

    # ------------------------------------------------------------------ attachments

    def action_attach(self) -> None:
        self._path_purpose = "attach"
        path_input = self.query_one(PathInput)
        path_input.border_title = None
        path_input.display = True
        path_input.focus()

    def _close_attach(self) -> None:
        path_input = self.query_one(PathInput)
        path_input.value = ""
        path_input.display = False
        self.prompt.focus()

    @on(Input.Submitted, "#attach-path")
    def attach_path(self, event: Input.Submitted) -> None:
        from tui.services.attachments import AttachmentError, read_attachment

        if not event.value.strip():
            self._close_attach()
            return
        if self._path_purpose == "export":
            self._export_to(event.value.strip())
            return
        try:
            attachment = read_attachment(event.value.strip())
        except AttachmentError as exc:
            self.notify(str(exc), title="Not attached", severity="error")
            return
        self.attachments.append(attachment)
        self._show_attachments()
        self._close_attach()

    def _show_attachments(self) -> None:
        bar = self.query_one("#attachments", Static)
        bar.display = bool(self.attachments)
        names = "  ".join(
            f"📎 {inert(a.name)} ({_size(len(a.data or b''))})" for a in self.attachments
        )
        bar.update(  # file names are the user's, but never markup
            Content.assemble(
                names,
                (
                    "   (sent with the next message; Ctrl+F adds more, "
                    "Backspace in an empty prompt removes the last)",
                    "dim",
                ),
            )
        )

    def action_toggle_reasoning(self) -> None:
        """Show every reply's reasoning open, or closed (the default)."""
        from tui.widgets.message_view import MessageView

        shown = not MessageView.reasoning_shown
        MessageView.reasoning_shown = shown
        for view in self.query(MessageView):
            view.show_reasoning(shown)
        self.notify("Reasoning is shown open." if shown else "Reasoning is folded away.")

    # ------------------------------------------------------------------ this conversation

    def action_rename(self) -> None:
        self._rename()

    @work(group="manage", exclusive=True, exit_on_error=False)
    async def _rename(self) -> None:
        from tui.screens.text_prompt import TextPrompt

        services = await self.handle.get()
        conversation = await self._open_conversation(services)
        if conversation is None:
            return
        title = await self.app.push_screen_wait(
            TextPrompt("Rename conversation", inert(conversation.title))
        )
        if title is None or not title.strip() or title.strip() == conversation.title:
            return
        await services.history.rename(conversation.id, title.strip())
        self.conversation = await services.history.get(conversation.id)
        self.sub_title = title.strip()

    def action_archive(self) -> None:
        self._archive()

    @work(group="manage", exclusive=True, exit_on_error=False)
    async def _archive(self) -> None:
        services = await self.handle.get()
        conversation = await self._open_conversation(services)
        if conversation is None:
            return
        archived = not conversation.archived
        await services.history.set_archived(conversation.id, archived)
        self.conversation = await services.history.get(conversation.id)
        self.notify(
            "Archived: it stays open here; Ctrl+O then v shows the archive."
            if archived
            else "Restored to the conversations list.",
            title=inert(conversation.title),
        )

    def action_export(self) -> None:
        from pathlib import Path

        from tui.services.history import export_name

        conversation = self.conversation
        if self.conversation_id is None or conversation is None:
            self.notify("Nothing to export yet: this chat has no messages.")
            return
        self._path_purpose = "export"
        path_input = self.query_one(PathInput)
        path_input.value = str(Path.cwd() / export_name(conversation, "md"))
        path_input.border_title = "Export to (.md or .json)"
        path_input.display = True
        path_input.focus()

    @work(group="manage", exclusive=True, exit_on_error=False)
    async def _export_to(self, text: str) -> None:
        from pathlib import Path

        services = await self.handle.get()
        if self.conversation_id is None:
            return
        try:
            written = await services.history.export(self.conversation_id, Path(text))
        except FileExistsError:
            self.notify(
                f"Not exported: {inert(text)} exists already; choose another name.",
                severity="error",
            )
            return
        except (OSError, LookupError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.notify(f"Not exported: {inert(reason)}", severity="error")
            return
        self._close_attach()
        self.notify(f"Exported to {inert(str(written))}.", title="Export")

    async def _open_conversation(self, services: Services) -> Conversation | None:
        if self.conversation_id is None:
            self.notify("This chat is not saved yet: send a message first.")
            return None
        conversation = await services.history.get(self.conversation_id)
        if conversation is None:
            self.notify("This conversation no longer exists.", severity="error")
        return conversation

    # ------------------------------------------------------------------ model and settings

    def action_switch_model(self) -> None:
        self.pick_model(self.conversation_id)

    def action_chat_settings(self) -> None:
        self.edit_chat_settings()

    def pick_model(self, conversation_id: int | None) -> None:
        """The model picker for a conversation (this one, or one highlighted in the list), or
        for the next new chat; the choice is stored and applies from the next turn.

        For the open conversation or a new chat the picker is pushed at once, so keys typed
        right after the one that opened it go to its filter, not into the prompt."""
        services = self.handle.current
        if services is not None and (
            conversation_id is None
            or (self.conversation is not None and self.conversation.id == conversation_id)
        ):
            self._open_picker(services, self.conversation if conversation_id is not None else None)
        else:
            self._pick_model_loading(conversation_id)

    @work(group="model-picker", exclusive=True, exit_on_error=False)
    async def _pick_model_loading(self, conversation_id: int | None) -> None:
        services = await self.handle.get()
        conversation = None
        if conversation_id is not None:
            conversation = await services.history.get(conversation_id)
            if conversation is None:
                self.notify(f"Conversation {conversation_id} no longer exists.", severity="error")
                return
        self._open_picker(services, conversation)

    def _open_picker(self, services: Services, conversation: Conversation | None) -> None:
        from tui.screens.model_picker import ModelPicker

        settings = (
            services.chat.settings_for(conversation)
            if conversation is not None
            else self.new_chat_settings or services.chat.settings_for(None)
        )
        if settings.provider is None:  # the default provider, named
            settings = replace(settings, provider=services.registry.default_provider())
        if not settings.model:
            settings = replace(
                settings, model=services.registry.catalog.default_model(settings.provider or "")
            )
        target = inert(conversation.title) if conversation is not None else "the next new chat"

        def picked(result: PickerResult) -> None:
            self._use_picked(services, conversation, settings, result)

        self.app.push_screen(ModelPicker(services.models, settings, target=target), picked)

    @work(group="model-picked", exit_on_error=False)
    async def _use_picked(
        self,
        services: Services,
        conversation: Conversation | None,
        settings: ChatSettings,
        picked: PickerResult,
    ) -> None:
        from tui.screens.model_picker import NeedsKey, PickedModel

        if isinstance(picked, NeedsKey):
            self.open_settings(focus_provider=picked.provider)
            return
        if not isinstance(picked, PickedModel):
            return
        chosen = replace(
            settings, provider=picked.provider, model=picked.model, api_mode=picked.api_mode
        )
        await self._apply_settings(services, conversation, chosen)
        await services.models.note_used(picked.provider, picked.model)
        if picked.make_default:
            try:
                await services.models.make_default(picked.provider, picked.model, picked.api_mode)
            except (OSError, ValueError) as exc:
                self.notify(
                    f"Used for new chats in this run; the settings file could not be saved: {exc}",
                    severity="warning",
                )
            else:
                self.notify(f"New chats now start on {inert(picked.model)}.", title="Default")
        self.show_next_turn(services)

    @work(group="chat-settings", exclusive=True, exit_on_error=False)
    async def edit_chat_settings(self) -> None:
        """The panel for this conversation's (or the next new chat's) other settings."""
        from tui.providers.errors import ProviderError
        from tui.screens.chat_settings import ChatSettingsScreen

        services = await self.handle.get()
        conversation = None
        if self.conversation_id is not None:
            conversation = await services.history.get(self.conversation_id)
        settings = self.current_settings(services)
        if conversation is not None:
            settings = services.chat.settings_for(conversation)
        try:
            turn = services.chat.next_turn(settings)
        except ProviderError as exc:
            self.notify(str(exc), title="Chat settings", severity="error")
            return
        target = inert(conversation.title) if conversation is not None else "the next new chat"
        route = inert(f"{turn.provider_label} · {turn.model.id} (Ctrl+T switches model)")
        edited = await self.app.push_screen_wait(
            ChatSettingsScreen(settings, turn.model, target=target, route=route)
        )
        if edited is None or edited == settings:
            return
        await self._apply_settings(services, conversation, edited)
        self.notify("They apply from the next message.", title="Chat settings saved")

    async def _apply_settings(
        self, services: Services, conversation: Conversation | None, settings: ChatSettings
    ) -> None:
        """Store ``settings`` on ``conversation``, or keep them for the next new chat."""
        if conversation is None:
            self.new_chat_settings = settings
        else:
            stored = await services.chat.save_settings(conversation.id, settings)
            if conversation.id == self.conversation_id:
                self.conversation = stored
        self.show_next_turn(services)

    # ------------------------------------------------------------------ settings

    def open_settings(self, focus_provider: str | None = None, *, tab: str = "providers") -> None:
        """Open the settings, optionally on one provider's key or on another section."""
        self._open_settings(focus_provider, tab)

    @work(group="settings", exclusive=True, exit_on_error=False)
    async def _open_settings(self, focus_provider: str | None, tab: str) -> None:
        from tui.screens.settings_flow import edit_settings

        services = await self.handle.get()
        changed = await edit_settings(self.app, services, focus_provider, tab=tab)
        if changed:
            self.show_next_turn(services)


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB"):
        if count < 1024:
            return f"{count:.0f} {unit}"
        count = count / 1024  # type: ignore[assignment]
    return f"{count:.0f} GB"
