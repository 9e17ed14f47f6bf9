"""Bulk writes for imports: many prepared conversations in one transaction.

``bulk_insert`` takes conversations already converted and checked (``PreparedConversation``) and
writes them with Core ``executemany`` inserts inside one write transaction: either every one is
stored or none is. Ids are given explicitly (the write lock is held from the first statement, so
``max(id) + 1`` onwards is free). Foreign keys are checked at commit on SQLite, so a
conversation's ``active_leaf_id`` can be written with the row itself. The full-text triggers of the
schema index the rows as they go in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tui.domain import ApiMode, Attachment, MessageStatus, Role
from tui.store.convert import (
    ATTACHMENTS,
    CONVERSATIONS,
    MESSAGES,
    clean_params,
    clean_title,
    preview_of,
    redact,
)
from tui.store.migrate import WRITE_OPTION
from tui.store.sqlitefile import describe_db_error

BATCH = 2_000
"""Conversations per round of inserts (and per progress report)."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``: conversations written so far, out of how many."""


@dataclass(slots=True)
class PreparedMessage:
    """One message ready to store. ``parent`` is the index of its parent in the same list."""

    role: Role
    content: str
    created_at: datetime
    parent: int | None = None
    reasoning: str = ""
    status: MessageStatus = MessageStatus.COMPLETE
    provider: str | None = None
    model: str | None = None
    api: str | None = None
    response_id: str | None = None
    previous_response_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    latency_ms: int | None = None
    duration_ms: int | None = None
    error: str | None = None
    finished_at: datetime | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(slots=True)
class PreparedConversation:
    """A conversation ready to store; ``messages`` come parents first."""

    title: str
    created_at: datetime
    updated_at: datetime
    messages: list[PreparedMessage] = field(default_factory=list)
    active_leaf: int | None = None
    """Index into ``messages`` of the active leaf (None: no messages)."""
    provider: str | None = None
    model: str | None = None
    api_mode: ApiMode = ApiMode.AUTO
    system_prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    pinned: bool = False
    archived: bool = False


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What ``bulk_insert`` stored: the new conversation ids (in input order) and a count."""

    conversation_ids: list[int]
    messages: int


def check(conversation: PreparedConversation) -> None:
    """Raise ``ValueError`` if a prepared conversation cannot be stored as it is."""
    clean_title(conversation.title)
    clean_params(conversation.params)
    for index, message in enumerate(conversation.messages):
        if message.parent is not None and not 0 <= message.parent < index:
            raise ValueError(f"message {index} comes before its parent {message.parent}")
        if message.status is MessageStatus.STREAMING:
            raise ValueError(f"message {index} is still streaming")
    leaf = conversation.active_leaf
    if leaf is not None and not 0 <= leaf < len(conversation.messages):
        raise ValueError(f"the active leaf {leaf} is not one of the messages")


def _preview(conversation: PreparedConversation) -> str:
    """The newest non-empty text on the active path, as ``add_message`` would have left it."""
    index = conversation.active_leaf
    while index is not None:
        message = conversation.messages[index]
        if message.content.strip():
            return preview_of(message.content)
        index = message.parent
    return ""


async def bulk_insert(
    sessions: async_sessionmaker[AsyncSession],
    conversations: Sequence[PreparedConversation],
    *,
    progress: Progress | None = None,
    location: str = "the database",
) -> BulkResult:
    """Store every conversation of ``conversations`` in one transaction, or none of them."""
    for conversation in conversations:
        check(conversation)
    total = len(conversations)
    ids: list[int] = []
    message_total = 0
    try:
        async with sessions() as session:
            connection = await session.connection(execution_options={WRITE_OPTION: True})
            if connection.dialect.name == "sqlite":
                await session.execute(text("PRAGMA defer_foreign_keys = ON"))
            next_conversation = int(await session.scalar(select(func.max(CONVERSATIONS.c.id))) or 0)
            next_message = int(await session.scalar(select(func.max(MESSAGES.c.id))) or 0)
            next_conversation += 1
            next_message += 1
            if progress is not None:
                progress(0, total)
            for start in range(0, total, BATCH):
                conversation_rows: list[dict[str, Any]] = []
                message_rows: list[dict[str, Any]] = []
                attachment_rows: list[dict[str, Any]] = []
                for conversation in conversations[start : start + BATCH]:
                    cid = next_conversation
                    next_conversation += 1
                    base = next_message
                    next_message += len(conversation.messages)
                    leaf = conversation.active_leaf
                    conversation_rows.append(
                        {
                            "id": cid,
                            "title": clean_title(conversation.title),
                            "provider": conversation.provider,
                            "model": conversation.model,
                            "api_mode": ApiMode(conversation.api_mode).value,
                            "system_prompt": conversation.system_prompt,
                            "params": clean_params(conversation.params),
                            "active_leaf_id": base + leaf if leaf is not None else None,
                            "pinned": conversation.pinned,
                            "archived": conversation.archived,
                            "created_at": conversation.created_at,
                            "updated_at": conversation.updated_at,
                            "message_count": len(conversation.messages),
                            "preview": _preview(conversation),
                        }
                    )
                    for offset, m in enumerate(conversation.messages):
                        mid = base + offset
                        message_rows.append(
                            {
                                "id": mid,
                                "conversation_id": cid,
                                "parent_id": base + m.parent if m.parent is not None else None,
                                "role": m.role.value,
                                "content": m.content,
                                "reasoning": m.reasoning,
                                "status": m.status.value,
                                "writer": None,
                                "provider": m.provider,
                                "model": m.model,
                                "api": m.api,
                                "response_id": m.response_id,
                                "previous_response_id": m.previous_response_id,
                                "input_tokens": m.input_tokens,
                                "output_tokens": m.output_tokens,
                                "reasoning_tokens": m.reasoning_tokens,
                                "cached_tokens": m.cached_tokens,
                                "latency_ms": m.latency_ms,
                                "duration_ms": m.duration_ms,
                                "error": redact(m.error),
                                "created_at": m.created_at,
                                "finished_at": m.finished_at,
                            }
                        )
                        for attachment in m.attachments:
                            attachment_rows.append(
                                {
                                    "message_id": mid,
                                    "kind": attachment.kind.value,
                                    "name": attachment.name,
                                    "mime_type": attachment.mime_type,
                                    "size": len(attachment.data) if attachment.data else 0,
                                    "data": attachment.data,
                                    "url": attachment.url,
                                }
                            )
                    ids.append(cid)
                await session.execute(insert(CONVERSATIONS), conversation_rows)
                if message_rows:
                    await session.execute(insert(MESSAGES), message_rows)
                if attachment_rows:
                    await session.execute(insert(ATTACHMENTS), attachment_rows)
                message_total += len(message_rows)
                if progress is not None:
                    progress(len(ids), total)
            await session.commit()
    except DBAPIError as exc:
        raise describe_db_error(exc.orig, location) from None
    return BulkResult(ids, message_total)
