"""Storage: conversations, message trees and Responses chains in SQLite.

Entry points (import them from their modules; this package imports nothing):

- ``tui.store.db.open_store(url=None, *, path=None) -> Store``: opens, creates or upgrades the
  database and marks replies a crash left ``streaming`` as ``interrupted``. ``Store`` holds
  ``engine``, ``sessions`` and ``repository``; ``await store.close()`` when done.
- ``tui.store.repository.ConversationRepository``: every read and write, returning the domain
  types of ``tui.domain`` (``Conversation``, ``Message``, ``SearchHit``, ``ModelInfo``).
- ``tui.store.errors``: ``StoreError`` and its kinds (``DatabaseTooNewError``,
  ``CorruptDatabaseError``, ``ForeignDatabaseError``, ``DatabaseBusyError``, ``NotFoundError``).
- ``tui.store.db.move_aside(path)``: rename a damaged file out of the way, after the person agreed.

Durability: WAL with ``synchronous=NORMAL``. A killed process loses nothing it committed; a power
cut may lose the last transactions, never the file's consistency.
"""
