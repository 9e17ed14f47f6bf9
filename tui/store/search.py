"""Full-text search over titles and messages: the store's only engine-specific queries.

SQLite answers from its FTS5 tables, PostgreSQL from ``tsvector`` columns with GIN indexes and a
``pg_trgm`` index (revision 0005); both follow the same rules, and the same tests hold both to them.

Query language. The text is split on whitespace; every word must occur (AND). Each word is passed
to FTS5 as a quoted string, never as query syntax, so quotes, ``-``, ``*``, ``:``, ``(``, ``AND``,
``OR`` and ``NEAR`` are plain text; words without any letter or digit are ignored. The last word
also matches as a prefix ("pyth" finds "python") once its final run of letters has
``MIN_PREFIX`` characters: shorter prefixes would merge the index entries of a large part of
the vocabulary on every keystroke. Letters are compared without case or diacritics ("cafe"
finds "Café").

Chinese, Japanese and Korean text has no spaces between words, so ``unicode61`` would index a
whole sentence as one token. A query containing such script is answered from ``messages_cjk``,
a trigram index of the messages that contain it, as a substring search per word.

On PostgreSQL each word's letter-and-digit runs are folded by the database (``tui_fold``, as the
index was built) and quoted as lexemes into a ``tsquery``: a word's runs must follow each other
(``<->``, as an FTS5 phrase), the words are joined with ``&``, and the last run of the last word
gets ``:*`` for the prefix. Only the query's shape is written into the SQL; the words are bound.

Order. Conversations whose title matches come first (most recently active first, among the
newest ``TITLE_WINDOW`` title matches on SQLite, among all of them on PostgreSQL), then those
whose newest matching message is newest.
Relevance scoring (bm25) was measured and left out: it has to visit every matching row, which
took 0.3 s for a word in 1% of 2 million messages and 2.5 to 6 s for common words, while this
order reads only as many matches as it needs. Archived conversations are included (the hit's
``conversation.archived`` says so).

Snippets. ``SearchHit.snippet`` is a short, single-line excerpt of the matching message (or the
title when only the title matches) with each matching word wrapped in ``MATCH_START`` and
``MATCH_END`` (``[`` and ``]``); cut ends are marked with ``…``. See ``tui.store.snippets``.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import TextClause, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tui.domain import Conversation, SearchHit
from tui.store.convert import CONVERSATIONS, MESSAGES, conversation_from_row
from tui.store.snippets import (
    ELLIPSIS,
    MATCH_END,
    MATCH_START,
    MIN_PREFIX,
    ParsedQuery,
    mark,
    parse_query,
)

__all__ = ["ELLIPSIS", "MATCH_END", "MATCH_START", "MIN_PREFIX", "FullTextSearch", "parse_query"]

WINDOW = 500
"""Matching messages read per step, newest first."""
MAX_STEPS = 20
"""Bound on the steps (so at most ``WINDOW * MAX_STEPS`` matches are read per search)."""
TITLE_WINDOW = 1_000
"""Title matches considered, newest conversations first."""

# Sorting every title match of a common word by activity took 0.1-0.4 s over 100,000 titles;
# only the newest TITLE_WINDOW are sorted.
_TITLE_HITS = text(
    "SELECT id FROM conversations WHERE id IN ("
    " SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH :q"
    " ORDER BY rowid DESC LIMIT :title_window"
    ") ORDER BY updated_at DESC, id DESC LIMIT :limit"
)
_MESSAGE_HITS = text(
    "SELECT f.rowid AS id, m.conversation_id FROM messages_fts f JOIN messages m ON m.id = f.rowid "
    "WHERE messages_fts MATCH :q AND f.rowid < :before ORDER BY f.rowid DESC LIMIT :window"
)


_RUN = re.compile(r"[^\W_]+")
"""A run of letters and digits: what both engines index as one word."""


def _like_pattern(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _cjk_statements(parsed: ParsedQuery) -> tuple[TextClause, TextClause, dict[str, Any]]:
    """Title and message queries for a search in Chinese, Japanese or Korean script."""
    params: dict[str, Any] = {}
    titles, messages = [], []
    for index, word in enumerate(parsed.words):
        params[f"p{index}"] = _like_pattern(word)
        titles.append(f"title LIKE :p{index} ESCAPE '\\'")
        # "|| ''" keeps the trigram index out of it: it mishandles patterns of < 3 characters.
        messages.append(f"(x.content || '') LIKE :p{index} ESCAPE '\\'")
    long_words = tuple(word for word in parsed.words if len(word) >= 3)
    if long_words:
        params["q"] = ParsedQuery(long_words, False, True).match_expression()
        messages.append("messages_cjk MATCH :q")
    title_query = text(
        "SELECT id FROM conversations WHERE "
        + " AND ".join(titles)
        + " ORDER BY updated_at DESC, id DESC LIMIT :limit"
    )
    message_query = text(
        "SELECT x.rowid AS id, m.conversation_id FROM messages_cjk x "
        "JOIN messages m ON m.id = x.rowid WHERE "
        + " AND ".join(messages)
        + " AND x.rowid < :before ORDER BY x.rowid DESC LIMIT :window"
    )
    return title_query, message_query, params


# (No window of the newest title matches as on SQLite: the planner either walks the list's index
# testing each title, for a common word, or takes every match from the GIN index, for a rare one.)
_PG_TITLE_HITS = (
    "SELECT id FROM conversations WHERE search_title @@ {q}"
    " ORDER BY updated_at DESC, id DESC LIMIT :limit"
)
_PG_MESSAGE_HITS = (
    "SELECT id, conversation_id FROM messages WHERE search_doc @@ {q} AND id < :before "
    "ORDER BY id DESC LIMIT :window"
)


def _pg_tsquery(parsed: ParsedQuery) -> tuple[str, dict[str, Any]]:
    """The ``tsquery`` expression for ``parsed`` and its bound parameters (see the docstring)."""
    params: dict[str, Any] = {}
    words: list[str] = []
    for w, word in enumerate(parsed.words):
        runs = _RUN.findall(word)
        lexemes = []
        for r, run in enumerate(runs):
            name = f"w{w}_{r}"
            params[name] = run
            last = parsed.prefix_last and w == len(parsed.words) - 1 and r == len(runs) - 1
            lexemes.append(f"quote_literal(tui_fold(:{name}))" + (" || ':*'" if last else ""))
        words.append(" || ' <-> ' || ".join(lexemes))
    expression = " || ' & ' || ".join(f"'(' || {word} || ')'" for word in words)
    return f"to_tsquery('simple', {expression})", params


def _pg_statements(parsed: ParsedQuery) -> tuple[TextClause, TextClause, dict[str, Any]]:
    """Title and message queries on PostgreSQL, words outside Chinese, Japanese or Korean."""
    tsquery, params = _pg_tsquery(parsed)
    return (
        text(_PG_TITLE_HITS.format(q=tsquery)),
        text(_PG_MESSAGE_HITS.format(q=tsquery)),
        params,
    )


def _pg_cjk_statements(parsed: ParsedQuery) -> tuple[TextClause, TextClause, dict[str, Any]]:
    """Substring queries on PostgreSQL for a search in Chinese, Japanese or Korean script."""
    params: dict[str, Any] = {}
    titles, messages = [], []
    for index, word in enumerate(parsed.words):
        params[f"p{index}"] = _like_pattern(word)
        titles.append(f"search_title_cjk LIKE tui_fold(:p{index})")
        messages.append(f"search_cjk LIKE tui_fold(:p{index})")
    title_query = text(
        "SELECT id FROM conversations WHERE search_title_cjk IS NOT NULL AND "
        + " AND ".join(titles)
        + " ORDER BY updated_at DESC, id DESC LIMIT :limit"
    )
    message_query = text(
        "SELECT id, conversation_id FROM messages WHERE search_cjk IS NOT NULL AND "
        + " AND ".join(messages)
        + " AND id < :before ORDER BY id DESC LIMIT :window"
    )
    return title_query, message_query, params


class FullTextSearch:
    """Runs a search on a session; see the module docstring for the rules."""

    async def search(self, session: AsyncSession, query: str, *, limit: int) -> list[SearchHit]:
        """Conversations matching ``query``, each once, best first, with a snippet."""
        parsed = parse_query(query)
        if parsed is None or limit <= 0:
            return []
        if session.get_bind().dialect.name == "postgresql":
            if parsed.cjk:
                title_query, message_query, params = _pg_cjk_statements(parsed)
            else:
                title_query, message_query, params = _pg_statements(parsed)
        elif parsed.cjk:
            title_query, message_query, params = _cjk_statements(parsed)
        else:
            title_query, message_query = _TITLE_HITS, _MESSAGE_HITS
            params = {"q": parsed.match_expression(), "title_window": TITLE_WINDOW}
        title_ids = list(await session.scalars(title_query, {**params, "limit": limit}))
        message_for: dict[int, int] = {}
        if len(title_ids) < limit:
            message_for = await self._newest_matches(
                session, message_query, params, limit + len(title_ids)
            )
        titled = set(title_ids)
        order = (title_ids + [cid for cid in message_for if cid not in titled])[:limit]
        conversations = await self._conversations(session, order)
        contents = await self._contents(
            session, [message_for[cid] for cid in order if cid in message_for]
        )
        hits: list[SearchHit] = []
        for conversation_id in order:
            conversation = conversations.get(conversation_id)
            if conversation is None:
                continue
            message_id = message_for.get(conversation_id)
            source = contents.get(message_id, "") if message_id is not None else ""
            snippet = mark(source or conversation.title, parsed)
            hits.append(SearchHit(conversation, snippet, message_id))
        return hits

    async def _newest_matches(
        self, session: AsyncSession, statement: TextClause, params: dict[str, Any], wanted: int
    ) -> dict[int, int]:
        """Conversation id -> its newest matching message id, newest first."""
        found: dict[int, int] = {}
        sqlite = session.get_bind().dialect.name == "sqlite"
        # Above every id: SQLite's are 64-bit, PostgreSQL's (``integer``) 32-bit.
        before = 2**63 - 1 if sqlite else 2**31 - 1
        # SQLite's index hands out the matches newest first. PostgreSQL's planner either walks
        # the newest messages testing each (a common word: the fewer wanted, the shorter the
        # walk) or looks the word up in the GIN index (a rare one, which the column's long
        # statistics let it tell apart, revision 0005): its first window is only as large as
        # the conversations wanted need, and grows from there.
        window = WINDOW if sqlite else min(WINDOW, max(2 * wanted, 100))
        for _ in range(MAX_STEPS):
            rows = (
                await session.execute(statement, {**params, "before": before, "window": window})
            ).all()
            for row in rows:
                found.setdefault(row.conversation_id, row.id)
            if len(rows) < window or len(found) >= wanted:
                break
            before = rows[-1].id
            window = min(WINDOW, window * 4)
        return found

    async def _conversations(
        self, session: AsyncSession, ids: list[int]
    ) -> dict[int, Conversation]:
        if not ids:
            return {}
        query = select(CONVERSATIONS).where(CONVERSATIONS.c.id.in_(ids))
        return {row.id: conversation_from_row(row) for row in await session.execute(query)}

    async def _contents(self, session: AsyncSession, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        # What was indexed: the text, then its tool calls' words (revision 0004).
        query = select(MESSAGES.c.id, MESSAGES.c.content, MESSAGES.c.tool_text).where(
            MESSAGES.c.id.in_(ids)
        )
        return {row.id: row.content + row.tool_text for row in await session.execute(query)}
