"""One OpenAI-compatible provider: both protocol adapters behind the ``Provider`` protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import cast

import httpx

from tui.domain import (
    ApiKind,
    ChatRequest,
    Failed,
    ModelInfo,
    ProviderConfig,
    ResponseStarted,
    StreamEvent,
)
from tui.providers import chat_completions, responses
from tui.providers.errors import (
    MAX_RETRY_AFTER,
    MalformedResponseError,
    MissingKeyError,
    ProviderError,
    QuotaExceededError,
    StreamTimeoutError,
    parse_retry_after,
)
from tui.providers.http import error_from_transport, stream_timeout
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
        stall_timeout: seconds without a byte on a stream before it fails.
        backoff_base: first retry delay in seconds, doubled each retry (capped at 8 s).
    """

    def __init__(
        self,
        config: ProviderConfig,
        client: httpx.AsyncClient,
        *,
        api_key: str | None = None,
        max_retries: int = 2,
        stall_timeout: float = 300.0,
        backoff_base: float = 0.5,
    ) -> None:
        self.config = config
        self._client = client
        self._api_key = api_key or None
        self._max_retries = max(0, max_retries)
        self._stall_timeout = stall_timeout
        self._backoff_base = backoff_base
        self._base_url = config.base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"OpenAICompatibleProvider({self.config.name!r}, {self._base_url!r})"

    async def stream(self, request: ChatRequest, api: ApiKind) -> AsyncGenerator[StreamEvent, None]:
        """Send ``request`` over ``api`` and yield its events, ending in Finished or Failed.

        Provider failures are yielded as ``Failed``, never raised. Close the iterator (e.g. with
        ``contextlib.aclosing``) or cancel the task to drop the connection at once.

        ``ResponseStarted`` is held back until the next event, so that a retry after a failure
        that came before any content stays invisible: the caller sees one ``ResponseStarted``,
        from the attempt that answered.
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
        timeout = (
            stream_timeout(self._client, self._stall_timeout)
            if request.stream
            else self._client.timeout
        )
        attempt = 0
        while True:
            failure: ProviderError | None = None
            failure_headers: Mapping[str, str] | None = None
            transport_retryable = False
            started: ResponseStarted | None = None
            shown = False
            try:
                async with self._client.stream(
                    "POST", url, content=content, headers=headers, timeout=timeout
                ) as response:
                    if response.status_code >= 300:
                        failure_headers = response.headers
                        raw = await _read_limited(response, ERROR_BODY_LIMIT)
                        failure = context.from_response(response.status_code, response.headers, raw)
                    else:
                        reading = _events(response, request, api, context)
                        async with contextlib.aclosing(reading) as events:
                            async for event in events:
                                if not shown:
                                    if type(event) is ResponseStarted:
                                        started = event
                                        continue
                                    shown = True
                                    if started is not None:
                                        yield started
                                yield event
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


async def _events(
    response: httpx.Response, request: ChatRequest, api: ApiKind, context: ErrorContext
) -> AsyncGenerator[StreamEvent, None]:
    """The events of a successful response; failures are raised as ``ProviderError``.

    Each parsed event is yielded before the next is read, so a failure later in the stream
    never swallows what came before it.
    """
    content_type = response.headers.get("content-type", "")
    if not request.stream or "json" in content_type:
        # Also taken when a server ignores ``stream: true`` and answers with one JSON body.
        raw = await response.aread()
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
    async with contextlib.aclosing(byte_chunks) as chunks:
        async for chunk in chunks:
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
                # Read what follows (usually nothing) so keep-alive can reuse the connection.
                await _drain(chunks)
                return
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
