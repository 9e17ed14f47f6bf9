"""What can go wrong with the history database, in words a person can act on.

Every message names the database file. None carries message text, SQL parameters or secrets.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class: the history database could not do what was asked."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(message)
        self.location = location
        """The file (or URL without credentials) the error is about."""
        self.settings_problems: list[str] = []
        """The settings' problems found before the store failed to open (set by
        ``tui.services.container.open_services``), to be shown along with this error."""


class DatabaseTooNewError(StoreError):
    """The file was written by a newer tui-chat; it is refused and left untouched."""


class CorruptDatabaseError(StoreError):
    """The file is not a readable history database.

    Raised as such by the look before opening, which changes nothing. The app may offer
    ``tui.store.db.move_aside(path)`` once the person agrees.
    """


class DatabaseDamagedError(CorruptDatabaseError):
    """SQLite found the file damaged while working on it (``SQLITE_CORRUPT``/``SQLITE_NOTADB``).

    From then on the store writes nothing more to the file: every write is refused with this
    error before any statement reaches it. Reads go on as far as the damage allows.
    """


class ForeignDatabaseError(CorruptDatabaseError):
    """The file is a SQLite database, but not a tui-chat history."""


class DatabaseUrlError(StoreError):
    """``database_url`` names a database tui-chat cannot use (shown without its password)."""


class DatabaseBusyError(StoreError):
    """Another program held the database locked for longer than the busy timeout."""


class NotFoundError(StoreError, LookupError):
    """A conversation or message id that does not exist (any more)."""
