"""Store fixtures: a real SQLite file under tmp_path per test."""

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
async def store(db_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(path=db_path)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def repo(store: Store) -> ConversationRepository:
    return store.repository
