"""The SQLite file itself: a look before opening, errors in plain words, moving it aside.

Nothing here writes to the database file. ``inspect_file`` reads it through a read-only connection
(``immutable`` when no write-ahead log exists, so not even ``-wal``/``-shm`` files appear), which
is how a file from a newer version or a damaged file can be refused byte-for-byte untouched.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tui.store.errors import (
    CorruptDatabaseError,
    DatabaseBusyError,
    StoreError,
)

MIN_SQLITE = (3, 35, 0)
"""FTS5 with the trigram tokenizer (3.34) and ``RETURNING`` (3.35)."""

# Primary result codes (https://sqlite.org/rescode.html).
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26

SIDECARS = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside the database; they move with it."""


@dataclass(frozen=True, slots=True)
class FileLook:
    """What a read-only look at the file found."""

    exists: bool
    table_names: frozenset[str] = frozenset()
    versions: tuple[str, ...] = ()


def check_sqlite_version(location: str) -> None:
    """Refuse to run on an SQLite library too old for the schema."""
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        need = ".".join(map(str, MIN_SQLITE))
        raise StoreError(
            f"Cannot open {location}: this Python uses SQLite {sqlite3.sqlite_version}, "
            f"tui-chat needs {need} or newer (with FTS5). Use a newer Python build.",
            location=location,
        )


def inspect_file(path: Path) -> FileLook:
    """Read table names and the schema revision without changing anything on disk."""
    location = str(path)
    try:
        if path.is_dir():
            raise StoreError(
                f"{location} is a folder, not a database file. Choose a file path with --db.",
                location=location,
            )
        if not path.exists() or path.stat().st_size == 0:
            return FileLook(exists=False)
        # A log or journal may hold committed pages the file lacks: read through it then.
        logged = any(path.with_name(path.name + suffix).exists() for suffix in ("-wal", "-journal"))
        uri = path.resolve().as_uri() + ("?mode=ro" if logged else "?mode=ro&immutable=1")
        connection = sqlite3.connect(uri, uri=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot read {location}: {exc.strerror or exc}.", location=location
        ) from None
    except sqlite3.Error as exc:
        raise describe_db_error(exc, location) from None
    try:
        names = frozenset(
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        )
        versions: tuple[str, ...] = ()
        if "alembic_version" in names:
            versions = tuple(
                str(row[0]) for row in connection.execute("SELECT version_num FROM alembic_version")
            )
        return FileLook(exists=True, table_names=names, versions=versions)
    except sqlite3.Error as exc:
        raise describe_db_error(exc, location) from None
    finally:
        connection.close()


def peek_conversations(path: Path) -> bool | None:
    """Whether the history file lists any conversation; None when that cannot be told cheaply.

    A read-only look (a few milliseconds) so the app can open on the right screen before the
    store itself is opened.
    """
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return False
        connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except (OSError, sqlite3.Error):
        return None
    try:
        row = connection.execute(
            "SELECT EXISTS (SELECT 1 FROM conversations WHERE archived = 0)"
        ).fetchone()
        return bool(row[0]) if row is not None else None
    except sqlite3.Error:  # no such table (a new file), damaged, locked: the store will say
        return None
    finally:
        connection.close()


def describe_db_error(exc: BaseException | None, location: str) -> StoreError:
    """Turn an SQLite error into a ``StoreError`` that says what happened and what to do."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    # Only SQLite's own short message: never SQL text or bound parameters.
    detail = str(exc.args[0]) if exc is not None and exc.args else type(exc).__name__
    if primary in (_SQLITE_NOTADB, _SQLITE_CORRUPT) or (
        primary is None and ("not a database" in detail or "malformed" in detail)
    ):
        return CorruptDatabaseError(
            f"{location} is not a readable tui-chat database ({detail}). Nothing was changed. "
            "Move the file aside to start a new history (it is kept for recovery), "
            "or point --db at another file.",
            location=location,
        )
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in detail:
        return DatabaseBusyError(
            f"{location} stayed locked by another program for too long ({detail}). "
            "Close other copies of tui-chat that are writing to it and try again.",
            location=location,
        )
    if primary == _SQLITE_FULL:
        return StoreError(
            f"Cannot write to {location}: the disk is full. Free some space and try again.",
            location=location,
        )
    if primary in (_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_CANTOPEN):
        return StoreError(
            f"Cannot open or write {location} ({detail}). Check that the file and its folder "
            "exist and are writable, or point --db at another file.",
            location=location,
        )
    if primary == _SQLITE_IOERR:
        return StoreError(
            f"Input/output error on {location} ({detail}). Check the disk, then try again.",
            location=location,
        )
    return StoreError(f"Database error on {location}: {detail}.", location=location)


def move_aside(path: Path) -> Path:
    """Move a damaged database and its ``-wal``/``-shm`` files out of the way; return the new path.

    Nothing is deleted or overwritten: the new name carries a timestamp and, if needed, a counter.
    Call this only after the person agreed to it.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    counter = 1
    while target.exists() or any(
        target.with_name(target.name + suffix).exists() for suffix in SIDECARS
    ):
        counter += 1
        target = path.with_name(f"{path.name}.broken-{stamp}-{counter}")
    try:
        path.rename(target)
        for suffix in SIDECARS:
            sidecar = path.with_name(path.name + suffix)
            if sidecar.exists():
                sidecar.rename(target.with_name(target.name + suffix))
    except OSError as exc:
        raise StoreError(
            f"Could not move {path} aside: {exc.strerror or exc}.", location=str(path)
        ) from None
    return target
