"""The message tree: branches from edits and regenerations, switching, the active path."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from tui.domain import Message, MessageStatus, Role
from tui.store.db import Store
from tui.store.errors import NotFoundError
from tui.store.repository import ConversationRepository


def ids(messages: list[Message]) -> list[int]:
    return [message.id for message in messages]


async def build_tree(repo: ConversationRepository) -> tuple[int, dict[str, Message]]:
    """q1 -> a1 -> q2 -> a2, then a regenerated a1' (with its own q2' -> a2'), then an edit q1'.

    Returns the conversation id and the messages by name; the edit q1' is the active leaf.
    """
    conversation = await repo.create_conversation()
    cid = conversation.id
    m: dict[str, Message] = {}
    m["q1"] = await repo.add_message(cid, role=Role.USER, content="first question")
    m["a1"] = await repo.add_message(
        cid, role=Role.ASSISTANT, content="first answer", parent_id=m["q1"].id
    )
    m["q2"] = await repo.add_message(cid, role=Role.USER, content="follow up", parent_id=m["a1"].id)
    m["a2"] = await repo.add_message(
        cid, role=Role.ASSISTANT, content="second answer", parent_id=m["q2"].id
    )
    m["a1b"] = await repo.add_message(
        cid, role=Role.ASSISTANT, content="regenerated answer", parent_id=m["q1"].id
    )
    m["q2b"] = await repo.add_message(
        cid, role=Role.USER, content="other follow up", parent_id=m["a1b"].id
    )
    m["a2b"] = await repo.add_message(
        cid, role=Role.ASSISTANT, content="other second answer", parent_id=m["q2b"].id
    )
    m["q1b"] = await repo.add_message(cid, role=Role.USER, content="edited first question")
    return cid, m


async def test_active_path_follows_the_active_leaf(repo: ConversationRepository) -> None:
    cid, m = await build_tree(repo)
    assert ids(await repo.active_path(cid)) == [m["q1b"].id]
    await repo.set_active_leaf(cid, m["a2"].id)
    path = await repo.active_path(cid)
    assert ids(path) == [m["q1"].id, m["a1"].id, m["q2"].id, m["a2"].id]
    assert [p.content for p in path][-1] == "second answer"
    explicit = await repo.active_path(cid, leaf_id=m["a2b"].id)
    assert ids(explicit) == [m["q1"].id, m["a1b"].id, m["q2b"].id, m["a2b"].id]
    assert ids(await repo.active_path(cid, leaf_id=m["q2"].id)) == [
        m["q1"].id,
        m["a1"].id,
        m["q2"].id,
    ]


async def test_the_end_of_a_long_path_and_paging_up(repo: ConversationRepository) -> None:
    conversation = await repo.create_conversation()
    parent = None
    for turn in range(25):
        role = Role.USER if turn % 2 == 0 else Role.ASSISTANT
        message = await repo.add_message(
            conversation.id, role=role, content=f"turn {turn}", parent_id=parent
        )
        parent = message.id
    tail = await repo.active_path(conversation.id, last=10)
    assert [m.content for m in tail] == [f"turn {turn}" for turn in range(15, 25)]
    earlier = await repo.active_path(conversation.id, tail[0].parent_id, last=10)
    assert [m.content for m in earlier] == [f"turn {turn}" for turn in range(5, 15)]
    first = await repo.active_path(conversation.id, earlier[0].parent_id, last=10)
    assert [m.content for m in first] == [f"turn {turn}" for turn in range(5)]
    assert first[0].parent_id is None
    assert len(await repo.active_path(conversation.id, last=1)) == 1
    with pytest.raises(ValueError):
        await repo.active_path(conversation.id, last=0)


async def test_active_path_of_an_empty_or_unknown_conversation(
    repo: ConversationRepository,
) -> None:
    empty = await repo.create_conversation()
    assert await repo.active_path(empty.id) == []
    with pytest.raises(NotFoundError):
        await repo.active_path(empty.id + 100)
    cid, m = await build_tree(repo)
    with pytest.raises(ValueError, match="belongs to conversation"):
        await repo.active_path(empty.id, leaf_id=m["a2"].id)
    with pytest.raises(NotFoundError):
        await repo.active_path(cid, leaf_id=987654)


async def test_siblings_and_children(repo: ConversationRepository) -> None:
    cid, m = await build_tree(repo)
    assert ids(await repo.siblings(m["a1"].id)) == [m["a1"].id, m["a1b"].id]
    assert ids(await repo.siblings(m["a1b"].id)) == [m["a1"].id, m["a1b"].id]
    assert ids(await repo.siblings(m["q1"].id)) == [m["q1"].id, m["q1b"].id]  # the roots
    assert ids(await repo.siblings(m["a2"].id)) == [m["a2"].id]
    assert ids(await repo.children(None, cid)) == [m["q1"].id, m["q1b"].id]
    assert ids(await repo.children(m["q1"].id, cid)) == [m["a1"].id, m["a1b"].id]
    assert await repo.children(m["a2"].id, cid) == []
    other = await repo.create_conversation()
    await repo.add_message(other.id, role=Role.USER, content="unrelated root")
    assert ids(await repo.children(None, cid)) == [m["q1"].id, m["q1b"].id]
    with pytest.raises(NotFoundError):
        await repo.siblings(424242)


async def test_switch_to_branch_follows_the_newest_replies(repo: ConversationRepository) -> None:
    cid, m = await build_tree(repo)
    path = await repo.switch_to_branch(m["a1"].id)
    assert ids(path) == [m["q1"].id, m["a1"].id, m["q2"].id, m["a2"].id]
    conversation = await repo.get_conversation(cid)
    assert conversation is not None and conversation.active_leaf_id == m["a2"].id

    # From the root: the newest reply to q1 is the regenerated answer.
    path = await repo.switch_to_branch(m["q1"].id)
    assert ids(path) == [m["q1"].id, m["a1b"].id, m["q2b"].id, m["a2b"].id]
    assert ids(await repo.active_path(cid)) == ids(path)

    # A new reply under q2 becomes the newest descendant there.
    a2c = await repo.add_message(
        cid, role=Role.ASSISTANT, content="third try", parent_id=m["q2"].id, make_active=False
    )
    assert ids(await repo.switch_to_branch(m["a1"].id))[-1] == a2c.id
    assert ids(await repo.switch_to_branch(m["q1b"].id)) == [m["q1b"].id]
    with pytest.raises(NotFoundError):
        await repo.switch_to_branch(31337)


async def test_set_active_leaf_checks_ownership(repo: ConversationRepository) -> None:
    cid, m = await build_tree(repo)
    other = await repo.create_conversation()
    with pytest.raises(ValueError, match="belongs to conversation"):
        await repo.set_active_leaf(other.id, m["a2"].id)
    with pytest.raises(NotFoundError):
        await repo.set_active_leaf(cid, 5555)
    conversation = await repo.get_conversation(cid)
    assert conversation is not None and conversation.active_leaf_id == m["q1b"].id


async def test_all_messages_is_the_whole_tree_in_creation_order(
    repo: ConversationRepository,
) -> None:
    cid, m = await build_tree(repo)
    everything = await repo.all_messages(cid)
    assert ids(everything) == sorted(message.id for message in m.values())
    assert {message.parent_id for message in everything} >= {None, m["q1"].id}
    conversation = await repo.get_conversation(cid)
    assert conversation is not None and conversation.message_count == len(m)


async def test_active_path_is_two_queries_whatever_its_length(store: Store) -> None:
    repo = store.repository
    conversation = await repo.create_conversation()
    parent = None
    for turn in range(60):
        role = Role.USER if turn % 2 == 0 else Role.ASSISTANT
        message = await repo.add_message(
            conversation.id, role=role, content=f"turn {turn}", parent_id=parent
        )
        parent = message.id
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    path = await repo.active_path(conversation.id)
    event.remove(store.engine.sync_engine, "before_cursor_execute", record)
    assert [p.content for p in path] == [f"turn {turn}" for turn in range(60)]
    queries = [s for s in statements if not s.startswith("BEGIN")]
    assert len(queries) == 2  # the walk, then the attachments of the messages it found
    assert queries[0].lstrip().startswith("WITH RECURSIVE")
    assert "FROM attachments" in queries[1]


async def test_deleting_a_branch_message_is_cascaded_through_the_tree(store: Store) -> None:
    repo = store.repository
    cid, m = await build_tree(repo)
    await repo.set_active_leaf(cid, m["a2"].id)
    async with store.engine.begin() as connection:
        await connection.execute(text("DELETE FROM messages WHERE id = :id"), {"id": m["a1"].id})
    assert await repo.get_message(m["a2"].id) is None
    conversation = await repo.get_conversation(cid)
    assert conversation is not None and conversation.active_leaf_id is None
    assert ids(await repo.all_messages(cid)) == sorted(
        m[name].id for name in ("q1", "a1b", "q2b", "a2b", "q1b")
    )


async def test_interrupted_and_streaming_rows_show_in_the_path(
    repo: ConversationRepository,
) -> None:
    conversation = await repo.create_conversation()
    root = await repo.add_message(conversation.id, role=Role.USER, content="q")
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, parent_id=root.id, status=MessageStatus.STREAMING
    )
    await repo.append_text(reply.id, "so far")
    path = await repo.active_path(conversation.id)
    assert [(p.content, p.status) for p in path] == [
        ("q", MessageStatus.COMPLETE),
        ("so far", MessageStatus.STREAMING),
    ]
