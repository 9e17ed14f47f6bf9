"""Command-palette providers: open a saved conversation by (fuzzy) title."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.services.history import inert

if TYPE_CHECKING:
    from tui.domain import Conversation
    from tui.services.handle import ServiceHandle

TITLES = 2_000
"""Recent conversations the palette matches against."""


class ConversationCommands(Provider):
    """``Open conversation: <title>`` for the most recent conversations, fuzzy on titles."""

    async def startup(self) -> None:
        self._conversations: list[Conversation] = []
        handle: ServiceHandle | None = getattr(self.app, "handle", None)
        services = handle.current if handle is not None else None
        if services is None:
            return
        try:
            page = await services.history.page(limit=TITLES)
        except Exception:  # the palette must open even when the history cannot be read
            return
        self._conversations = page.conversations

    def _open(self, conversation_id: int) -> None:
        from tui.screens.conversations import ConversationsScreen

        self.app.post_message(ConversationsScreen.OpenRequested(conversation_id))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for conversation in self._conversations:
            text = f"Open conversation: {inert(conversation.title)}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(self._open, conversation.id),
                    help=f"{conversation.message_count} messages · {conversation.model or ''}",
                )

    async def discover(self) -> Hits:
        for conversation in self._conversations[:10]:
            yield DiscoveryHit(
                f"Open conversation: {inert(conversation.title)}",
                partial(self._open, conversation.id),
                help=f"{conversation.message_count} messages",
            )
