"""Opening the history database: engine, connection settings, schema check and crash recovery."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import URL, event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

from tui.store.clients import HEARTBEAT, Heartbeat, register
from tui.store.errors import DatabaseUrlError, StoreError
from tui.store.failures import describe_db_error
from tui.store.guard import WriteGuard
from tui.store.migrate import WRITE_OPTION, classify, ensure_schema, refuse
from tui.store.postgres import (
    ChangeListener,
    asyncpg_url,
    engine_options,
    hidden,
    parse_url,
    store_nul_as_text,
)
from tui.store.repository import ConversationRepository
from tui.store.sqlitefile import (
    check_sqlite_version,
    hold_read_only,
    inspect_file,
    move_aside,
)
from tui.store.tree import writer_tag

__all__ = ["BUSY_TIMEOUT_MS", "Store", "move_aside", "open_store", "sqlite_url"]

BUSY_TIMEOUT_MS = 10_000
"""How long a writer waits for another copy's transaction before giving up."""
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Truncate the write-ahead log back to this size after checkpoints."""


class Store:
    """An open history database: the engine, a session factory and the repository on top."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        location: str,
        path: Path | None,
        guard: WriteGuard | None = None,
    ) -> None:
        self.engine = engine
        self.location = location
        """The file path (or the URL without its password), for messages."""
        self.path = path
        """The SQLite file, or None for another kind of database."""
        self.guard = guard or WriteGuard(location)
        """Stops every write once SQLite found the file damaged (see ``tui.store.guard``)."""
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.repository = ConversationRepository(self.sessions, location=location)
        self._watcher: AsyncConnection | None = None
        self._watch_lock = asyncio.Lock()
        self._listener: ChangeListener | None = None
        self.heartbeat: Heartbeat | None = None
        """On a server: keeps this copy's ``clients`` row fresh (``tui.store.clients``)."""
        if engine.dialect.name == "postgresql":
            self._listener = ChangeListener(engine)

    @property
    def shared(self) -> bool:
        """A database server (PostgreSQL) rather than a file on this machine."""
        return self.path is None

    @property
    def damaged(self) -> bool:
        """SQLite found the file damaged: nothing more is written to it."""
        return self.guard.damaged

    async def change_token(self) -> int:
        """A number that changes when any connection commits a change.

        SQLite: its ``data_version``, read on one connection kept for the purpose (it counts
        the commits of every other connection, this process's pooled ones and other copies of
        the app alike). PostgreSQL: the notifications heard (``postgres.ChangeListener``).
        """
        from sqlalchemy import text

        if self._listener is not None:
            try:
                return await self._listener.token()
            except (DBAPIError, OSError, TimeoutError) as exc:
                raise describe_db_error(getattr(exc, "orig", exc), self.location) from None
        if self.engine.dialect.name != "sqlite":
            return 0
        async with self._watch_lock:
            if self._watcher is None:
                self._watcher = await self.engine.connect()
            result = await self._watcher.execute(text("PRAGMA data_version"))
            value = int(result.scalar_one())
            await self._watcher.rollback()
            return value

    async def close(self) -> None:
        """Close every pooled connection (SQLite checkpoints the log on the last one).

        Not so once the file is known to be damaged: a read-only connection is held open while
        the pool closes and closed last, so no checkpoint copies the log into the file; the
        ``-wal`` file stays beside it (``move_aside`` moves both).
        """
        holder = None
        if self.guard.damaged and self.path is not None:
            holder = await asyncio.to_thread(hold_read_only, self.path)
        try:
            if self._watcher is not None:
                await self._watcher.close()
                self._watcher = None
            if self._listener is not None:
                await self._listener.close()
            if self.heartbeat is not None:
                await self.heartbeat.stop()
                self.heartbeat = None
            await self.engine.dispose()
        finally:
            if holder is not None:
                await asyncio.to_thread(holder.close)

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


async def open_store(
    url: str | None = None,
    *,
    path: Path | None = None,
    recover: bool = True,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    heartbeat: float = HEARTBEAT,
) -> Store:
    """Open (creating or upgrading as needed) the history database at ``path`` or ``url``.

    Args:
        url: a SQLAlchemy async URL, e.g. ``sqlite+aiosqlite:///history.sqlite3``.
        path: an SQLite file; its folder is created if missing. Takes precedence over ``url``.
        recover: mark messages a crashed run left ``streaming`` as ``interrupted``.
        busy_timeout_ms: how long a writer waits for another copy's lock before giving up.
        heartbeat: on a server, seconds between two renewals of this copy's ``clients`` row
            (``tui.store.clients``).

    Raises:
        DatabaseTooNewError: written by a newer version; the file is left untouched.
        CorruptDatabaseError: not a readable history database; nothing is changed.
        DatabaseDamagedError: damage found once opened (while upgrading or recovering);
            nothing more is written to it.
        StoreError: anything else, with the file named and what to do.
    """
    if path is not None:
        url = sqlite_url(path)
    if url is None:
        raise ValueError("open_store needs a database url or a file path")
    parsed = parse_url(url)
    if parsed.get_backend_name() in ("postgresql", "postgres"):
        return await _open_server(asyncpg_url(parsed), recover=recover, heartbeat=heartbeat)
    if parsed.get_backend_name() != "sqlite":
        location = hidden(parsed)
        raise DatabaseUrlError(
            f"{location}: tui-chat keeps its history in SQLite or PostgreSQL, and this URL is "
            "neither. Use postgresql+asyncpg://user@host:port/database, or a file with --db.",
            location=location,
        )
    file = path
    if file is None and parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or "mode=memory" in database:
            # Each pooled connection would see its own empty database.
            raise ValueError("an in-memory SQLite database cannot hold a history; use a file")
        if not database.startswith("file:"):
            file = Path(database)
    location = str(file) if file is not None else parsed.render_as_string(hide_password=True)
    if file is not None:
        check_sqlite_version(location)
        await asyncio.to_thread(_look_before_opening, file, location)

    engine = create_async_engine(url)
    guard = WriteGuard(location)
    if engine.dialect.name == "sqlite":
        _install_sqlite_hooks(engine, guard, busy_timeout_ms)
    store = Store(engine, location=location, path=file, guard=guard)
    try:
        await ensure_schema(engine, location=location)
        if recover:
            await store.repository.mark_interrupted()
    except DBAPIError as exc:
        await store.close()
        raise describe_db_error(exc.orig, location) from None
    except BaseException:
        await store.close()  # damage found here: closed without a checkpoint into the file
        raise
    return store


async def _open_server(url: URL, *, recover: bool, heartbeat: float) -> Store:
    """Open a history on a PostgreSQL server (see ``tui.store.postgres``), and record this copy
    among its clients, renewed every ``heartbeat`` seconds (see ``tui.store.clients``)."""
    location = hidden(url)
    engine = create_async_engine(url, **engine_options())
    store_nul_as_text(engine)
    store = Store(engine, location=location, path=None)
    try:
        await ensure_schema(engine, location=location)
        await register(engine, writer_tag())
        if recover:
            await store.repository.mark_interrupted()
        store.heartbeat = Heartbeat(
            engine, writer_tag(), store.repository.mark_interrupted, interval=heartbeat
        )
        store.heartbeat.start()
    except DBAPIError as exc:
        await store.close()
        raise describe_db_error(exc.orig, location) from None
    except (OSError, TimeoutError) as exc:
        await store.close()
        raise describe_db_error(exc, location) from None
    except BaseException:
        await store.close()
        raise
    return store


def _switch_to_wal(cursor: Any, busy_timeout_ms: int) -> None:
    """``PRAGMA journal_mode = WAL``, waiting for another copy that holds the file.

    On a new file that two copies open at once, the switch can fail with "database is locked"
    at once, without the busy handler: it is tried again for up to the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)  # at start only, and only while another copy holds the file
            pause = min(pause * 2, 0.1)


def _look_before_opening(file: Path, location: str) -> None:
    """Refuse a damaged, foreign or newer file before any connection could write to it."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the folder for {location}: {exc.strerror or exc}.", location=location
        ) from None
    look = inspect_file(file)
    if look.exists:
        refuse(classify(look.table_names, look.versions), look.versions, location)


def _install_sqlite_hooks(
    engine: AsyncEngine, guard: WriteGuard, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> None:
    """Set the connection PRAGMAs, take over transaction begins, and stop writing on damage.

    Every driver error passes ``handle_error``: this is the one place where SQLite's report of a
    damaged file (``SQLITE_CORRUPT``, ``SQLITE_NOTADB``) becomes ``DatabaseDamagedError`` and
    trips the guard; ``before_cursor_execute`` then refuses each later write before it is sent.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's implicit BEGIN is deferred and skips DDL; begins are issued below instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL itself may have to wait for another copy.
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not guard.damaged:  # switching the journal mode writes to the file
                _switch_to_wal(cursor, busy_timeout_ms)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY if
        # another copy wrote in between (busy_timeout cannot help); writers take the lock first.
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        if write and guard.damaged:
            raise guard.error()
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before_execute(
        _connection: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        guard.check_statement(statement)

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> BaseException | None:
        return guard.check_error(context.original_exception)
