"""The SQLite file itself: a look before opening, errors in plain words, moving it aside.

Nothing here writes to the database file. ``inspect_file`` reads it through a read-only connection
(``immutable`` when no write-ahead log exists, so not even ``-wal``/``-shm`` files appear), which
is how a file from a newer version or a damaged file can be refused byte-for-byte untouched.
"""

from __future__ import annotations

import contextlib
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


def _unreadable(exc: OSError, location: str) -> StoreError:
    return StoreError(f"Cannot read {location}: {exc.strerror or exc}.", location=location)


def _connect_read_only(path: Path, location: str) -> sqlite3.Connection:
    """A read-only connection that changes nothing on disk; errors as the store words them."""
    try:
        return sqlite3.connect(_read_only_uri(path), uri=True)
    except OSError as exc:
        raise _unreadable(exc, location) from None
    except sqlite3.Error as exc:
        raise describe_db_error(exc, location) from None


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
    except OSError as exc:
        raise _unreadable(exc, location) from None
    # A log or journal may hold committed pages the file lacks: read through it then.
    connection = _connect_read_only(path, location)
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


def _read_only_uri(path: Path) -> str:
    """A read-only URI; ``immutable`` when no log or journal exists, so no ``-shm`` appears."""
    logged = any(path.with_name(path.name + suffix).exists() for suffix in ("-wal", "-journal"))
    return path.resolve().as_uri() + ("?mode=ro" if logged else "?mode=ro&immutable=1")


def integrity_problems(path: Path) -> list[str]:
    """Run ``PRAGMA integrity_check`` on the file read-only; return the problems it lists.

    An empty list means the file is sound. Nothing is written, not even ``-wal``/``-shm`` files.

    Raises:
        CorruptDatabaseError: the file is not a database at all (or too damaged to read).
        StoreError: the file is missing, a folder, or cannot be read.
    """
    location = str(path)
    if path.is_dir():
        raise StoreError(f"{location} is a folder, not a database file.", location=location)
    try:
        if not path.is_file():
            raise StoreError(f"{location} does not exist.", location=location)
    except OSError as exc:
        raise _unreadable(exc, location) from None
    connection = _connect_read_only(path, location)
    try:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        if _primary_code(exc) == _SQLITE_CORRUPT:
            # Too damaged for the check to finish (e.g. the schema page): that is its finding.
            return [str(exc.args[0]) if exc.args else "database disk image is malformed"]
        raise describe_db_error(exc, location) from None
    except sqlite3.Error as exc:
        raise describe_db_error(exc, location) from None
    finally:
        connection.close()
    # One row per problem, though SQLite may put several on one row; "ok" alone means sound.
    lines = [
        line.strip()
        for row in rows
        for line in str(row[0]).splitlines()
        if line.strip() and not line.startswith("*** in database")
    ]
    return [] if lines == ["ok"] else lines


def hold_read_only(path: Path) -> sqlite3.Connection | None:
    """A read-only connection reading through the log, to close after every other one.

    The last connection to close checkpoints the write-ahead log into the file, unless it is
    read-only: holding this one keeps a damaged file exactly as it was. None if it cannot open.
    """
    try:
        connection = sqlite3.connect(
            path.resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False
        )
    except (OSError, sqlite3.Error):
        return None
    with contextlib.suppress(sqlite3.Error):
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return connection


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


def _primary_code(exc: BaseException | None) -> int | None:
    """SQLite's primary result code of a driver error, when the driver tells it."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def damage_detail(exc: BaseException | None) -> str | None:
    """SQLite's words when a driver error says the file is damaged (or not a database at all)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    primary = _primary_code(exc)
    detail = str(exc.args[0]) if exc.args else "database disk image is malformed"
    if primary in (_SQLITE_NOTADB, _SQLITE_CORRUPT):
        return detail
    if primary is None and ("not a database" in detail or "malformed" in detail):
        return detail
    return None


def describe_db_error(exc: BaseException | None, location: str) -> StoreError:
    """Turn an SQLite error into a ``StoreError`` that says what happened and what to do.

    Its damage case ("Nothing was changed") is for the read-only looks of this module: once the
    store has connected, the engine's hook reports damage as ``DatabaseDamagedError`` instead
    (``tui.store.guard``), before this is reached.
    """
    primary = _primary_code(exc)
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
