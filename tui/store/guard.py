"""Once SQLite finds the file damaged, nothing more is written to it.

The engine's hooks (``tui.store.db``) pass every driver error through ``WriteGuard.check_error``
and every statement through ``WriteGuard.check_statement``: the first ``SQLITE_CORRUPT`` or
``SQLITE_NOTADB`` trips the guard, and from then on each write is refused with the same
``DatabaseDamagedError`` before it reaches the file. Reads still run, as far as the damage allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable

from tui.store.errors import DatabaseDamagedError
from tui.store.sqlitefile import damage_detail

__all__ = ["WriteGuard", "damaged_message"]

DamageListener = Callable[[DatabaseDamagedError], None]

_READ_PRAGMAS = frozenset(
    {
        "data_version",
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "integrity_check",
        "quick_check",
        "page_count",
        "page_size",
        "schema_version",
        "user_version",
        "compile_options",
    }
)
_WRITE_WORDS = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE|UPSERT)\b", re.IGNORECASE)


def damaged_message(location: str, detail: str) -> str:
    """What the person reads: the file, that it is left alone from now on, and what to do."""
    return (
        f"{location} is damaged ({detail}); nothing more is written to it. Move it aside "
        "(renamed, never deleted) with `tui-chat db move-aside`, or in the app when asked."
    )


def is_read_only(statement: str) -> bool:
    """Whether a statement only reads: SELECT, a deferred BEGIN, a reading PRAGMA."""
    words = statement.split(None, 2)
    if not words:
        return True
    head = words[0].upper()
    if head == "SELECT":
        return True
    if head == "WITH":
        return _WRITE_WORDS.search(statement) is None
    if head == "BEGIN":
        return len(words) == 1 or words[1].upper() in ("DEFERRED", "TRANSACTION", ";")
    if head in ("ROLLBACK", "END", "COMMIT", "RELEASE", "SAVEPOINT"):
        return True  # only ends (or marks) a transaction that wrote nothing
    if head == "PRAGMA" and len(words) > 1 and "=" not in statement:
        name = words[1].split("(")[0].rstrip(";").split(".")[-1].lower()
        return name in _READ_PRAGMAS
    return False


class WriteGuard:
    """The damage state of one store, shared by its engine's hooks."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.detail: str | None = None
        """SQLite's words for the damage, once found."""
        self._listeners: list[DamageListener] = []

    @property
    def damaged(self) -> bool:
        return self.detail is not None

    def error(self) -> DatabaseDamagedError:
        """The error every refused write raises (a new instance, the same message)."""
        detail = self.detail or "database disk image is malformed"
        return DatabaseDamagedError(damaged_message(self.location, detail), location=self.location)

    def add_listener(self, listener: DamageListener) -> None:
        """Call ``listener(error)`` once, soon after the damage is found (on the event loop)."""
        self._listeners.append(listener)

    def trip(self, detail: str) -> DatabaseDamagedError:
        """Note the damage (the first report wins) and return the error to raise."""
        if self.detail is None:
            self.detail = detail
            error = self.error()
            for listener in self._listeners:
                self._tell(listener, error)
        return self.error()

    def check_error(self, exc: BaseException | None) -> DatabaseDamagedError | None:
        """For a driver error: the damage error to raise instead, or None for any other."""
        detail = damage_detail(exc)
        return None if detail is None else self.trip(detail)

    def check_statement(self, statement: str) -> None:
        """Refuse a statement that could write, once the file is known to be damaged."""
        if self.detail is not None and not is_read_only(statement):
            raise self.error()

    @staticmethod
    def _tell(listener: DamageListener, error: DatabaseDamagedError) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:  # not from inside the driver's call: once it has unwound
            loop.call_soon(listener, error)
        else:
            with contextlib.suppress(Exception):
                listener(error)
