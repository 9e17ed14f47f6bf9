"""Message trees: adding, streaming into, finishing and walking messages."""

from __future__ import annotations

import socket
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, false, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tui.domain import (
    ApiKind,
    Attachment,
    AttachmentKind,
    Citation,
    Message,
    MessageStatus,
    Role,
    StoredAttachment,
    ToolCallRecord,
    Usage,
)
from tui.store.clients import seen_recently
from tui.store.convert import (
    ATTACHMENTS,
    CONVERSATIONS,
    MESSAGES,
    attachment_from_row,
    citations_to_json,
    message_from_row,
    now_utc,
    preview_of,
    redact,
    tool_calls_to_json,
    tool_text,
)
from tui.store.tree import newest_descendant, orphaned, path_to_root, writer_tag
from tui.store.txn import RepositoryBase

ID_BATCH = 5_000
"""Ids per attachment query (SQLite allows 32,766 parameters per statement)."""

C = CONVERSATIONS.c
M = MESSAGES.c
A = ATTACHMENTS.c


def _attachment_values(attachment: Attachment) -> dict[str, Any]:
    if attachment.data is None and not attachment.url:
        raise ValueError(f"attachment {attachment.name!r} has neither data nor a URL")
    return {
        "kind": AttachmentKind(attachment.kind).value,
        "name": attachment.name,
        "mime_type": attachment.mime_type,
        "size": len(attachment.data) if attachment.data is not None else 0,
        "data": attachment.data,
        "url": attachment.url,
    }


def tool_values(records: Sequence[ToolCallRecord]) -> dict[str, Any]:
    return {"tool_calls": tool_calls_to_json(records), "tool_text": tool_text(records)}


def _summary_bump(now: datetime, content: str, *, make_active: bool) -> dict[str, Any]:
    """What a new message changes in its conversation's row: the activity time and the
    message count; and the preview, when the message is shown and has text."""
    bump: dict[str, Any] = {"updated_at": now, "message_count": C.message_count + 1}
    if make_active and content.strip():
        bump["preview"] = preview_of(content)
    return bump


@dataclass(frozen=True, slots=True)
class _NewMessage:
    """A message checked and stamped but not stored yet: the row to insert, and the
    ``Message`` it becomes once the database has given it an id."""

    conversation_id: int
    parent_id: int | None
    role: Role
    content: str
    status: MessageStatus
    provider: str | None
    model: str | None
    api: ApiKind | None
    previous_response_id: str | None
    created_at: datetime

    @property
    def finished_at(self) -> datetime | None:
        """A streaming message is not finished yet; any other is finished as it is stored."""
        return None if self.status is MessageStatus.STREAMING else self.created_at

    def row(self) -> dict[str, Any]:
        """The ``messages`` row; a streaming one is tagged with the process writing into it."""
        return {
            "conversation_id": self.conversation_id,
            "parent_id": self.parent_id,
            "role": self.role.value,
            "content": self.content,
            "reasoning": "",
            "status": self.status.value,
            "writer": writer_tag() if self.status is MessageStatus.STREAMING else None,
            "provider": self.provider,
            "model": self.model,
            "api": self.api.value if self.api is not None else None,
            "previous_response_id": self.previous_response_id,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
        }

    def stored(self, message_id: int, attachments: Sequence[StoredAttachment]) -> Message:
        """The message as ``add_message`` returns it, without reading the row back."""
        return Message(
            id=message_id,
            conversation_id=self.conversation_id,
            parent_id=self.parent_id,
            role=self.role,
            content=self.content,
            status=self.status,
            created_at=self.created_at,
            provider=self.provider,
            model=self.model,
            api=self.api,
            previous_response_id=self.previous_response_id,
            finished_at=self.finished_at,
            attachments=tuple(attachments),
        )


class MessageOps(RepositoryBase):
    """The message half of ``ConversationRepository``."""

    async def add_message(
        self,
        conversation_id: int,
        *,
        role: Role,
        content: str = "",
        parent_id: int | None = None,
        status: MessageStatus = MessageStatus.COMPLETE,
        provider: str | None = None,
        model: str | None = None,
        api: ApiKind | None = None,
        previous_response_id: str | None = None,
        attachments: Sequence[Attachment] = (),
        make_active: bool = True,
    ) -> Message:
        """Store a message under ``parent_id`` (None: a root).

        With ``make_active`` it becomes the conversation's active leaf. The conversation's
        activity time, message count and (for non-empty text) preview are updated.
        """
        role = Role(role)
        status = MessageStatus(status)
        api = ApiKind(api) if api is not None else None
        files = [_attachment_values(attachment) for attachment in attachments]
        new = _NewMessage(
            conversation_id=conversation_id,
            parent_id=parent_id,
            role=role,
            content=content,
            status=status,
            provider=provider,
            model=model,
            api=api,
            previous_response_id=previous_response_id,
            created_at=now_utc(),
        )
        row = new.row()
        bump = _summary_bump(new.created_at, content, make_active=make_active)
        async with self._write() as session:
            if parent_id is not None:
                await self._check_owner(session, conversation_id, parent_id)
            await self._bump_conversation(session, conversation_id, bump)
            message_id = await self._insert_message(session, row)
            if make_active:
                await self._point_active_leaf(session, conversation_id, message_id)
            stored = await self._insert_attachments(session, message_id, files)
        return new.stored(message_id, stored)

    async def append_text(self, message_id: int, text: str = "", reasoning: str = "") -> None:
        """Append streamed text to a message in one statement (the database concatenates)."""
        values: dict[str, Any] = {}
        if text:
            values["content"] = M.content.concat(text)
        if reasoning:
            values["reasoning"] = M.reasoning.concat(reasoning)
        if not values:
            return
        async with self._write() as session:
            result = await session.execute(
                update(MESSAGES).where(M.id == message_id).values(values)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise self._missing("Message", message_id)

    async def save_tool_calls(self, message_id: int, records: Sequence[ToolCallRecord]) -> None:
        """Store a streaming reply's tool calls as they stand (a crash keeps what ran)."""
        async with self._write() as session:
            result = await session.execute(
                update(MESSAGES).where(M.id == message_id).values(tool_values(records))
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise self._missing("Message", message_id)

    async def finish_message(
        self,
        message_id: int,
        *,
        status: MessageStatus,
        content: str | None = None,
        reasoning: str | None = None,
        response_id: str | None = None,
        model: str | None = None,
        usage: Usage | None = None,
        latency_ms: int | None = None,
        duration_ms: int | None = None,
        error: str | None = None,
        tool_calls: Sequence[ToolCallRecord] | None = None,
        citations: Sequence[Citation] | None = None,
    ) -> Message:
        """Record how a message ended; ``None`` arguments leave the stored value as it is."""
        status = MessageStatus(status)
        if status is MessageStatus.STREAMING:
            raise ValueError("finish_message needs a final status, not 'streaming'")
        now = now_utc()
        values: dict[str, Any] = {"status": status.value, "finished_at": now, "writer": None}
        optional = {
            "content": content,
            "reasoning": reasoning,
            "response_id": response_id,
            "model": model,
            "latency_ms": latency_ms,
            "duration_ms": duration_ms,
            "error": redact(error),
        }
        values.update({key: value for key, value in optional.items() if value is not None})
        if tool_calls is not None:
            values.update(tool_values(tool_calls))
        if citations is not None:
            values["citations"] = citations_to_json(citations)
        if usage is not None:
            values.update(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                cached_tokens=usage.cached_tokens,
            )
        async with self._write() as session:
            row = (
                await session.execute(
                    update(MESSAGES).where(M.id == message_id).values(values).returning(*MESSAGES.c)
                )
            ).first()
            if row is None:
                raise self._missing("Message", message_id)
            preview = preview_of(row.content)
            summary: dict[str, Any] = {"updated_at": now}
            if preview:
                # Only the shown branch's tip speaks for the conversation in the list.
                summary["preview"] = case(
                    (C.active_leaf_id == message_id, preview), else_=C.preview
                )
            await session.execute(
                update(CONVERSATIONS).where(C.id == row.conversation_id).values(summary)
            )
            attachments = await self._attachments(session, [message_id])
        return message_from_row(row, attachments.get(message_id, ()))

    async def get_message(self, message_id: int) -> Message | None:
        """One message with its attachments, or None."""
        async with self._read() as session:
            found = await self._messages(session, select(MESSAGES).where(M.id == message_id))
        return found[0] if found else None

    async def active_path(
        self, conversation_id: int, leaf_id: int | None = None, *, last: int | None = None
    ) -> list[Message]:
        """Messages from the root down to ``leaf_id`` (default: the active leaf), in order.

        With ``last``, only the final ``last`` messages of that path: a long thread can show its
        end first and load earlier turns as they scroll in (pass the first message's
        ``parent_id`` as the next ``leaf_id``).
        """
        if last is not None and last < 1:
            raise ValueError("last must be at least 1")
        async with self._read() as session:
            path = await self._path(session, conversation_id, leaf_id, last)
            if not path:
                await self._check_path_target(session, conversation_id, leaf_id)
        return path

    async def children(self, message_id: int | None, conversation_id: int) -> list[Message]:
        """Direct replies to a message (None: the roots), oldest first."""
        async with self._read() as session:
            return await self._children(session, message_id, conversation_id)

    async def siblings(self, message_id: int) -> list[Message]:
        """The message and its alternatives (same parent, same conversation), oldest first."""
        async with self._read() as session:
            row = (
                await session.execute(
                    select(M.conversation_id, M.parent_id).where(M.id == message_id)
                )
            ).first()
            if row is None:
                raise self._missing("Message", message_id)
            return await self._children(session, row.parent_id, row.conversation_id)

    async def sibling_positions(
        self, conversation_id: int, path: Sequence[Message]
    ) -> dict[int, tuple[int, int]]:
        """For each message of ``path``: its 1-based place among its siblings, and their count.

        One query for the whole path, so a long thread's branch markers cost no more than a
        short one's.
        """
        if not path:
            return {}
        parents = {message.parent_id for message in path} - {None}
        under: ColumnElement[bool] = M.parent_id.in_(parents) if parents else M.id.is_(None)
        if None in {message.parent_id for message in path}:
            under = or_(under, M.parent_id.is_(None))
        query = (
            select(M.id, M.parent_id)
            .where((M.conversation_id == conversation_id) & under)
            .order_by(M.id)
        )
        groups: dict[int | None, list[int]] = defaultdict(list)
        async with self._read() as session:
            for row in await session.execute(query):
                groups[row.parent_id].append(row.id)
        positions: dict[int, tuple[int, int]] = {}
        for message in path:
            group = groups.get(message.parent_id, [message.id])
            place = group.index(message.id) + 1 if message.id in group else 1
            positions[message.id] = (place, max(len(group), 1))
        return positions

    async def set_active_leaf(self, conversation_id: int, message_id: int) -> None:
        """Show (and send) the branch ending at ``message_id``."""
        async with self._write() as session:
            await self._check_owner(session, conversation_id, message_id)
            await session.execute(
                update(CONVERSATIONS)
                .where(C.id == conversation_id)
                .values(active_leaf_id=message_id)
            )

    async def switch_to_branch(self, message_id: int) -> list[Message]:
        """Make the branch through ``message_id`` active, following its newest replies down.

        Returns the new active path.
        """
        async with self._write() as session:
            conversation_id = await session.scalar(
                select(M.conversation_id).where(M.id == message_id)
            )
            if conversation_id is None:
                raise self._missing("Message", message_id)
            leaf = await session.scalar(newest_descendant(message_id))
            await session.execute(
                update(CONVERSATIONS).where(C.id == conversation_id).values(active_leaf_id=leaf)
            )
            return await self._path(session, conversation_id, leaf)

    async def find_by_response_id(self, response_id: str) -> Message | None:
        """The (newest) message a provider response id was stored on."""
        query = select(MESSAGES).where(M.response_id == response_id).order_by(M.id.desc()).limit(1)
        async with self._read() as session:
            rows = (await session.execute(query)).all()
            if not rows:
                return None
            attachments = await self._attachments(session, [rows[0].id])
        return message_from_row(rows[0], attachments.get(rows[0].id, ()))

    async def all_messages(self, conversation_id: int) -> list[Message]:
        """Every message of a conversation, all branches, in creation order (for export)."""
        where = M.conversation_id == conversation_id
        async with self._read() as session:
            return await self._messages(
                session, select(MESSAGES).where(where).order_by(M.id), select(M.id).where(where)
            )

    async def mark_interrupted(self, *, all_writers: bool = False) -> int:
        """Mark messages left ``streaming`` by a crashed run as ``interrupted``; text is kept.

        Rows another live copy of the app is still streaming into are left alone: on this
        machine one whose process runs; on a shared server also one on another machine that
        was seen lately (``tui.store.clients``). Unless ``all_writers`` (a reused process id
        keeps a row ``streaming`` until a later start). Returns how many rows were marked.
        """
        streaming = M.status == MessageStatus.STREAMING.value
        async with self._read() as session:
            if session.get_bind().dialect.name == "postgresql":
                seen = M.writer.in_(seen_recently())
                query = select(M.id, M.writer, seen.label("seen")).where(streaming)
            else:  # one machine's file: a writer elsewhere cannot be asked
                query = select(M.id, M.writer, false().label("seen")).where(streaming)
            rows = (await session.execute(query)).all()
        host = socket.gethostname()
        stale = [
            row.id
            for row in rows
            if all_writers or orphaned(row.writer, host, seen_elsewhere=bool(row.seen))
        ]
        if not stale:
            return 0
        async with self._write() as session:
            result = await session.execute(
                update(MESSAGES)
                .where(M.id.in_(stale), streaming)
                .values(status=MessageStatus.INTERRUPTED.value, finished_at=now_utc(), writer=None)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    # -- internals -----------------------------------------------------------------------------

    async def _messages(
        self,
        session: AsyncSession,
        rows_query: Select[Any],
        ids: Select[Any] | None = None,
    ) -> list[Message]:
        """Messages from ``rows_query`` (all columns, table order) with their attachments.

        ``ids`` selects the same message ids, for the attachment query; without it the ids
        read are passed as a list.
        """
        rows = (await session.execute(rows_query)).all()
        if not rows:
            return []
        attachments = await self._attachments(
            session, ids if ids is not None else [row[0] for row in rows]
        )
        return [message_from_row(row, attachments.get(row[0], ())) for row in rows]

    async def _attachments(
        self, session: AsyncSession, ids: Select[Any] | Sequence[int]
    ) -> dict[int, list[StoredAttachment]]:
        found: dict[int, list[StoredAttachment]] = defaultdict(list)
        if isinstance(ids, Select):
            batches: list[Select[Any] | Sequence[int]] = [ids]
        else:  # bounded lists of parameters, whatever the length of the thread
            batches = [ids[start : start + ID_BATCH] for start in range(0, len(ids), ID_BATCH)]
        for batch in batches:
            query = select(ATTACHMENTS).where(A.message_id.in_(batch)).order_by(A.id)
            for row in await session.execute(query):
                found[row.message_id].append(attachment_from_row(row))
        return found

    async def _path(
        self,
        session: AsyncSession,
        conversation_id: int,
        leaf_id: int | None,
        last: int | None = None,
    ) -> list[Message]:
        return await self._messages(session, path_to_root(conversation_id, leaf_id, last))

    async def _children(
        self, session: AsyncSession, parent_id: int | None, conversation_id: int
    ) -> list[Message]:
        parent = M.parent_id.is_(None) if parent_id is None else M.parent_id == parent_id
        where = (M.conversation_id == conversation_id) & parent
        return await self._messages(
            session, select(MESSAGES).where(where).order_by(M.id), select(M.id).where(where)
        )

    async def _bump_conversation(
        self, session: AsyncSession, conversation_id: int, bump: dict[str, Any]
    ) -> None:
        """Apply a new message's ``_summary_bump``; a missing conversation is an error."""
        result = await session.execute(
            update(CONVERSATIONS).where(C.id == conversation_id).values(bump)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise self._missing("Conversation", conversation_id)

    @staticmethod
    async def _insert_message(session: AsyncSession, row: dict[str, Any]) -> int:
        """Insert a message row; returns its new id."""
        message_id: int = (
            await session.execute(insert(MESSAGES).values(row).returning(M.id))
        ).scalar_one()
        return message_id

    @staticmethod
    async def _point_active_leaf(
        session: AsyncSession, conversation_id: int, message_id: int
    ) -> None:
        """Make ``message_id`` the conversation's active leaf (its owner is already known)."""
        await session.execute(
            update(CONVERSATIONS).where(C.id == conversation_id).values(active_leaf_id=message_id)
        )

    @staticmethod
    async def _insert_attachments(
        session: AsyncSession, message_id: int, files: Sequence[dict[str, Any]]
    ) -> list[StoredAttachment]:
        """Store a new message's attachments (``_attachment_values``), in the order given."""
        if not files:
            return []
        rows = await session.execute(
            insert(ATTACHMENTS).returning(*ATTACHMENTS.c, sort_by_parameter_order=True),
            [{"message_id": message_id, **file} for file in files],
        )
        return [attachment_from_row(row) for row in rows]

    async def _check_owner(
        self, session: AsyncSession, conversation_id: int, message_id: int
    ) -> None:
        owner = await session.scalar(select(M.conversation_id).where(M.id == message_id))
        if owner is None:
            raise self._missing("Message", message_id)
        if owner != conversation_id:
            raise ValueError(
                f"message {message_id} belongs to conversation {owner}, not {conversation_id}"
            )

    async def _check_path_target(
        self, session: AsyncSession, conversation_id: int, leaf_id: int | None
    ) -> None:
        """Explain an empty path: a missing conversation or a leaf from elsewhere is an error."""
        exists = await session.scalar(select(C.id).where(C.id == conversation_id))
        if exists is None:
            raise self._missing("Conversation", conversation_id)
        if leaf_id is not None:
            await self._check_owner(session, conversation_id, leaf_id)
