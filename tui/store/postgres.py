"""PostgreSQL as a shared history: the URL, the engine, errors in plain words, and live changes.

A history on a PostgreSQL server is shared by every machine pointed at it. Differences from the
SQLite file, each handled here or in the revisions:

- **The URL.** ``postgresql+asyncpg://user@host:port/db`` (``postgresql://`` and ``postgres://``
  mean the same). The password comes from the URL, ``PGPASSWORD`` or ``~/.pgpass`` (asyncpg reads
  both); messages show the URL without it, and it is never written anywhere.
- **Migrations.** Several machines starting at once against an empty database migrate it once:
  the upgrade runs under a transaction-level advisory lock (``MIGRATION_LOCK``), and PostgreSQL's
  transactional DDL makes the whole upgrade commit or roll back as one.
- **Live changes.** Every commit that changes a conversation sends a notification on
  ``CHANGES_CHANNEL`` (a trigger, revision 0005); ``ChangeListener`` counts what arrives on one
  connection kept for it, in place of SQLite's ``data_version``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import URL, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tui.store.errors import DatabaseBusyError, DatabaseUrlError, StoreError

MIGRATION_LOCK = 0x7475_6963_6861_74  # "tuichat": the key of the advisory lock
"""Held (for its transaction) by whichever start migrates the database."""
CHANGES_CHANNEL = "tui_chat_changes"
"""The NOTIFY channel the revisions' triggers send on."""
CONNECT_TIMEOUT_S = 10.0
DRIVERS = ("", "asyncpg")
"""``postgresql://`` and ``postgresql+asyncpg://``; other drivers are refused by name."""


def hidden(url: URL | str) -> str:
    """The URL as messages show it: no password."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except ArgumentError:
            return "the database URL"
    return url.render_as_string(hide_password=True)


def parse_url(text: str) -> URL:
    """A database URL, or ``DatabaseUrlError`` naming it (without its password)."""
    try:
        return make_url(text)
    except ArgumentError:
        shown = text.split("@")[-1] if "@" in text else text
        raise DatabaseUrlError(
            f"database_url {shown!r} is not a database URL. Use a path to an SQLite file, or "
            "postgresql+asyncpg://user@host:port/database for a shared history.",
            location=shown,
        ) from None


def asyncpg_url(url: URL) -> URL:
    """The URL for asyncpg, or ``DatabaseUrlError`` when it cannot be used."""
    location = hidden(url)
    if url.get_backend_name() == "postgres":
        url = url.set(drivername="postgresql")
    driver = url.get_driver_name() if "+" in url.drivername else ""
    if driver not in DRIVERS:
        raise DatabaseUrlError(
            f"{location}: tui-chat talks to PostgreSQL through asyncpg, not {driver}. "
            "Write the URL as postgresql+asyncpg://user@host:port/database.",
            location=location,
        )
    if not url.database:
        raise DatabaseUrlError(
            f"{location} names no database. Add it after the host: "
            "postgresql+asyncpg://user@host:port/database.",
            location=location,
        )
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        raise DatabaseUrlError(
            f"{location} needs the asyncpg driver, which is not installed. "
            "Install it with: pip install 'tui-chat[postgres]'.",
            location=location,
        ) from None
    return url.set(drivername="postgresql+asyncpg")


def engine_options() -> dict[str, Any]:
    """``create_async_engine`` options for a server that may restart or drop idle connections."""
    return {
        "pool_pre_ping": True,
        "pool_size": 5,
        "max_overflow": 5,
        "connect_args": {
            "timeout": CONNECT_TIMEOUT_S,
            "server_settings": {"application_name": "tui-chat"},
        },
    }


_AUTH = ("28000", "28P01")
_NO_DATABASE = "3D000"
_BUSY = ("40001", "40P01", "55P03", "57014")
_FULL = ("53100", "53200")
_READ_ONLY = ("25006", "42501")
_GONE = ("57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004")


def _sqlstate(exc: BaseException | None) -> str | None:
    """The SQLSTATE of an asyncpg error, also when SQLAlchemy wrapped it."""
    seen = 0
    while exc is not None and seen < 4:
        code = getattr(exc, "sqlstate", None)
        if isinstance(code, str):
            return code
        exc = exc.__cause__
        seen += 1
    return None


def is_postgres_error(exc: BaseException | None) -> bool:
    """An error from asyncpg (SQLAlchemy's wrapper of one included)."""
    return exc is not None and (
        _sqlstate(exc) is not None
        or type(exc).__module__.startswith(("asyncpg", "sqlalchemy.dialects.postgresql"))
    )


def describe_pg_error(exc: BaseException | None, location: str) -> StoreError:
    """A server's or the network's error as one line saying what to do.

    Only the error's class and SQLSTATE are shown: PostgreSQL's own messages can quote the
    values of a row (a key that already exists, say).
    """
    if isinstance(exc, (OSError, asyncio.TimeoutError, TimeoutError)) and _sqlstate(exc) is None:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return StoreError(
            f"Cannot reach the PostgreSQL server of {location} ({reason}). Check that it is "
            "running and that the host and port are right, then try again.",
            location=location,
        )
    code = _sqlstate(exc)
    name = type(exc.__cause__ or exc).__name__ if exc is not None else "error"
    if code in _AUTH:
        return StoreError(
            f"The PostgreSQL server refused the login to {location} ({name}). Give the "
            "password in PGPASSWORD or ~/.pgpass, and check the user name.",
            location=location,
        )
    if code == _NO_DATABASE:
        return StoreError(
            f"{location}: the database does not exist on that server. Create it first "
            "(createdb NAME), or correct the name in database_url.",
            location=location,
        )
    if code in _BUSY:
        return DatabaseBusyError(
            f"{location} was busy with another client's change ({name}). Try again.",
            location=location,
        )
    if code in _FULL:
        return StoreError(
            f"Cannot write to {location}: the server is out of disk or memory ({name}).",
            location=location,
        )
    if code in _READ_ONLY:
        return StoreError(
            f"{location} refused the change ({name}): the user may only read it, or the "
            "server is a read-only replica. Use a user that can write.",
            location=location,
        )
    if code in _GONE or code is None:
        return StoreError(
            f"Lost the connection to {location} ({name}). Check the server, then try again; "
            "what was already stored is kept.",
            location=location,
        )
    return StoreError(f"{location} failed: {name} (SQLSTATE {code}).", location=location)


class ChangeListener:
    """Counts change notifications from the server on one connection kept for it.

    ``token()`` is what the list polls. A lost connection is opened again on the next call,
    and the count moves then, since changes may have been missed meanwhile.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._count = 0
        self._lock = asyncio.Lock()
        self._dead = False

    def _heard(self, *_args: object) -> None:
        self._count += 1

    def _lost(self, *_args: object) -> None:
        self._count += 1
        self._dead = True  # given back (invalidated) on the next call

    async def token(self) -> int:
        async with self._lock:
            if self._connection is None or self._connection.closed or self._dead:
                await self._listen()
            return self._count

    async def _listen(self) -> None:
        again = self._connection is not None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                if self._dead:
                    await self._connection.invalidate()
                await self._connection.close()
            self._connection = None
        self._dead = False
        connection = await self._engine.connect()
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.add_listener(CHANGES_CHANNEL, self._heard)
        raw.add_termination_listener(self._lost)
        await connection.commit()
        if again:
            self._count += 1  # a new connection: what changed meanwhile was not heard
        self._connection = connection

    async def close(self) -> None:
        async with self._lock:
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    await self._connection.close()
                self._connection = None


NUL_STORED_AS = "\u2400"
"""PostgreSQL's text cannot hold U+0000, which SQLite keeps: it is stored as ``␀`` instead, the
character every screen and the CLI draw for it anyway (``tui.safe_text``)."""


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", NUL_STORED_AS) if "\x00" in value else value
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_without_nul(item) for item in value)
    return value


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_nul(item) for item in value)
    return False


def store_nul_as_text(engine: AsyncEngine) -> None:
    """Before each statement, replace NUL in the values sent (see ``NUL_STORED_AS``), so a
    reply, title or imported file holding one is stored rather than refused by the server."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def _replace_nul(
        _connection: Any,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> tuple[str, Any]:
        if _holds_nul(parameters):
            parameters = _without_nul(parameters)
        return statement, parameters
