"""A database error in plain words, whichever engine raised it."""

from __future__ import annotations

from tui.store.errors import StoreError


def describe_db_error(exc: BaseException | None, location: str) -> StoreError:
    """The ``StoreError`` for a driver's error: SQLite's (``sqlitefile``) or PostgreSQL's.

    A server's ``location`` is its URL (a file's is a path): the network's errors there (a
    refused connection is a plain ``OSError``) are described as the server's.
    """
    from tui.store.postgres import describe_pg_error, is_postgres_error

    if is_postgres_error(exc) or on_server(location):
        return describe_pg_error(exc, location)
    from tui.store.sqlitefile import describe_db_error as describe_sqlite_error

    return describe_sqlite_error(exc, location)


def on_server(location: str) -> bool:
    """Whether ``location`` (as the store names it in messages) is a server's URL, not a file."""
    return location.startswith("postgres") and "://" in location
