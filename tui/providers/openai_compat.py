"""One OpenAI-compatible provider: both protocol adapters behind the ``Provider`` protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, cast

import httpx

from tui.domain import (
    ApiKind,
    ChatRequest,
    Failed,
    ModelInfo,
    ProviderConfig,
    ReasoningDelta,
    ResponseStarted,
    StreamEvent,
)
from tui.providers import chat_completions, responses
from tui.providers.base import RequestSent
from tui.providers.catalog import ADHOC_PROVIDER
from tui.providers.errors import (
    MAX_RETRY_AFTER,
    FirstTokenTimeoutError,
    IdleTimeoutError,
    MalformedResponseError,
    MissingKeyError,
    ProviderError,
    QuotaExceededError,
    StreamTimeoutError,
    parse_retry_after,
)
from tui.providers.http import error_from_transport, format_limit, stream_timeout
from tui.providers.models import parse_models
from tui.providers.payloads import ErrorContext
from tui.providers.sse import SSEFramer

RETRY_STATUSES = frozenset({408, 409, 429})
MAX_BACKOFF = 8.0
ERROR_BODY_LIMIT = 1 << 20
DRAIN_LIMIT = 1 << 16
"""Bytes read after the terminal event so the connection can be reused; beyond that, close it."""

Parser = chat_completions.ChatStreamParser | responses.ResponsesStreamParser


class OpenAICompatibleProvider:
    """Chat Completions and Responses over one shared ``httpx.AsyncClient``.

    Args:
        config: where the provider is and how it differs from OpenAI.
        client: the app's shared client (see ``tui.providers.http.make_client``).
        api_key: sent as ``Authorization: Bearer``; never logged or put in an error.
        max_retries: retries of a request that failed before any event reached the caller.
        first_token_timeout: seconds from sending to the reply's first event (text, reasoning,
            usage, the end); default ``config.first_token_timeout``.
        idle_timeout: seconds without a byte once the reply flows; default
            ``config.idle_timeout``.
        stall_timeout: seconds without a byte, before the first event too, after which the
            stream fails (for probes that must not wait for a thinking model); it is also
            the idle limit when ``idle_timeout`` is not given.
        backoff_base: first retry delay in seconds, doubled each retry (capped at 8 s).

    A request's own ``first_token_timeout`` and ``idle_timeout`` win over all of these.
    """

    def __init__(
        self,
        config: ProviderConfig,
        client: httpx.AsyncClient,
        *,
        api_key: str | None = None,
        max_retries: int = 2,
        first_token_timeout: float | None = None,
        idle_timeout: float | None = None,
        stall_timeout: float | None = None,
        backoff_base: float = 0.5,
        missing_key: Callable[[], MissingKeyError] | None = None,
    ) -> None:
        self.config = config
        self._missing_key_error = missing_key
        """What to say when no key is set (it knows the settings: a key withheld from this
        host is named as such)."""
        self._client = client
        self._api_key = api_key or None
        self._max_retries = max(0, max_retries)
        self._first_token_timeout = first_token_timeout
        self._idle_timeout = idle_timeout or stall_timeout
        self._stall_timeout = stall_timeout
        self._backoff_base = backoff_base
        self._base_url = config.base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"OpenAICompatibleProvider({self.config.name!r}, {self._base_url!r})"

    async def stream(
        self, request: ChatRequest, api: ApiKind, *, sent: RequestSent | None = None
    ) -> AsyncGenerator[StreamEvent, None]:
        """Send ``request`` over ``api`` and yield its events, ending in Finished or Failed.

        Provider failures are yielded as ``Failed``, never raised. Close the iterator (e.g. with
        ``contextlib.aclosing``) or cancel the task to drop the connection at once.

        ``ResponseStarted`` is held back until the next event, so that a retry after a failure
        that came before any content stays invisible: the caller sees one ``ResponseStarted``,
        from the attempt that answered.

        Two limits guard each attempt: its first event other than ``ResponseStarted`` must come
        within ``first_token_timeout`` of sending (keep-alive comments do not count: a server
        can send those for ever), and once the reply flows no byte may be missing for longer
        than ``idle_timeout``. Either ends the turn with a ``Failed`` that says which.

        ``sent`` is awaited once the request body has been written (httpx's ``trace``
        extension), so a caller can draw the turn while the model thinks.
        """
        if self.config.requires_key and not self._api_key:
            yield Failed(self._missing_key())
            return
        context = self._context(api, request.model)
        try:
            if api is ApiKind.RESPONSES:
                body = responses.build_responses_body(request, self.config)
                path = responses.PATH
            else:
                body = chat_completions.build_chat_body(request, self.config)
                path = chat_completions.PATH
        except ProviderError as exc:
            yield Failed(exc)
            return
        url = self._base_url + path
        content = json.dumps(body, ensure_ascii=False).encode()
        headers = self._headers("text/event-stream" if request.stream else "application/json")
        first_limit = (
            request.first_token_timeout
            or self._first_token_timeout
            or self.config.first_token_timeout
        )
        idle_limit = request.idle_timeout or self._idle_timeout or self.config.idle_timeout
        # The limits are kept by the event loop (``_Limits``); httpx's own read timeout stays
        # as a backstop that can only fire after them.
        timeout = stream_timeout(self._client, first_limit + idle_limit)
        extensions = {"trace": _sent_trace(sent)} if sent is not None else None
        attempt = 0
        while True:
            failure: ProviderError | None = None
            failure_headers: Mapping[str, str] | None = None
            transport_retryable = False
            started: ResponseStarted | None = None
            shown = False
            limits = _Limits(self.config, first_limit, idle_limit, self._stall_timeout)
            try:
                async with contextlib.AsyncExitStack() as stack:
                    try:
                        async with asyncio.timeout_at(limits.deadline()):
                            response = await stack.enter_async_context(
                                self._client.stream(
                                    "POST",
                                    url,
                                    content=content,
                                    headers=headers,
                                    timeout=timeout,
                                    extensions=extensions,
                                )
                            )
                    except TimeoutError:
                        raise limits.expired() from None
                    if response.status_code >= 300:
                        failure_headers = response.headers
                        raw = await _read_limited(response, ERROR_BODY_LIMIT)
                        failure = context.from_response(response.status_code, response.headers, raw)
                    else:
                        reading = _events(response, request, api, context, limits)
                        async with contextlib.aclosing(reading) as events:
                            async for event in events:
                                if not shown:
                                    if type(event) is ResponseStarted:
                                        started = event
                                        continue
                                    shown = True
                                    if started is not None:
                                        yield started
                                if not limits.flowing and type(event) is not ReasoningDelta:
                                    # A model may think in silence between bursts of its
                                    # reasoning: until the answer itself flows, the time
                                    # to the first token is the limit, not the idle one.
                                    limits.start_flowing()
                                yield event
            except httpx.ReadTimeout:
                failure = limits.expired()  # the backstop: silent for longer than both limits
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                failure = error_from_transport(
                    exc, provider=self.config.name, url=url, stall_timeout=timeout.read
                )
                transport_retryable = not isinstance(failure, StreamTimeoutError)
            except ProviderError as exc:
                failure = exc
            if failure is None:
                return
            delay = (
                None
                if shown
                else self._retry_delay(failure, failure_headers, attempt, transport_retryable)
            )
            if delay is None:
                if started is not None and not shown:
                    yield started
                yield Failed(failure)
                return
            attempt += 1
            await asyncio.sleep(delay)

    async def list_models(self) -> list[ModelInfo]:
        """``GET {base_url}/models``, parsed defensively; raises a typed ``ProviderError``."""
        if self.config.requires_key and not self._api_key:
            raise self._missing_key()
        context = self._context(None, None)
        url = self._base_url + "/models"
        attempt = 0
        while True:
            failure_headers: Mapping[str, str] | None = None
            transport_retryable = False
            try:
                response = await self._client.get(url, headers=self._headers("application/json"))
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                failure = error_from_transport(exc, provider=self.config.name, url=url)
                transport_retryable = not isinstance(failure, StreamTimeoutError)
            else:
                if response.status_code < 300:
                    return parse_models(response.content, self.config.name)
                failure_headers = response.headers
                failure = context.from_response(
                    response.status_code, response.headers, response.content
                )
            delay = self._retry_delay(failure, failure_headers, attempt, transport_retryable)
            if delay is None:
                raise failure
            attempt += 1
            await asyncio.sleep(delay)

    def _context(self, api: ApiKind | None, model: str | None) -> ErrorContext:
        return ErrorContext(
            provider=self.config.name,
            api=api.value if api is not None else None,
            key_env=self.config.api_key_env,
            model=model,
            secrets=(self._api_key,) if self._api_key else (),
        )

    def _missing_key(self) -> MissingKeyError:
        if self._missing_key_error is not None:
            return self._missing_key_error()
        return MissingKeyError(
            f"No API key is set for {self.config.label or self.config.name}.",
            key_env=self.config.api_key_env,
            provider=self.config.name,
        )

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": accept}
        headers.update(self.config.headers)
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _retry_delay(
        self,
        failure: ProviderError,
        headers: Mapping[str, str] | None,
        attempt: int,
        transport_retryable: bool,
    ) -> float | None:
        """Seconds to wait before retrying, or None to give up (the OpenAI SDK's policy)."""
        if attempt >= self._max_retries:
            return None
        should_retry = headers.get("x-should-retry") if headers is not None else None
        if should_retry == "false":
            return None
        if should_retry != "true":
            status = failure.status
            if status is None:
                if not transport_retryable:
                    return None
            elif status not in RETRY_STATUSES and status < 500:
                return None
            if isinstance(failure, QuotaExceededError):
                return None  # a 429 for an empty account does not clear up in seconds
        wait = parse_retry_after(headers)
        if wait is not None and wait > MAX_RETRY_AFTER:
            return None
        if wait is not None and wait > 0:
            return wait
        delay = min(self._backoff_base * 2.0**attempt, MAX_BACKOFF)
        return delay * (1.0 - 0.25 * random.random())


class _Limits:
    """The time limits of one attempt: to its first event, then between bytes.

    The wait for the response's headers (or a whole non-streamed body) is awaited under
    ``asyncio.timeout_at(limits.deadline())``. The stream's reads are watched more cheaply than
    one ``asyncio.timeout`` per chunk: a read sets ``reading_since`` and clears it when it
    returns, and one timer (``watch``), re-armed lazily, cancels the task only if a read is
    still pending when its limit runs out. So a limit never runs across a ``yield``: the time
    the caller spends on an event (drawing it, storing it) is not silence.
    """

    __slots__ = (
        "_fired",
        "_handle",
        "_loop",
        "_task",
        "config",
        "first_deadline",
        "first_limit",
        "flowing",
        "idle_limit",
        "reading_since",
        "stall_limit",
        "time",
    )

    def __init__(
        self,
        config: ProviderConfig,
        first_limit: float,
        idle_limit: float,
        stall_limit: float | None = None,
    ) -> None:
        self.config = config
        self._loop = asyncio.get_running_loop()
        self.time = self._loop.time
        self.first_limit = first_limit
        self.idle_limit = idle_limit
        self.stall_limit = stall_limit
        """Seconds without a byte before the first event too (``stall_timeout``)."""
        self.first_deadline = self.time() + first_limit
        self.flowing = False
        """Set (``start_flowing``) once an event of the reply, not ``ResponseStarted``, came."""
        self.reading_since: float | None = None
        """When the pending read of the stream began; None between reads."""
        self._task: asyncio.Task[object] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False

    def deadline(self, since: float | None = None) -> float:
        """When a read that began at ``since`` (default: now) must have returned."""
        began = self.time() if since is None else since
        if self.flowing:
            return began + self.idle_limit
        if self.stall_limit is not None:
            return min(self.first_deadline, began + self.stall_limit)
        return self.first_deadline

    def watch(self) -> None:
        """Start watching the stream's reads, made by the current task."""
        self._task = asyncio.current_task()
        self._arm(self.deadline())

    def start_flowing(self) -> None:
        """The answer has started (anything but reasoning): from now on the idle limit
        applies."""
        self.flowing = True
        if self._handle is not None:
            self._arm(self.deadline())

    def unwatch(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._task = None

    def fired(self) -> bool:
        """Whether a ``CancelledError`` from a read is this watch's; if so it is consumed."""
        if not self._fired or self._task is None:
            return False
        self._fired = False
        return self._task.uncancel() == 0  # else someone else cancelled the task too

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_at(when, self._check)

    def _check(self) -> None:
        self._handle = None
        since = self.reading_since
        if since is None:  # between reads: look again once a read could have run out
            self._arm(max(self.deadline(), self.time() + 0.05))
            return
        due = self.deadline(since)
        if self.time() < due - 0.001:
            self._arm(due)
        elif self._task is not None and not self._task.done():
            self._fired = True
            self._task.cancel()

    def expired(self) -> StreamTimeoutError:
        """The error for the limit that ran out."""
        config = self.config
        who = config.label or config.name
        table = None if config.name == ADHOC_PROVIDER else config.name
        stalled = self.stall_limit is not None and self.time() < self.first_deadline
        if self.flowing or stalled:
            silence = self.idle_limit if self.flowing else self.stall_limit
            assert silence is not None
            return IdleTimeoutError(
                f"{who} stopped sending for {format_limit(silence)}.",
                provider=config.name,
                table=table,
            )
        return FirstTokenTimeoutError(
            f"No reply from {who} within {format_limit(self.first_limit)}; "
            "it may still be thinking.",
            provider=config.name,
            table=table,
        )


async def _events(
    response: httpx.Response,
    request: ChatRequest,
    api: ApiKind,
    context: ErrorContext,
    limits: _Limits,
) -> AsyncGenerator[StreamEvent, None]:
    """The events of a successful response; failures are raised as ``ProviderError``.

    Each parsed event is yielded before the next is read, so a failure later in the stream
    never swallows what came before it. A read that outlasts ``limits`` raises its timeout.
    """
    content_type = response.headers.get("content-type", "")
    if not request.stream or "json" in content_type:
        # Also taken when a server ignores ``stream: true`` and answers with one JSON body.
        try:
            async with asyncio.timeout_at(limits.deadline()):
                raw = await response.aread()
        except TimeoutError:
            raise limits.expired() from None
        try:
            if api is ApiKind.RESPONSES:
                events = responses.parse_response(raw, context, store=request.store)
            else:
                events = chat_completions.parse_chat_completion(raw, context)
        except _SHAPE_ERRORS as exc:
            raise _shape_error(exc) from None
        for item in events:
            yield item
        return
    if "text/html" in content_type:
        raise MalformedResponseError(
            "The provider answered with a web page instead of the API; check the base URL."
        )
    parser: Parser = (
        responses.ResponsesStreamParser(context, store=request.store)
        if api is ApiKind.RESPONSES
        else chat_completions.ChatStreamParser(context)
    )
    feed = parser.feed
    framer = SSEFramer()
    out: list[StreamEvent] = []
    done = False
    byte_chunks = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
    limits.watch()
    time = limits.time
    try:
        async with contextlib.aclosing(byte_chunks) as chunks:
            next_chunk = chunks.__anext__
            while True:
                limits.reading_since = time()
                try:
                    chunk = await next_chunk()
                except StopAsyncIteration:
                    break
                except asyncio.CancelledError:
                    if limits.fired():
                        raise limits.expired() from None
                    raise
                finally:
                    limits.reading_since = None
                try:
                    for name, data in framer.feed(chunk):
                        done = feed(name, data, out)
                        for item in out:
                            yield item
                        out.clear()
                        if done:
                            break
                except _SHAPE_ERRORS as exc:
                    raise _shape_error(exc) from None
                if done:
                    limits.unwatch()
                    # Read what follows (usually nothing) so keep-alive can reuse the connection.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(limits.idle_limit):
                            await _drain(chunks)
                    return
    finally:
        limits.unwatch()
    for name, data in framer.flush():
        if feed(name, data, out):
            break
    else:
        parser.finish(out)
    for item in out:
        yield item


_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError)
"""What reading a JSON value of an unexpected shape raises (a list where an object should be)."""


def _shape_error(exc: Exception) -> MalformedResponseError:
    return MalformedResponseError(
        "The provider sent an event of an unexpected shape.", detail=type(exc).__name__
    )


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    except httpx.HTTPError:
        pass  # an error body cut short is still worth reading
    return b"".join(chunks)[:limit]


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read to the end, up to ``DRAIN_LIMIT`` bytes; errors here no longer matter."""
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > DRAIN_LIMIT:
                return
    except httpx.HTTPError:
        pass


def _sent_trace(sent: RequestSent) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """httpx's ``trace`` extension, awaiting ``sent`` once a request body has gone out
    (``http11.`` or ``http2.send_request_body.complete``)."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith(".send_request_body.complete"):
            await sent()

    return trace
