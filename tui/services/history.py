"""HistoryService: what the conversations screen needs from the store, and how it groups rows.

The screen never talks to the repository: it asks this service for pages of the list, search
hits, and the management verbs (rename, pin, archive, delete with undo, fork, export). Deleting
is two-step so it can be undone: ``hide`` removes a conversation from every list at once, and
``purge`` (after the undo window, or at exit) deletes it from the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from tui.domain import ApiMode, Conversation, Message, SearchHit
from tui.safe_text import inert
from tui.store.snippets import MATCH_END, MATCH_START

__all__ = ["MATCH_END", "MATCH_START", "HistoryService", "Thread", "inert"]

if TYPE_CHECKING:
    from tui.store.db import Store

PAGE = 200
"""Conversations read per page of the list."""
SEARCH_LIMIT = 200
"""Search hits shown at most."""


_MARKUP = re.compile(r"(?:(?<=\s)|^)(?:#{1,6}|>|[-*+]|\d+\.)\s+|\*\*|__|`+")


def plain(text: str) -> str:
    """A preview without Markdown's marks (headings, quotes, bullets, emphasis, code ticks)."""
    return " ".join(_MARKUP.sub("", text).split())


class AgeGroup(StrEnum):
    """The headings of the list, in order."""

    PINNED = "Pinned"
    TODAY = "Today"
    YESTERDAY = "Yesterday"
    WEEK = "This week"
    OLDER = "Older"


def age_group(conversation: Conversation, now: datetime) -> AgeGroup:
    """Where a conversation goes in the list: pinned on top, then by its last activity."""
    if conversation.pinned and not conversation.archived:
        return AgeGroup.PINNED
    local_now = now.astimezone()
    when = conversation.updated_at.astimezone()
    days = (local_now.date() - when.date()).days
    if days <= 0:
        return AgeGroup.TODAY
    if days == 1:
        return AgeGroup.YESTERDAY
    if days < 7:
        return AgeGroup.WEEK
    return AgeGroup.OLDER


def relative_time(moment: datetime, now: datetime) -> str:
    """``now``, ``5m``, ``3h``, ``Mon``, ``Mar 14``, ``2024-03-14``: short, for a list row."""
    delta = now - moment
    if delta < timedelta(minutes=1):
        return "now"
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)}m"
    local = moment.astimezone()
    local_now = now.astimezone()
    if delta < timedelta(hours=24) and local.date() == local_now.date():
        return f"{int(delta.total_seconds() // 3600)}h"
    days = (local_now.date() - local.date()).days
    if days == 1:
        return "yesterday"
    if days < 7:
        return local.strftime("%a")
    if local.year == local_now.year:
        return local.strftime("%b %d").replace(" 0", " ")
    return local.strftime("%Y-%m-%d")


def export_name(conversation: Conversation, extension: str) -> str:
    """A file name for an export: the title as a slug, ``.md`` or ``.json``."""
    slug = re.sub(r"[^\w.-]+", "-", conversation.title.casefold()).strip("-.")[:60]
    return f"{slug or 'conversation'}-{conversation.id}.{extension}"


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of the list and how many conversations the list holds in all."""

    conversations: list[Conversation]
    total: int


@dataclass(frozen=True, slots=True)
class Thread:
    """A conversation as the conversation screen shows it."""

    conversation: Conversation
    path: list[Message]
    """Root to the active leaf."""
    positions: dict[int, tuple[int, int]]
    """For each message of the path: its place among its siblings and their count."""


class HistoryService:
    """The saved conversations, for the conversations screen."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._hidden: set[int] = set()

    # -- reading -------------------------------------------------------------------------------

    async def page(self, *, archived: bool = False, offset: int = 0, limit: int = PAGE) -> ListPage:
        """A page of the list (pinned first, then newest), without hidden conversations."""
        repository = self._store.repository
        # Read a little more than asked so hidden (being deleted) rows do not leave gaps.
        rows = await repository.list_conversations(
            limit=limit + len(self._hidden), offset=offset, archived=archived
        )
        shown = [row for row in rows if row.id not in self._hidden][:limit]
        total = await repository.count_conversations(archived=archived)
        return ListPage(shown, max(total - len(self._hidden), len(shown)))

    async def search(self, query: str, *, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
        """Conversations whose title or messages match, titles first (see ``tui.store.search``)."""
        hits = await self._store.repository.search(query, limit=limit + len(self._hidden))
        return [hit for hit in hits if hit.conversation.id not in self._hidden][:limit]

    async def get(self, conversation_id: int) -> Conversation | None:
        return await self._store.repository.get_conversation(conversation_id)

    async def has_conversations(self) -> bool:
        """Whether the list (not the archive) has anything to show."""
        page = await self.page(limit=1)
        return bool(page.conversations)

    async def change_token(self) -> int:
        """A number that changes whenever any connection (any copy of the app) commits."""
        return await self._store.change_token()

    # -- one conversation, for the conversation screen ----------------------------------------

    async def latest_conversation(self) -> Conversation | None:
        return await self._store.repository.latest_conversation()

    async def get_conversation(self, conversation_id: int) -> Conversation | None:
        return await self._store.repository.get_conversation(conversation_id)

    async def open_thread(self, conversation_id: int, found: int | None = None) -> Thread | None:
        """A conversation with its active path, or None if it no longer exists.

        ``found`` (a message found by a search) on another branch makes that branch active.
        """
        conversation = await self.get_conversation(conversation_id)
        if conversation is None:
            return None
        path = await self.active_path(conversation_id)
        if found is not None and all(message.id != found for message in path):
            path = await self.switch_to_branch(found)
        positions = await self.sibling_positions(conversation_id, path)
        return Thread(conversation, path, positions)

    async def active_path(self, conversation_id: int, leaf_id: int | None = None) -> list[Message]:
        """The messages shown: root to the active leaf (or to ``leaf_id``)."""
        return await self._store.repository.active_path(conversation_id, leaf_id)

    async def sibling_positions(
        self, conversation_id: int, path: Sequence[Message]
    ) -> dict[int, tuple[int, int]]:
        """For each message of ``path``: its place among its siblings and their count."""
        return await self._store.repository.sibling_positions(conversation_id, path)

    async def siblings(self, message_id: int) -> list[Message]:
        return await self._store.repository.siblings(message_id)

    async def switch_to_branch(self, message_id: int) -> list[Message]:
        """Make the branch through ``message_id`` active; returns the new path."""
        return await self._store.repository.switch_to_branch(message_id)

    async def get_message(self, message_id: int) -> Message | None:
        return await self._store.repository.get_message(message_id)

    async def set_api_mode(self, conversation_id: int, api_mode: ApiMode) -> None:
        """Use this API from the next turn on."""
        await self._store.repository.update_conversation(conversation_id, api_mode=api_mode)

    # -- managing ------------------------------------------------------------------------------

    async def rename(self, conversation_id: int, title: str) -> None:
        await self._store.repository.rename_conversation(conversation_id, title)

    async def set_pinned(self, conversation_id: int, pinned: bool) -> None:
        await self._store.repository.set_pinned(conversation_id, pinned)

    async def set_archived(self, conversation_id: int, archived: bool) -> None:
        await self._store.repository.set_archived(conversation_id, archived)

    def hide(self, conversation_ids: list[int]) -> None:
        """Take conversations out of every list now; ``purge`` or ``unhide`` decides later."""
        self._hidden.update(conversation_ids)

    def unhide(self, conversation_ids: list[int]) -> None:
        """Undo a delete that has not been purged yet."""
        self._hidden.difference_update(conversation_ids)

    @property
    def hidden(self) -> frozenset[int]:
        return frozenset(self._hidden)

    async def purge(self, conversation_ids: list[int]) -> None:
        """Delete hidden conversations for good (their messages and attachments go too)."""
        from tui.store.errors import NotFoundError

        for conversation_id in conversation_ids:
            if conversation_id not in self._hidden:
                continue  # undone meanwhile
            try:
                await self._store.repository.delete_conversation(conversation_id)
            except NotFoundError:
                pass  # deleted elsewhere already
            self._hidden.discard(conversation_id)

    async def purge_all(self) -> None:
        """At exit: every delete still waiting for its undo window is carried out."""
        await self.purge(sorted(self._hidden))

    async def fork(self, conversation_id: int) -> Conversation:
        """A copy of the conversation with its whole tree, to take another way."""
        from tui.services.export import export_json, import_json

        original = await self._require(conversation_id)
        text = await export_json(self._store.repository, conversation_id)
        copy = await import_json(self._store.repository, text)
        title = f"{original.title} (fork)"
        await self._store.repository.rename_conversation(copy.id, title)
        return await self._require(copy.id)

    async def export(self, conversation_id: int, path: Path) -> Path:
        """Write the conversation to ``path``: JSON for ``.json``, else Markdown."""
        import asyncio

        from tui.services.export import export_json, export_markdown

        repository = self._store.repository
        if path.suffix.lower() == ".json":
            text = await export_json(repository, conversation_id) + "\n"
        else:
            text = await export_markdown(repository, conversation_id)
        target = path.expanduser()
        await asyncio.to_thread(_write_new, target, text)
        return target

    async def import_file(
        self, path: Path, progress: Callable[[int, float], None] | None = None
    ) -> int:
        """Import a tui-chat export (one or many conversations) or ChatGPT's export.

        The file is read and converted in a worker thread, round by round, while the previous
        round is written; all of it goes into one transaction, so a bad file imports nothing.
        ``progress(stored, read)`` follows it. Returns how many conversations.
        """
        from tui.services.imports import import_file

        result = await import_file(
            self._store.sessions, path, progress=progress, location=self._store.location
        )
        return len(result.conversation_ids)

    async def _require(self, conversation_id: int) -> Conversation:
        conversation = await self._store.repository.get_conversation(conversation_id)
        if conversation is None:
            raise LookupError(f"There is no conversation {conversation_id}.")
        return conversation


def _write_new(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, never over an existing file of the user's."""
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name")
    with path.open("x", encoding="utf-8") as handle:
        handle.write(text)
