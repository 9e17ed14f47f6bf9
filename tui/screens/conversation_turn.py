"""One turn on the conversation screen: the engine's events turned into widget calls.

The screen's ``run_turn`` worker hands each turn to its ``TurnRunner``. The runner draws the
message sent and the reply's view once the request is out, takes the reply in at a pace the
terminal can show, and leaves the screen ready for the next turn however this one ends: finished,
failed, or stopped with Esc.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tui.domain import (
    ApiMode,
    Citation,
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

if TYPE_CHECKING:
    from tui.screens.conversation import ConversationScreen
    from tui.services.container import Services
    from tui.services.tools import ApprovalRequest, Decision
    from tui.widgets.message_view import MessageView as View


STATUS_INTERVAL = 0.1
"""Seconds between updates of the streaming figures in the status line."""
UI_HEAD_START = 0.05
"""Seconds the engine gets to send a request before the screen draws what the send changed."""
FRAME_BUDGET = 0.25
"""Seconds spent taking in answer text from one read before a frame of it is drawn again (a
burst shows its progress four times a second; more often costs the whole answer's time)."""
READ_GAP = 0.001
"""Deltas further apart than this came from separate reads (the screen waited for them)."""
FRAME_WAIT_LIMIT = 0.5
"""At most this long for a frame before taking in more (a view that cannot draw)."""
AWAITED_REPLY = 0
"""The id of the reply's message while it is awaited (stored rows start at 1)."""


@dataclass
class _Reading:
    """What one turn has taken in so far: the reply's view, the pace of its text, and the
    arguments of each tool call streaming in."""

    services: Services
    request_out: asyncio.Event
    clear_prompt: bool
    started: float
    """When the reply started (the speed in the status line counts from it)."""
    view: View | None = None
    user: Message | None = None
    """The user's message, once the engine has stored it."""
    tokens: int = 0
    shown_at: float = 0.0
    """When the streaming figures were last shown."""
    first: bool = True
    """No text has been drawn yet."""
    read_from: float = 0.0
    """When the current read (a run of deltas with no wait between them) began."""
    last_at: float = 0.0
    calling: dict[int, str] = field(default_factory=dict)


class TurnRunner:
    """Runs the screen's turns, one at a time (the screen's ``stream`` worker group).

    It keeps what a turn leaves behind for the steps that follow it: the reply's view, the mount
    prepared for it, and whether the request is out.
    """

    def __init__(self, screen: ConversationScreen, clock: Callable[[], float]) -> None:
        self.screen = screen
        self._clock = clock
        """Read for the streaming figures (seconds, monotonic)."""
        self.stream_view: View | None = None
        """The view the current reply streams into."""
        self.request_out = asyncio.Event()
        """Set once the turn's request is out (see ``TurnOptions.request_sent``)."""
        self._preparing: asyncio.Future[View] | None = None
        """The mount of the turn's message and reply view (``_prepare_reply``)."""
        self._pending_view: View | None = None
        """The reply's view while no stored message backs it yet."""
        self._sibling_task: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ options

    def options(self) -> TurnOptions:
        """This screen's turn options: tool calls are asked about with a modal, and the turn
        is drawn once its request is out."""
        return TurnOptions(approve=self._approve, request_sent=self._request_sent)

    async def _request_sent(self) -> None:
        self.request_out.set()

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
        self.screen.status.show_activity(f"waiting for your answer: run {request.record.name}?")
        try:
            await self.screen.app.push_screen(question, answered)
            return await answer
        finally:
            if not closed and question.is_current:  # the turn stopped while it asked
                question.dismiss(None)

    # ------------------------------------------------------------------ the turn

    async def run(
        self,
        start: Callable[[Services], AsyncGenerator[TurnEvent, None]],
        *,
        reset_to: int | None | bool,
        clear_prompt: bool,
    ) -> None:
        """Run one turn: ``start(services)`` gives the engine's event stream. What stops it is
        said in one line; the app stays up."""
        from tui.providers.errors import ProviderError
        from tui.services.chat import ConversationNotFoundError

        screen = self.screen
        screen.streaming = True
        self.request_out = asyncio.Event()
        try:
            services = await screen.handle.get()
            if reset_to is not False and screen.conversation_id is not None:
                await self._show_path(services, reset_to if isinstance(reset_to, int) else None)
            await self._consume(services, start(services), clear_prompt)
        except (ProviderError, ConversationNotFoundError, ValueError) as exc:
            screen.notify(str(exc), title="Not sent", severity="error", timeout=10)
        except asyncio.CancelledError:
            await self._after_cancel()
            raise
        except Exception as exc:  # the store failed mid-turn: say so, keep the app alive
            problem = store_problem(exc)  # one line: what went wrong and what to do
            message = problem if problem is not None else f"{type(exc).__name__}: {exc}"
            screen.notify(message, title="Not sent", severity="error", timeout=15)
        finally:
            await self._drop_pending()
            screen.streaming = False
            self.stream_view = None

    async def _show_path(self, services: Services, leaf: int | None) -> None:
        screen = self.screen
        assert screen.conversation_id is not None
        history = services.history
        path = await history.active_path(screen.conversation_id, leaf) if leaf else []
        positions = await history.sibling_positions(screen.conversation_id, path)
        await screen.log_widget.set_messages(path, positions)

    async def _consume(
        self, services: Services, events: AsyncGenerator[TurnEvent, None], clear_prompt: bool
    ) -> None:
        """Take in the engine's events until the turn ends.

        Drawing the user's message, the reply's view and the footer's new keys costs tens of ms
        of the event loop: they wait until the request is out (or UI_HEAD_START), and are drawn
        while the model thinks, so its first words go straight into a view on screen.
        """
        reading = _Reading(services, self.request_out, clear_prompt, started=self._clock())
        screen = self.screen
        screen.set_timer(UI_HEAD_START, screen.refresh_bindings, name="turn-keys")
        # Closed however the turn ends (Esc cancels this task wherever it waits): the engine
        # then marks the reply cancelled and keeps what arrived.
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, TextDelta):
                    await self._take_text(reading, event)
                else:
                    await self._take(reading, event)

    async def _take_text(self, reading: _Reading, event: TextDelta) -> None:
        """Append answer text; draw it at its first words, and in a burst every FRAME_BUDGET."""
        view = reading.view
        assert view is not None
        frame = view.append_text(event.text)
        reading.tokens += 1
        now = self._clock()
        if now - reading.shown_at >= STATUS_INTERVAL:  # not once per token: 10 times a second
            reading.shown_at = now
            self.screen.status.show_speed(reading.tokens, now - reading.started)
        if now - reading.last_at > READ_GAP:  # it waited for the network: a new read
            reading.read_from = now
        reading.last_at = now
        if reading.first or now - reading.read_from >= FRAME_BUDGET:
            # The first words, and in a burst a frame every FRAME_BUDGET, are drawn before more
            # is taken in: one read of thousands of tokens would otherwise hold back every frame
            # until all of it was taken in.
            reading.first = False
            await self._drawn(frame)  # the next delta starts a new run (a gap)

    async def _take(self, reading: _Reading, event: TurnEvent) -> None:
        """Every event but answer text: the reply's life, and what the engine says beside it."""
        services = reading.services
        view = reading.view
        if isinstance(event, ReasoningDelta):
            assert view is not None
            await view.append_reasoning(event.text)
        elif isinstance(event, Usage):
            if view is not None:
                view.set_usage(event)
        elif isinstance(event, UserMessageSaved):
            await self._user_saved(reading, event.message)
        elif isinstance(event, RouteChosen):
            await self._route_chosen(services, event)
            if self._preparing is None:
                self._preparing = asyncio.ensure_future(
                    self._prepare_reply(services, reading.user, event, reading.request_out)
                )
        elif isinstance(event, ReplyStarted):
            self.screen.status.stop_waiting()
            reading.request_out.set()
            reading.view = await self._reply_view(services, event.message)
            reading.started = self._clock()
            self.stream_view = reading.view
        elif isinstance(event, ReplyTextEnded):
            if view is not None:  # draw it all now; the engine is writing the record
                await view.finish()
        elif isinstance(event, ReplyFinished):
            reading.request_out.set()
            if view is None and self._preparing is not None:
                view = reading.view = await self._reply_view(services, event.message)
            await self._finish_view(services, view, event)
        elif isinstance(event, TitleChanged):
            self.screen.sub_title = event.title
        else:
            await self._take_aside(reading, event)

    async def _take_aside(self, reading: _Reading, event: TurnEvent) -> None:
        """Tool calls, web searches, notices and citations: the status line, the reply's view,
        or a notification."""
        screen = self.screen
        view = reading.view
        calling = reading.calling
        if isinstance(event, ToolCallDelta):
            calling[event.index] = calling.get(event.index, "") + event.arguments
            screen.status.show_activity(f"calling {event.name} {calling[event.index][:80]}")
        elif isinstance(event, WebSearch):
            searched = f"searched the web: {event.query}" if event.query else "searched the web"
            screen.status.show_activity(searched if event.done else "searching the web…")
        elif isinstance(event, ToolCallsAsked):
            calling.clear()
            if view is not None:
                await view.add_tool_calls(event.calls)
        elif isinstance(event, ToolCallChanged):
            if view is not None:
                view.update_tool_call(event.call)
            self._tool_changed(event.call)
        elif isinstance(event, ToolNotice):
            screen.notify(inert(event.text), severity="warning", timeout=10)
        elif isinstance(event, Citation):
            if view is not None:
                await view.add_citation(event)

    async def _user_saved(self, reading: _Reading, message: Message) -> None:
        """The engine stored the user's message: a new chat is now a stored conversation, and
        the prompt gives up what it held."""
        screen = self.screen
        if screen.conversation_id != message.conversation_id:
            screen.conversation_id = message.conversation_id
            screen.new_chat_settings = None  # now stored on the new conversation
            screen.conversation = await reading.services.history.get(screen.conversation_id)
        if reading.clear_prompt:
            screen.prompt.clear()
            screen.attachments.clear()
            screen._show_attachments()
            screen._set_editing(None)
        reading.user = message

    async def _drawn(self, frame: Awaitable[object]) -> None:
        """Wait until a frame of the reply's text is built and on the terminal (never longer
        than ``FRAME_WAIT_LIMIT``)."""
        painted = asyncio.get_running_loop().create_future()

        def after_refresh() -> None:
            if not painted.done():
                painted.set_result(None)

        async def shown() -> None:
            await frame
            self.screen.call_after_refresh(after_refresh)
            await painted

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(shown(), FRAME_WAIT_LIMIT)

    def _tool_changed(self, call: ToolCallRecord) -> None:
        """The status line follows the calls; a call that failed is said in one line."""
        if call.status is ToolStatus.RUNNING:
            self.screen.status.show_activity(f"running {call.name}…")
        elif call.status is ToolStatus.FAILED:
            why = call.error or "it failed"
            self.screen.notify(
                inert(f"Tool {call.name} failed: {why}. The model is told, and the chat goes on."),
                severity="warning",
                timeout=8,
            )

    # ------------------------------------------------------------------ the reply's view

    async def _route_chosen(self, services: Services, event: RouteChosen) -> None:
        """The engine chose (and stored) the route: show the conversation as it now is."""
        screen = self.screen
        if screen.conversation_id is not None:
            screen.conversation = await services.history.get(screen.conversation_id)
        screen.show_next_turn(services)
        turn = screen.status
        if screen.conversation is None:  # not stored (yet): show the route as chosen
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
            conversation_id=self.screen.conversation_id or 0,
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
        log = self.screen.log_widget
        log.follow()  # what was just sent, and its answer, are shown as they come
        views = await log.add_messages(items)
        self._pending_view = views[-1]
        self.screen._show_empty_state(services)
        return views[-1]

    async def _reply_view(self, services: Services, message: Message) -> View:
        """The view the reply streams into: the one shown while it was awaited, now given
        the stored message (its place among its siblings follows, not to delay the text)."""
        log = self.screen.log_widget
        if self._preparing is None:
            positions = await services.history.sibling_positions(message.conversation_id, [message])
            return await log.add_message(message, positions[message.id], streaming=True)
        view = await self._preparing
        self._pending_view = None
        log.adopt(view, message, view.sibling)
        self._sibling_task = asyncio.ensure_future(self._show_siblings(services, message))
        return view

    async def _show_siblings(self, services: Services, message: Message) -> None:
        positions = await services.history.sibling_positions(message.conversation_id, [message])
        self.screen.log_widget.set_sibling(message.id, positions[message.id])

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
            await self.screen.log_widget.discard(view)

    async def _finish_view(
        self, services: Services, view: View | None, event: ReplyFinished
    ) -> None:
        message = event.message
        log = self.screen.log_widget
        positions = await services.history.sibling_positions(message.conversation_id, [message])
        if view is None:  # failed before anything arrived
            view = await log.add_message(message, positions[message.id])
        else:
            await log.finish_streaming(message)  # one clean final parse, with status and error
        log.update_message(message, positions[message.id])
        self.screen.status.show_message(message)
        if event.error is not None:
            await self._act_on(services, event.error)

    async def _act_on(self, services: Services, error: object) -> None:
        """Do what an error suggests: open settings or switch API (the wait is shown inline)."""
        from tui.providers.errors import Action, ProviderError

        screen = self.screen
        assert isinstance(error, ProviderError)
        if error.action is Action.OPEN_SETTINGS:
            screen.open_settings(focus_provider=error.provider)
        elif error.action is Action.USE_RESPONSES and screen.conversation_id is not None:
            await services.history.set_api_mode(screen.conversation_id, ApiMode.RESPONSES)
            screen.conversation = await services.history.get(screen.conversation_id)
            screen.show_next_turn(services)
            screen.notify(
                "This conversation now uses the Responses API: Ctrl+R answers again.",
                title="Switched API",
            )

    async def _after_cancel(self) -> None:
        """Show the partial reply as the engine stored it: cancelled, text kept."""
        view = self.stream_view
        services = self.screen.handle.current
        if view is None or services is None:
            return
        stored = await services.history.get_message(view.message.id)
        if stored is not None:
            await self.screen.log_widget.finish_streaming(stored)
            self.screen.status.show_message(stored)
