"""The list of saved conversations: two lines a row, grouped by age, headings between groups.

Rows are built from ``Conversation`` summaries (and search hits), never from message bodies.
Everything shown that came from outside (titles, previews, snippets) is made inert first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.domain import Conversation, SearchHit
from tui.services.history import (
    MATCH_END,
    MATCH_START,
    AgeGroup,
    age_group,
    inert,
    plain,
    relative_time,
)

MATCH_STYLE = "bold reverse"
ROW_PREFIX = "c"


def _marked(text: str, base: str) -> list[tuple[str, str]]:
    """Split a snippet with ``[match]`` markers into styled pieces."""
    pieces: list[tuple[str, str]] = []
    rest = text
    while True:
        start = rest.find(MATCH_START)
        end = rest.find(MATCH_END, start + 1) if start >= 0 else -1
        if start < 0 or end < 0:
            pieces.append((rest, base))
            return pieces
        pieces.append((rest[:start], base))
        pieces.append((rest[start + 1 : end], MATCH_STYLE))
        rest = rest[end + 1 :]


def row_content(
    conversation: Conversation,
    now: datetime,
    *,
    selected: bool = False,
    snippet: str | None = None,
) -> Content:
    """The two lines of one conversation."""
    mark = "● " if selected else "  "
    title = inert(conversation.title)
    meta = [relative_time(conversation.updated_at, now)]
    if conversation.model:
        meta.insert(0, inert(conversation.model))
    count = conversation.message_count
    meta.append(f"{count} message{'s' if count != 1 else ''}")
    if conversation.archived:
        meta.append("archived")
    second: list[tuple[str, str] | str] = [("  " + " · ".join(meta) + "  ", "dim")]
    if snippet is not None:
        second.extend(_marked(inert(plain(snippet)), "italic"))
    elif conversation.preview:
        second.append((inert(plain(conversation.preview)), "dim italic"))
    return Content.assemble((mark, "bold"), (title, "bold"), "\n", *second)


def heading_content(group: AgeGroup | str) -> Content:
    return Content.assemble((str(group), "bold dim underline"))


class ConversationList(OptionList):
    """Saved conversations; posts ``OptionSelected`` with the row's conversation id."""

    DEFAULT_CSS = """
    ConversationList {
        text-wrap: nowrap;
        text-overflow: ellipsis;
        height: 1fr;
        border: none;
        padding: 0 0;
    }
    ConversationList:focus {
        border: none;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open", key_display="⏎", id="conversations.open"),
        Binding("ctrl+n", "app.new_chat", "New", id="conversations.new"),
        Binding("slash", "screen.focus_search", "Search", key_display="/"),
        Binding("r,f2", "screen.rename", "Rename", id="conversations.rename"),
        Binding("p", "screen.pin", "Pin", id="conversations.pin"),
        Binding("a", "screen.archive", "Archive", id="conversations.archive"),
        Binding("d,delete", "screen.delete", "Delete", id="conversations.delete"),
        Binding("u", "screen.undo", "Undo", id="conversations.undo"),
        Binding("f", "screen.fork", "Fork", id="conversations.fork"),
        Binding("e", "screen.export", "Export", id="conversations.export"),
        Binding("i", "screen.import", "Import", id="conversations.import"),
        Binding("space", "screen.toggle_select", "Select", key_display="␣"),
        Binding("v", "screen.toggle_archive", "Archived", id="conversations.archive_view"),
        Binding("question_mark", "app.toggle_keys", "Keys", key_display="?"),
    ]

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.rows: dict[int, Conversation] = {}
        """The conversations shown, by id."""
        self.snippets: dict[int, SearchHit] = {}
        self.selected: set[int] = set()
        self._now = datetime.now().astimezone()
        self._last_group: AgeGroup | None = None

    # -- filling -------------------------------------------------------------------------------

    def show_conversations(
        self, conversations: Sequence[Conversation], now: datetime, *, keep: int | None = None
    ) -> None:
        """Replace the rows with a first page of the list (grouped by age)."""
        self._now = now
        self.rows.clear()
        self.snippets.clear()
        self._last_group = None
        self.clear_options()
        self.append_conversations(conversations)
        self.highlight_conversation(keep)

    def append_conversations(self, conversations: Sequence[Conversation]) -> None:
        """Add the next page of the list below the rows already shown."""
        options: list[Option] = []
        for conversation in conversations:
            if conversation.id in self.rows:
                continue
            group = age_group(conversation, self._now)
            if group is not self._last_group:
                options.append(Option(heading_content(group), disabled=True))
                self._last_group = group
            self.rows[conversation.id] = conversation
            options.append(self._option(conversation))
        self.add_options(options)

    def show_hits(self, hits: Sequence[SearchHit], now: datetime) -> None:
        """Replace the rows with search results, best first, snippets highlighted."""
        self._now = now
        self.rows.clear()
        self.snippets.clear()
        self.clear_options()
        options: list[Option] = []
        for hit in hits:
            conversation = hit.conversation
            self.rows[conversation.id] = conversation
            self.snippets[conversation.id] = hit
            options.append(self._option(conversation))
        self.add_options(options)
        self.highlight_conversation(None)

    def _option(self, conversation: Conversation) -> Option:
        hit = self.snippets.get(conversation.id)
        snippet = hit.snippet if hit is not None and hit.message_id is not None else None
        content = row_content(
            conversation, self._now, selected=conversation.id in self.selected, snippet=snippet
        )
        return Option(content, id=f"{ROW_PREFIX}{conversation.id}")

    def refresh_row(self, conversation: Conversation) -> None:
        """Show a changed conversation (renamed, selected) in place."""
        if conversation.id not in self.rows:
            return
        self.rows[conversation.id] = conversation
        hit = self.snippets.get(conversation.id)
        snippet = hit.snippet if hit is not None and hit.message_id is not None else None
        content = row_content(
            conversation, self._now, selected=conversation.id in self.selected, snippet=snippet
        )
        self.replace_option_prompt(f"{ROW_PREFIX}{conversation.id}", content)

    # -- selection -----------------------------------------------------------------------------

    @property
    def current(self) -> Conversation | None:
        """The highlighted conversation."""
        option = self.highlighted_option
        if option is None or option.id is None:
            return None
        return self.rows.get(int(option.id[len(ROW_PREFIX) :]))

    @property
    def current_hit(self) -> SearchHit | None:
        conversation = self.current
        return self.snippets.get(conversation.id) if conversation is not None else None

    def highlight_conversation(self, conversation_id: int | None) -> None:
        """Highlight this conversation if shown, else the newest one."""
        if conversation_id is not None and conversation_id in self.rows:
            self.highlighted = self.get_option_index(f"{ROW_PREFIX}{conversation_id}")
            return
        if not self.rows:
            self.highlighted = None
            return
        if self.snippets:  # search results: the best match
            first = next(iter(self.rows))
        else:  # the list: the most recent, pinned or not (Enter opens it)
            first = max(self.rows.values(), key=lambda c: (c.updated_at, c.id)).id
        self.highlighted = self.get_option_index(f"{ROW_PREFIX}{first}")
        self.scroll_home(animate=False)
        self.scroll_to_highlight()

    def remaining_below(self) -> int:
        """Options below the highlighted one (to know when to load the next page)."""
        if self.highlighted is None:
            return self.option_count
        return self.option_count - 1 - self.highlighted

    def selection_or_current(self) -> list[Conversation]:
        """What an action applies to: the selected rows, else the highlighted one."""
        chosen = [self.rows[ident] for ident in self.rows if ident in self.selected]
        if chosen:
            return chosen
        current = self.current
        return [current] if current is not None else []
