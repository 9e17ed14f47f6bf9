"""``integrity_problems``: SQLite's own integrity check, read-only, in lines a person can read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.store.damage import damage_page, plain_db_with_pages
from tui.store.db import open_store
from tui.store.errors import CorruptDatabaseError, StoreError
from tui.store.sqlitefile import integrity_problems


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_sound_file_has_no_problems(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    plain_db_with_pages(path)
    assert integrity_problems(path) == []


async def test_a_sound_history_has_no_problems_and_stays_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store = await open_store(path=path)
    await store.repository.create_conversation(title="kept")
    await store.close()
    before, files = digest(path), sorted(os.listdir(tmp_path))
    assert integrity_problems(path) == []
    assert digest(path) == before and sorted(os.listdir(tmp_path)) == files


def test_a_damaged_page_is_listed_and_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    plain_db_with_pages(path)
    damage_page(path, 3)
    before, files = digest(path), sorted(os.listdir(tmp_path))

    problems = integrity_problems(path)

    assert problems, "the damaged page went unnoticed"
    assert any("page 3" in line for line in problems)
    assert all(line and "\n" not in line and not line.startswith("***") for line in problems)
    assert digest(path) == before and sorted(os.listdir(tmp_path)) == files


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("These are my notes, not a database.\n" * 100, encoding="utf-8")
    before = digest(path)
    with pytest.raises(CorruptDatabaseError) as caught:
        integrity_problems(path)
    assert str(path) in str(caught.value)
    assert digest(path) == before


def test_a_missing_file_or_a_folder_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        integrity_problems(tmp_path / "missing.sqlite3")
    with pytest.raises(StoreError, match="is a folder"):
        integrity_problems(tmp_path)
    assert not (tmp_path / "missing.sqlite3").exists()
