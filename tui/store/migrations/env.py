"""Alembic environment for the history database.

At run time ``tui.store.migrate`` hands over a connection that is already inside a write
transaction (``config.attributes["connection"]``); the whole upgrade then commits or rolls back
as one. Developers can also point ``sqlalchemy.url`` at a file to generate a new revision.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from tui.store.migrate import include_object
from tui.store.tables import Base


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=Base.metadata,
            literal_binds=True,
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or pass a connection to run migrations")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as sync_connection:
        run_on(sync_connection)


main()
