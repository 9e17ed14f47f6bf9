"""Conversations: create, read, list order and paging, update, pin, archive, delete."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import text

from tui.domain import ApiMode, Attachment, AttachmentKind, Role
from tui.store.db import Store
from tui.store.errors import NotFoundError
from tui.store.repository import ConversationRepository

from .conftest import everything_stored


async def test_create_and_get_round_trip(repo: ConversationRepository) -> None:
    created = await repo.create_conversation(
        title="  Trip\nplanning  ",
        provider="gmi",
        model="openai/gpt-5.2",
        api_mode=ApiMode.RESPONSES,
        system_prompt="Be brief.",
        params={"temperature": 0.2, "reasoning_effort": "low", "max_output_tokens": 800},
    )
    assert created.title == "Trip planning"
    assert created.created_at.tzinfo is UTC
    assert created.message_count == 0 and created.preview == ""

    loaded = await repo.get_conversation(created.id)
    assert loaded == created
    assert await repo.get_conversation(created.id + 1000) is None


async def test_defaults(repo: ConversationRepository) -> None:
    created = await repo.create_conversation()
    assert created.title == "New chat"
    assert created.api_mode is ApiMode.AUTO
    assert created.params == {}
    assert not created.pinned and not created.archived


async def test_bad_input_is_refused_with_a_clear_error(repo: ConversationRepository) -> None:
    with pytest.raises(ValueError, match="title cannot be empty"):
        await repo.create_conversation(title="   ")
    with pytest.raises(ValueError, match="JSON"):
        await repo.create_conversation(params={"when": object()})
    with pytest.raises(ValueError):
        await repo.create_conversation(api_mode="sometimes")  # type: ignore[arg-type]
    assert await repo.list_conversations() == []


async def test_params_never_hold_credentials(store: Store) -> None:
    repo = store.repository
    secret = "sk-abcdefghijklmnopqrstuvwxyz0123456789"
    with pytest.raises(ValueError) as caught:
        await repo.create_conversation(params={"api_key": secret})
    assert secret not in str(caught.value)
    conversation = await repo.create_conversation()
    with pytest.raises(ValueError):
        await repo.update_conversation(conversation.id, params={"Authorization": secret})
    assert secret not in await everything_stored(store)


async def _touch(repo: ConversationRepository, conversation_id: int, text: str = "hi") -> None:
    """Activity (a message) moves a conversation up the list."""
    await repo.add_message(conversation_id, role=Role.USER, content=text)


async def test_list_order_pinned_then_most_recent(repo: ConversationRepository) -> None:
    first = await repo.create_conversation(title="first")
    second = await repo.create_conversation(title="second")
    third = await repo.create_conversation(title="third")
    await _touch(repo, first.id)
    assert [c.title for c in await repo.list_conversations()] == ["first", "third", "second"]

    await repo.set_pinned(second.id, True)
    listed = await repo.list_conversations()
    assert [c.title for c in listed] == ["second", "first", "third"]
    assert listed[0].pinned

    await repo.set_pinned(second.id, False)
    assert [c.title for c in await repo.list_conversations()] == ["first", "third", "second"]
    assert third.id in {c.id for c in await repo.list_conversations()}


async def test_metadata_edits_do_not_reorder(repo: ConversationRepository) -> None:
    older = await repo.create_conversation(title="older")
    await repo.create_conversation(title="newer")
    await repo.rename_conversation(older.id, "renamed")
    await repo.update_conversation(older.id, model="m")
    assert [c.title for c in await repo.list_conversations()] == ["newer", "renamed"]


async def test_paging_is_stable_and_complete(repo: ConversationRepository) -> None:
    ids = [(await repo.create_conversation(title=f"c{i}")).id for i in range(23)]
    await repo.set_pinned(ids[5], True)
    pages = [await repo.list_conversations(limit=10, offset=offset) for offset in (0, 10, 20)]
    assert [len(page) for page in pages] == [10, 10, 3]
    seen = [c.id for page in pages for c in page]
    assert seen[0] == ids[5]
    assert sorted(seen) == sorted(ids)
    assert seen[1:] == sorted(set(ids) - {ids[5]}, reverse=True)
    assert await repo.list_conversations(limit=10, offset=30) == []
    with pytest.raises(ValueError):
        await repo.list_conversations(limit=-1)


async def test_archived_are_hidden_and_listed_apart(repo: ConversationRepository) -> None:
    kept = await repo.create_conversation(title="kept")
    shelved = await repo.create_conversation(title="shelved")
    await repo.set_archived(shelved.id, True)
    assert [c.id for c in await repo.list_conversations()] == [kept.id]
    archived = await repo.list_conversations(archived=True)
    assert [c.id for c in archived] == [shelved.id]
    assert archived[0].archived
    await repo.set_archived(shelved.id, False)
    assert {c.id for c in await repo.list_conversations()} == {kept.id, shelved.id}


async def test_latest_conversation(repo: ConversationRepository) -> None:
    assert await repo.latest_conversation() is None
    a = await repo.create_conversation(title="a")
    b = await repo.create_conversation(title="b")
    await repo.set_pinned(a.id, True)
    latest = await repo.latest_conversation()
    assert latest is not None and latest.id == b.id  # pinning is not activity
    await _touch(repo, a.id)
    latest = await repo.latest_conversation()
    assert latest is not None and latest.id == a.id
    await repo.set_archived(a.id, True)
    latest = await repo.latest_conversation()
    assert latest is not None and latest.id == b.id


async def test_update_changes_only_given_fields(repo: ConversationRepository) -> None:
    created = await repo.create_conversation(
        title="t", provider="openai", model="gpt-5.2", system_prompt="sys", params={"a": 1}
    )
    updated = await repo.update_conversation(created.id, model="gpt-5-mini", system_prompt=None)
    assert updated.model == "gpt-5-mini"
    assert updated.system_prompt is None
    assert updated.provider == "openai" and updated.title == "t" and updated.params == {"a": 1}
    again = await repo.update_conversation(
        created.id, api_mode=ApiMode.CHAT, params={"b": [1, 2]}, title="new"
    )
    assert (again.api_mode, again.params, again.title) == (ApiMode.CHAT, {"b": [1, 2]}, "new")
    assert await repo.get_conversation(created.id) == again
    assert await repo.update_conversation(created.id) == again


async def test_unknown_ids_raise_not_found(repo: ConversationRepository) -> None:
    for call in (
        repo.rename_conversation(99, "x"),
        repo.set_pinned(99, True),
        repo.set_archived(99, True),
        repo.delete_conversation(99),
        repo.update_conversation(99, title="x"),
        repo.update_conversation(99),
    ):
        with pytest.raises(NotFoundError, match="99"):
            await call


async def test_delete_cascades_to_messages_and_attachments(store: Store) -> None:
    repo = store.repository
    gone = await repo.create_conversation(title="gone")
    kept = await repo.create_conversation(title="kept")
    image = Attachment(AttachmentKind.IMAGE, "cat.png", "image/png", data=b"\x89PNG" * 10)
    root = await repo.add_message(gone.id, role=Role.USER, content="look", attachments=[image])
    reply = await repo.add_message(gone.id, role=Role.ASSISTANT, content="a cat", parent_id=root.id)
    other = await repo.add_message(kept.id, role=Role.USER, content="stay")

    await repo.delete_conversation(gone.id)

    assert await repo.get_conversation(gone.id) is None
    assert await repo.get_message(root.id) is None
    assert await repo.get_message(reply.id) is None
    assert await repo.get_message(other.id) is not None
    async with store.engine.connect() as connection:
        count = (await connection.execute(text("SELECT count(*) FROM attachments"))).scalar()
    assert count == 0


async def test_timestamps_are_aware_utc_and_move_forward(repo: ConversationRepository) -> None:
    created = await repo.create_conversation()
    await _touch(repo, created.id)
    loaded = await repo.get_conversation(created.id)
    assert loaded is not None
    assert loaded.updated_at.tzinfo is UTC
    assert timedelta(0) <= loaded.updated_at - loaded.created_at < timedelta(seconds=5)


async def test_unreadable_params_do_not_break_the_list(store: Store) -> None:
    conversation = await store.repository.create_conversation(params={"temperature": 1})
    # Hand-edited: text that is not JSON in an SQLite file; JSON that is not an object on
    # PostgreSQL, whose json column refuses anything else.
    unreadable = "'not json'" if store.engine.dialect.name == "sqlite" else "'[1, 2]'"
    async with store.engine.begin() as connection:
        await connection.execute(
            text(f"UPDATE conversations SET params = {unreadable} WHERE id = :id"),
            {"id": conversation.id},
        )
    listed = await store.repository.list_conversations()
    assert [(c.id, c.params) for c in listed] == [(conversation.id, {})]
    fixed = await store.repository.update_conversation(conversation.id, params={"a": 1})
    assert fixed.params == {"a": 1}
