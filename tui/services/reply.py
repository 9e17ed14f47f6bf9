"""One streaming reply: its row, its buffers, its flushes; and the history and chain rules."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from tui.domain import (
    ApiKind,
    ApiMode,
    ChatRequest,
    Citation,
    Failed,
    Finished,
    InputMessage,
    Message,
    MessageStatus,
    ReasoningDelta,
    ResponseStarted,
    Role,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallRecord,
    ToolResult,
    ToolStatus,
    Usage,
    WebSearch,
)
from tui.providers.base import RequestSent
from tui.providers.errors import (
    MalformedResponseError,
    NoResponsesApiError,
    PreviousResponseNotFoundError,
    ProviderError,
)
from tui.services.tools import (
    NO_TOOLS,
    UNFINISHED_OUTPUT,
    Approver,
    Offer,
    ToolRunner,
    round_limit_output,
)
from tui.services.turns import (
    ReplyFinished,
    ReplyStarted,
    ReplyTextEnded,
    Route,
    RouteChosen,
    ToolCallChanged,
    ToolCallsAsked,
    ToolNotice,
    TurnEvent,
)
from tui.store.repository import ConversationRepository

log = logging.getLogger(__name__)

CHAINABLE = (MessageStatus.COMPLETE, MessageStatus.INCOMPLETE)
"""A reply that ended this way was stored whole by the provider and can be chained from."""


class ReplyHost(Protocol):
    """What a reply needs from the service that runs it."""

    repository: ConversationRepository
    clock: Callable[[], float]
    flush_interval: float
    tools: ToolRunner | None


@runtime_checkable
class FactLearner(Protocol):
    """A router that can be told what a provider's server lacks (the provider registry)."""

    def learn(self, name: str, facts: Mapping[str, Any]) -> dict[str, Any]: ...


class ReplyStream:
    """One streaming reply: its row, its buffers and its flushes."""

    def __init__(
        self,
        service: ReplyHost,
        route: Route,
        user: Message,
        request: ChatRequest,
        fallback: ChatRequest | None,
        *,
        first: bool,
        offer: Offer = NO_TOOLS,
        approve: Approver | None = None,
        sent: RequestSent | None = None,
    ) -> None:
        self.service = service
        self.sent = sent
        self.chosen = RouteChosen(route.config.name, route.model.id, route.api)
        self.fallback = fallback
        """The unchained request to resend if the server forgot the chained-from response."""
        self.first = first
        """The reply to a conversation's first message."""
        self.repository = service.repository
        self.clock = service.clock
        self.route = route
        self.user = user
        self.request = request
        self.message: Message | None = None
        self.parts: list[str] = []
        self.reasoning_parts: list[str] = []
        self.pending: list[str] = []
        self.pending_reasoning: list[str] = []
        self.started = self.clock()
        self.last_flush = self.started
        self.first_token: float | None = None
        self.response_id: str | None = None
        self.model_name: str | None = None
        self.usage: Usage | None = None
        self._learn_on_answer = False
        """Set once the turn fell back to Chat: record that fact when Chat answers."""
        self.offer = offer
        self.approve = approve
        self.round = 1
        """The round of tool calls the stream in flight answers (1: the user's message)."""
        self.full_messages = (fallback or request).messages
        """The whole input of the next request when it cannot chain: the path, then the
        rounds of tool calls and results so far."""
        self.tool_records: list[ToolCallRecord] = []
        self.citations: list[Citation] = []
        self._round_calls: list[ToolCall] = []
        self._round_start = 0
        """Where this round's text starts in ``text``."""
        self._round_fresh = True
        """Nothing of the round in flight has arrived yet (it can still be resent whole)."""
        self._unanswered = False
        """The last round's calls never reached the server: its response id cannot be
        chained from (the server waits for their outputs)."""

    @property
    def text(self) -> str:
        return "".join(self.parts)

    async def run(self) -> AsyncGenerator[TurnEvent, None]:
        """Stream the reply, persisting it; ends with one ``ReplyFinished``."""
        outcome: Finished | Failed | None = None
        request: ChatRequest | None = self.request
        for problem in self.offer.problems:
            yield ToolNotice(problem)
        try:
            while request is not None:
                self._begin_round(request)
                request = None
                async with aclosing(self._round_events()) as events:
                    async for event in events:
                        if isinstance(event, Finished | Failed):
                            outcome = event
                        else:
                            yield event
                if self._should_resend(outcome):
                    request, outcome = self._resend(), None
                elif self._should_use_chat(outcome):
                    request, outcome = self._use_chat(), None
                    yield self.chosen
                elif self._round_calls and isinstance(outcome, Finished):
                    async with aclosing(self._tool_round()) as changes:
                        async for change in changes:  # closing the turn closes the round
                            yield change
                    request = self._next_round()
                    if request is not None:
                        outcome = None
        except (asyncio.CancelledError, GeneratorExit):
            await asyncio.shield(self._finish(MessageStatus.CANCELLED, None))
            raise
        except Exception as exc:  # never lose what arrived to a fault of ours
            log.exception("the reply could not be handled")
            outcome = Failed(
                MalformedResponseError(
                    f"The reply could not be handled ({type(exc).__name__}); "
                    "what arrived is kept. Ctrl+R tries again."
                )
            )
        async with aclosing(self._conclude(outcome)) as endings:
            async for ending in endings:
                yield ending

    def _begin_round(self, request: ChatRequest) -> None:
        """Make ``request`` the one in flight, with nothing of its answer arrived yet."""
        self.request = request
        self._round_calls = []
        self._round_start = len(self.text)
        self._round_fresh = True
        self.response_id = None

    async def _round_events(self) -> AsyncGenerator[TurnEvent | Finished | Failed, None]:
        """One request's stream as the turn shows it, the reply's row created on its first
        event; the ``Finished`` or ``Failed`` it ended with comes last, after it is closed."""
        outcome: Finished | Failed | None = None
        stream = self.route.provider.stream(self.request, self.route.api, sent=self.sent)
        async with aclosing(stream):
            async for event in stream:
                if type(event) is Failed:
                    outcome = event
                    break
                self._round_fresh = False
                if self.message is None:
                    yield await self._start_row()
                if type(event) is Finished:
                    outcome = event
                    break
                shown = self._absorb(event)
                if shown is not None:
                    yield shown
                if type(event) is TextDelta or type(event) is ReasoningDelta:
                    await self._flush_if_due()
        if outcome is not None:
            yield outcome

    async def _start_row(self) -> ReplyStarted:
        """Store the reply's row (the first answer over a Chat fallback is learned first)."""
        if self._learn_on_answer:
            await self._learn_no_responses()
        await self._create_row()
        assert self.message is not None
        return ReplyStarted(self.message)

    def _absorb(self, event: StreamEvent) -> TurnEvent | None:
        """Keep what a data event carries; returns what the turn shows of it (None: nothing).

        Events are told apart by their exact type: an unknown kind is dropped.
        """
        if type(event) is TextDelta:
            self._mark_first_token()
            self.parts.append(event.text)
            self.pending.append(event.text)
            return event
        if type(event) is ReasoningDelta:
            self._mark_first_token()
            self.reasoning_parts.append(event.text)
            self.pending_reasoning.append(event.text)
            return event
        if type(event) is ResponseStarted:
            # Only a stored Responses id can be chained from; keep no other.
            self.response_id = event.response_id if event.chainable else None
            self.model_name = event.model or self.model_name
            return None
        if type(event) is Usage:
            self.usage = event
            return event
        if type(event) is Citation:
            if all(seen.url != event.url for seen in self.citations):
                self.citations.append(event)
            return event
        if type(event) is ToolCall:
            self._mark_first_token()
            self._round_calls.append(event)
            return None
        if type(event) is ToolCallDelta:
            self._mark_first_token()  # a call is an answer too
            return event
        if type(event) is WebSearch:
            return event
        return None

    def _mark_first_token(self) -> None:
        """Note when the answer began (text, reasoning or a call), for the latency."""
        if self.first_token is None:
            self.first_token = self.clock()

    async def _flush_if_due(self) -> None:
        """Write the pending text once ``flush_interval`` has passed since the last write."""
        if self.clock() - self.last_flush >= self.service.flush_interval:
            await self._flush()

    async def _conclude(self, outcome: Finished | Failed | None) -> AsyncGenerator[TurnEvent, None]:
        """Store how the reply ended: ``ReplyTextEnded`` (once there is a row), then
        ``ReplyFinished``."""
        if outcome is None:
            outcome = Failed(MalformedResponseError("The stream ended before the reply did."))
        status, error = _ending(outcome)
        if self.message is None:
            yield ReplyFinished(await self._finish(status, error), error)
            return
        # The final record is written while the caller draws the finished text.
        writing = asyncio.ensure_future(self._finish(status, error))
        try:
            yield ReplyTextEnded(self.message.id)
        except (asyncio.CancelledError, GeneratorExit):
            # The text is whole: a caller that stops listening now still gets it stored.
            await asyncio.shield(writing)
            raise
        yield ReplyFinished(await asyncio.shield(writing), error)

    # ------------------------------------------------------------------ tool rounds

    async def _tool_round(self) -> AsyncGenerator[TurnEvent, None]:
        """The round's calls: shown, approved, run (or not run past the round limit)."""
        runner = self.service.tools
        assert self.message is not None
        message_id = self.message.id
        start = len(self.tool_records)
        records = self._records(runner)
        self.tool_records.extend(records)
        self._unanswered = True
        yield ToolCallsAsked(message_id, tuple(records))
        limit = runner.policy.max_rounds if runner is not None else 0
        if runner is None or self.round > limit:
            why = round_limit_output(limit)
            for index, record in enumerate(records):
                self.tool_records[start + index] = replace(
                    record, status=ToolStatus.NOT_RUN, output=why
                )
                yield ToolCallChanged(message_id, self.tool_records[start + index])
            await self._save_tools()
            yield ToolNotice(
                f"Stopped after {limit} rounds of tool calls: the last calls were not run "
                "(tools.max_rounds in the settings)."
            )
            return
        changes: asyncio.Queue[ToolCallRecord | None] = asyncio.Queue()
        work = asyncio.ensure_future(
            runner.run_round(records, self.offer, self.approve, changes.put_nowait)
        )
        work.add_done_callback(lambda _: changes.put_nowait(None))
        try:
            while (change := await changes.get()) is not None:
                self._store_record(start, change)
                yield ToolCallChanged(message_id, change)
            final = work.result()
        except (asyncio.CancelledError, GeneratorExit):
            work.cancel()
            try:
                final = await asyncio.shield(work)
            except (asyncio.CancelledError, Exception):
                final = [self._cancelled(record) for record in self.tool_records[start:]]
            self.tool_records[start:] = final
            raise
        except Exception as exc:  # a bug of ours or an approver's: the round fails, not the reply
            log.exception("a round of tool calls failed")
            final = [self._broken(record, exc) for record in self.tool_records[start:]]
        self.tool_records[start:] = final
        await self._save_tools()

    def _records(self, runner: ToolRunner | None) -> list[ToolCallRecord]:
        offset = len(self.text)
        if runner is None:
            return [
                ToolCallRecord(c.call_id, c.name, c.arguments, round=self.round, offset=offset)
                for c in self._round_calls
            ]
        return runner.records(self._round_calls, self.offer, number=self.round, offset=offset)

    def _store_record(self, start: int, record: ToolCallRecord) -> None:
        for index in range(start, len(self.tool_records)):
            if self.tool_records[index].call_id == record.call_id:
                self.tool_records[index] = record
                return

    @staticmethod
    def _broken(record: ToolCallRecord, exc: Exception) -> ToolCallRecord:
        if record.finished:
            return record
        error = f"the call could not be handled ({type(exc).__name__})"
        return replace(record, status=ToolStatus.FAILED, error=error, output=f"Not run: {error}.")

    @staticmethod
    def _cancelled(record: ToolCallRecord) -> ToolCallRecord:
        if record.finished:
            return record
        from tui.services.tools import CANCELLED_OUTPUT

        return replace(record, status=ToolStatus.CANCELLED, output=CANCELLED_OUTPUT)

    def _next_round(self) -> ChatRequest | None:
        """The request that sends the round's results back; None when the reply stops here
        (the round limit)."""
        calls = [r for r in self.tool_records if r.round == self.round]
        if any(record.status is ToolStatus.NOT_RUN for record in calls):
            return None
        text = self.text[self._round_start :]
        results = tuple(record.to_result() for record in calls)
        self.full_messages = (
            *self.full_messages,
            InputMessage(Role.ASSISTANT, text, tool_calls=tuple(r.to_call() for r in calls)),
            InputMessage(Role.USER, "", tool_results=results),
        )
        self.round += 1
        self._unanswered = False
        unchained = replace(self.request, previous_response_id=None, messages=self.full_messages)
        if (
            self.route.api is ApiKind.RESPONSES
            and self.response_id
            and self.route.config.stateful_responses
        ):
            # Only the outputs go: the server keeps the calls and everything before them.
            self.fallback = unchained
            return replace(
                self.request,
                previous_response_id=self.response_id,
                messages=(InputMessage(Role.USER, "", tool_results=results),),
            )
        self.fallback = None
        return unchained

    async def _save_tools(self) -> None:
        if self.message is None:
            return
        try:
            await self.repository.save_tool_calls(self.message.id, self.tool_records)
        except Exception:  # kept in memory and written at the finish; a flush is a nicety
            log.warning("could not store the tool calls yet", exc_info=True)

    # ------------------------------------------------------------------ the fallbacks

    def _should_resend(self, outcome: Finished | Failed | None) -> bool:
        """The chained-from response is gone and nothing of this round exists yet."""
        return (
            isinstance(outcome, Failed)
            and isinstance(outcome.error, PreviousResponseNotFoundError)
            and self.fallback is not None
            and self._round_fresh
        )

    def _should_use_chat(self, outcome: Finished | Failed | None) -> bool:
        """``auto`` met a server without ``/responses`` before anything of the reply exists."""
        return (
            isinstance(outcome, Failed)
            and isinstance(outcome.error, NoResponsesApiError)
            and self.route.api is ApiKind.RESPONSES
            and self.route.api_mode is ApiMode.AUTO
            and ApiKind.CHAT in self.route.model.endpoints
            and self.message is None
            and not self._learn_on_answer
        )

    def _resend(self) -> ChatRequest | None:
        """The unchained request, to send once more in place of the chained one."""
        log.info(
            "previous response %s is gone; resending the whole conversation",
            self.request.previous_response_id,
        )
        request, self.fallback = self.fallback, None
        return request

    def _use_chat(self) -> ChatRequest:
        """Switch this reply to Chat Completions; the request carries the whole path."""
        log.info("%s has no Responses API; answering over Chat Completions", self.route.config.name)
        request = replace(self.fallback or self.request, previous_response_id=None)
        self.fallback = None
        self.route = replace(self.route, api=ApiKind.CHAT)
        self.chosen = RouteChosen(self.route.config.name, self.route.model.id, ApiKind.CHAT)
        self._learn_on_answer = True
        return request

    async def _learn_no_responses(self) -> None:
        """Chat answered where Responses was missing: route this provider to Chat from now on
        (in memory, and in the store for the next start)."""
        self._learn_on_answer = False
        name = self.route.config.name
        facts: dict[str, Any] = {"responses": False, "base_url": self.route.config.base_url}
        router = getattr(self.service, "router", None)
        if isinstance(router, FactLearner):
            facts = router.learn(name, facts)
        try:
            await self.repository.save_provider_facts(name, facts)
        except Exception:  # the fallback still works this run; only the memory of it is lost
            log.warning("could not store what was learned about %s", name, exc_info=True)

    async def _create_row(self) -> None:
        self.message = await self.repository.add_message(
            self.user.conversation_id,
            role=Role.ASSISTANT,
            parent_id=self.user.id,
            status=MessageStatus.STREAMING,
            provider=self.route.config.name,
            model=self.route.model.id,
            api=self.route.api,
            previous_response_id=self.request.previous_response_id,
        )

    async def _flush(self) -> None:
        assert self.message is not None
        self.last_flush = self.clock()
        text, reasoning = "".join(self.pending), "".join(self.pending_reasoning)
        self.pending.clear()
        self.pending_reasoning.clear()
        await self.repository.append_text(self.message.id, text, reasoning)

    async def _finish(self, status: MessageStatus, error: ProviderError | None) -> Message:
        if self.message is None:
            await self._create_row()
        assert self.message is not None
        now = self.clock()
        latency = (
            None if self.first_token is None else int((self.first_token - self.started) * 1000)
        )
        self.message = await self.repository.finish_message(
            self.message.id,
            status=status,
            content=self.text,
            reasoning="".join(self.reasoning_parts),
            # A round whose calls never reached the server cannot be chained from.
            response_id=None if self._unanswered else self.response_id,
            model=self.model_name,
            usage=self.usage,
            latency_ms=latency,
            duration_ms=int((now - self.started) * 1000),
            error=str(error) if error is not None else None,
            tool_calls=self.tool_records or None,
            citations=self.citations or None,
        )
        return self.message


def _ending(outcome: Finished | Failed) -> tuple[MessageStatus, ProviderError | None]:
    """The status a reply is stored with for how its stream ended, and the error if it failed."""
    if isinstance(outcome, Finished):
        return (MessageStatus.INCOMPLETE if outcome.incomplete else MessageStatus.COMPLETE), None
    return MessageStatus.FAILED, outcome.error


def history(path: Sequence[Message]) -> tuple[InputMessage, ...]:
    """The active path as the provider sees it: user turns and what the assistant said,
    with each round of tool calls followed by its results."""
    turns: list[InputMessage] = []
    for message in path:
        if message.role is Role.USER:
            attachments = tuple(stored.to_attachment() for stored in message.attachments)
            turns.append(InputMessage(Role.USER, message.content, attachments))
        elif message.role is Role.ASSISTANT and message.tool_calls:
            turns.extend(tool_history(message))
        elif message.role is Role.ASSISTANT and message.content:
            turns.append(InputMessage(Role.ASSISTANT, message.content))
    return tuple(turns)


def tool_history(message: Message) -> list[InputMessage]:
    """A reply that called tools, round by round: the text before each round's calls, the
    calls, their results; then the text after the last round."""
    turns: list[InputMessage] = []
    text, start = message.content, 0
    rounds: dict[int, list[ToolCallRecord]] = {}
    for record in message.tool_calls:
        rounds.setdefault(record.round, []).append(record)
    for number in sorted(rounds):
        calls = rounds[number]
        end = max(start, min(calls[0].offset, len(text)))
        turns.append(
            InputMessage(
                Role.ASSISTANT, text[start:end], tool_calls=tuple(r.to_call() for r in calls)
            )
        )
        results = tuple(ToolResult(r.call_id, r.output or UNFINISHED_OUTPUT) for r in calls)
        turns.append(InputMessage(Role.USER, "", tool_results=results))
        start = end
    if text[start:]:
        turns.append(InputMessage(Role.ASSISTANT, text[start:]))
    return turns


def chain_parent(path: Sequence[Message], route: Route) -> Message | None:
    """The reply the next Responses request can chain from, if there is one."""
    if route.api is not ApiKind.RESPONSES or len(path) < 2:
        return None
    parent = path[-2]
    if (
        parent.role is Role.ASSISTANT
        and parent.response_id
        and parent.api is ApiKind.RESPONSES
        and parent.provider == route.config.name
        and route.config.stateful_responses
        and parent.status in CHAINABLE
    ):
        return parent
    return None
