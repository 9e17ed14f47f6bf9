"""Full-text search over titles and messages: the store's only SQLite-specific queries (FTS5).

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

Order. Conversations whose title matches come first (most recently active first), then those
whose newest matching message is newest. Relevance scoring (bm25) was measured and left out: it
has to visit every matching row, which took 0.3 to 3 s for common words in a history of 2 million
messages, while this order reads only as many matches as it needs.

Snippets. ``SearchHit.snippet`` is a short, single-line excerpt of the matching message (or the
title when only the title matches) with each matching word wrapped in ``MATCH_START`` and
``MATCH_END`` (``[`` and ``]``); cut ends are marked with ``…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tui.domain import SearchHit
from tui.store.convert import CONVERSATIONS, conversation_from_row

MATCH_START = "["
MATCH_END = "]"
ELLIPSIS = "…"
MIN_PREFIX = 3
SNIPPET_TOKENS = 12
SNIPPET_CHARS = 40
"""Characters of context either side of a match in a Chinese, Japanese or Korean snippet."""
WINDOW = 500
"""Matching messages read per step, newest first."""
MAX_STEPS = 20
"""Bound on the steps (so at most ``WINDOW * MAX_STEPS`` matches are read per search)."""

_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_LAST_RUN = re.compile(r"[^\W_]+$")

_TITLE_HITS = text(
    "SELECT c.id FROM conversations_fts f JOIN conversations c ON c.id = f.rowid "
    "WHERE conversations_fts MATCH :q ORDER BY c.updated_at DESC, c.id DESC LIMIT :limit"
)
_TITLE_HIGHLIGHTS = text(
    "SELECT rowid, highlight(conversations_fts, 0, :start, :end) AS snippet "
    "FROM conversations_fts WHERE conversations_fts MATCH :q AND rowid = :id"
)
_MESSAGE_HITS = text(
    "SELECT f.rowid AS id, m.conversation_id FROM messages_fts f JOIN messages m ON m.id = f.rowid "
    "WHERE messages_fts MATCH :q AND f.rowid < :before ORDER BY f.rowid DESC LIMIT :window"
)
_MESSAGE_SNIPPET = text(
    "SELECT snippet(messages_fts, 0, :start, :end, :ellipsis, :tokens) "
    "FROM messages_fts WHERE messages_fts MATCH :q AND rowid = :id"
)


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A search text split into words, ready to be quoted for FTS5."""

    words: tuple[str, ...]
    prefix_last: bool
    cjk: bool

    def match_expression(self) -> str:
        """The FTS5 query: each word a quoted string, the last one maybe a prefix."""
        quoted = ['"' + word.replace('"', '""') + '"' for word in self.words]
        if self.prefix_last:
            quoted[-1] += "*"
        return " ".join(quoted)


def parse_query(query: str) -> ParsedQuery | None:
    """Split a search text into words; None when nothing in it can be searched."""
    words = tuple(word for word in query.split() if any(char.isalnum() for char in word))
    if not words:
        return None
    cjk = any(_CJK.search(word) for word in words)
    last_run = _LAST_RUN.search(words[-1])
    prefix_last = not cjk and last_run is not None and len(last_run.group()) >= MIN_PREFIX
    return ParsedQuery(words, prefix_last, cjk)


def _one_line(snippet: str) -> str:
    return " ".join(snippet.split())


def _like_pattern(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def mark_substrings(content: str, words: tuple[str, ...]) -> str:
    """A snippet around the first occurrence of any word, every occurrence in it marked."""
    folded = content.casefold()
    positions = [folded.find(word.casefold()) for word in words]
    found = [position for position in positions if position >= 0]
    first = min(found) if found else 0
    start = max(0, first - SNIPPET_CHARS)
    end = min(len(content), first + SNIPPET_CHARS * 2)
    window = content[start:end]
    pattern = re.compile("|".join(re.escape(word) for word in words), re.IGNORECASE)
    marked = pattern.sub(lambda hit: f"{MATCH_START}{hit.group()}{MATCH_END}", window)
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(content) else ""
    return _one_line(prefix + marked + suffix)


class FullTextSearch:
    """Runs a search on a session; see the module docstring for the rules."""

    async def search(self, session: AsyncSession, query: str, *, limit: int) -> list[SearchHit]:
        """Conversations matching ``query``, each once, best first, with a snippet."""
        parsed = parse_query(query)
        if parsed is None or limit <= 0:
            return []
        if parsed.cjk:
            return await self._search_cjk(session, parsed, limit)
        return await self._search_words(session, parsed, limit)

    async def _search_words(
        self, session: AsyncSession, parsed: ParsedQuery, limit: int
    ) -> list[SearchHit]:
        expression = parsed.match_expression()
        title_ids = list(await session.scalars(_TITLE_HITS, {"q": expression, "limit": limit}))
        message_for: dict[int, int] = {}
        if len(title_ids) < limit:
            message_for = await self._newest_matches(
                session, _MESSAGE_HITS, {"q": expression}, limit, title_ids
            )
        order = title_ids + [cid for cid in message_for if cid not in set(title_ids)]
        order = order[:limit]
        conversations = await self._conversations(session, order)
        hits: list[SearchHit] = []
        for conversation_id in order:
            message_id = message_for.get(conversation_id)
            if message_id is not None:
                snippet = await session.scalar(
                    _MESSAGE_SNIPPET,
                    {
                        "q": expression,
                        "id": message_id,
                        "start": MATCH_START,
                        "end": MATCH_END,
                        "ellipsis": ELLIPSIS,
                        "tokens": SNIPPET_TOKENS,
                    },
                )
            else:
                snippet = (
                    await session.execute(
                        _TITLE_HIGHLIGHTS,
                        {
                            "q": expression,
                            "id": conversation_id,
                            "start": MATCH_START,
                            "end": MATCH_END,
                        },
                    )
                ).first()
                snippet = snippet.snippet if snippet is not None else None
            conversation = conversations.get(conversation_id)
            if conversation is not None:
                hits.append(SearchHit(conversation, _one_line(snippet or ""), message_id))
        return hits

    async def _newest_matches(
        self,
        session: AsyncSession,
        statement: Any,
        params: dict[str, Any],
        limit: int,
        already: list[int],
    ) -> dict[int, int]:
        """Conversation id -> its newest matching message id, newest first, up to ``limit``."""
        found: dict[int, int] = {}
        wanted = limit + len(already)
        before = 2**63 - 1
        for _ in range(MAX_STEPS):
            rows = (
                await session.execute(statement, {**params, "before": before, "window": WINDOW})
            ).all()
            for row in rows:
                found.setdefault(row.conversation_id, row.id)
            if len(rows) < WINDOW or len(found) >= wanted:
                break
            before = rows[-1].id
        return found

    async def _conversations(self, session: AsyncSession, ids: list[int]) -> dict[int, Any]:
        if not ids:
            return {}
        query = select(CONVERSATIONS).where(CONVERSATIONS.c.id.in_(ids))
        return {row.id: conversation_from_row(row) for row in await session.execute(query)}

    async def _search_cjk(
        self, session: AsyncSession, parsed: ParsedQuery, limit: int
    ) -> list[SearchHit]:
        long_words = [word for word in parsed.words if len(word) >= 3]
        params: dict[str, Any] = {}
        title_conditions, message_conditions = [], []
        for index, word in enumerate(parsed.words):
            params[f"p{index}"] = _like_pattern(word)
            title_conditions.append(f"title LIKE :p{index} ESCAPE '\\'")
            # "|| ''" keeps the trigram index out of it: it mishandles patterns of < 3 characters.
            message_conditions.append(f"(x.content || '') LIKE :p{index} ESCAPE '\\'")
        if long_words:
            params["q"] = ParsedQuery(tuple(long_words), False, True).match_expression()
            message_conditions.append("messages_cjk MATCH :q")
        titles = text(
            "SELECT id FROM conversations WHERE "
            + " AND ".join(title_conditions)
            + " ORDER BY updated_at DESC, id DESC LIMIT :limit"
        )
        title_ids = list(await session.scalars(titles, {**params, "limit": limit}))
        messages = text(
            "SELECT x.rowid AS id, m.conversation_id FROM messages_cjk x "
            "JOIN messages m ON m.id = x.rowid WHERE "
            + " AND ".join(message_conditions)
            + " AND x.rowid < :before ORDER BY x.rowid DESC LIMIT :window"
        )
        message_for: dict[int, int] = {}
        if len(title_ids) < limit:
            message_for = await self._newest_matches(session, messages, params, limit, title_ids)
        order = (title_ids + [cid for cid in message_for if cid not in set(title_ids)])[:limit]
        conversations = await self._conversations(session, order)
        contents: dict[int, str] = {}
        message_ids = [message_for[cid] for cid in order if cid in message_for]
        if message_ids:
            rows = await session.execute(
                text("SELECT rowid, content FROM messages_cjk WHERE rowid IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": message_ids},
            )
            contents = {row.rowid: row.content for row in rows}
        hits: list[SearchHit] = []
        for conversation_id in order:
            conversation = conversations.get(conversation_id)
            if conversation is None:
                continue
            message_id = message_for.get(conversation_id)
            source = contents.get(message_id, "") if message_id is not None else ""
            snippet = mark_substrings(source or conversation.title, parsed.words)
            hits.append(SearchHit(conversation, snippet, message_id))
        return hits
