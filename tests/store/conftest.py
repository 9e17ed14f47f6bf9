"""Store fixtures: a real SQLite file under tmp_path per test, and a database of its own on the
test run's PostgreSQL server (``database_url`` in the root conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tui.store.db import Store, open_store
from tui.store.repository import ConversationRepository


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def repo(store: Store) -> ConversationRepository:
    return store.repository


async def everything_stored(store: Store) -> str:
    """Every byte the store keeps, as text: the SQLite file and its log once closed, or every
    row of every table on PostgreSQL. The store is closed afterwards."""
    from sqlalchemy import text

    if store.path is None:
        async with store.engine.connect() as connection:
            tables = (
                (
                    await connection.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    )
                )
                .scalars()
                .all()
            )
            rows: list[str] = []
            for table in tables:
                query = text(f'SELECT row_to_json(t)::text FROM "{table}" t')
                rows.extend((await connection.execute(query)).scalars().all())
        await store.close()
        return "\n".join(rows)
    await store.close()
    files = [store.path, *(store.path.with_name(store.path.name + s) for s in ("-wal", "-shm"))]
    return "\n".join(f.read_bytes().decode("latin-1") for f in files if f.exists())
