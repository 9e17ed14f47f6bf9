"""A history shared by several machines: the clients that write, and PostgreSQL's search and
change notifications.

Revision ID: 0005_shared_store
Revises: 0004_tool_calls
Create Date: 2026-12-07

Both engines:

- ``clients``: each running copy of the app (``host:pid``, as in ``messages.writer``) and when it
  was last seen (the database server's clock). Crash recovery marks a ``streaming`` row of another
  machine interrupted only once its writer has not been seen for a while.

PostgreSQL only (SQLite's search is FTS5, revision 0001, and its changes show in
``data_version``):

- Search, kept in sync by the database. ``tui_words(text)`` is the text as the index sees it:
  diacritics removed (``unaccent``), lower case, and every run of characters that are not letters
  or digits a single space, so words split where SQLite's ``unicode61`` splits them.
  ``messages.search_doc`` is the ``tsvector`` of ``tui_words(content || tool_text)``, set by a
  trigger once the row leaves ``streaming`` (as on SQLite, a streaming append re-indexes nothing)
  and searched through a GIN index; ``conversations.search_title`` likewise for titles, and
  ``search_title_cjk`` the folded title when it holds such script (a partial index in list order).
  ``messages.search_cjk`` holds the folded text of the finished messages that contain Chinese,
  Japanese or Korean script, with a ``pg_trgm`` GIN index for substring search, and a partial
  index on ``id`` so a 1-2 character search walks just those rows, newest first.
- Foreign keys that may be deferred (``DEFERRABLE INITIALLY IMMEDIATE``: checked per statement
  as before, unless a transaction says ``SET CONSTRAINTS ALL DEFERRED``). An import or a copy
  writes a conversation with its ``active_leaf_id`` before that message, as SQLite's
  ``defer_foreign_keys`` allows.
- Text without a length limit: every ``varchar(n)`` column becomes ``text``, as SQLite treats
  them. A provider's response id or a custom server's model name longer than the model's
  ``String(n)`` is stored rather than refused.
- ``tui_chat_changes``: every statement that changes ``conversations`` sends a notification on
  that channel when it commits (one per transaction), for the other clients' lists.

The extensions ``unaccent`` and ``pg_trgm`` ship with PostgreSQL (``postgresql-contrib``) and are
trusted: a user who may create objects in the database may create them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_shared_store"
down_revision: str | None = "0004_tool_calls"
branch_labels: str | None = None
depends_on: str | None = None

# Hiragana, Katakana, CJK Extension A, CJK Unified Ideographs, Hangul syllables.
CJK_CLASS = "'[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]'"

POSTGRES_SQL = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # unaccent() is STABLE (its dictionary could change); named explicitly it is safe to treat
    # as IMMUTABLE, which an index expression needs.
    """
    CREATE FUNCTION tui_fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(unaccent('unaccent'::regdictionary, value)) $$
    """,
    """
    CREATE FUNCTION tui_words(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT regexp_replace(tui_fold(value), '[^[:alnum:]]+', ' ', 'g') $$
    """,
    "ALTER TABLE messages ADD COLUMN search_doc tsvector",
    "ALTER TABLE messages ADD COLUMN search_cjk text",
    "ALTER TABLE conversations ADD COLUMN search_title tsvector",
    "ALTER TABLE conversations ADD COLUMN search_title_cjk text",
    f"""
    CREATE FUNCTION tui_index_message() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.status = 'streaming' THEN
            NEW.search_doc := NULL;
            NEW.search_cjk := NULL;
        ELSE
            NEW.search_doc := to_tsvector('simple', tui_words(NEW.content || NEW.tool_text));
            NEW.search_cjk := CASE WHEN (NEW.content || NEW.tool_text) ~ {CJK_CLASS}
                THEN tui_fold(NEW.content || NEW.tool_text) END;
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER messages_search_insert BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION tui_index_message()
    """,
    # Only when the indexed state or text changes: an append to a streaming row (both sides
    # 'streaming') or a change of another column re-indexes nothing.
    """
    CREATE TRIGGER messages_search_update BEFORE UPDATE OF content, status, tool_text ON messages
    FOR EACH ROW
    WHEN ((OLD.status = 'streaming') IS DISTINCT FROM (NEW.status = 'streaming')
        OR (NEW.status <> 'streaming'
            AND (OLD.content || OLD.tool_text) IS DISTINCT FROM (NEW.content || NEW.tool_text)))
    EXECUTE FUNCTION tui_index_message()
    """,
    f"""
    CREATE FUNCTION tui_index_title() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.search_title := to_tsvector('simple', tui_words(NEW.title));
        NEW.search_title_cjk := CASE WHEN NEW.title ~ {CJK_CLASS} THEN tui_fold(NEW.title) END;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER conversations_search_insert BEFORE INSERT ON conversations
    FOR EACH ROW EXECUTE FUNCTION tui_index_title()
    """,
    """
    CREATE TRIGGER conversations_search_update BEFORE UPDATE OF title ON conversations
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title)
    EXECUTE FUNCTION tui_index_title()
    """,
    "CREATE INDEX ix_search_messages_doc ON messages USING gin (search_doc)",
    # A longer list of the most common words in the statistics: a word or prefix missing from
    # it is then guessed as rare as it is, and the planner looks it up in the index instead of
    # walking the newest messages for a match that is not there (see search.py).
    "ALTER TABLE messages ALTER COLUMN search_doc SET STATISTICS 1000",
    "ALTER TABLE conversations ALTER COLUMN search_title SET STATISTICS 1000",
    """
    CREATE INDEX ix_search_messages_cjk ON messages USING gin (search_cjk gin_trgm_ops)
    WHERE search_cjk IS NOT NULL
    """,
    "CREATE INDEX ix_search_messages_cjk_id ON messages (id) WHERE search_cjk IS NOT NULL",
    "CREATE INDEX ix_search_conversations_title ON conversations USING gin (search_title)",
    """
    CREATE INDEX ix_search_conversations_cjk ON conversations (updated_at DESC, id DESC)
    WHERE search_title_cjk IS NOT NULL
    """,
    """
    CREATE FUNCTION tui_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('tui_chat_changes', '');
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER conversations_notify AFTER INSERT OR UPDATE OR DELETE ON conversations
    FOR EACH STATEMENT EXECUTE FUNCTION tui_notify_change()
    """,
]

_FOREIGN_KEYS = """
    DO $$ DECLARE c record; BEGIN
      FOR c IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
               WHERE contype = 'f' AND conrelid::regclass::text IN
                     ('conversations', 'messages', 'attachments')
      LOOP
        EXECUTE format('ALTER TABLE %s ALTER CONSTRAINT %I {}', c.tbl, c.conname);
      END LOOP;
    END $$
"""
POSTGRES_SQL.append(_FOREIGN_KEYS.format("DEFERRABLE INITIALLY IMMEDIATE"))
POSTGRES_SQL.insert(  # first: a column a trigger's WHEN names cannot change type afterwards
    0,
    """
    DO $$ DECLARE c record; BEGIN
      FOR c IN SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = current_schema() AND data_type = 'character varying'
                 AND table_name <> 'alembic_version'
      LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE text', c.table_name, c.column_name);
      END LOOP;
    END $$
    """
)

POSTGRES_DROP = [
    _FOREIGN_KEYS.format("NOT DEFERRABLE"),
    "DROP TRIGGER IF EXISTS conversations_notify ON conversations",
    "DROP FUNCTION IF EXISTS tui_notify_change()",
    "DROP TRIGGER IF EXISTS conversations_search_update ON conversations",
    "DROP TRIGGER IF EXISTS conversations_search_insert ON conversations",
    "DROP FUNCTION IF EXISTS tui_index_title()",
    "DROP TRIGGER IF EXISTS messages_search_update ON messages",
    "DROP TRIGGER IF EXISTS messages_search_insert ON messages",
    "DROP FUNCTION IF EXISTS tui_index_message()",
    "ALTER TABLE conversations DROP COLUMN IF EXISTS search_title_cjk",
    "ALTER TABLE conversations DROP COLUMN IF EXISTS search_title",
    "ALTER TABLE messages DROP COLUMN IF EXISTS search_cjk",
    "ALTER TABLE messages DROP COLUMN IF EXISTS search_doc",
    "DROP FUNCTION IF EXISTS tui_words(text)",
    "DROP FUNCTION IF EXISTS tui_fold(text)",
]


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.String(300), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_SQL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DROP:
            op.execute(statement)
    op.drop_table("clients")
