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


class DatabaseTooNewError(StoreError):
    """The file was written by a newer tui-chat; it is refused and left untouched."""


class CorruptDatabaseError(StoreError):
    """The file is not a readable history database; nothing was changed.

    The app may offer ``tui.store.db.move_aside(path)`` once the person agrees.
    """


class ForeignDatabaseError(CorruptDatabaseError):
    """The file is a SQLite database, but not a tui-chat history."""


class DatabaseBusyError(StoreError):
    """Another program held the database locked for longer than the busy timeout."""


class NotFoundError(StoreError, LookupError):
    """A conversation or message id that does not exist (any more)."""
