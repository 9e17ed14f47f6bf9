"""Schema revisions: creation, upgrade from the first revision, refusal of newer files."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from tui.domain import Role
from tui.store.db import open_store
from tui.store.errors import DatabaseTooNewError, ForeignDatabaseError, StoreError
from tui.store.migrate import (
    REVISIONS,
    SCHEMA_HEAD,
    alembic_config,
    include_object,
    upgrade,
)
from tui.store.tables import Base

REPO_ROOT = Path(__file__).resolve().parents[2]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_revision(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return str(connection.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_head_constant_is_alembics_head() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_current_head() == SCHEMA_HEAD
    oldest_first = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    assert tuple(oldest_first) == REVISIONS


async def test_new_file_in_a_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "history.sqlite3"
    store = await open_store(path=path)
    await store.close()
    assert path.is_file()
    assert stored_revision(path) == SCHEMA_HEAD
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_empty_file_is_initialised(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.touch()
    store = await open_store(path=path)
    await store.repository.create_conversation(title="works")
    await store.close()
    assert stored_revision(path) == SCHEMA_HEAD


async def test_url_form_works_too(tmp_path: Path) -> None:
    path = tmp_path / "by-url.sqlite3"
    store = await open_store(f"sqlite+aiosqlite:///{path}")
    assert store.path == path
    await store.close()
    assert stored_revision(path) == SCHEMA_HEAD
    with pytest.raises(ValueError):
        await open_store()
    with pytest.raises(ValueError, match="in-memory"):
        await open_store("sqlite+aiosqlite://")


async def test_tables_match_the_migrated_schema(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    await (await open_store(path=path)).close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def make_first_revision_file(path: Path) -> None:
    """A history written by the first schema revision, with a small branched thread."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        upgrade(connection, REVISIONS[0])
    engine.dispose()
    with sqlite3.connect(path) as connection:
        now = "2024-05-01 10:00:00.000000"
        connection.execute(
            "INSERT INTO conversations (id, title, api_mode, params, pinned, archived, "
            "created_at, updated_at) VALUES (1, 'Old thread', 'auto', '{}', 0, 0, ?, ?)",
            (now, now),
        )
        rows = [
            (1, None, "user", "What is a wombat?"),
            (2, 1, "assistant", "A wombat is a\nmarsupial."),
            (3, 1, "assistant", "An Australian animal."),
        ]
        for ident, parent, role, content in rows:
            connection.execute(
                "INSERT INTO messages (id, conversation_id, parent_id, role, content, reasoning, "
                "status, created_at) VALUES (?, 1, ?, ?, ?, '', 'complete', ?)",
                (ident, parent, role, content, now),
            )
        connection.execute("UPDATE conversations SET active_leaf_id = 2 WHERE id = 1")


async def test_upgrade_from_the_first_revision_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    make_first_revision_file(path)
    assert stored_revision(path) == REVISIONS[0]

    store = await open_store(path=path)
    try:
        repo = store.repository
        conversation = await repo.get_conversation(1)
        assert conversation is not None
        assert conversation.title == "Old thread"
        assert conversation.message_count == 3
        assert conversation.preview == "A wombat is a marsupial."
        assert [m.id for m in await repo.active_path(1)] == [1, 2]
        assert [m.id for m in await repo.siblings(2)] == [2, 3]
        assert [hit.conversation.id for hit in await repo.search("wombat")] == [1]
        assert [c.id for c in await repo.list_conversations()] == [1]
        added = await repo.add_message(1, role=Role.USER, content="more", parent_id=2)
        assert added.id == 4
    finally:
        await store.close()
    assert stored_revision(path) == SCHEMA_HEAD


async def test_a_failed_upgrade_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    make_first_revision_file(path)
    with sqlite3.connect(path) as connection:  # an object in the way of revision 2
        connection.execute("CREATE INDEX ix_conversations_list ON conversations (title)")
    with pytest.raises(StoreError, match="ix_conversations_list") as caught:
        await open_store(path=path)
    assert str(path) in str(caught.value)
    assert stored_revision(path) == REVISIONS[0]
    with sqlite3.connect(path) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(conversations)")}
    assert "message_count" not in columns  # the half-done upgrade was rolled back


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    config = alembic_config(f"sqlite:///{path}")
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    with sqlite3.connect(path) as connection:
        names = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master")
            if not row[0].startswith("sqlite_")
        }
    assert names == {"alembic_version"}
    command.upgrade(config, "head")
    assert stored_revision(path) == SCHEMA_HEAD


async def written_by_a_newer_version(path: Path) -> None:
    await (await open_store(path=path)).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")


async def test_newer_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    await written_by_a_newer_version(path)
    before = digest(path)
    files_before = sorted(os.listdir(tmp_path))
    with pytest.raises(DatabaseTooNewError) as caught:
        await open_store(path=path)
    message = str(caught.value)
    assert str(path) in message and "newer version" in message and "9999_from_the_future" in message
    assert digest(path) == before
    assert sorted(os.listdir(tmp_path)) == files_before


async def test_newer_file_in_use_by_a_newer_copy_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    await written_by_a_newer_version(path)
    # The newer copy is running: its connection holds recent commits in the write-ahead log.
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("UPDATE alembic_version SET version_num = '9999_even_newer'")
    wal = path.with_name(path.name + "-wal")
    before, wal_before = digest(path), digest(wal)
    try:
        with pytest.raises(DatabaseTooNewError, match="9999_even_newer"):
            await open_store(path=path)
        assert digest(path) == before and digest(wal) == wal_before
    finally:
        holder.close()


async def test_foreign_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
        connection.execute("INSERT INTO notes VALUES ('mine')")
    connection.close()
    before = digest(path)
    with pytest.raises(ForeignDatabaseError) as caught:
        await open_store(path=path)
    assert str(path) in str(caught.value)
    assert digest(path) == before


async def test_fast_path_skips_alembic(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    await (await open_store(path=path)).close()
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from tui.store.db import open_store\n"
        "async def main():\n"
        "    store = await open_store(path=Path(sys.argv[1]))\n"
        "    await store.repository.list_conversations()\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=30,
    )
    modules = set(result.stdout.split())
    assert "tui.store.db" in modules
    for forbidden in ("alembic", "textual", "tui.providers", "tui.services", "mako"):
        assert forbidden not in modules, forbidden
