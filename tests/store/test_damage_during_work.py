"""A file damaged past the open check: once SQLite reports it, nothing more is written to it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.store.damage import (
    damage_messages_page,
    file_digests,
    history_of_30,
    history_with_a_damaged_page,
)
from tui.domain import Role
from tui.store.db import Store, open_store
from tui.store.errors import DatabaseDamagedError


async def find_the_damage(store: Store) -> DatabaseDamagedError:
    """Read every conversation until SQLite trips over the damaged page."""
    for conversation in await store.repository.list_conversations(limit=100):
        try:
            await store.repository.all_messages(conversation.id)
        except DatabaseDamagedError as exc:
            return exc
    raise AssertionError("no read reached the damaged page")


def assert_says_what_to_do(error: DatabaseDamagedError, path: Path) -> None:
    message = str(error)
    assert str(path) in message and error.location == str(path)
    assert "is damaged" in message and "nothing more is written to it" in message
    assert "tui-chat db move-aside" in message and "never deleted" in message
    assert "Nothing was changed" not in message


async def test_damage_found_at_work_stops_every_write(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "history.sqlite3"
    await history_with_a_damaged_page(path)
    store = await open_store(path=path)  # the open check reads only the schema: it passes
    try:
        before_damage = await store.repository.create_conversation(title="written before")
        found = await find_the_damage(store)
        assert_says_what_to_do(found, path)
        assert store.damaged
        files = file_digests(folder)

        writes: list[Callable[[], Awaitable[object]]] = [
            lambda: store.repository.create_conversation(title="after the damage"),
            lambda: store.repository.add_message(before_damage.id, role=Role.USER, content="hi"),
            lambda: store.repository.rename_conversation(before_damage.id, "renamed"),
            lambda: store.repository.delete_conversation(before_damage.id),
            lambda: store.repository.note_model_used("demo", "demo-model"),
        ]
        for write in writes:
            with pytest.raises(DatabaseDamagedError) as refused:
                await write()
            assert str(refused.value) == str(found)

        # Reads go on where the pages are sound; the files are byte for byte as they were.
        readable = await store.repository.get_conversation(before_damage.id)
        assert readable is not None and readable.title == "written before"
        assert file_digests(folder) == files
    finally:
        await store.close()
    # Closing does not checkpoint the log into the damaged file either.
    assert file_digests(folder) == files


async def test_refused_writes_never_reach_the_driver(tmp_path: Path) -> None:
    from sqlalchemy import event

    path = tmp_path / "history.sqlite3"
    await history_with_a_damaged_page(path)
    store = await open_store(path=path)
    try:
        await find_the_damage(store)
        sent: list[str] = []
        event.listen(
            store.engine.sync_engine,
            "before_cursor_execute",
            lambda _c, _k, statement, *_: sent.append(statement),
        )
        with pytest.raises(DatabaseDamagedError):
            await store.repository.create_conversation(title="refused")
        assert sent == []
        await store.repository.list_conversations(limit=5)  # a read still runs
        assert sent and all(s.split()[0].upper() in ("BEGIN", "SELECT", "WITH") for s in sent)
    finally:
        await store.close()


async def test_damage_found_while_opening_is_reported_the_same_way(tmp_path: Path) -> None:
    import sqlite3

    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "history.sqlite3"
    await history_of_30(path)
    # As a crashed run leaves them: every message still "streaming", which the open recovers.
    connection = sqlite3.connect(path)
    try:
        connection.execute("UPDATE messages SET status = 'streaming', writer = NULL")
        connection.commit()
    finally:
        connection.close()
    damage_messages_page(path, whole=True)
    main_before = file_digests(folder)["history.sqlite3"]

    with pytest.raises(DatabaseDamagedError) as caught:
        await open_store(path=path)

    assert_says_what_to_do(caught.value, path)
    assert file_digests(folder)["history.sqlite3"] == main_before
