"""The services, awaited by the screens until the composition root has opened them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.services.container import Services

__all__ = ["ServiceHandle", "ServicesUnavailableError", "is_damage", "store_problem"]


class ServicesUnavailableError(RuntimeError):
    """The services could not be opened (the database is unusable); the message says why."""


def store_problem(exc: BaseException) -> str | None:
    """The one line to show for a database error (no class name), or None for any other error.

    Covers the store's own errors (busy, read-only, damaged, ...) and services that could not
    be opened; the message already names the file and what to do.
    """
    from tui.store.errors import StoreError

    if isinstance(exc, (StoreError, ServicesUnavailableError)):
        return str(exc)
    return None


def is_damage(exc: BaseException) -> bool:
    """Whether ``exc`` is the store's report of a damaged file (which the app itself shows,
    offering to move the file aside)."""
    from tui.store.errors import DatabaseDamagedError

    return isinstance(exc, DatabaseDamagedError)


class ServiceHandle:
    """The services, available once the factory has run; awaited by screens and workers."""

    def __init__(self) -> None:
        self._ready = asyncio.Event()
        self._services: Services | None = None
        self._failure: str | None = None

    def set(self, services: Services) -> None:
        self._services = services
        self._failure = None
        self._ready.set()

    def fail(self, reason: str) -> None:
        self._services = None
        self._failure = reason
        self._ready.set()

    def reopening(self) -> Services | None:
        """The services are being replaced (a new history): ``get`` waits for the next ones.

        Returns the services that were open, for the caller to close.
        """
        services = self._services
        self._services = None
        self._failure = None
        self._ready.clear()
        return services

    @property
    def current(self) -> Services | None:
        """The services if they are open already."""
        return self._services

    @property
    def failure(self) -> str | None:
        """Why the services could not be opened, if they could not."""
        return self._failure

    async def get(self) -> Services:
        await self._ready.wait()
        if self._services is None:
            raise ServicesUnavailableError(self._failure or "The services are not available.")
        return self._services
