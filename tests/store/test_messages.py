"""Messages: adding, streaming, finishing, attachments, Responses chains, recovery."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from sqlalchemy import event, text

from tui.domain import (
    ApiKind,
    Attachment,
    AttachmentKind,
    MessageStatus,
    Role,
    Usage,
)
from tui.store.convert import MESSAGE_COLUMNS, MESSAGES
from tui.store.db import Store
from tui.store.errors import NotFoundError, StoreError
from tui.store.repository import ConversationRepository
from tui.store.tree import writer_tag


async def test_add_message_updates_the_conversation_summary(
    repo: ConversationRepository,
) -> None:
    conversation = await repo.create_conversation()
    user = await repo.add_message(
        conversation.id, role=Role.USER, content="  How do I\n\nsort a list   in Python?  "
    )
    assert user.status is MessageStatus.COMPLETE and user.finished_at is not None
    after = await repo.get_conversation(conversation.id)
    assert after is not None
    assert after.active_leaf_id == user.id
    assert after.message_count == 1
    assert after.preview == "How do I sort a list in Python?"
    assert after.updated_at >= conversation.updated_at

    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, parent_id=user.id, status=MessageStatus.STREAMING
    )
    after = await repo.get_conversation(conversation.id)
    assert after is not None
    assert after.active_leaf_id == reply.id and after.message_count == 2
    assert after.preview == "How do I sort a list in Python?"  # an empty reply says nothing yet
    assert reply.finished_at is None


async def test_long_preview_is_cut(repo: ConversationRepository) -> None:
    conversation = await repo.create_conversation()
    await repo.add_message(conversation.id, role=Role.USER, content="word " * 200)
    after = await repo.get_conversation(conversation.id)
    assert after is not None
    assert len(after.preview) == 160 and after.preview.endswith("…")


async def test_add_message_without_making_it_active(repo: ConversationRepository) -> None:
    conversation = await repo.create_conversation()
    root = await repo.add_message(conversation.id, role=Role.USER, content="root")
    await repo.add_message(
        conversation.id, role=Role.ASSISTANT, content="aside", parent_id=root.id, make_active=False
    )
    after = await repo.get_conversation(conversation.id)
    assert after is not None
    assert after.active_leaf_id == root.id and after.preview == "root"
    assert after.message_count == 2


async def test_add_message_checks_its_parent(repo: ConversationRepository) -> None:
    one = await repo.create_conversation()
    two = await repo.create_conversation()
    elsewhere = await repo.add_message(two.id, role=Role.USER, content="x")
    with pytest.raises(ValueError, match="belongs to conversation"):
        await repo.add_message(one.id, role=Role.USER, content="y", parent_id=elsewhere.id)
    with pytest.raises(NotFoundError):
        await repo.add_message(one.id, role=Role.USER, content="y", parent_id=12345)
    with pytest.raises(NotFoundError):
        await repo.add_message(12345, role=Role.USER, content="y")
    assert await repo.all_messages(one.id) == []
    after = await repo.get_conversation(one.id)
    assert after is not None and after.message_count == 0


async def test_attachments_round_trip(repo: ConversationRepository) -> None:
    conversation = await repo.create_conversation()
    image = Attachment(AttachmentKind.IMAGE, "plot.png", "image/png", data=bytes(range(256)))
    link = Attachment(AttachmentKind.FILE, "paper.pdf", "application/pdf", url="https://x.test/p")
    added = await repo.add_message(
        conversation.id, role=Role.USER, content="see", attachments=[image, link]
    )
    assert [a.name for a in added.attachments] == ["plot.png", "paper.pdf"]
    assert added.attachments[0].size == 256
    loaded = await repo.get_message(added.id)
    assert loaded is not None
    assert loaded.attachments == added.attachments
    assert loaded.attachments[0].to_attachment() == image
    assert loaded.attachments[1].to_attachment() == link
    path = await repo.active_path(conversation.id)
    assert path[0].attachments == added.attachments

    with pytest.raises(ValueError, match="neither data nor a URL"):
        await repo.add_message(
            conversation.id,
            role=Role.USER,
            attachments=[Attachment(AttachmentKind.FILE, "empty", "text/plain")],
        )


async def test_streaming_append_and_finish(repo: ConversationRepository) -> None:
    conversation = await repo.create_conversation()
    user = await repo.add_message(conversation.id, role=Role.USER, content="Hi")
    reply = await repo.add_message(
        conversation.id,
        role=Role.ASSISTANT,
        parent_id=user.id,
        status=MessageStatus.STREAMING,
        provider="openai",
        model="gpt-5.2",
        api=ApiKind.RESPONSES,
        previous_response_id="resp_prev",
    )
    for piece in ("Hel", "lo", ", ", "wörld ", "日本"):
        await repo.append_text(reply.id, piece)
    await repo.append_text(reply.id, reasoning="thinking…")
    await repo.append_text(reply.id)  # nothing to add: no error, no change
    partial = await repo.get_message(reply.id)
    assert partial is not None
    assert partial.content == "Hello, wörld 日本"
    assert partial.reasoning == "thinking…"
    assert partial.status is MessageStatus.STREAMING

    finished = await repo.finish_message(
        reply.id,
        status=MessageStatus.COMPLETE,
        response_id="resp_new",
        model="gpt-5.2-2025",
        usage=Usage(input_tokens=10, output_tokens=20, reasoning_tokens=5, cached_tokens=2),
        latency_ms=120,
        duration_ms=900,
    )
    assert finished.content == "Hello, wörld 日本"
    assert finished.status is MessageStatus.COMPLETE
    assert finished.response_id == "resp_new" and finished.model == "gpt-5.2-2025"
    assert (finished.input_tokens, finished.output_tokens) == (10, 20)
    assert (finished.reasoning_tokens, finished.cached_tokens) == (5, 2)
    assert (finished.latency_ms, finished.duration_ms) == (120, 900)
    assert finished.provider == "openai" and finished.api is ApiKind.RESPONSES
    assert finished.previous_response_id == "resp_prev"
    assert finished.finished_at is not None and finished.finished_at >= finished.created_at
    assert await repo.get_message(reply.id) == finished
    after = await repo.get_conversation(conversation.id)
    assert after is not None and after.preview == "Hello, wörld 日本"


async def test_append_text_is_one_update_statement(store: Store) -> None:
    repo = store.repository
    conversation = await repo.create_conversation()
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING
    )
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    await repo.append_text(reply.id, "abc", "why")
    event.remove(store.engine.sync_engine, "before_cursor_execute", record)
    work = [s for s in statements if not s.startswith("BEGIN")]
    assert len(work) == 1
    assert work[0].startswith("UPDATE messages SET content=(messages.content || ")
    assert "SELECT" not in work[0]


async def test_finish_variants(repo: ConversationRepository) -> None:
    conversation = await repo.create_conversation()
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING
    )
    await repo.append_text(reply.id, "partial")
    key = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX"
    failed = await repo.finish_message(
        reply.id, status=MessageStatus.FAILED, error=f"401: Incorrect API key {key}"
    )
    assert failed.content == "partial" and failed.status is MessageStatus.FAILED
    assert failed.error is not None and key not in failed.error and "401" in failed.error

    replaced = await repo.finish_message(
        reply.id, status=MessageStatus.INCOMPLETE, content="final text", reasoning="r"
    )
    assert (replaced.content, replaced.reasoning) == ("final text", "r")

    with pytest.raises(ValueError, match="final status"):
        await repo.finish_message(reply.id, status=MessageStatus.STREAMING)
    with pytest.raises(NotFoundError):
        await repo.finish_message(9999, status=MessageStatus.COMPLETE)
    with pytest.raises(NotFoundError):
        await repo.append_text(9999, "x")
    assert await repo.get_message(9999) is None


async def test_finishing_a_side_branch_keeps_the_preview(repo: ConversationRepository) -> None:
    conversation = await repo.create_conversation()
    root = await repo.add_message(conversation.id, role=Role.USER, content="question")
    side = await repo.add_message(
        conversation.id,
        role=Role.ASSISTANT,
        parent_id=root.id,
        status=MessageStatus.STREAMING,
        make_active=False,
    )
    await repo.finish_message(side.id, status=MessageStatus.COMPLETE, content="side answer")
    after = await repo.get_conversation(conversation.id)
    assert after is not None and after.preview == "question"


async def test_find_by_response_id(repo: ConversationRepository) -> None:
    conversation = await repo.create_conversation()
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING
    )
    await repo.finish_message(reply.id, status=MessageStatus.COMPLETE, response_id="resp_abc")
    found = await repo.find_by_response_id("resp_abc")
    assert found is not None and found.id == reply.id
    assert await repo.find_by_response_id("resp_missing") is None


async def test_mark_interrupted_recovers_dead_writers_only(store: Store) -> None:
    repo = store.repository
    conversation = await repo.create_conversation()
    mine = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING
    )
    await repo.append_text(mine.id, "still going")
    orphan = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING
    )
    await repo.append_text(orphan.id, "half an answer")
    # Tag the row as streamed by a process that has ended, as after a crash.
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = writer_tag().rpartition(":")[0]
    async with store.engine.begin() as connection:
        await connection.execute(
            text("UPDATE messages SET writer = :writer WHERE id = :id"),
            {"writer": f"{host}:{int(ended.stdout)}", "id": orphan.id},
        )

    assert await repo.mark_interrupted() == 1
    recovered = await repo.get_message(orphan.id)
    assert recovered is not None
    assert recovered.status is MessageStatus.INTERRUPTED
    assert recovered.content == "half an answer" and recovered.finished_at is not None
    live = await repo.get_message(mine.id)
    assert live is not None and live.status is MessageStatus.STREAMING

    assert await repo.mark_interrupted(all_writers=True) == 1
    forced = await repo.get_message(mine.id)
    assert forced is not None and forced.status is MessageStatus.INTERRUPTED
    assert await repo.mark_interrupted() == 0


def test_row_conversion_matches_the_table() -> None:
    assert tuple(column.name for column in MESSAGES.c) == MESSAGE_COLUMNS


async def test_concurrent_writes_from_one_process(repo: ConversationRepository) -> None:
    conversation = await repo.create_conversation()
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING
    )

    async def stream() -> None:
        for number in range(40):
            await repo.append_text(reply.id, f"{number},")

    async def write(number: int) -> None:
        await repo.add_message(
            conversation.id, role=Role.USER, content=f"side {number}", make_active=False
        )

    await asyncio.gather(stream(), *(write(number) for number in range(30)))
    streamed = await repo.get_message(reply.id)
    assert streamed is not None
    assert streamed.content == "".join(f"{number}," for number in range(40))
    after = await repo.get_conversation(conversation.id)
    assert after is not None and after.message_count == 31


async def test_values_this_version_does_not_know(store: Store) -> None:
    repo = store.repository
    conversation = await repo.create_conversation()
    message = await repo.add_message(conversation.id, role=Role.USER, content="x")
    async with store.engine.begin() as connection:
        await connection.execute(
            text("UPDATE messages SET status = 'paused', api = 'grpc' WHERE id = :id"),
            {"id": message.id},
        )
        await connection.execute(text("UPDATE conversations SET api_mode = 'telepathy'"))
    loaded = await repo.get_message(message.id)
    assert loaded is not None
    assert loaded.status is MessageStatus.INTERRUPTED and loaded.api is None
    listed = await repo.list_conversations()
    assert listed[0].api_mode.value == "auto"
    async with store.engine.begin() as connection:
        await connection.execute(text("UPDATE messages SET role = 'robot'"))
    with pytest.raises(StoreError, match="unknown role 'robot'"):
        await repo.active_path(conversation.id)


async def test_text_either_engine_might_refuse_is_stored(store: Store) -> None:
    """A NUL character (PostgreSQL's text cannot hold one: stored as ␀, drawn so anyway) and
    names and ids longer than the schema's column sizes (from a custom server) are kept."""
    repo = store.repository
    long_id = "resp_" + "x" * 995
    long_model = "org/" + "m" * 496
    conversation = await repo.create_conversation(title="a \x00 title", model=long_model)
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING, model=long_model
    )
    await repo.append_text(reply.id, "half \x00 a", reasoning="why \x00")
    await repo.finish_message(
        reply.id, status=MessageStatus.COMPLETE, content="done \x00 now", response_id=long_id
    )
    nul = "\x00" if store.path is not None else "\u2400"
    message = await repo.get_message(reply.id)
    assert message is not None
    assert message.content == f"done {nul} now" and message.reasoning == f"why {nul}"
    assert message.response_id == long_id and message.model == long_model
    stored = await repo.get_conversation(conversation.id)
    assert stored is not None and stored.title == f"a {nul} title"
    assert [hit.message_id for hit in await repo.search("done now")] == [reply.id]
