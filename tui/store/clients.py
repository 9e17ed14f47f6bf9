"""The running copies of the app that share one history on a server, and when each was last seen.

On one machine a reply left ``streaming`` belongs to a dead copy when its process is gone
(``tree.orphaned`` asks the system). On a shared server the writer may run on another machine,
where no process can be asked. So each copy on a server records itself in ``clients``
(``host:pid``, as ``messages.writer`` names it) and renews ``last_seen`` every ``HEARTBEAT``
seconds, by the server's clock (the machines' clocks may disagree). A row another machine
streams into counts as orphaned only once its writer has not been seen for ``STALE_AFTER``
(three heartbeats missed) or has no row at all; a copy that closes removes its row.

The heartbeat also recovers: each beat marks the replies of writers that went stale, so the other
machines' lists show an interrupted reply without anyone starting the app again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tui.store.tables import ClientRow

HEARTBEAT = 20.0
"""Seconds between two renewals of a copy's ``last_seen``."""
STALE_AFTER = timedelta(seconds=3 * HEARTBEAT)
"""A writer not seen for this long is gone: its ``streaming`` rows can be marked interrupted."""
FORGET_AFTER = timedelta(days=7)
"""Rows of copies gone this long are deleted (a crash leaves its row behind)."""

log = logging.getLogger(__name__)


def _now() -> ColumnElement[datetime]:
    """The server's clock, in UTC like every other time the store keeps."""
    return func.timezone("UTC", func.now())


C = ClientRow


async def register(engine: AsyncEngine, tag: str) -> None:
    """Record this copy as running (again, if a copy with the same tag crashed)."""
    now = _now()
    statement = pg_insert(ClientRow).values(id=tag, started_at=now, last_seen=now)
    statement = statement.on_conflict_do_update(
        index_elements=[C.id], set_={"started_at": now, "last_seen": now}
    )
    async with engine.begin() as connection:
        await connection.execute(statement)
        await connection.execute(delete(ClientRow).where(C.last_seen < _now() - FORGET_AFTER))


async def renew(engine: AsyncEngine, tag: str) -> None:
    """This copy is still running."""
    async with engine.begin() as connection:
        result = await connection.execute(
            update(ClientRow).where(C.id == tag).values(last_seen=_now())
        )
        if not result.rowcount:  # removed meanwhile (by hand, or a week asleep)
            await connection.execute(
                pg_insert(ClientRow).values(id=tag, started_at=_now(), last_seen=_now())
            )


async def forget(engine: AsyncEngine, tag: str) -> None:
    """This copy closes: its row goes."""
    async with engine.begin() as connection:
        await connection.execute(delete(ClientRow).where(C.id == tag))


def seen_recently() -> Select[str]:
    """The tags of the copies seen within ``STALE_AFTER`` (by the server's clock)."""
    return select(C.id).where(C.last_seen >= _now() - STALE_AFTER)


class Heartbeat:
    """Renews this copy's row every ``interval`` seconds and runs ``recover`` after each renewal,
    until ``stop``. A failed beat (the server restarting, the network gone) is logged and tried
    again at the next one: it never stops the app."""

    def __init__(
        self,
        engine: AsyncEngine,
        tag: str,
        recover: Callable[[], Awaitable[object]],
        *,
        interval: float = HEARTBEAT,
    ) -> None:
        self._engine = engine
        self._tag = tag
        self._recover = recover
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.beats = 0
        """How many beats have been sent (each renewal that reached the server)."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tui-chat clients heartbeat")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await renew(self._engine, self._tag)
                self.beats += 1
                await self._recover()
            except Exception as exc:  # the next beat tries again
                log.warning("heartbeat to the history server failed: %s", type(exc).__name__)

    async def stop(self) -> None:
        """Stop beating and remove this copy's row (if the server can still be reached)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await forget(self._engine, self._tag)
