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
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from contextlib import aclosing
from typing import Protocol

from tui.config.settings import Defaults
from tui.domain import (
    ApiMode,
    Attachment,
    ChatRequest,
    ChatSettings,
    Conversation,
    Message,
    MessageStatus,
    Role,
)
from tui.services.reply import ReplyStream, chain_parent, history
from tui.services.titles import title_from_text
from tui.services.tools import NO_TOOLS, Offer, ToolRunner
from tui.services.turns import (
    NextTurn,
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
        tools: ToolRunner | None = None,
    ) -> None:
        self.repository = repository
        self.tools = tools
        """Offers the MCP servers' tools and runs their calls; None: no tools at all."""
        self.router = router
        self.defaults = defaults or Defaults()
        self.flush_interval = flush_interval
        self.clock = clock
        self.on_title = on_title
        """Called with (conversation_id, title) when a model-written title lands."""
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ conversations

    async def start_conversation(
        self,
        *,
        options: TurnOptions | None = None,
        title: str = DEFAULT_TITLE,
        settings: ChatSettings | None = None,
    ) -> Conversation:
        """Create an empty conversation carrying every setting its turns will use.

        ``settings`` (a new chat's choices), else the defaults, with ``options`` on top. All
        of them are stored on the conversation, so a later change of a default leaves it be.
        """
        options = options or TurnOptions()
        chosen = _with_options(settings or self.settings_for(None), options)
        route = self.router.route(chosen.provider, chosen.model, chosen.api_mode)
        return await self.repository.create_conversation(
            title=title,
            provider=route.config.name,
            model=route.model.id,
            api_mode=chosen.api_mode,
            system_prompt=chosen.system_prompt,
            params=chosen.params(),
        )

    # ------------------------------------------------------------------ settings

    def settings_for(self, conversation: Conversation | None) -> ChatSettings:
        """What the next turn of ``conversation`` uses (``None``: a new chat, the defaults).

        A conversation stored before its settings were pinned takes the default for a
        parameter it has no value for.
        """
        defaults = self.defaults
        if conversation is None:
            return ChatSettings(
                provider=defaults.provider,
                model=defaults.model,
                api_mode=defaults.api_mode,
                reasoning_effort=defaults.reasoning_effort,
                verbosity=defaults.verbosity,
                temperature=defaults.temperature,
                max_output_tokens=defaults.max_output_tokens,
                system_prompt=defaults.system_prompt,
            )
        params = conversation.params

        def text(name: str, default: str | None) -> str | None:
            value = params.get(name, default)
            return value if isinstance(value, str) and value else None

        temperature = params.get("temperature", defaults.temperature)
        limit = params.get("max_output_tokens", defaults.max_output_tokens)
        return ChatSettings(
            provider=conversation.provider,
            model=conversation.model,
            api_mode=conversation.api_mode,
            reasoning_effort=text("reasoning_effort", defaults.reasoning_effort),
            verbosity=text("verbosity", defaults.verbosity),
            temperature=float(temperature)
            if isinstance(temperature, int | float) and not isinstance(temperature, bool)
            else None,
            max_output_tokens=limit
            if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0
            else None,
            system_prompt=conversation.system_prompt,
            tools=params.get("tools") is not False,
            tools_off=_names(params.get("tools_off")),
        )

    async def save_settings(self, conversation_id: int, settings: ChatSettings) -> Conversation:
        """Store a conversation's settings; they apply from its next turn."""
        conversation = await self._conversation(conversation_id)
        route = self.router.route(settings.provider, settings.model, settings.api_mode)
        return await self.repository.update_conversation(
            conversation_id,
            provider=route.config.name,
            model=route.model.id,
            api_mode=settings.api_mode,
            system_prompt=settings.system_prompt or None,
            params={**conversation.params, **settings.params()},
        )

    def next_turn(self, settings: ChatSettings) -> NextTurn:
        """Where a turn with ``settings`` goes and with which effort; raises ``ProviderError``
        when the provider is unknown."""
        route = self.router.route(settings.provider, settings.model, settings.api_mode)
        return NextTurn(
            provider=route.config.name,
            provider_label=route.config.label,
            model=route.model,
            api=route.api,
            reasoning_effort=_usable_effort(settings.reasoning_effort, route),
            verbosity=settings.verbosity if route.model.verbosity else None,
        )

    # ------------------------------------------------------------------ the three kinds of turn

    async def send(
        self,
        conversation_id: int | None,
        text: str,
        *,
        attachments: Sequence[Attachment] = (),
        options: TurnOptions | None = None,
        settings: ChatSettings | None = None,
    ) -> AsyncGenerator[TurnEvent, None]:
        """Add a user message under the active leaf and stream the reply.

        With ``conversation_id`` None a new conversation is created first, with ``settings``
        (a new chat's choices) or else the defaults.
        """
        options = options or TurnOptions()
        new = conversation_id is None
        if conversation_id is None:
            conversation = await self.start_conversation(
                options=options, title=title_from_text(text), settings=settings
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
        answer = self._answer(conversation, user, options, [user] if new else None, after=True)
        async with aclosing(answer) as events:
            async for event in events:
                yield event

    async def regenerate(
        self, message_id: int, *, options: TurnOptions | None = None
    ) -> AsyncGenerator[TurnEvent, None]:
        """Answer again: a reply beside ``message_id`` (a reply) or under it (a user message)."""
        message = await self._message(message_id)
        if message.role is Role.ASSISTANT:
            if message.parent_id is None:
                raise ConversationNotFoundError("That reply has no question to answer again.")
            user = await self._message(message.parent_id)
        else:
            user = message
        conversation = await self._conversation(user.conversation_id)
        async with aclosing(self._answer(conversation, user, options or TurnOptions())) as events:
            async for event in events:
                yield event

    async def edit(
        self,
        message_id: int,
        text: str,
        *,
        attachments: Sequence[Attachment] | None = None,
        options: TurnOptions | None = None,
    ) -> AsyncGenerator[TurnEvent, None]:
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
        async with aclosing(self._answer(conversation, user, options or TurnOptions())) as events:
            async for event in events:
                yield event

    # ------------------------------------------------------------------ the reply

    async def _answer(
        self,
        conversation: Conversation,
        user: Message,
        options: TurnOptions,
        path: list[Message] | None = None,
        *,
        after: bool = False,
    ) -> AsyncGenerator[TurnEvent, None]:
        """The tail every kind of turn shares: the route chosen, then the reply as it streams;
        ``after``: the work that follows a new exchange (titles, recent models) once it ends."""
        reply = await self._prepare(conversation, user, options, path)
        yield reply.chosen
        async with aclosing(reply.run()) as events:  # closing the turn closes the reply too
            async for event in events:
                yield event
        if after:
            self._after(conversation, reply)

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
        offer = await self._offer(conversation, options)
        request, chained = self._build_request(conversation, route, path, options)
        if offer:
            request = _replace(request, tools=offer.specs)
        fallback = self._unchained(request, path) if chained else None
        return ReplyStream(
            self,
            route,
            user,
            request,
            fallback,
            first=len(path) == 1,
            offer=offer,
            approve=options.approve,
            sent=options.request_sent,
        )

    async def _offer(self, conversation: Conversation, options: TurnOptions) -> Offer:
        """The tools this turn offers: none when turned off for the turn or the conversation,
        else every enabled server's but those the conversation turned off."""
        if self.tools is None or not options.tools or conversation.params.get("tools") is False:
            return NO_TOOLS
        return await self.tools.offer(_names(conversation.params.get("tools_off")))

    def _after(self, conversation: Conversation, reply: ReplyStream) -> None:
        """Work that follows a finished exchange, off the critical path."""
        if reply.message is not None:
            self._spawn(self._note_used(reply.route))
        if (
            reply.first
            and self.defaults.improve_titles
            and reply.message is not None
            and reply.message.status is MessageStatus.COMPLETE
        ):
            question = reply.user.content
            self._spawn(self._improve_title(conversation.id, reply.route, question, reply.text))

    def _route(self, conversation: Conversation | None, options: TurnOptions) -> Route:
        chosen = self.settings_for(conversation)
        provider = options.provider or chosen.provider
        model = options.model
        if model is None and provider == chosen.provider:
            model = chosen.model
        if provider is None:
            provider = self.defaults.provider
            model = model or self.defaults.model
        return self.router.route(provider, model, options.api_mode or chosen.api_mode)

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
        chosen = self.settings_for(conversation)
        effort = _usable_effort(options.reasoning_effort or chosen.reasoning_effort, route)
        system_prompt = options.system_prompt
        if system_prompt is None:
            system_prompt = chosen.system_prompt
        request = ChatRequest(
            model=route.model.id,
            messages=history(path),
            instructions=system_prompt or None,
            reasoning_effort=effort,
            reasoning_summary=self._summary(route, effort),
            max_output_tokens=options.max_output_tokens or chosen.max_output_tokens,
            temperature=_first_set(options.temperature, chosen.temperature),
            verbosity=chosen.verbosity if route.model.verbosity else None,
            web_search=options.web_search and route.model.web_search,
            store=True,
            stream=options.stream,
            first_token_timeout=options.first_token_timeout,
            idle_timeout=options.idle_timeout,
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

    async def _note_used(self, route: Route) -> None:
        try:
            await self.repository.note_model_used(route.config.name, route.model.id)
        except Exception:  # the picker's order is a nicety: never a failure
            log.info("could not note the model used", exc_info=True)

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


def _usable_effort(effort: str | None, route: Route) -> str | None:
    """``effort`` when the model takes it (or lists no levels), else ``None``: not sent."""
    if effort and route.model.reasoning_efforts and effort not in route.model.reasoning_efforts:
        log.info("model %s has no reasoning effort %r; not sent", route.model.id, effort)
        return None
    return effort or None


def _with_options(settings: ChatSettings, options: TurnOptions) -> ChatSettings:
    """``settings`` with the values ``options`` set."""
    from dataclasses import replace

    changes: dict[str, object] = {}
    if options.provider is not None:
        changes["provider"] = options.provider
        changes["model"] = options.model  # another provider's model id means nothing here
    elif options.model is not None:
        changes["model"] = options.model
    for name in ("api_mode", "system_prompt", "reasoning_effort", "max_output_tokens"):
        value = getattr(options, name)
        if value is not None:
            changes[name] = value
    if options.temperature is not None:
        changes["temperature"] = options.temperature
    return replace(settings, **changes)  # type: ignore[arg-type]


def _names(value: object) -> tuple[str, ...]:
    """A stored list of server names (anything else: none)."""
    if not isinstance(value, list):
        return ()
    return tuple(name for name in value if isinstance(name, str))


def _first_set(*values: float | None) -> float | None:
    for value in values:
        if value is not None:
            return value
    return None


def _replace(request: ChatRequest, **changes: object) -> ChatRequest:
    from dataclasses import replace

    return replace(request, **changes)  # type: ignore[arg-type]
