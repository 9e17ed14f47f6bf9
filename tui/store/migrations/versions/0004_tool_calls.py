"""Tool calls and citations stored with the reply, and searchable.

Revision ID: 0004_tool_calls
Revises: 0003_provider_facts_model_usage
Create Date: 2026-12-04

- ``messages.tool_calls``: the reply's tool calls with their results, a JSON list (see
  ``ToolCallRecord``), in the order they came; NULL for a reply that called none.
- ``messages.citations``: the web-search sources the reply cites, a JSON list.
- ``messages.tool_text``: the searchable words of those calls (names, arguments, results), one
  plain text kept beside ``content``. The word indexes now hold ``content || tool_text``: a
  reply is found by what its tools said too. Rows written before this revision have
  ``tool_text = ''``, so what is indexed for them is unchanged and the index stays true without
  a rebuild.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_tool_calls"
down_revision: str | None = "0003_provider_facts_model_usage"
branch_labels: str | None = None
depends_on: str | None = None

CJK_GLOB = "'*[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]*'"

TRIGGERS = ("messages_search_insert", "messages_search_delete", "messages_search_update")


def _triggers(indexed_new: str, indexed_old: str, columns: str) -> list[str]:
    return [
        f"""
        CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
        WHEN new.status != 'streaming'
        BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, {indexed_new});
            INSERT INTO messages_cjk(rowid, content)
                SELECT new.id, {indexed_new} WHERE {indexed_new} GLOB {CJK_GLOB};
        END
        """,
        f"""
        CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
        WHEN old.status != 'streaming'
        BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, {indexed_old});
            DELETE FROM messages_cjk WHERE rowid = old.id;
        END
        """,
        f"""
        CREATE TRIGGER messages_search_update AFTER UPDATE OF {columns} ON messages
        WHEN (old.status = 'streaming') != (new.status = 'streaming')
            OR (new.status != 'streaming' AND {indexed_new} IS NOT {indexed_old})
        BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                SELECT 'delete', old.id, {indexed_old} WHERE old.status != 'streaming';
            DELETE FROM messages_cjk WHERE rowid = old.id AND old.status != 'streaming';
            INSERT INTO messages_fts(rowid, content)
                SELECT new.id, {indexed_new} WHERE new.status != 'streaming';
            INSERT INTO messages_cjk(rowid, content)
                SELECT new.id, {indexed_new}
                WHERE new.status != 'streaming' AND {indexed_new} GLOB {CJK_GLOB};
        END
        """,
    ]


def _drop_triggers() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    op.add_column("messages", sa.Column("tool_calls", sa.JSON(), nullable=True))
    op.add_column("messages", sa.Column("citations", sa.JSON(), nullable=True))
    op.add_column(
        "messages", sa.Column("tool_text", sa.Text(), nullable=False, server_default=sa.text("''"))
    )
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL indexes content || tool_text from the start (revision 0005)
    _drop_triggers()
    for statement in _triggers(
        "new.content || new.tool_text", "old.content || old.tool_text", "content, status, tool_text"
    ):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for column in ("tool_text", "citations", "tool_calls"):
            op.drop_column("messages", column)
        return
    # Back to indexing ``content`` alone: the tool words leave the index first.
    _drop_triggers()
    op.execute(
        "INSERT INTO messages_fts(messages_fts, rowid, content) "
        "SELECT 'delete', id, content || tool_text FROM messages "
        "WHERE status != 'streaming' AND tool_text != ''"
    )
    op.execute(
        "INSERT INTO messages_fts(rowid, content) "
        "SELECT id, content FROM messages WHERE status != 'streaming' AND tool_text != ''"
    )
    op.execute(
        "DELETE FROM messages_cjk WHERE rowid IN (SELECT id FROM messages WHERE tool_text != '')"
    )
    op.execute(
        "INSERT INTO messages_cjk(rowid, content) SELECT id, content FROM messages "
        f"WHERE status != 'streaming' AND tool_text != '' AND content GLOB {CJK_GLOB}"
    )
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("tool_text")
        batch.drop_column("citations")
        batch.drop_column("tool_calls")
    for statement in _triggers("new.content", "old.content", "content, status"):
        op.execute(statement)
