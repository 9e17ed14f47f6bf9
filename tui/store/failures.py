"""A database error in plain words, whichever engine raised it."""

from __future__ import annotations

from tui.store.errors import StoreError


def describe_db_error(exc: BaseException | None, location: str) -> StoreError:
    """The ``StoreError`` for a driver's error: SQLite's (``sqlitefile``) or PostgreSQL's."""
    from tui.store.postgres import describe_pg_error, is_postgres_error

    if is_postgres_error(exc):
        return describe_pg_error(exc, location)
    from tui.store.sqlitefile import describe_db_error as describe_sqlite_error

    return describe_sqlite_error(exc, location)
