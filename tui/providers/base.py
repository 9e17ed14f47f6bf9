"""The provider interface every OpenAI-compatible endpoint sits behind."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Protocol

from tui.domain import ApiKind, ChatRequest, ModelInfo, ProviderConfig, StreamEvent

RequestSent = Callable[[], Awaitable[None]]
"""Told that a request has been written whole, each time one is (retries included)."""


class Provider(Protocol):
    """One configured provider, sharing the app's single ``httpx.AsyncClient``."""

    config: ProviderConfig

    def stream(
        self, request: ChatRequest, api: ApiKind, *, sent: RequestSent | None = None
    ) -> AsyncGenerator[StreamEvent, None]:
        """Send ``request`` over ``api`` and yield its events.

        ``sent`` is awaited as soon as the request has been written whole (before any answer
        comes): the caller may draw the turn while the model thinks, without delaying it.

        The iterator ends with exactly one ``Finished`` or ``Failed``; provider failures are
        yielded as ``Failed(error)``, never raised. With ``request.stream`` false the same events
        come from one non-streaming call. Closing the iterator (or cancelling the task) closes
        the HTTP connection at once. Retries happen only before the first event that carries
        content.
        """
        ...

    async def list_models(self) -> list[ModelInfo]:
        """``GET /models``, parsed defensively (only ``id`` is relied on)."""
        ...
