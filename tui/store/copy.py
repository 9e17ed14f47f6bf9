"""Copying a whole history from one open store to another (``tui-chat db copy``).

Either engine to either engine: an SQLite file to a PostgreSQL server and back, or file to file.

- **What is copied.** Every row that holds the user's data: conversations, messages (the tree,
  the active leaves, the Responses ids, usage, tool calls, citations, everything) and
  attachments, with their ids as they are, so every reference between them stays valid; and the
  small caches (``models_cache``, ``provider_facts``, ``model_usage``) where the target has no row
  for that key yet. ``clients`` is the live state of running copies and is not copied. A message
  still ``streaming`` in the source is copied as ``interrupted``: nobody will finish it there.
- **Search.** Both engines index rows in the database (FTS5 triggers on SQLite, ``tsvector``
  triggers on PostgreSQL), so inserting the rows is all it takes.
- **One snapshot, one transaction.** The source is read in one read-only transaction (a
  consistent snapshot; nothing is written to it), the target written in one write transaction,
  in rounds of ``BATCH`` rows through ``tui.store.bulk``'s writer (staging tables on SQLite). Any
  failure or Ctrl+C rolls the target back to what it was.
- **Foreign keys** are checked at commit (SQLite's ``defer_foreign_keys``, PostgreSQL's deferred
  constraints, revision 0005), so rows go in as they are, leaves and parents included.
  Afterwards each id sequence is moved past the largest id copied, so later inserts get fresh
  ids.
- **Only into an empty history.** A target that already holds conversations or messages is
  refused (``TargetNotEmptyError``) before anything is written: nothing is merged or replaced.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tui.domain import MessageStatus
from tui.store.bulk import _Writer, reset_sequences
from tui.store.convert import (
    ATTACHMENTS,
    CONVERSATIONS,
    MESSAGES,
    MODEL_USAGE,
    MODELS_CACHE,
    PROVIDER_FACTS,
)
from tui.store.db import Store
from tui.store.errors import StoreError
from tui.store.failures import describe_db_error
from tui.store.migrate import WRITE_OPTION

BATCH = 4_000
"""Rows per round of inserts (and per progress report)."""
ATTACHMENT_BATCH = 200
"""Attachments per round: they carry their bytes."""
CACHE_TABLES = (MODELS_CACHE, PROVIDER_FACTS, MODEL_USAGE)
"""Small tables keyed by provider (and model): copied where the target lacks the key."""

Progress = Callable[[int, int], None]
"""Called after each round with (messages copied so far, messages in the source)."""


class TargetNotEmptyError(StoreError):
    """The target already holds a history; nothing was written to it."""


@dataclass(frozen=True, slots=True)
class Counts:
    """How many rows of each kind a history holds."""

    conversations: int
    messages: int
    attachments: int


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What was copied, and the counts on each side."""

    source: Counts
    """The source's counts, in the snapshot that was copied."""
    copied: Counts
    """The rows written."""
    target: Counts
    """The target's counts, read again after the commit."""

    @property
    def matches(self) -> bool:
        return self.source == self.copied == self.target


async def count_rows(connection: AsyncConnection | AsyncSession) -> Counts:
    """The conversations, messages and attachments a history holds."""

    async def count(table: Table) -> int:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)

    return Counts(
        conversations=await count(CONVERSATIONS),
        messages=await count(MESSAGES),
        attachments=await count(ATTACHMENTS),
    )


async def copy_history(
    source: Store,
    target: Store,
    *,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> CopyResult:
    """Copy every conversation of ``source`` into the empty ``target``; see the module's notes.

    Raises:
        TargetNotEmptyError: the target holds conversations or messages; nothing was written.
        StoreError: either database failed; the target is left as it was.
    """
    try:
        async with _snapshot(source) as reading:
            result = await _copy(reading, source, target, progress=progress, batch=batch)
    except DBAPIError as exc:
        # The source's errors: the target's are put in words where they are written.
        raise describe_db_error(exc.orig, source.location) from None
    return result


@contextlib.asynccontextmanager
async def _snapshot(store: Store) -> AsyncIterator[AsyncConnection]:
    """One read-only transaction on ``store``: every read sees the same moment."""
    async with store.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        await connection.begin()
        try:
            yield connection
        finally:
            with contextlib.suppress(Exception):
                await connection.rollback()


async def _copy(
    reading: AsyncConnection,
    source: Store,
    target: Store,
    *,
    progress: Progress | None,
    batch: int,
) -> CopyResult:
    counts = await count_rows(reading)
    session = target.sessions()
    location = target.location
    try:
        connection = await session.connection(execution_options={WRITE_OPTION: True})
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            # No other client may start a conversation while the emptiness check holds.
            await session.execute(text("LOCK TABLE conversations IN SHARE ROW EXCLUSIVE MODE"))
            await session.execute(text("SET CONSTRAINTS ALL DEFERRED"))
        else:
            await session.execute(text("PRAGMA defer_foreign_keys = ON"))
        present = await count_rows(session)
        if present.conversations or present.messages:
            raise TargetNotEmptyError(
                f"{location} already holds {_plural(present.conversations, 'conversation')} "
                f"and {_plural(present.messages, 'message')}; copy into an empty history "
                "(a new file, or a new database on the server). Nothing was written.",
                location=location,
            )
        writer = _Writer(session, staged=not postgres)
        await writer.open()
        copied = await _write_all(reading, session, writer, counts, progress=progress, batch=batch)
        await _copy_caches(reading, session)
        if postgres:
            await reset_sequences(session)
        await writer.close()
        await session.commit()
    except DBAPIError as exc:
        await _abandon(session)
        raise describe_db_error(exc.orig, location) from None
    except BaseException:
        await _abandon(session)
        raise
    await session.close()
    try:
        if postgres:  # statistics for the search's plans now, not when autovacuum gets to it
            async with target.engine.begin() as connection:
                await connection.execute(text("ANALYZE conversations, messages"))
        async with target.sessions() as check:
            after = await count_rows(check)
    except DBAPIError as exc:
        raise describe_db_error(exc.orig, location) from None
    return CopyResult(source=counts, copied=copied, target=after)


async def _abandon(session: AsyncSession) -> None:
    with contextlib.suppress(Exception):
        await session.rollback()
    with contextlib.suppress(Exception):
        await session.close()


async def _pages(
    reading: AsyncConnection, table: Table, size: int
) -> AsyncIterator[list[dict[str, Any]]]:
    """The rows of ``table`` in id order, ``size`` at a time, as column-name dicts."""
    key = table.c.id
    last: int | None = None
    while True:
        query = select(table).order_by(key).limit(size)
        if last is not None:
            query = query.where(key > last)
        rows = [dict(row) for row in (await reading.execute(query)).mappings()]
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]
        if len(rows) < size:
            return


async def _write_all(
    reading: AsyncConnection,
    session: AsyncSession,
    writer: _Writer,
    counts: Counts,
    *,
    progress: Progress | None,
    batch: int,
) -> Counts:
    conversations = 0
    async for rows in _pages(reading, CONVERSATIONS, batch):
        for row in rows:
            if row["params"] is None:  # text that was not JSON reads as None
                row["params"] = {}
        await writer.write(CONVERSATIONS, writer.encode(CONVERSATIONS, rows))
        conversations += len(rows)

    messages = 0
    now = datetime.now(UTC)
    if progress is not None:
        progress(0, counts.messages)
    async for rows in _pages(reading, MESSAGES, batch):
        for row in rows:
            row["writer"] = None
            if row["status"] == MessageStatus.STREAMING.value:
                row["status"] = MessageStatus.INTERRUPTED.value
                row["finished_at"] = row["finished_at"] or now
        await writer.write(MESSAGES, writer.encode(MESSAGES, rows))
        messages += len(rows)
        if progress is not None:
            progress(messages, counts.messages)

    attachments = 0
    async for rows in _pages(reading, ATTACHMENTS, min(batch, ATTACHMENT_BATCH)):
        await writer.write(ATTACHMENTS, writer.encode(ATTACHMENTS, rows))
        attachments += len(rows)
    return Counts(conversations=conversations, messages=messages, attachments=attachments)


async def _copy_caches(reading: AsyncConnection, session: AsyncSession) -> None:
    """The model lists, provider facts and model use the target does not have yet."""
    for table in CACHE_TABLES:
        key = list(table.primary_key.columns)
        present = {tuple(row) for row in await session.execute(select(*key))}
        rows = [
            dict(row)
            for row in (await reading.execute(select(table))).mappings()
            if tuple(row[column.name] for column in key) not in present
            and None not in row.values()  # a cache entry whose JSON could not be read
        ]
        if rows:
            await session.execute(table.insert(), rows)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"
