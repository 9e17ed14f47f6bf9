"""ConversationRepository: conversations, message trees and Responses chains, as domain objects.

Each method runs in short transactions. Writers begin with the write lock held (``BEGIN IMMEDIATE``
on SQLite) so two running copies queue up instead of failing. Only ``search`` is SQLite-specific;
it lives in ``tui.store.search``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, Final

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tui.domain import ApiMode, Conversation, ModelInfo, SearchHit
from tui.store.convert import (
    CONVERSATIONS,
    MODEL_USAGE,
    MODELS_CACHE,
    PROVIDER_FACTS,
    clean_params,
    clean_title,
    conversation_from_row,
    model_from_json,
    model_to_json,
    now_utc,
)
from tui.store.messages import MessageOps
from tui.store.search import FullTextSearch
from tui.store.tables import ModelsCacheRow

C = CONVERSATIONS.c


class _Unset(Enum):
    TOKEN = 0


UNSET: Final = _Unset.TOKEN
"""Default of ``update_conversation`` fields: leave the field as it is."""


class ConversationRepository(MessageOps):
    """Async CRUD over the history database; returns domain objects, never ORM rows."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, location: str = "the database"
    ) -> None:
        super().__init__(sessions, location=location)
        self._search = FullTextSearch()

    # -- conversations -------------------------------------------------------------------------

    async def create_conversation(
        self,
        *,
        title: str = "New chat",
        provider: str | None = None,
        model: str | None = None,
        api_mode: ApiMode = ApiMode.AUTO,
        system_prompt: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Conversation:
        """Start an empty conversation."""
        now = now_utc()
        values: dict[str, Any] = {
            "title": clean_title(title),
            "provider": provider,
            "model": model,
            "api_mode": ApiMode(api_mode).value,
            "system_prompt": system_prompt,
            "params": clean_params(params),
            "active_leaf_id": None,
            "pinned": False,
            "archived": False,
            "created_at": now,
            "updated_at": now,
            "message_count": 0,
            "preview": "",
        }
        async with self._write() as session:
            row = (
                await session.execute(insert(CONVERSATIONS).values(values).returning(C.id))
            ).one()
        return Conversation(
            id=row.id,
            title=values["title"],
            created_at=now,
            updated_at=now,
            provider=provider,
            model=model,
            api_mode=ApiMode(api_mode),
            system_prompt=system_prompt,
            params=values["params"],
        )

    async def get_conversation(self, conversation_id: int) -> Conversation | None:
        """One conversation, or None."""
        async with self._read() as session:
            row = (
                await session.execute(select(CONVERSATIONS).where(C.id == conversation_id))
            ).first()
        return conversation_from_row(row) if row is not None else None

    async def list_conversations(
        self, *, limit: int = 50, offset: int = 0, archived: bool = False
    ) -> list[Conversation]:
        """A page of the list: pinned first, then the most recently active.

        Archived conversations are hidden, unless ``archived`` is true: then only they are listed.
        """
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        query = (
            select(CONVERSATIONS)
            .where(C.archived == archived)
            .order_by(C.pinned.desc(), C.updated_at.desc(), C.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._read() as session:
            rows = (await session.execute(query)).all()
        return [conversation_from_row(row) for row in rows]

    async def count_conversations(self, *, archived: bool = False) -> int:
        """How many conversations the list (or, with ``archived``, the archive) holds."""
        query = select(func.count()).select_from(CONVERSATIONS).where(C.archived == archived)
        async with self._read() as session:
            return int(await session.scalar(query) or 0)

    async def latest_conversation(self) -> Conversation | None:
        """The most recently active conversation that is not archived."""

        def newest(pinned: bool) -> Select[Any]:
            # One index range per pinned value; the outer query picks the newer of the two.
            top = (
                select(CONVERSATIONS)
                .where(C.archived.is_(False), C.pinned == pinned)
                .order_by(C.updated_at.desc(), C.id.desc())
                .limit(1)
                .subquery()
            )
            return select(top)

        both = newest(True).union_all(newest(False)).subquery()
        query = select(both).order_by(both.c.updated_at.desc(), both.c.id.desc()).limit(1)
        async with self._read() as session:
            row = (await session.execute(query)).first()
        return conversation_from_row(row) if row is not None else None

    async def update_conversation(
        self,
        conversation_id: int,
        *,
        title: str | _Unset = UNSET,
        provider: str | None | _Unset = UNSET,
        model: str | None | _Unset = UNSET,
        api_mode: ApiMode | _Unset = UNSET,
        system_prompt: str | None | _Unset = UNSET,
        params: Mapping[str, Any] | None | _Unset = UNSET,
    ) -> Conversation:
        """Change only the fields given; returns the conversation as stored."""
        values: dict[str, Any] = {}
        if title is not UNSET:
            values["title"] = clean_title(title)
        if provider is not UNSET:
            values["provider"] = provider
        if model is not UNSET:
            values["model"] = model
        if api_mode is not UNSET:
            values["api_mode"] = ApiMode(api_mode).value
        if system_prompt is not UNSET:
            values["system_prompt"] = system_prompt
        if params is not UNSET:
            values["params"] = clean_params(params)
        if not values:
            found = await self.get_conversation(conversation_id)
            if found is None:
                raise self._missing("Conversation", conversation_id)
            return found
        statement = (
            update(CONVERSATIONS)
            .where(C.id == conversation_id)
            .values(values)
            .returning(*CONVERSATIONS.c)
        )
        async with self._write() as session:
            row = (await session.execute(statement)).first()
        if row is None:
            raise self._missing("Conversation", conversation_id)
        return conversation_from_row(row)

    async def rename_conversation(self, conversation_id: int, title: str) -> None:
        """Give a conversation a new title."""
        await self._update_one(conversation_id, {"title": clean_title(title)})

    async def set_pinned(self, conversation_id: int, pinned: bool) -> None:
        """Pin a conversation to the top of the list, or unpin it."""
        await self._update_one(conversation_id, {"pinned": bool(pinned)})

    async def set_archived(self, conversation_id: int, archived: bool) -> None:
        """Hide a conversation from the list (archive), or bring it back."""
        await self._update_one(conversation_id, {"archived": bool(archived)})

    async def _update_one(self, conversation_id: int, values: dict[str, Any]) -> None:
        async with self._write() as session:
            result = await session.execute(
                update(CONVERSATIONS).where(C.id == conversation_id).values(values)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise self._missing("Conversation", conversation_id)

    async def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation; its messages and attachments go with it."""
        async with self._write() as session:
            result = await session.execute(delete(CONVERSATIONS).where(C.id == conversation_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise self._missing("Conversation", conversation_id)

    # -- search --------------------------------------------------------------------------------

    async def search(self, query: str, *, limit: int = 20) -> list[SearchHit]:
        """Conversations matching ``query`` in their title or messages, each once, best first.

        See ``tui.store.search`` for the query language (plain words, prefix on the last one)
        and the snippet format (the match wrapped in ``[`` and ``]``).
        """
        if limit <= 0:
            return []
        async with self._read() as session:
            return await self._search.search(session, query, limit=limit)

    # -- model cache ---------------------------------------------------------------------------

    async def cache_models(self, provider: str, models: Sequence[ModelInfo]) -> None:
        """Remember a provider's model list (replacing the previous one)."""
        payload = [model_to_json(model) for model in models]
        cache = MODELS_CACHE
        # Replace without reading the old entry back: it may be unreadable.
        async with self._write() as session:
            await session.execute(delete(cache).where(cache.c.provider == provider))
            await session.execute(
                insert(cache).values(provider=provider, models=payload, fetched_at=now_utc())
            )

    async def cached_models(self, provider: str) -> tuple[list[ModelInfo], datetime] | None:
        """The cached model list of a provider and when it was fetched, or None.

        A cache entry that cannot be read back (e.g. edited by hand) counts as missing.
        """
        try:
            async with self._read() as session:
                row = await session.get(ModelsCacheRow, provider)
                if row is None:
                    return None
                payload, fetched_at = row.models, row.fetched_at
            return [model_from_json(item) for item in payload], fetched_at
        except (KeyError, TypeError, ValueError):  # ValueError covers text that is not JSON
            return None

    async def all_cached_models(self) -> dict[str, list[ModelInfo]]:
        """Every provider's cached model list (entries that cannot be read are left out)."""
        async with self._read() as session:
            rows = (await session.execute(select(MODELS_CACHE))).all()
        cached: dict[str, list[ModelInfo]] = {}
        for row in rows:
            try:
                cached[row.provider] = [model_from_json(item) for item in row.models]
            except (KeyError, TypeError, ValueError):
                continue
        return cached

    # -- provider facts ------------------------------------------------------------------------

    async def save_provider_facts(self, provider: str, facts: Mapping[str, Any]) -> None:
        """Merge ``facts`` (JSON values) into what is known about a provider's server."""
        table = PROVIDER_FACTS
        known = (await self.provider_facts()).get(provider, {})
        merged = {**known, **facts}
        async with self._write() as session:
            await session.execute(delete(table).where(table.c.provider == provider))
            await session.execute(
                insert(table).values(provider=provider, facts=merged, updated_at=now_utc())
            )

    async def provider_facts(self) -> dict[str, dict[str, Any]]:
        """What is known about each provider's server; unreadable entries are left out."""
        async with self._read() as session:
            rows = (await session.execute(select(PROVIDER_FACTS))).all()
        return {row.provider: dict(row.facts) for row in rows if isinstance(row.facts, dict)}

    # -- model usage ---------------------------------------------------------------------------

    async def note_model_used(self, provider: str, model: str) -> None:
        """Count a use of ``model`` at ``provider`` now (the picker lists recent ones first)."""
        table = MODEL_USAGE
        where = (table.c.provider == provider) & (table.c.model == model)
        async with self._write() as session:
            changed = await session.execute(
                update(table).where(where).values(last_used_at=now_utc(), uses=table.c.uses + 1)
            )
            if not changed.rowcount:  # type: ignore[attr-defined]
                await session.execute(
                    insert(table).values(
                        provider=provider, model=model, last_used_at=now_utc(), uses=1
                    )
                )

    async def recent_models(self, limit: int = 20) -> list[tuple[str, str]]:
        """``(provider, model)`` pairs, the most recently used first."""
        table = MODEL_USAGE
        query = (
            select(table.c.provider, table.c.model)
            .order_by(table.c.last_used_at.desc())
            .limit(limit)
        )
        async with self._read() as session:
            return [(row.provider, row.model) for row in (await session.execute(query)).all()]
