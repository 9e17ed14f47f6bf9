"""The services, awaited by the screens until the composition root has opened them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.services.container import Services

__all__ = ["ServiceHandle", "ServicesUnavailableError"]


class ServicesUnavailableError(RuntimeError):
    """The services could not be opened (the database is unusable); the message says why."""


class ServiceHandle:
    """The services, available once the factory has run; awaited by screens and workers."""

    def __init__(self) -> None:
        self._ready = asyncio.Event()
        self._services: Services | None = None
        self._failure: str | None = None

    def set(self, services: Services) -> None:
        self._services = services
        self._ready.set()

    def fail(self, reason: str) -> None:
        self._failure = reason
        self._ready.set()

    @property
    def current(self) -> Services | None:
        """The services if they are open already."""
        return self._services

    async def get(self) -> Services:
        await self._ready.wait()
        if self._services is None:
            raise ServicesUnavailableError(self._failure or "The services are not available.")
        return self._services
