"""Schema revisions: a cheap check at every start, Alembic only when the file is behind.

The fast path reads ``alembic_version`` with a plain query and compares it with ``SCHEMA_HEAD``;
Alembic (and its ~100 ms import) is loaded only to create or upgrade a database. A test checks that
``SCHEMA_HEAD`` and ``REVISIONS`` match the scripts in ``migrations/versions``.

To add a revision: write ``migrations/versions/NNNN_name.py`` (``alembic_config(url)`` gives a
``Config`` for ``alembic.command.revision``), then append its id to ``REVISIONS``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tui.store.errors import DatabaseTooNewError, ForeignDatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

REVISIONS = (
    "0001_base_schema",
    "0002_conversation_summary",
    "0003_provider_facts_model_usage",
    "0004_tool_calls",
    "0005_shared_store",
)
"""Every revision this version knows, oldest first."""
SCHEMA_HEAD = REVISIONS[-1]
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

WRITE_OPTION = "tui_write"
"""Execution option asking the SQLite ``begin`` hook for ``BEGIN IMMEDIATE`` (see ``db``)."""


# Full-text tables (and the shadow tables FTS5 creates) live in raw SQL in the revisions.
FTS_TABLE_PREFIXES = ("messages_fts", "messages_cjk", "conversations_fts")
# PostgreSQL's search columns and their indexes, kept by triggers (revision 0005).
SEARCH_PREFIXES = ("search_", "ix_search_")


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave the search machinery (FTS5 tables, PostgreSQL's search columns) out of Alembic's
    schema comparisons: the ORM classes do not describe it."""
    if name is None:
        return True
    if type_ == "table" and name.startswith(FTS_TABLE_PREFIXES):
        return False
    return not (type_ in ("column", "index") and name.startswith(SEARCH_PREFIXES))


class SchemaState(StrEnum):
    """Where a database stands against this version's schema."""

    EMPTY = "empty"
    CURRENT = "current"
    BEHIND = "behind"
    TOO_NEW = "too_new"
    FOREIGN = "foreign"


def classify(table_names: frozenset[str] | set[str], versions: tuple[str, ...]) -> SchemaState:
    """Judge a database from its table names and the rows of ``alembic_version``."""
    if not versions:
        others = {name for name in table_names if not name.startswith("sqlite_")}
        others.discard("alembic_version")
        return SchemaState.FOREIGN if others else SchemaState.EMPTY
    if len(versions) != 1 or versions[0] not in REVISIONS:
        return SchemaState.TOO_NEW
    return SchemaState.CURRENT if versions[0] == SCHEMA_HEAD else SchemaState.BEHIND


def refuse(state: SchemaState, versions: tuple[str, ...], location: str) -> None:
    """Raise the error for a database this version must not touch."""
    if state is SchemaState.TOO_NEW:
        found = ", ".join(versions)
        raise DatabaseTooNewError(
            f"{location} was written by a newer version of tui-chat (schema {found}; this version "
            f"knows up to {SCHEMA_HEAD}). Upgrade tui-chat, or use another file with --db. "
            "The file was not changed.",
            location=location,
        )
    if state is SchemaState.FOREIGN:
        raise ForeignDatabaseError(
            f"{location} is a database, but not a tui-chat history. Nothing was changed. "
            "Point --db at another file, or move this one aside to start a new history there.",
            location=location,
        )


def read_state(connection: Connection) -> tuple[SchemaState, tuple[str, ...]]:
    """Read the stored revision with a plain query (no Alembic)."""
    inspector = inspect(connection)
    if inspector.has_table("alembic_version"):
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        versions = tuple(str(row[0]) for row in rows)
        if versions:
            return classify(frozenset(), versions), versions
    return classify(frozenset(inspector.get_table_names()), ()), ()


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for the shipped scripts, built without an ini file."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ini interpolation
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, target: str = "head") -> None:
    """Run the revisions up to ``target`` on a connection, inside its current transaction."""
    from alembic import command

    command.upgrade(alembic_config(connection=connection), target)


async def ensure_schema(engine: AsyncEngine, *, location: str) -> SchemaState:
    """Create or upgrade the schema when needed; refuse newer or foreign databases.

    Returns the state found before any upgrade.
    """
    async with engine.connect() as connection:
        state, versions = await connection.run_sync(read_state)
        await connection.rollback()
        if state is SchemaState.CURRENT:
            return state
        refuse(state, versions, location)
        # Take the write lock, then look again: another copy may have migrated meanwhile.
        # (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock held until the commit.)
        await connection.execution_options(**{WRITE_OPTION: True})
        async with connection.begin():
            if connection.dialect.name == "postgresql":
                from tui.store.postgres import MIGRATION_LOCK

                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            state_now, versions = await connection.run_sync(read_state)
            refuse(state_now, versions, location)
            if state_now is not SchemaState.CURRENT:
                await connection.run_sync(upgrade)
    return state
