"""Short transactions for the repository, with database errors turned into ``StoreError``s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tui.store.errors import NotFoundError
from tui.store.failures import describe_db_error
from tui.store.migrate import WRITE_OPTION


class RepositoryBase:
    """Session handling shared by the repository's parts."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, location: str = "the database"
    ) -> None:
        self._sessions = sessions
        self._location = location

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        """A read transaction: one consistent snapshot, never blocking writers."""
        try:
            async with self._sessions() as session:
                yield session
        except DBAPIError as exc:
            raise describe_db_error(exc.orig, self._location) from None

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction that holds the write lock from its first statement."""
        try:
            async with self._sessions() as session:
                await session.connection(execution_options={WRITE_OPTION: True})
                yield session
                await session.commit()
        except DBAPIError as exc:
            raise describe_db_error(exc.orig, self._location) from None

    def _missing(self, what: str, ident: int | str) -> NotFoundError:
        return NotFoundError(f"{what} {ident} does not exist in {self._location}.")
