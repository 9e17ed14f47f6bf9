"""Conversation summary columns and the list index.

Revision ID: 0002_conversation_summary
Revises: 0001_base_schema
Create Date: 2025-01-02

The conversation list shows a message count and a preview of the latest message. Keeping them on
the conversation row means the list never reads message bodies. The list index now leads with
``archived`` (the list filters on it) and ends with ``id`` (the tie-break that makes paging stable).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_conversation_summary"
down_revision: str | None = "0001_base_schema"
branch_labels: str | None = None
depends_on: str | None = None

PREVIEW_CHARS = 160

BACKFILL = """
UPDATE conversations SET
    message_count = (
        SELECT count(*) FROM messages WHERE messages.conversation_id = conversations.id
    ),
    preview = coalesce((
        SELECT trim(substr(
            replace(replace(replace(content, {char}(10), ' '), {char}(13), ' '), {char}(9), ' '),
            1, {chars}))
        FROM messages WHERE messages.id = conversations.active_leaf_id
    ), '')
"""


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column("message_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "conversations",
        sa.Column("preview", sa.Text(), server_default=sa.text("''"), nullable=False),
    )
    char = "char" if op.get_bind().dialect.name == "sqlite" else "chr"
    op.execute(BACKFILL.format(char=char, chars=PREVIEW_CHARS))
    op.drop_index("ix_conversations_pinned_updated", table_name="conversations")
    op.create_index(
        "ix_conversations_list", "conversations", ["archived", "pinned", "updated_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_list", table_name="conversations")
    op.create_index(
        "ix_conversations_pinned_updated", "conversations", ["pinned", "updated_at"]
    )
    op.drop_column("conversations", "preview")
    op.drop_column("conversations", "message_count")
