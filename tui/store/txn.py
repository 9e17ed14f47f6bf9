"""Short transactions for the repository, with database errors turned into ``StoreError``s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tui.store.errors import NotFoundError
from tui.store.failures import describe_db_error, on_server
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
        except (OSError, TimeoutError) as exc:
            raise self._unreachable(exc) from None

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
        except (OSError, TimeoutError) as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: OSError | TimeoutError) -> BaseException:
        """A server that cannot be reached (the driver's connect raises plain ``OSError``s)."""
        return describe_db_error(exc, self._location) if on_server(self._location) else exc

    def _missing(self, what: str, ident: int | str) -> NotFoundError:
        return NotFoundError(f"{what} {ident} does not exist in {self._location}.")
