"""Damaged database files for tests: made with ``sqlite3`` on real files, then broken by hand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tui.domain import Role
from tui.store.db import open_store
from tui.store.sqlitefile import integrity_problems


def page_size(path: Path) -> int:
    """The page size from the file header (bytes 16-17; 1 means 65536)."""
    with path.open("rb") as handle:
        handle.seek(16)
        raw = int.from_bytes(handle.read(2), "big")
    return 65536 if raw == 1 else raw


def damage_page(path: Path, page: int = 3, *, whole: bool = False) -> None:
    """Overwrite bytes in the middle of page ``page`` (1-based) of a closed database file; with
    ``whole``, the entire page, its header too, so any read of it fails."""
    size = page_size(path)
    assert path.stat().st_size >= page * size, "the file has fewer pages than that"
    with path.open("r+b") as handle:
        handle.seek((page - 1) * size + (0 if whole else size // 4))
        handle.write(b"\xa5" * (size if whole else size // 2))


def plain_db_with_pages(path: Path, rows: int = 400) -> None:
    """A plain SQLite file (rollback journal) with one table spread over several pages."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        connection.executemany(
            "INSERT INTO notes (body) VALUES (?)", [(f"note {n} " * 20,) for n in range(rows)]
        )
        connection.commit()
    finally:
        connection.close()


def table_pages(path: Path, table: str) -> list[int]:
    """The pages (1-based) holding ``table``'s b-tree, read with the ``dbstat`` table if built in,
    else every page after the table's root page up to the end of the file."""
    connection = sqlite3.connect(path)
    try:
        try:
            rows = connection.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
                (table,),
            ).fetchall()
            return [int(row[0]) for row in rows]
        except sqlite3.OperationalError:
            root = connection.execute(
                "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
            ).fetchone()[0]
            count = connection.execute("PRAGMA page_count").fetchone()[0]
            return list(range(int(root) + 1, int(count) + 1))
    finally:
        connection.close()


async def history_with_a_damaged_page(
    path: Path, *, leaf: int | None = None, whole: bool = False
) -> None:
    """A history of 30 conversations (thread 0 to 29, one long message each), closed, then one
    leaf page of the messages table broken: the middle one, or ``leaf`` (-1: the last, which
    holds the newest conversation's message); ``whole`` as for ``damage_page``. The open check
    still passes."""
    await history_of_30(path)
    damage_messages_page(path, leaf=leaf, whole=whole)


async def history_of_30(path: Path) -> None:
    """30 conversations, thread 0 to 29, one long message each (a page each), closed."""
    store = await open_store(path=path)
    for number in range(30):
        conversation = await store.repository.create_conversation(title=f"thread {number}")
        await store.repository.add_message(
            conversation.id, role=Role.USER, content=f"message {number} " * 200
        )
    await store.close()


def damage_messages_page(path: Path, *, leaf: int | None = None, whole: bool = False) -> None:
    """Break one leaf page of the messages table: the middle one, or ``leaf``."""
    leaves = table_pages(path, "messages")
    damage_page(path, leaves[len(leaves) // 2 if leaf is None else leaf], whole=whole)
    assert integrity_problems(path), "the damage did not take"


def file_digests(folder: Path) -> dict[str, str]:
    """Each file of the folder and its bytes' digest; not ``-shm``, SQLite's shared-memory
    index, which readers update and which is rebuilt from the log."""
    import hashlib

    return {
        entry.name: hashlib.sha256(entry.read_bytes()).hexdigest()
        for entry in sorted(folder.iterdir())
        if entry.is_file() and not entry.name.endswith("-shm")
    }
