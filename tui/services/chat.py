"""ChatService: one turn at a time, persisted as it streams, chained on the Responses API.

A turn, in order:
1. the user's message is committed (nothing typed is lost, whatever happens next);
2. the route is chosen: provider, model, and the API (the conversation's mode when the model
   has it);
3. the request is built: on Responses it chains from the parent reply's ``response_id`` when
   that reply came from the same provider over Responses and was stored, sending only the new
   input; otherwise (and on Chat Completions) the whole active path is sent. ``instructions``
   go out on every turn;
4. the reply row is created at the first event and its text flushed at most every
   ``flush_interval`` seconds, then finished with its status, response id, usage and timings.

If the server has forgotten the response we chained from, the whole path is resent once and
the chain goes on from the new id; the user only sees a line in the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import aclosing
from typing import Protocol

from tui.config.settings import Defaults
from tui.domain import (
    ApiMode,
    Attachment,
    ChatRequest,
    Conversation,
    Message,
    MessageStatus,
    Role,
)
from tui.services.reply import ReplyStream, chain_parent, history
from tui.services.titles import title_from_text
from tui.services.turns import (
    Route,
    TitleChanged,
    TurnEvent,
    TurnOptions,
    UserMessageSaved,
)
from tui.store.repository import ConversationRepository

log = logging.getLogger(__name__)

DEFAULT_TITLE = "New chat"


class Router(Protocol):
    """Turns names into a ready provider, model and API (implemented by the provider registry)."""

    def route(self, provider: str | None, model: str | None, api_mode: ApiMode) -> Route:
        """Resolve a route; raises ``ProviderError`` for an unknown provider."""
        ...


class ConversationNotFoundError(LookupError):
    """The conversation or message asked for does not exist (deleted, or a wrong id)."""


class ChatService:
    """Runs turns: send, regenerate, edit; persists every reply as it streams."""

    def __init__(
        self,
        repository: ConversationRepository,
        router: Router,
        *,
        defaults: Defaults | None = None,
        flush_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        on_title: Callable[[int, str], None] | None = None,
    ) -> None:
        self.repository = repository
        self.router = router
        self.defaults = defaults or Defaults()
        self.flush_interval = flush_interval
        self.clock = clock
        self.on_title = on_title
        """Called with (conversation_id, title) when a model-written title lands."""
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ conversations

    async def start_conversation(
        self, *, options: TurnOptions | None = None, title: str = DEFAULT_TITLE
    ) -> Conversation:
        """Create an empty conversation carrying the chosen provider, model and API mode."""
        options = options or TurnOptions()
        route = self._route(None, options)
        return await self.repository.create_conversation(
            title=title,
            provider=route.config.name,
            model=route.model.id,
            api_mode=options.api_mode or self.defaults.api_mode,
            system_prompt=options.system_prompt
            if options.system_prompt is not None
            else self.defaults.system_prompt,
        )

    # ------------------------------------------------------------------ the three kinds of turn

    async def send(
        self,
        conversation_id: int | None,
        text: str,
        *,
        attachments: Sequence[Attachment] = (),
        options: TurnOptions | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """Add a user message under the active leaf and stream the reply.

        With ``conversation_id`` None a new conversation is created first.
        """
        options = options or TurnOptions()
        new = conversation_id is None
        if conversation_id is None:
            conversation = await self.start_conversation(
                options=options, title=title_from_text(text)
            )
        else:
            conversation = await self._conversation(conversation_id)
        user = await self.repository.add_message(
            conversation.id,
            role=Role.USER,
            content=text,
            parent_id=conversation.active_leaf_id,
            attachments=attachments,
        )
        yield UserMessageSaved(user)
        if new:
            yield TitleChanged(conversation.id, conversation.title)
        elif conversation.title == DEFAULT_TITLE and conversation.active_leaf_id is None:
            title = title_from_text(text)
            await self.repository.rename_conversation(conversation.id, title)
            yield TitleChanged(conversation.id, title)
        reply = await self._prepare(conversation, user, options, [user] if new else None)
        yield reply.chosen
        async with aclosing(reply.run()) as events:  # closing the turn closes the reply too
            async for event in events:
                yield event
        self._after(conversation, reply)

    async def regenerate(
        self, message_id: int, *, options: TurnOptions | None = None
    ) -> AsyncIterator[TurnEvent]:
        """Answer again: a reply beside ``message_id`` (a reply) or under it (a user message)."""
        message = await self._message(message_id)
        if message.role is Role.ASSISTANT:
            if message.parent_id is None:
                raise ConversationNotFoundError("That reply has no question to answer again.")
            user = await self._message(message.parent_id)
        else:
            user = message
        conversation = await self._conversation(user.conversation_id)
        reply = await self._prepare(conversation, user, options or TurnOptions())
        yield reply.chosen
        async with aclosing(reply.run()) as events:  # closing the turn closes the reply too
            async for event in events:
                yield event

    async def edit(
        self,
        message_id: int,
        text: str,
        *,
        attachments: Sequence[Attachment] | None = None,
        options: TurnOptions | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """Add an edited copy of a user message beside it, and answer the copy."""
        original = await self._message(message_id)
        if original.role is not Role.USER:
            raise ValueError("Only your own messages can be edited.")
        if attachments is None:
            attachments = [stored.to_attachment() for stored in original.attachments]
        user = await self.repository.add_message(
            original.conversation_id,
            role=Role.USER,
            content=text,
            parent_id=original.parent_id,
            attachments=attachments,
        )
        yield UserMessageSaved(user)
        conversation = await self._conversation(original.conversation_id)
        reply = await self._prepare(conversation, user, options or TurnOptions())
        yield reply.chosen
        async with aclosing(reply.run()) as events:  # closing the turn closes the reply too
            async for event in events:
                yield event

    # ------------------------------------------------------------------ the reply

    async def _prepare(
        self,
        conversation: Conversation,
        user: Message,
        options: TurnOptions,
        path: list[Message] | None = None,
    ) -> ReplyStream:
        """Choose the route and build the request for the reply to ``user``."""
        route = self._route(conversation, options)
        await self._remember_route(conversation, route, options)
        if path is None:
            path = await self.repository.active_path(conversation.id, user.id)
        request, chained = self._build_request(conversation, route, path, options)
        fallback = self._unchained(request, path) if chained else None
        return ReplyStream(self, route, user, request, fallback, first=len(path) == 1)

    def _after(self, conversation: Conversation, reply: ReplyStream) -> None:
        """Work that follows a finished first exchange, off the critical path."""
        if (
            reply.first
            and self.defaults.improve_titles
            and reply.message is not None
            and reply.message.status is MessageStatus.COMPLETE
        ):
            question = reply.user.content
            self._spawn(self._improve_title(conversation.id, reply.route, question, reply.text))

    def _route(self, conversation: Conversation | None, options: TurnOptions) -> Route:
        provider = options.provider or (conversation.provider if conversation else None)
        model = options.model
        if model is None and conversation is not None and provider == conversation.provider:
            model = conversation.model
        if provider is None:
            provider = self.defaults.provider
            model = model or self.defaults.model
        api_mode = options.api_mode or (
            conversation.api_mode if conversation else self.defaults.api_mode
        )
        return self.router.route(provider, model, api_mode)

    async def _remember_route(
        self, conversation: Conversation, route: Route, options: TurnOptions
    ) -> None:
        """A switch of provider, model or API mode sticks to the conversation."""
        changes: dict[str, object] = {}
        if conversation.provider != route.config.name:
            changes["provider"] = route.config.name
        if conversation.model != route.model.id:
            changes["model"] = route.model.id
        if options.api_mode is not None and options.api_mode != conversation.api_mode:
            changes["api_mode"] = options.api_mode
        if options.system_prompt is not None and options.system_prompt != (
            conversation.system_prompt or ""
        ):
            changes["system_prompt"] = options.system_prompt
        if changes:
            await self.repository.update_conversation(conversation.id, **changes)  # type: ignore[arg-type]

    def _build_request(
        self,
        conversation: Conversation,
        route: Route,
        path: list[Message],
        options: TurnOptions,
    ) -> tuple[ChatRequest, bool]:
        """The request for the reply to ``path[-1]``, and whether it chains server-side."""
        params = conversation.params
        effort = options.reasoning_effort or params.get("reasoning_effort")
        effort = effort or self.defaults.reasoning_effort
        if effort and route.model.reasoning_efforts and effort not in route.model.reasoning_efforts:
            log.info("model %s has no reasoning effort %r; not sent", route.model.id, effort)
            effort = None
        system_prompt = options.system_prompt
        if system_prompt is None:
            system_prompt = conversation.system_prompt
        request = ChatRequest(
            model=route.model.id,
            messages=history(path),
            instructions=system_prompt or None,
            reasoning_effort=effort,
            reasoning_summary=self._summary(route, effort),
            max_output_tokens=options.max_output_tokens
            or params.get("max_output_tokens")
            or self.defaults.max_output_tokens,
            temperature=_first_set(
                options.temperature, params.get("temperature"), self.defaults.temperature
            ),
            web_search=options.web_search and route.model.web_search,
            store=True,
            stream=options.stream,
        )
        parent = chain_parent(path, route)
        if parent is None:
            return request, False
        return (
            _replace(request, previous_response_id=parent.response_id, messages=history(path[-1:])),
            True,
        )

    def _summary(self, route: Route, effort: str | None) -> str | None:
        """Ask reasoning models for a summary to show, unless the settings turn it off."""
        wanted = (self.defaults.reasoning_summary or "").strip().lower()
        if wanted in ("", "none", "off") or not (effort or route.model.reasoning_efforts):
            return None
        return wanted

    @staticmethod
    def _unchained(request: ChatRequest, path: list[Message]) -> ChatRequest:
        return _replace(request, previous_response_id=None, messages=history(path))

    # ------------------------------------------------------------------ titles

    async def _improve_title(
        self, conversation_id: int, route: Route, question: str, answer: str
    ) -> None:
        from tui.services.titles import ask_for_title

        try:
            title = await ask_for_title(route, question, answer)
        except Exception:  # a title is a nicety: never let it surface as a failure
            log.info("title request failed", exc_info=True)
            return
        if not title:
            return
        conversation = await self.repository.get_conversation(conversation_id)
        if conversation is None:
            return
        await self.repository.rename_conversation(conversation_id, title)
        if self.on_title is not None:
            self.on_title(conversation_id, title)

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_background(self, timeout: float | None = None) -> None:
        """Let background work (title requests) finish, for a command about to exit."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self.wait_background(timeout=1)

    # ------------------------------------------------------------------ lookups

    async def _conversation(self, conversation_id: int) -> Conversation:
        conversation = await self.repository.get_conversation(conversation_id)
        if conversation is None:
            raise ConversationNotFoundError(f"There is no conversation {conversation_id}.")
        return conversation

    async def _message(self, message_id: int) -> Message:
        message = await self.repository.get_message(message_id)
        if message is None:
            raise ConversationNotFoundError(f"There is no message {message_id}.")
        return message


def _first_set(*values: float | None) -> float | None:
    for value in values:
        if value is not None:
            return value
    return None


def _replace(request: ChatRequest, **changes: object) -> ChatRequest:
    from dataclasses import replace

    return replace(request, **changes)  # type: ignore[arg-type]
