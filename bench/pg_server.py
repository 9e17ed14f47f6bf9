"""A throw-away PostgreSQL server for the benches (``--temporary-server``).

Starts one with ``tests/support/postgres.py`` (``initdb`` and ``pg_ctl`` from the server binaries
on the machine, run as the ``postgres`` user under root; fsync off), makes one database, and stops
and deletes it all on exit. For figures to keep, start a server of your own and pass its URL.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """The SQLAlchemy URL of a new database on a server that lives as long as the block."""
    from tests.support.postgres import PostgresUnavailable, start_server

    try:
        server = start_server()
    except PostgresUnavailable as exc:
        raise SystemExit(f"--temporary-server: {exc}") from None
    try:
        url = server.create_database(prefix)
        print(f"Temporary PostgreSQL server on port {server.port} (deleted at the end)")
        yield url
    finally:
        server.stop()
