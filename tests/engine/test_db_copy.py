"""``tui-chat db copy``: a whole history between SQLite files and a real PostgreSQL server,
through the real command line."""

from __future__ import annotations

import os
import pty
import re
import select as io_select
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select

from tests.engine.test_cli import ROOT, run
from tests.support.postgres import PASSWORD_USER, PostgresServer
from tui.domain import (
    ApiKind,
    ApiMode,
    Attachment,
    AttachmentKind,
    Citation,
    MessageStatus,
    ModelInfo,
    Role,
    ToolCallRecord,
    ToolStatus,
    Usage,
)
from tui.store.bulk import BulkWriter, PreparedConversation, PreparedMessage
from tui.store.convert import (
    ATTACHMENTS,
    CONVERSATIONS,
    MESSAGES,
    MODEL_USAGE,
    MODELS_CACHE,
    PROVIDER_FACTS,
)
from tui.store.db import Store, open_store

TABLES: tuple[Table, ...] = (
    CONVERSATIONS,
    MESSAGES,
    ATTACHMENTS,
    MODELS_CACHE,
    PROVIDER_FACTS,
    MODEL_USAGE,
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


async def opened(location: str | Path) -> Store:
    if isinstance(location, Path):
        return await open_store(path=location, recover=False)
    return await open_store(location, recover=False)


async def build_history(location: str | Path) -> dict[str, int]:
    """A history with branches, a non-newest active leaf, Responses chains, tool calls,
    citations, attachments, an archived and pinned thread, an empty one, and the caches."""
    store = await opened(location)
    repo = store.repository
    try:
        first = await repo.create_conversation(
            title="Trip planning zanzibar",
            provider="aimlapi",
            model="openai/gpt-5-2",
            api_mode=ApiMode.RESPONSES,
            system_prompt="Be brief.",
            params={"reasoning_effort": "high"},
        )
        question = await repo.add_message(
            first.id,
            role=Role.USER,
            content="Where should I go? quokkaword",
            attachments=[
                Attachment(AttachmentKind.IMAGE, "map.png", "image/png", data=PNG),
                Attachment(AttachmentKind.FILE, "notes.pdf", "application/pdf", url="https://x/n"),
            ],
        )
        answer = await repo.add_message(
            first.id,
            role=Role.ASSISTANT,
            parent_id=question.id,
            status=MessageStatus.STREAMING,
            provider="aimlapi",
            model="openai/gpt-5-2",
            api=ApiKind.RESPONSES,
        )
        await repo.append_text(answer.id, "Go to the coast.", "thinking about beaches")
        await repo.finish_message(
            answer.id,
            status=MessageStatus.COMPLETE,
            response_id="resp_first",
            usage=Usage(input_tokens=10, output_tokens=20, reasoning_tokens=5, cached_tokens=2),
            latency_ms=120,
            duration_ms=900,
            tool_calls=[
                ToolCallRecord(
                    call_id="call_1",
                    name="weather",
                    arguments='{"city": "Perth"}',
                    status=ToolStatus.DONE,
                    output="sunny",
                    duration_ms=30,
                )
            ],
            citations=[Citation(url="https://example.org/coast", title="Coast", start_index=0)],
        )
        follow = await repo.add_message(
            first.id, role=Role.USER, parent_id=answer.id, content="And in winter?"
        )
        reply = await repo.add_message(
            first.id,
            role=Role.ASSISTANT,
            parent_id=follow.id,
            status=MessageStatus.STREAMING,
            api=ApiKind.RESPONSES,
            previous_response_id="resp_first",
        )
        await repo.finish_message(
            reply.id, status=MessageStatus.FAILED, content="partial", error="server error 500"
        )
        regenerated = await repo.add_message(
            first.id,
            role=Role.ASSISTANT,
            parent_id=follow.id,
            status=MessageStatus.STREAMING,
            api=ApiKind.RESPONSES,
            previous_response_id="resp_first",
        )
        await repo.finish_message(
            regenerated.id,
            status=MessageStatus.COMPLETE,
            content="Winter is mild.",
            response_id="resp_second",
        )
        edited = await repo.add_message(
            first.id, role=Role.USER, parent_id=answer.id, content="What about spring?"
        )
        # The active leaf is an older branch, not the newest message.
        await repo.set_active_leaf(first.id, reply.id)

        second = await repo.create_conversation(title="Archived and pinned", model="m2")
        root = await repo.add_message(second.id, role=Role.USER, content="hello there")
        await repo.add_message(
            second.id, role=Role.ASSISTANT, parent_id=root.id, content="hi", api=ApiKind.CHAT
        )
        await repo.set_pinned(second.id, True)
        await repo.set_archived(second.id, True)
        await repo.create_conversation(title="Empty one")

        await repo.cache_models("aimlapi", [ModelInfo(id="openai/gpt-5-2", provider="aimlapi")])
        await repo.save_provider_facts("aimlapi", {"responses": True})
        await repo.note_model_used("aimlapi", "openai/gpt-5-2")
        return {"first": first.id, "leaf": reply.id, "edited": edited.id}
    finally:
        await store.close()


async def snapshot(location: str | Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every user-data table, as the store's column types read it."""
    store = await opened(location)
    try:
        async with store.sessions() as session:
            return {
                table.name: [
                    tuple(row)
                    for row in await session.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in TABLES
            }
    finally:
        await store.close()


async def search_titles(location: str | Path, query: str) -> list[str]:
    store = await opened(location)
    try:
        return [hit.conversation.title for hit in await store.repository.search(query)]
    finally:
        await store.close()


def one_line_error(result: Any) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tui-chat: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return str(lines[0])


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_history_goes_to_postgres_and_back_unchanged(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    source = tmp_path / "source.sqlite3"
    ids = await build_history(source)
    before = await snapshot(source)
    assert len(before["conversations"]) == 3 and len(before["messages"]) == 8
    server = postgres_server.create_database()

    out = run("db", "copy", "--to", server, TUI_CHAT_DB=str(source))
    assert out.returncode == 0, out.stderr
    assert "Copied 3 conversations and 8 messages (2 attachments)" in out.stderr
    assert out.stderr.strip().endswith(f"to {server}; counts match.")
    assert await snapshot(server) == before
    assert await snapshot(source) == before  # the source is only read

    back = tmp_path / "back.sqlite3"
    again = run("db", "copy", "--from", server, TUI_CHAT_DB=str(back))
    assert again.returncode == 0, again.stderr
    assert f"from {server} to {back}; counts match." in again.stderr
    assert await snapshot(back) == before

    for target in (server, back):
        assert await search_titles(target, "quokkaword") == ["Trip planning zanzibar"]
        assert await search_titles(target, "zanzibar") == ["Trip planning zanzibar"]
        assert await search_titles(target, "sunny") == ["Trip planning zanzibar"]  # tool text
        store = await opened(target)
        try:
            path = await store.repository.active_path(ids["first"])
            assert [m.id for m in path][-1] == ids["leaf"]
            assert path[-1].previous_response_id == "resp_first"
            assert path[1].response_id == "resp_first" and path[1].tool_calls[0].output == "sunny"
            assert path[1].citations[0].url == "https://example.org/coast"
            assert path[0].attachments[0].data == PNG
            siblings = await store.repository.siblings(ids["edited"])
            assert len(siblings) == 2
        finally:
            await store.close()


async def test_text_postgresql_cannot_hold_is_copied_as_the_app_draws_it(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    source = tmp_path / "source.sqlite3"
    store = await opened(source)
    try:
        conversation = await store.repository.create_conversation(title="nul \x00 title")
        await store.repository.add_message(
            conversation.id, role=Role.ASSISTANT, content="a \x00 b", model="m" * 400
        )
    finally:
        await store.close()
    server = postgres_server.create_database()
    out = run("db", "copy", "--to", server, TUI_CHAT_DB=str(source))
    assert out.returncode == 0, out.stderr
    copied = await opened(server)
    try:
        [message] = await copied.repository.all_messages(conversation.id)
        assert message.content == "a \u2400 b" and message.model == "m" * 400
        stored = await copied.repository.get_conversation(conversation.id)
        assert stored is not None and stored.title == "nul \u2400 title"
    finally:
        await copied.close()


async def test_the_current_history_can_be_a_database_url(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    server = postgres_server.create_database()
    await build_history(server)
    before = await snapshot(server)
    copy = tmp_path / "copy.sqlite3"
    out = run("db", "copy", "--to", f"sqlite+aiosqlite:///{copy}", TUI_CHAT_DATABASE_URL=server)
    assert out.returncode == 0, out.stderr
    assert await snapshot(copy) == before


async def test_new_rows_on_the_target_get_fresh_ids(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    source = tmp_path / "source.sqlite3"
    await build_history(source)
    store = await opened(source)
    try:
        live = await store.repository.create_conversation(title="still streaming")
        streaming = await store.repository.add_message(
            live.id, role=Role.ASSISTANT, content="half", status=MessageStatus.STREAMING
        )
    finally:
        await store.close()
    server = postgres_server.create_database()
    assert run("db", "copy", "--to", server, TUI_CHAT_DB=str(source)).returncode == 0

    target = await opened(server)
    try:
        # Nobody will finish the copied streaming row: it arrives interrupted, text kept.
        copied = await target.repository.get_message(streaming.id)
        assert copied is not None and copied.status is MessageStatus.INTERRUPTED
        assert copied.content == "half"
        fresh = await target.repository.create_conversation(title="after the copy")
        assert fresh.id == live.id + 1
        message = await target.repository.add_message(
            fresh.id,
            role=Role.USER,
            content="new",
            attachments=[Attachment(AttachmentKind.FILE, "a.txt", "text/plain", data=b"a")],
        )
        assert message.id == streaming.id + 1
        assert message.attachments[0].id == 3
    finally:
        await target.close()
    left = await opened(source)
    try:
        original = await left.repository.get_message(streaming.id)
        assert original is not None and original.status is MessageStatus.STREAMING
    finally:
        await left.close()


async def test_a_target_that_holds_a_history_is_refused(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    source = tmp_path / "source.sqlite3"
    await build_history(source)
    server = postgres_server.create_database()
    store = await opened(server)
    try:
        await store.repository.create_conversation(title="already here")
    finally:
        await store.close()
    before = await snapshot(server)

    line = one_line_error(run("db", "copy", "--to", server, TUI_CHAT_DB=str(source)))
    assert "already holds 1 conversation" in line and "Nothing was written" in line
    assert await snapshot(server) == before

    # The other way: the current file is not empty, so --from refuses to write into it.
    current = tmp_path / "current.sqlite3"
    await build_history(current)
    mine = await snapshot(current)
    line = one_line_error(run("db", "copy", "--from", str(source), TUI_CHAT_DB=str(current)))
    assert "already holds 3 conversations" in line
    assert await snapshot(current) == mine


async def test_a_failure_half_way_leaves_the_target_as_it_was(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    source = tmp_path / "source.sqlite3"
    await build_history(source)
    store = await opened(source)
    try:
        late = await store.repository.create_conversation(title="late")
        await store.repository.add_message(late.id, role=Role.ASSISTANT, content="poison")
    finally:
        await store.close()
    server = postgres_server.create_database()
    empty = await snapshot(server)  # the schema is built
    # The server refuses the last message, after the conversations and earlier messages went in.
    postgres_server.sql(
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.content = 'poison' THEN RAISE EXCEPTION 'scripted failure'; END IF; "
        "RETURN NEW; END $$; "
        "CREATE TRIGGER poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION poison()",
        database=server.rsplit("/", 1)[1],
    )

    line = one_line_error(run("db", "copy", "--to", server, TUI_CHAT_DB=str(source)))
    assert server.split("@")[-1] in line and "P0001" in line
    after = await snapshot(server)
    assert after == empty and after["conversations"] == []


async def test_bad_and_unreachable_urls_are_one_line_without_the_password(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    source = tmp_path / "source.sqlite3"
    await build_history(source)
    secret = "Sup3rSecretPw"
    cases = {
        f"postgresql+asyncpg://tui:{secret}@127.0.0.1:{closed_port()}/chat": "Cannot reach",
        f"mysql://tui:{secret}@127.0.0.1/chat": "neither",
        f"postgresql+psycopg2://tui:{secret}@127.0.0.1/chat": "asyncpg",
        postgres_server.url(
            postgres_server.create_database().rsplit("/", 1)[1],
            user=PASSWORD_USER,
            password=secret,
        ): "refused the login",
    }
    for url, words in cases.items():
        result = run("db", "copy", "--to", url, TUI_CHAT_DB=str(source))
        assert result.returncode in (1, 2), result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (url, result.stderr)
        assert secret not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr

    missing = run("db", "copy", "--from", str(tmp_path / "nothing.sqlite3"))
    assert "there is no history at" in one_line_error(missing)
    assert not (tmp_path / "nothing.sqlite3").exists()


async def test_the_direction_is_required_and_a_history_is_not_copied_onto_itself(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source.sqlite3"
    await build_history(source)
    itself = run("db", "copy", "--to", f"sqlite+aiosqlite:///{source}", TUI_CHAT_DB=str(source))
    assert itself.returncode == 2 and "both the source and the target" in itself.stderr
    neither = run("db", "copy")
    assert neither.returncode == 2 and "--to" in neither.stderr
    helped = run("db", "copy", "--help")
    assert helped.returncode == 0
    assert "--from" in helped.stdout and "empty" in helped.stdout


async def build_long_history(path: Path, conversations: int, per_conversation: int) -> None:
    """Many messages at once, through the import's bulk writer."""
    now = datetime.now(UTC)
    prepared = [
        PreparedConversation(
            title=f"long {n}",
            created_at=now,
            updated_at=now,
            messages=[
                PreparedMessage(
                    role=Role.USER if i % 2 == 0 else Role.ASSISTANT,
                    content=f"message {i} of thread {n}",
                    created_at=now,
                    parent=i - 1 if i else None,
                )
                for i in range(per_conversation)
            ],
            active_leaf=per_conversation - 1,
        )
        for n in range(conversations)
    ]
    store = await opened(path)
    try:
        async with BulkWriter(store.sessions) as writer:
            await writer.write(writer.rows(prepared))
    finally:
        await store.close()


def read_until(fd: int, wanted: re.Pattern[str], timeout: float = 60) -> str:
    """What the terminal ``fd`` shows until ``wanted`` appears in it (or EOF, or timeout)."""
    seen = ""
    deadline = time.monotonic() + timeout
    while not wanted.search(seen) and time.monotonic() < deadline:
        ready, _, _ = io_select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        seen += chunk.decode(errors="replace")
    return seen


async def test_progress_shows_on_a_terminal_and_ctrl_c_leaves_the_target_as_it_was(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    source = tmp_path / "long.sqlite3"
    await build_long_history(source, 20, 1_000)
    server = postgres_server.create_database()
    empty = await snapshot(server)
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "db", "copy", "--to", server],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            cwd=ROOT,
            env={**os.environ, "TUI_CHAT_DB": str(source)},
        )
        os.close(slave)
        slave = -1
        shown = read_until(master, re.compile(r"Copying… [1-9][\d,]* of 20,000 messages"))
        assert "of 20,000 messages" in shown, shown
        process.send_signal(signal.SIGINT)
        rest = read_until(master, re.compile(r"interrupted"))
        process.wait(timeout=60)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert process.returncode == 130, shown + rest
    assert "Traceback" not in rest and "Copied" not in rest
    assert await snapshot(server) == empty


def test_check_and_move_aside_say_a_server_history_is_not_a_file(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://me:hunter2-secret@db.example/chats"
    for action in (["check"], ["move-aside", "--yes"]):
        result = run("db", *action, TUI_CHAT_DATABASE_URL=url)
        assert result.returncode == 2, result.stderr
        line = result.stderr.strip()
        assert "on a database server (postgresql+asyncpg://me:***@db.example/chats)" in line
        assert "--db" in line and "hunter2" not in line and "\n" not in line
    # With --db the file is checked as before, whatever database_url says.
    file = tmp_path / "named.sqlite3"
    result = run("--db", str(file), "db", "check", TUI_CHAT_DATABASE_URL=url)
    assert result.returncode == 1 and f"there is no database at {file}" in result.stderr
