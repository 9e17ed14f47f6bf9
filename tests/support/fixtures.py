"""Pytest fixtures and shared test code for the wire: a live loopback server, clients, providers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

import httpx
import pytest

from tests.support.server import LoopbackServer
from tui.domain import (
    ApiKind,
    ChatRequest,
    Citation,
    Failed,
    Finished,
    InputMessage,
    ProviderConfig,
    ReasoningDelta,
    ResponseStarted,
    Role,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from tui.providers.base import Provider
from tui.providers.errors import ProviderError
from tui.providers.http import make_client
from tui.providers.openai_compat import OpenAICompatibleProvider

TEST_KEY = "sk-test-loopback-0123456789abcdef"
"""A fake key; tests check it never leaks into errors."""
STREAM_TIMEOUT = 20.0
"""Upper bound for any one stream in a test, so nothing can hang."""


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A running loopback server that requires ``TEST_KEY``."""
    with LoopbackServer(api_key=TEST_KEY) as server:
        yield server


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """The app's real client, closed after the test."""
    async with make_client() as client:
        yield client


def config_for(base_url: str, **options: object) -> ProviderConfig:
    """A provider config named ``loop`` for ``base_url``."""
    values: dict[str, object] = {
        "name": "loop",
        "label": "Loopback",
        "base_url": base_url,
        "api_key_env": "LOOP_API_KEY",
    }
    values.update(options)
    return ProviderConfig(**values)  # type: ignore[arg-type]


class ProviderTimings(TypedDict, total=False):
    """The provider's timing keywords."""

    first_token_timeout: float | None
    idle_timeout: float | None
    stall_timeout: float | None
    backoff_base: float


class ProviderOptions(ProviderTimings, total=False):
    """The tuning keywords ``provider_for`` passes on to the provider."""

    max_retries: int


def provider_for(
    server: LoopbackServer,
    client: httpx.AsyncClient,
    *,
    api_key: str | None = TEST_KEY,
    config: ProviderConfig | None = None,
    **options: Unpack[ProviderOptions],
) -> OpenAICompatibleProvider:
    """A provider pointed at ``server`` with fast retries unless told otherwise."""
    max_retries = int(options.pop("max_retries", 2))
    settings: ProviderTimings = {"backoff_base": 0.01, "stall_timeout": 5.0}
    settings.update(options)
    return OpenAICompatibleProvider(
        config or config_for(server.base_url),
        client,
        api_key=api_key,
        max_retries=max_retries,
        **settings,
    )


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    """The app's client with ``httpx.MockTransport`` instead of the network."""
    return make_client(transport=httpx.MockTransport(handler))


def streamed(*pieces: bytes, content_type: str = "text/event-stream") -> httpx.Response:
    """A 200 response whose body arrives in these pieces, for ``httpx.MockTransport``."""

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    return httpx.Response(200, headers={"content-type": content_type}, content=body())


async def replay(reply: httpx.Response, api: ApiKind, **request: Any) -> Outcome:
    """Send ``ask(**request)`` over ``api`` to a mock server that answers ``reply``."""
    async with mock_client(lambda _: reply) as client:
        provider = OpenAICompatibleProvider(
            config_for("https://api.example.test/v1"), client, api_key=TEST_KEY, max_retries=0
        )
        return await collect(provider, ask(**request), api)


def ask(text: str = "Hello", **options: object) -> ChatRequest:
    """A one-message request to the model ``loopback-chat``."""
    values: dict[str, object] = {
        "model": "loopback-chat",
        "messages": (InputMessage(Role.USER, text),),
    }
    values.update(options)
    return ChatRequest(**values)  # type: ignore[arg-type]


@dataclass
class Outcome:
    """What a stream delivered, gathered for assertions."""

    events: list[StreamEvent] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def reasoning(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, ReasoningDelta))

    @property
    def started(self) -> list[ResponseStarted]:
        return [e for e in self.events if isinstance(e, ResponseStarted)]

    @property
    def usage(self) -> Usage | None:
        found = [e for e in self.events if isinstance(e, Usage)]
        assert len(found) <= 1, f"more than one Usage: {found}"
        return found[0] if found else None

    @property
    def citations(self) -> list[Citation]:
        return [e for e in self.events if isinstance(e, Citation)]

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [e for e in self.events if isinstance(e, ToolCall)]

    @property
    def finished(self) -> Finished | None:
        last = self.events[-1] if self.events else None
        return last if isinstance(last, Finished) else None

    @property
    def error(self) -> ProviderError | None:
        last = self.events[-1] if self.events else None
        return last.error if isinstance(last, Failed) else None

    def check_terminal(self) -> None:
        """Exactly one Finished or Failed, and it is the last event."""
        terminals = [e for e in self.events if isinstance(e, Finished | Failed)]
        assert len(terminals) == 1, f"expected one terminal event, got {terminals}"
        assert self.events[-1] is terminals[0]
        assert len(self.started) <= 1


async def collect(provider: Provider, request: ChatRequest, api: ApiKind = ApiKind.CHAT) -> Outcome:
    """Run one stream to its end (bounded by ``STREAM_TIMEOUT``) and check its shape."""
    outcome = Outcome()

    async def run() -> None:
        async for event in provider.stream(request, api):
            outcome.events.append(event)

    await asyncio.wait_for(run(), STREAM_TIMEOUT)
    outcome.check_terminal()
    return outcome
