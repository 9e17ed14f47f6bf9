"""Damaged files are reported with their path and left alone; moving aside needs a call."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from tui.domain import Role
from tui.store.db import move_aside, open_store
from tui.store.errors import CorruptDatabaseError, StoreError


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def healthy_file(path: Path, conversations: int = 30) -> None:
    store = await open_store(path=path)
    for number in range(conversations):
        conversation = await store.repository.create_conversation(title=f"thread {number}")
        await store.repository.add_message(
            conversation.id, role=Role.USER, content=f"message {number} " * 200
        )
    await store.close()


def random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(64 * 1024))


def text_file(path: Path) -> None:
    path.write_text("These are my notes, not a database.\n" * 100, encoding="utf-8")


async def truncated_db(path: Path) -> None:
    await healthy_file(path)
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(size // 3)


async def zeroed_pages(path: Path) -> None:
    """A database whose header survived but whose schema page was overwritten."""
    await healthy_file(path)
    with path.open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\xff" * 3000)


@pytest.mark.parametrize("damage", ["random", "text", "truncated", "zeroed"])
async def test_damaged_file_is_reported_and_untouched(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "history.sqlite3"
    if damage == "random":
        random_bytes(path)
    elif damage == "text":
        text_file(path)
    elif damage == "truncated":
        await truncated_db(path)
    else:
        await zeroed_pages(path)
    before = digest(path)
    files_before = sorted(os.listdir(tmp_path))

    with pytest.raises(CorruptDatabaseError) as caught:
        store = await open_store(path=path)
        # Damage deeper in the file shows when the data is read; it is reported the same way.
        for conversation in await store.repository.list_conversations(limit=100):
            await store.repository.all_messages(conversation.id)
        await store.repository.search("message")
        await store.close()

    message = str(caught.value)
    assert str(path) in message
    assert "Nothing was changed" in message and "Move the file aside" in message
    assert caught.value.location == str(path)
    assert digest(path) == before
    assert sorted(os.listdir(tmp_path)) == files_before


def test_move_aside_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    text_file(path)
    wal = tmp_path / "history.sqlite3-wal"
    wal.write_bytes(b"log")
    before = digest(path)

    moved = move_aside(path)
    assert not path.exists() and not wal.exists()
    assert moved.parent == tmp_path and moved.name.startswith("history.sqlite3.broken-")
    assert digest(moved) == before
    assert moved.with_name(moved.name + "-wal").read_bytes() == b"log"

    text_file(path)  # the same second again: a new name, nothing overwritten
    second = move_aside(path)
    assert second != moved and second.exists() and moved.exists()


async def test_moved_aside_path_starts_a_new_history(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    random_bytes(path)
    with pytest.raises(CorruptDatabaseError):
        await open_store(path=path)
    move_aside(path)
    store = await open_store(path=path)
    await store.repository.create_conversation(title="fresh start")
    assert [c.title for c in await store.repository.list_conversations()] == ["fresh start"]
    await store.close()


def test_move_aside_reports_failure(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="Could not move"):
        move_aside(tmp_path / "missing.sqlite3")


async def test_a_folder_in_place_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.mkdir()
    (path / "keep.txt").write_text("x")
    with pytest.raises(StoreError, match="is a folder"):
        await open_store(path=path)


async def test_a_file_in_place_of_the_folder(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the folder should be")
    with pytest.raises(StoreError, match="Cannot create the folder") as caught:
        await open_store(path=tmp_path / "blocked" / "history.sqlite3")
    assert str(tmp_path / "blocked" / "history.sqlite3") in str(caught.value)
