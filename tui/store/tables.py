"""The database schema as SQLAlchemy 2.x typed ORM classes.

These describe the schema at the newest migration (``tui/store/migrations``); a test checks the two
agree. Full-text search tables and their triggers are raw SQL in the migrations, since SQLAlchemy
has no notion of FTS5 virtual tables.

Timestamps are stored as naive UTC text (SQLAlchemy's SQLite format, which sorts correctly) and
come back timezone-aware; see ``UTCDateTime``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive time is ambiguous (local? UTC?); refuse it rather than guess.
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        # One C-level parse per value instead of a generic parse plus a tz replace: the active
        # path of a long thread reads thousands of these.
        return _parse_sqlite_utc


def _parse_sqlite_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value + "+00:00")


class TolerantJSON(TypeDecorator[Any]):
    """JSON that reads text which is not JSON (a hand-edited file, say) as None, not an error."""

    impl = JSON
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        return _parse_json


def _parse_json(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        return value  # None, or already decoded by the driver
    try:
        return json.loads(value)
    except ValueError:
        return None


class Base(DeclarativeBase):
    """Declarative base for the store's tables."""


class ConversationRow(Base):
    """One conversation thread with the summary the list shows."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    api_mode: Mapped[str] = mapped_column(String(16))
    system_prompt: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(TolerantJSON)
    active_leaf_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("messages.id", ondelete="SET NULL", use_alter=True)
    )
    pinned: Mapped[bool] = mapped_column(Boolean)
    archived: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """Last activity: a message added or finished (metadata edits do not reorder the list)."""
    message_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    """Every stored message of the thread, all branches included."""
    preview: Mapped[str] = mapped_column(Text, server_default=text("''"))

    __table_args__ = (
        # The list: WHERE archived = ? ORDER BY pinned DESC, updated_at DESC, id DESC.
        Index("ix_conversations_list", "archived", "pinned", "updated_at", "id"),
        # ON DELETE SET NULL from messages looks conversations up by their leaf.
        Index("ix_conversations_active_leaf", "active_leaf_id"),
    )


class MessageRow(Base):
    """One node of a conversation's message tree."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    parent_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("messages.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    reasoning: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    writer: Mapped[str | None] = mapped_column(String(300))
    """``host:pid`` of the process streaming into the row, so a second copy leaves it alone."""
    provider: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    api: Mapped[str | None] = mapped_column(String(16))
    response_id: Mapped[str | None] = mapped_column(String(200))
    previous_response_id: Mapped[str | None] = mapped_column(String(200))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    cached_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(TolerantJSON)
    """The reply's tool calls and results (``ToolCallRecord.to_dict``); NULL: none."""
    citations: Mapped[list[dict[str, Any]] | None] = mapped_column(TolerantJSON)
    tool_text: Mapped[str] = mapped_column(Text, server_default=text("''"))
    """The tool calls' searchable words; indexed with ``content`` (see revision 0004)."""

    __table_args__ = (
        # Children of a node (root messages have parent_id NULL) and the per-conversation cascade.
        Index("ix_messages_tree", "conversation_id", "parent_id"),
        # ON DELETE CASCADE from a parent message looks its children up by parent_id alone.
        Index("ix_messages_parent", "parent_id"),
        Index("ix_messages_response_id", "response_id"),
        # Crash recovery reads the (normally empty) set of streaming rows at every start.
        Index("ix_messages_streaming", "status", sqlite_where=text("status = 'streaming'")),
    )


class AttachmentRow(Base):
    """An image or file carried by a message: inline bytes or a URL."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(Integer, ForeignKey("messages.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    mime_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    url: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_attachments_message", "message_id"),)


class ModelsCacheRow(Base):
    """The last model list fetched from one provider."""

    __tablename__ = "models_cache"

    provider: Mapped[str] = mapped_column(String(100), primary_key=True)
    models: Mapped[list[dict[str, Any]]] = mapped_column(TolerantJSON)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProviderFactsRow(Base):
    """What was learned about one provider's server (by ``doctor`` or by a turn)."""

    __tablename__ = "provider_facts"

    provider: Mapped[str] = mapped_column(String(100), primary_key=True)
    facts: Mapped[dict[str, Any]] = mapped_column(TolerantJSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ModelUsageRow(Base):
    """When a model was last chosen or used, for the picker's "recently used" order."""

    __tablename__ = "model_usage"

    provider: Mapped[str] = mapped_column(String(100), primary_key=True)
    model: Mapped[str] = mapped_column(String(300), primary_key=True)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uses: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    __table_args__ = (Index("ix_model_usage_recent", "last_used_at"),)


class ClientRow(Base):
    """A running copy of the app that writes to a shared history, and when it was last seen."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    """``host:pid``, as ``MessageRow.writer`` names it."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
