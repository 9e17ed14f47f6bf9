"""A history shared on a PostgreSQL server: the URL, the password, concurrent starts, live
updates between clients, and crash recovery when the writer runs on another machine."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.store.conftest import everything_stored
from tests.support.postgres import PASSWORD, PASSWORD_USER, PostgresServer, start_server
from tui.domain import MessageStatus, Role
from tui.store.db import Store, open_store
from tui.store.errors import DatabaseTooNewError, DatabaseUrlError, StoreError
from tui.store.migrate import REVISIONS
from tui.store.tree import writer_tag

SECRET = "hunter2-not-a-real-password"


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Wait for ``condition`` to hold, checking every few milliseconds, or fail."""
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def scalar(store: Store, statement: str, **values: object) -> object:
    async with store.engine.connect() as connection:
        return (await connection.execute(text(statement), values)).scalar()


async def execute(store: Store, statement: str, **values: object) -> None:
    """Run ``statement``; ``:now`` in it is the server's clock in UTC, as the store reads it."""
    statement = statement.replace(":now", "timezone('UTC', now())")
    async with store.engine.begin() as connection:
        await connection.execute(text(statement), values)


# -- the URL ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"mysql+aiomysql://me:{SECRET}@db.example/chats", "neither"),
        (f"postgresql+psycopg2://me:{SECRET}@db.example/chats", "asyncpg"),
        (f"postgresql+asyncpg://me:{SECRET}@db.example:5432", "names no database"),
    ],
)
async def test_a_url_the_app_cannot_use_is_a_clear_error_without_its_password(
    url: str, says: str
) -> None:
    with pytest.raises(DatabaseUrlError) as caught:
        await open_store(url)
    message = str(caught.value)
    assert says in message
    assert "db.example" in message and "me" in message
    assert SECRET not in message and "\n" not in message


async def test_a_server_that_is_not_there_is_one_line_without_the_password() -> None:
    url = f"postgresql+asyncpg://me:{SECRET}@127.0.0.1:{free_port()}/chats"
    with pytest.raises(StoreError) as caught:
        await open_store(url)
    message = str(caught.value)
    assert message.startswith("Cannot reach the PostgreSQL server of postgresql+asyncpg://me:***@")
    assert "running" in message
    assert SECRET not in message and "\n" not in message


async def test_a_missing_database_says_to_create_it(postgres_server: PostgresServer) -> None:
    with pytest.raises(StoreError, match="does not exist on that server. Create it first"):
        await open_store(postgres_server.url("no_such_database"))


async def test_a_wrong_password_says_where_the_password_goes(
    postgres_server: PostgresServer,
) -> None:
    name = postgres_server.create_database().rsplit("/", 1)[1]
    url = postgres_server.url(name, user=PASSWORD_USER, password=SECRET)
    with pytest.raises(StoreError) as caught:
        await open_store(url)
    message = str(caught.value)
    assert "refused the login" in message and "PGPASSWORD or ~/.pgpass" in message
    assert SECRET not in message and PASSWORD not in message


async def stores_nothing_of(url: str, secret: str) -> None:
    """Open the history at ``url``, write a turn, and prove ``secret`` is in none of its rows."""
    store = await open_store(url)
    conversation = await store.repository.create_conversation(title="with a password")
    await store.repository.add_message(conversation.id, role=Role.USER, content="hello")
    assert [c.title for c in await store.repository.list_conversations()] == ["with a password"]
    stored = await everything_stored(store)  # closes the store
    assert "hello" in stored and "with a password" in stored
    assert secret not in stored


async def test_the_password_can_come_from_the_url_pgpassword_or_pgpass(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [postgres_server.create_database().rsplit("/", 1)[1] for _ in range(3)]
    # In the URL: used, never stored.
    await stores_nothing_of(
        postgres_server.url(names[0], user=PASSWORD_USER, password=PASSWORD), PASSWORD
    )
    # PGPASSWORD, the URL without one.
    without = postgres_server.url(names[1], user=PASSWORD_USER)
    assert PASSWORD not in without
    with pytest.raises(StoreError, match="refused the login"):
        await open_store(without)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    await stores_nothing_of(without, PASSWORD)
    monkeypatch.delenv("PGPASSWORD")
    # ~/.pgpass (HOME is a temporary folder here).
    pgpass = Path.home() / ".pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres_server.port}:*:{PASSWORD_USER}:{PASSWORD}\n")
    pgpass.chmod(0o600)
    await stores_nothing_of(postgres_server.url(names[2], user=PASSWORD_USER), PASSWORD)


# -- the schema ------------------------------------------------------------------------------


async def test_several_first_starts_at_once_migrate_once(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    stores = await asyncio.gather(*(open_store(url) for _ in range(6)))
    try:
        versions = await scalar(
            stores[0], "SELECT string_agg(version_num, ',') FROM alembic_version"
        )
        assert versions == REVISIONS[-1]
        # Every copy works on the one schema.
        for number, store in enumerate(stores):
            await store.repository.create_conversation(title=f"copy {number}")
        titles = {c.title for c in await stores[0].repository.list_conversations()}
        assert titles == {f"copy {number}" for number in range(6)}
    finally:
        for store in stores:
            await store.close()


async def test_a_newer_schema_is_refused_and_left_alone(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    store = await open_store(url)
    await store.repository.create_conversation(title="kept")
    await execute(store, "UPDATE alembic_version SET version_num = '9999_from_the_future'")
    await store.close()
    with pytest.raises(DatabaseTooNewError, match="9999_from_the_future"):
        await open_store(url)
    database = url.rsplit("/", 1)[1]
    assert postgres_server.sql("SELECT title FROM conversations", database=database) == "kept"
    version = postgres_server.sql("SELECT version_num FROM alembic_version", database=database)
    assert version == "9999_from_the_future"


# -- two clients -----------------------------------------------------------------------------


async def test_a_change_by_another_client_moves_the_change_token(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database()
    watching, writing = await open_store(url), await open_store(url)
    try:
        before = await watching.change_token()
        assert await watching.change_token() == before  # nothing changed, nothing heard
        conversation = await writing.repository.create_conversation(title="from the laptop")

        async def heard() -> bool:
            return await watching.change_token() != before

        await until(heard)
        assert [c.title for c in await watching.repository.list_conversations()] == [
            "from the laptop"
        ]
        # A reply streamed into it moves the list too (its preview and time change).
        after_create = await watching.change_token()
        await writing.repository.add_message(conversation.id, role=Role.USER, content="hi")

        async def heard_again() -> bool:
            return await watching.change_token() != after_create

        await until(heard_again)
    finally:
        await watching.close()
        await writing.close()


# -- crash recovery across machines ----------------------------------------------------------


async def streaming_reply(store: Store, writer: str) -> int:
    """A reply left ``streaming``, as if ``writer`` (``host:pid``) were streaming into it."""
    repo = store.repository
    conversation = await repo.create_conversation(title=writer)
    question = await repo.add_message(conversation.id, role=Role.USER, content="go on")
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, parent_id=question.id, status=MessageStatus.STREAMING
    )
    await repo.append_text(reply.id, "half an answer")
    await execute(store, "UPDATE messages SET writer = :w WHERE id = :id", w=writer, id=reply.id)
    return reply.id


async def status_of(store: Store, message_id: int) -> MessageStatus:
    message = await store.repository.get_message(message_id)
    assert message is not None and message.content == "half an answer"
    return message.status


async def test_each_client_is_recorded_while_it_runs(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    store = await open_store(url, heartbeat=0.05)
    seen = "SELECT last_seen FROM clients WHERE id = :id"
    try:
        first = await scalar(store, seen, id=writer_tag())
        assert first is not None

        async def renewed() -> bool:
            return bool(await scalar(store, seen, id=writer_tag()) != first)

        await until(renewed)
    finally:
        await store.close()
    other = await open_store(url)
    try:
        assert (
            await scalar(other, "SELECT count(*) FROM clients WHERE id <> :id", id=writer_tag())
            == 0
        )
    finally:
        await other.close()


async def test_a_reply_another_machine_streams_is_left_alone_while_that_machine_is_seen(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database()
    store = await open_store(url)
    live = await streaming_reply(store, "laptop:4242")
    gone = await streaming_reply(store, "desktop:4242")
    unknown = await streaming_reply(store, "server:99")  # never recorded (an older version)
    await execute(
        store,
        "INSERT INTO clients (id, started_at, last_seen) VALUES "
        "('laptop:4242', :now - interval '1 hour', :now), "
        "('desktop:4242', :now - interval '1 hour', :now - interval '10 minutes')",
    )
    await store.close()

    reopened = await open_store(url)  # the start of another copy recovers
    try:
        assert await status_of(reopened, live) is MessageStatus.STREAMING
        assert await status_of(reopened, gone) is MessageStatus.INTERRUPTED
        assert await status_of(reopened, unknown) is MessageStatus.INTERRUPTED
    finally:
        await reopened.close()


async def test_a_running_client_marks_a_reply_interrupted_once_its_writer_goes_quiet(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database()
    store = await open_store(url, heartbeat=0.05)
    try:
        reply = await streaming_reply(store, "laptop:4242")
        await execute(
            store,
            "INSERT INTO clients (id, started_at, last_seen) VALUES "
            "('laptop:4242', :now - interval '1 hour', :now)",
        )
        beats = store.heartbeat.beats if store.heartbeat else 0

        async def beaten_twice() -> bool:
            return store.heartbeat is not None and store.heartbeat.beats >= beats + 2

        await until(beaten_twice)
        assert await status_of(store, reply) is MessageStatus.STREAMING
        # The laptop stops being seen (it crashed, or lost the network for good).
        await execute(
            store,
            "UPDATE clients SET last_seen = :now - interval '10 minutes' WHERE id = 'laptop:4242'",
        )

        async def interrupted() -> bool:
            return await status_of(store, reply) is MessageStatus.INTERRUPTED

        await until(interrupted)
    finally:
        await store.close()


# -- the server going away -------------------------------------------------------------------


@pytest.fixture
def own_server(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """A server of this test's own, to stop and start again (the shared one stays up)."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


async def test_a_server_that_goes_away_is_one_line_and_nothing_stored_is_lost(
    own_server: PostgresServer,
) -> None:
    url = own_server.create_database()
    store = await open_store(url)
    try:
        conversation = await store.repository.create_conversation(title="before the outage")
        await store.repository.add_message(conversation.id, role=Role.USER, content="kept")
        await store.change_token()
        own_server.pause()
        with pytest.raises(StoreError) as caught:
            await store.repository.create_conversation(title="during the outage")
        message = str(caught.value)
        assert "PostgreSQL server" in message or "connection" in message, message
        assert message.count("\n") == 0 and "Errno" not in message
        with pytest.raises(StoreError):
            await store.change_token()
        own_server.resume()
        # The pool and the listener connect again by themselves.
        await store.repository.create_conversation(title="after the outage")
        titles = [c.title for c in await store.repository.list_conversations()]
        assert sorted(titles) == ["after the outage", "before the outage"]
        messages = await store.repository.all_messages(conversation.id)
        assert [m.content for m in messages] == ["kept"]
        await store.change_token()
    finally:
        await store.close()
