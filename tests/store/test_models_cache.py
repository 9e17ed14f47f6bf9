"""The model cache: one list per provider with the time it was fetched."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tui.domain import ApiKind, ModelInfo
from tui.store.db import Store, open_store
from tui.store.repository import ConversationRepository

MODELS = [
    ModelInfo(
        id="openai/gpt-5.2",
        provider="gmi",
        label="GPT-5.2",
        family="gpt-5.2",
        reasoning_efforts=("low", "medium", "high"),
        image_input=True,
        context_window=400_000,
    ),
    ModelInfo(
        id="openai/gpt-5.2-pro",
        provider="gmi",
        endpoints=frozenset({ApiKind.RESPONSES}),
        web_search=True,
        builtin=False,
    ),
]


async def test_cache_round_trip_and_replace(repo: ConversationRepository) -> None:
    assert await repo.cached_models("gmi") is None
    await repo.cache_models("gmi", MODELS)
    cached = await repo.cached_models("gmi")
    assert cached is not None
    models, fetched_at = cached
    assert models == MODELS
    assert fetched_at.tzinfo is UTC
    assert datetime.now(UTC) - fetched_at < timedelta(seconds=5)

    await repo.cache_models("gmi", MODELS[:1])
    replaced = await repo.cached_models("gmi")
    assert replaced is not None and replaced[0] == MODELS[:1]
    assert replaced[1] >= fetched_at
    assert await repo.cached_models("openai") is None
    await repo.cache_models("openai", [])
    empty = await repo.cached_models("openai")
    assert empty is not None and empty[0] == []


@pytest.mark.parametrize("stored", ['[{"id": 1}]', "not json at all", '{"a": 1}', "[1, 2]"])
async def test_unreadable_cache_entry_counts_as_missing(
    store: Store, stored: str, database_url: str
) -> None:
    await store.repository.cache_models("gmi", MODELS)
    await store.close()
    if store.path is not None:  # a hand-edited file
        with sqlite3.connect(store.path) as connection:
            connection.execute("UPDATE models_cache SET models = ?", (stored,))
        connection.close()
    else:  # an edit on the server: its json column takes only JSON
        server = await open_store(database_url)
        try:
            async with server.engine.begin() as pg:
                update = text("UPDATE models_cache SET models = CAST(:stored AS json)")
                if stored.startswith(("[", "{")):
                    await pg.execute(update, {"stored": stored})
                else:
                    with pytest.raises(DBAPIError):
                        await pg.execute(update, {"stored": stored})
                    return
        finally:
            await server.close()
    reopened = await open_store(database_url)
    try:
        assert await reopened.repository.cached_models("gmi") is None
        await reopened.repository.cache_models("gmi", MODELS)  # and it can be refreshed
        refreshed = await reopened.repository.cached_models("gmi")
        assert refreshed is not None and refreshed[0] == MODELS
    finally:
        await reopened.close()
