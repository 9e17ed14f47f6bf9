"""Command-palette providers: open a saved conversation by (fuzzy) title."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.markup import escape

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
                    _highlighted(matcher, text),
                    partial(self._open, conversation.id),
                    help=escape(  # the palette reads help as markup
                        f"{conversation.message_count} messages · {inert(conversation.model or '')}"
                    ),
                )

    async def discover(self) -> Hits:
        for conversation in self._conversations[:10]:
            yield DiscoveryHit(
                Content(f"Open conversation: {inert(conversation.title)}"),
                partial(self._open, conversation.id),
                help=f"{conversation.message_count} messages",
            )


def _highlighted(matcher: Matcher, text: str) -> Content:
    """``text`` with the matched letters styled, as ``Matcher.highlight`` does, but never read
    as markup: a title such as ``Plan [/b] later`` is text (markup would fail or be obeyed)."""
    content = Content(text)
    score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    if not score:
        return content
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
