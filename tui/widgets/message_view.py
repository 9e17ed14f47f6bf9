"""One message of a conversation: header, reasoning, body, error, sibling navigator.

The view never calls a service: it shows a ``Message`` and posts what the user asked for
(``CopyRequested``, ``SiblingRequested``, ``RegenerateRequested``, ``EditRequested``) up to the
screen. A reply being streamed is fed with ``append_text`` / ``append_reasoning`` and closed
with ``finish``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.errors import NoWidget
from textual.message import Message as TextualMessage
from textual.style import Style
from textual.widget import Widget
from textual.widgets import Collapsible, Static
from textual.widgets._markdown import MarkdownFence

from tui.domain import Citation, Message, MessageStatus, Role, ToolCallRecord, Usage
from tui.services.history import inert
from tui.widgets.streaming_markdown import StreamingMarkdown
from tui.widgets.tool_block import ToolCallBlock

_STATUS_NOTES = {
    MessageStatus.STREAMING: "writing…",
    MessageStatus.CANCELLED: "cancelled",
    MessageStatus.INCOMPLETE: "cut short",
    MessageStatus.INTERRUPTED: "interrupted",
    MessageStatus.FAILED: "failed",
}


def header_content(message: Message, sibling: tuple[int, int]) -> Content:
    """The header line: who, when, usage and latency, status, and the sibling navigator."""
    parts: list[tuple[str, str | Style] | str] = []
    if message.role is Role.USER:
        parts.append(("You", "bold $text-accent"))
    elif message.role is Role.SYSTEM:
        parts.append(("System", "bold $text-warning"))
    else:
        parts.append((inert(message.model or "Assistant"), "bold $text-primary"))
    details = [message.created_at.astimezone().strftime("%H:%M")]
    if message.input_tokens is not None or message.output_tokens is not None:
        usage = f"in {message.input_tokens or 0:,} · out {message.output_tokens or 0:,}"
        if message.reasoning_tokens:
            usage += f" (reasoning {message.reasoning_tokens:,})"
        details.append(usage)
    if message.latency_ms is not None:
        details.append(f"first token {message.latency_ms / 1000:.1f} s")
    if message.duration_ms is not None:
        details.append(f"total {message.duration_ms / 1000:.1f} s")
    parts.append(("  " + " · ".join(details), "$foreground-muted"))
    note = _STATUS_NOTES.get(message.status)
    if note:
        color = "$text-error" if message.status is MessageStatus.FAILED else "$text-warning"
        parts.append((f"  {note}", color))
    position, count = sibling
    if count > 1:
        parts.append("  ")
        parts.append(("◀", Style.from_meta({"@click": "sibling(-1)"})))
        parts.append((f" {position}/{count} ", "$foreground-muted"))
        parts.append(("▶", Style.from_meta({"@click": "sibling(1)"})))
    return Content.assemble(*parts)


CODE_KEYS = Binding.Group("Code", compact=True)
"""``[`` ``]`` pick a code block and ``y`` copies it: one footer entry."""
BRANCH_KEYS = Binding.Group("Branch", compact=True)
"""``←`` ``→`` switch to the previous or next branch: one footer entry."""


class MessageHeader(Static):
    """The header line; its ◀ ▶ links ask the message view for a sibling."""

    def action_sibling(self, direction: int) -> None:
        """Forward a click on ◀ or ▶."""
        view = self.query_ancestor(MessageView)
        view.request_sibling(direction)


def sources_content(citations: Sequence[Citation]) -> Content:
    """``Sources`` and one numbered line per source: ``1. Title — url`` (inert; a click on a
    line opens its url)."""
    parts: list[tuple[str, str | Style] | str] = [("Sources", "bold $text-muted")]
    for index, citation in enumerate(citations):
        url = inert(citation.url)
        title = inert(citation.title or "").strip()
        link = Style.from_meta({"@click": f"open_source({index})"}) + Style(underline=True)
        parts.append(f"\n{index + 1}. ")
        if title and title != url:
            parts.append((title, link))
            parts.append(("  — ", "$text-muted"))
            parts.append((url, "$text-muted"))
        else:
            parts.append((url, link))
    return Content.assemble(*parts)


class SourcesList(Static):
    """The web sources an answer cites, numbered, under its text."""

    def __init__(self, citations: Sequence[Citation]) -> None:
        super().__init__(sources_content(citations), classes="sources")
        self.citations = list(citations)

    def show(self, citations: Sequence[Citation]) -> None:
        self.citations = list(citations)
        self.update(sources_content(self.citations))

    def action_open_source(self, index: int) -> None:
        """Open a source's url (a click on its line)."""
        if 0 <= index < len(self.citations):
            url = self.citations[index].url
            if url.lower().startswith(("http://", "https://")):  # a web page, nothing else
                self.app.open_url(url)


def _unique(citations: Iterable[Citation]) -> list[Citation]:
    """Citations in order, each url once."""
    first: dict[str, Citation] = {}
    for citation in citations:
        first.setdefault(citation.url, citation)
    return list(first.values())


class MessageView(Widget, can_focus=True):
    """One message, as the conversation shows it."""

    reasoning_shown: ClassVar[bool] = False
    """Show reasoning blocks open (a display preference for every message; see
    ``show_reasoning``). Otherwise they are closed once the answer starts."""

    DEFAULT_CSS = """
    MessageView {
        height: auto;
        padding: 0 1;
        margin: 0 0 1 0;
        &:focus { background: $boost; }
        &.-user { background: $primary 8%; }
        & > MessageHeader { height: 1; padding: 0 1; }
        & > .body { height: auto; padding: 0 1; }
        & > .attachments { color: $text-muted; padding: 0 1; height: auto; }
        & > .error { color: $text-error; background: $error 10%; padding: 0 1; height: auto; }
        & > Collapsible { margin: 0; padding: 0; border-top: none; background: transparent; }
        & > ToolCallBlock { margin: 0 1; }
        & > .sources { height: auto; padding: 0 1; margin: 1 0 0 0; }
        & MarkdownFence.-selected { outline: round $accent; }
    }
    """

    # The footer shows only the keys that apply to the focused message (see ``check_action``);
    # the keys of a group share one entry (``[ ] y Code``, ``← → Branch``), and a grouped key's
    # description is its tooltip.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy_message", "Copy", tooltip="Copy the message", id="message.copy"),
        Binding(
            "left_square_bracket",
            "select_code(-1)",
            "Previous code block",
            group=CODE_KEYS,
            id="message.previous_code",
        ),
        Binding(
            "right_square_bracket",
            "select_code(1)",
            "Next code block",
            group=CODE_KEYS,
            id="message.next_code",
        ),
        Binding("y", "copy_code", "Copy the code block", group=CODE_KEYS, id="message.copy_code"),
        Binding(
            "r",
            "regenerate",
            "Retry",
            tooltip="Answer again, as a new branch",
            id="message.regenerate",
        ),
        Binding("e", "edit", "Edit", tooltip="Edit and resend, as a new branch", id="message.edit"),
        Binding(
            "left",
            "sibling(-1)",
            "Previous branch",
            group=BRANCH_KEYS,
            id="message.previous_branch",
        ),
        Binding("right", "sibling(1)", "Next branch", group=BRANCH_KEYS, id="message.next_branch"),
        # The prompt's keys work from a message too, but the footer leaves them out here: it has
        # room for the message's own keys and the app's.
        Binding("ctrl+f", "screen.attach", "Attach", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    class CopyRequested(TextualMessage):
        """The user asked to copy the message or one of its code blocks."""

        def __init__(self, view: MessageView, text: str, code_block: int | None = None) -> None:
            super().__init__()
            self.view = view
            self.text = text
            self.code_block = code_block
            """Index of the code block copied, or ``None`` for the whole message."""

        @property
        def control(self) -> MessageView:
            return self.view

    class SiblingRequested(TextualMessage):
        """The user asked for the previous (-1) or next (+1) branch at this message."""

        def __init__(self, message_id: int, direction: int) -> None:
            super().__init__()
            self.message_id = message_id
            self.direction = direction

    class BackRequested(TextualMessage):
        """The user pressed Esc on a message: leave the messages (or cancel an edit)."""

    class RegenerateRequested(TextualMessage):
        """The user asked for another answer in place of this assistant message."""

        def __init__(self, message_id: int) -> None:
            super().__init__()
            self.message_id = message_id

    class EditRequested(TextualMessage):
        """The user asked to edit and resend this user message."""

        def __init__(self, message_id: int, text: str) -> None:
            super().__init__()
            self.message_id = message_id
            self.text = text

    def __init__(
        self,
        message: Message,
        *,
        sibling: tuple[int, int] = (1, 1),
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.message = message
        """The message shown; updated as a streamed reply progresses."""
        self.sibling = sibling
        """1-based position among its siblings, and how many there are."""
        self.selected_code: int | None = None
        """The code block picked with ``[`` / ``]`` or a click, copied with ``y``."""
        self._answer_started = bool(message.content)
        self._reasoning: StreamingMarkdown | None = None
        self._collapsible: Collapsible | None = None
        self._error: Static | None = None
        self._tool_blocks: dict[tuple[int, str], ToolCallBlock] = {}
        """Each call's block by (round, call id): a server may use the same ids every round."""
        self._citations = _unique(message.citations)
        self._sources: SourcesList | None = None
        self._segments: list[StreamingMarkdown | Static] = []
        """The answer's text, split at its rounds of tool calls; the last one is ``body``."""
        self._parts: list[Widget] = []
        """What compose yields between the reasoning and the attachments."""
        if message.role is Role.ASSISTANT:
            self._split(message)
        else:
            self._segments.append(Static(Content(inert(message.content)), classes="body"))
            self._parts.append(self._segments[0])
        self._body: StreamingMarkdown | Static = self._segments[-1]
        self.set_class(message.role is Role.USER, "-user")

    def _split(self, message: Message) -> None:
        """Text segments with each round's tool calls between them, cut at the rounds'
        offsets in the text."""
        content = message.content
        rounds: dict[int, list[ToolCallRecord]] = {}
        for record in message.tool_calls:
            rounds.setdefault(record.round, []).append(record)
        start = 0
        for number in sorted(rounds):
            records = rounds[number]
            end = min(max(records[0].offset, start), len(content))
            segment = StreamingMarkdown(content[start:end], classes="body")
            segment.display = end > start
            self._segments.append(segment)
            self._parts.append(segment)
            for record in records:
                block = ToolCallBlock(record)
                self._tool_blocks[record.round, record.call_id] = block
                self._parts.append(block)
            start = end
        last = StreamingMarkdown(content[start:], classes="body")
        self._segments.append(last)
        self._parts.append(last)

    # ------------------------------------------------------------------ composition

    def compose(self) -> ComposeResult:
        message = self.message
        yield MessageHeader(header_content(message, self.sibling))
        if message.reasoning:
            yield self._make_reasoning(message.reasoning, collapsed=not self.reasoning_shown)
        yield from self._parts
        if self._citations:
            self._sources = SourcesList(self._citations)
            yield self._sources
        if message.attachments:
            names = "  ".join(f"📎 {inert(item.name)}" for item in message.attachments)
            yield Static(Content(names), classes="attachments")
        if message.error:
            self._error = Static(Content(inert(message.error)), classes="error")
            yield self._error

    def _make_reasoning(self, text: str, collapsed: bool) -> Collapsible:
        self._reasoning = StreamingMarkdown(text, classes="reasoning")
        self._collapsible = Collapsible(self._reasoning, title="Reasoning", collapsed=collapsed)
        return self._collapsible

    def show_reasoning(self, shown: bool) -> None:
        """Open or close this message's reasoning block, if it has one."""
        if self._collapsible is not None:
            self._collapsible.collapsed = not shown

    @property
    def body(self) -> StreamingMarkdown | Static:
        """The widget showing the message text (after the last tool calls, if any)."""
        return self._body

    @property
    def segments(self) -> list[StreamingMarkdown | Static]:
        """The widgets showing the text, in order: one per stretch between tool calls."""
        return list(self._segments)

    @property
    def tool_blocks(self) -> list[ToolCallBlock]:
        """The tool calls shown, in order."""
        return list(self._tool_blocks.values())

    @property
    def citations(self) -> list[Citation]:
        """The sources shown under the answer."""
        return list(self._citations)

    def _markdown_segments(self) -> list[StreamingMarkdown]:
        return [s for s in self._segments if isinstance(s, StreamingMarkdown)]

    @property
    def reasoning_collapsible(self) -> Collapsible | None:
        """The reasoning block, if the message has reasoning."""
        return self._collapsible

    @property
    def text(self) -> str:
        """The message text as received so far (every segment)."""
        segments = self._markdown_segments()
        return "".join(s.text for s in segments) if segments else self.message.content

    @property
    def code_blocks(self) -> list[str]:
        """The code of each code block of the answer."""
        return [code for segment in self._markdown_segments() for code in segment.code_blocks]

    async def show_window(self, top: int, bottom: int, height: int) -> None:
        """Have a long answer mount the blocks near rows ``top..bottom`` of this view.

        Its offset inside the view comes from the last layout of the parts above it; a view
        not laid out yet is left to its own check after the layout.
        """
        foldable = [s for s in self._markdown_segments() if s.foldable]
        if not foldable:
            return
        offset = self.styles.gutter.top
        previous_margin = 0
        for child in self.children:
            if not child.display:
                continue
            margin = child.styles.margin
            child_top = offset + max(previous_margin, margin.top)
            if child in foldable:
                inner = child_top + child.styles.gutter.top
                await child.show_window(top - inner, bottom - inner, height)
                foldable.remove(child)
                if not foldable:
                    return
            size = child.outer_size
            if size.width == 0:
                return
            offset = child_top + size.height
            previous_margin = margin.bottom

    # ------------------------------------------------------------------ streaming

    async def append_reasoning(self, text: str) -> None:
        """Add reasoning text; the reasoning block is open while it streams."""
        if self._reasoning is None:
            collapsible = self._make_reasoning("", collapsed=self._answer_started)
            await self.mount(collapsible, after=self.query_one(MessageHeader))
        assert self._reasoning is not None
        self._reasoning.append(text)

    def append_text(self, text: str) -> AwaitComplete:
        """Add answer text; the first of it closes the reasoning block.

        Cheap (buffered until the next frame); awaiting the result is optional and waits for
        the frame that shows it.
        """
        if not self._answer_started and text:
            self._answer_started = True
            if self._collapsible is not None and not self.reasoning_shown:
                self._collapsible.collapsed = True
        body = self.body
        if isinstance(body, StreamingMarkdown):
            return body.append(text)
        return AwaitComplete()

    async def add_tool_calls(self, records: Sequence[ToolCallRecord]) -> None:
        """A round of tool calls: the text so far is finished, the calls are shown under it,
        and the text that follows goes to a new segment below them."""
        new = [r for r in records if (r.round, r.call_id) not in self._tool_blocks]
        if not new:
            return
        previous = self._body
        if isinstance(previous, StreamingMarkdown):
            await previous.finish()
            if not previous.text:
                previous.display = False
        blocks = [ToolCallBlock(record) for record in new]
        for block in blocks:
            self._tool_blocks[block.record.round, block.call_id] = block
        segment = StreamingMarkdown("", classes="body")
        self._segments.append(segment)
        self._body = segment
        if self.is_mounted:
            await self.mount_all([*blocks, segment], after=previous)
        else:
            self._parts.extend([*blocks, segment])

    def update_tool_call(self, record: ToolCallRecord) -> None:
        """Show a tool call's new state (found by its round and ``call_id``)."""
        block = self._tool_blocks.get((record.round, record.call_id))
        if block is not None:
            block.update_record(record)

    async def add_citation(self, citation: Citation) -> None:
        """Add a source under the answer (each url once)."""
        if any(known.url == citation.url for known in self._citations):
            return
        self._citations.append(citation)
        await self._show_sources()

    async def _show_sources(self) -> None:
        if not self._citations:
            return
        if self._sources is not None:
            self._sources.show(self._citations)
        elif self.is_mounted:
            self._sources = SourcesList(self._citations)
            await self.mount(self._sources, after=self._body)

    def set_usage(self, usage: Usage) -> None:
        """Show token counts as soon as the provider reports them."""
        self.update_message(
            replace(
                self.message,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                cached_tokens=usage.cached_tokens,
            )
        )

    async def finish(self, message: Message | None = None) -> None:
        """End the stream: one clean parse, and the final header (status, usage, latency)."""
        if self._reasoning is not None:
            await self._reasoning.finish()
        for segment in self._markdown_segments():
            await segment.finish()
        if message is not None:
            for record in message.tool_calls:
                self.update_tool_call(record)
            known = {citation.url for citation in self._citations}
            self._citations.extend(c for c in _unique(message.citations) if c.url not in known)
            await self._show_sources()
            self.update_message(replace(message, content=self.text))
            if message.error:
                await self.show_error(message.error)
        self._keys_may_have_changed()  # its code blocks are all there now

    def update_message(self, message: Message) -> None:
        """Show new header fields (status, usage, model) for the same message."""
        self.message = message
        if self.is_mounted:
            self.query_one(MessageHeader).update(header_content(message, self.sibling))
        self._keys_may_have_changed()

    @on(StreamingMarkdown.CodeAppeared)
    def _code_appeared(self, event: StreamingMarkdown.CodeAppeared) -> None:
        event.stop()
        self._keys_may_have_changed()  # the code keys apply from the first block on

    def _keys_may_have_changed(self) -> None:
        """Have the footer ask again which keys apply, if it shows this message's keys."""
        if self.has_focus:
            self.refresh_bindings()

    def set_sibling(self, position: int, count: int) -> None:
        """Show where this message sits among its siblings."""
        self.sibling = (position, count)
        self.update_message(self.message)

    @property
    def error_text(self) -> str:
        """The error shown under the message, with what to do ("" when there is none)."""
        return str(self._error.render()) if self._error is not None else ""

    async def show_error(self, text: str, hint: str = "") -> None:
        """Show an error under the message, with what to do about it."""
        text, hint = inert(text), inert(hint)  # a provider's words, quoted
        content = Content(text) if not hint else Content.assemble(text, "\n", (hint, "italic"))
        if self._error is None:
            self._error = Static(content, classes="error")
            await self.mount(self._error)
        else:
            self._error.update(content)

    # ------------------------------------------------------------------ requests

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer a key only where it applies (a key that does not apply is hidden and passed on).

        Code keys need a code block, Retry a finished answer, Edit a message of yours, the branch
        keys a message with siblings; while the screen streams a reply it neither retries nor
        switches branches.
        """
        if action in ("select_code", "copy_code"):
            return bool(self.code_blocks)
        if action == "regenerate":
            return (
                self.message.role is Role.ASSISTANT
                and self.message.status is not MessageStatus.STREAMING
                and not self._screen_streaming()
            )
        if action == "edit":
            return self.message.role is Role.USER
        if action == "back":  # while a reply streams, Esc stops it (the screen's key)
            return not self._screen_streaming()
        if action == "sibling":
            return self.sibling[1] > 1 and not self._screen_streaming()
        return True

    def _screen_streaming(self) -> bool:
        """True while the screen showing this message streams a reply."""
        return self.is_attached and bool(getattr(self.screen, "streaming", False))

    def request_sibling(self, direction: int) -> None:
        """Ask for the previous or next sibling, if there is one that way."""
        position, count = self.sibling
        if count > 1 and 1 <= position + direction <= count:
            self.post_message(self.SiblingRequested(self.message.id, direction))

    def action_sibling(self, direction: int) -> None:
        self.request_sibling(direction)

    def action_copy_message(self) -> None:
        self.post_message(self.CopyRequested(self, self.text))

    def action_select_code(self, step: int) -> None:
        count = len(self.code_blocks)
        if not count:
            return
        if self.selected_code is None:
            self.selected_code = 0 if step > 0 else count - 1
        else:
            self.selected_code = (self.selected_code + step) % count
        self._mark_selected_code()

    def action_copy_code(self) -> None:
        blocks = self.code_blocks
        if not blocks:
            return
        if self.selected_code is None:
            self.selected_code = 0
            self._mark_selected_code()
        index = self.selected_code
        self.post_message(self.CopyRequested(self, blocks[index], code_block=index))

    def action_regenerate(self) -> None:
        if (
            self.message.role is Role.ASSISTANT
            and self.message.status is not MessageStatus.STREAMING
        ):
            self.post_message(self.RegenerateRequested(self.message.id))

    def action_back(self) -> None:
        """Esc on a message: the screen cancels what it has open, or else goes back to the
        prompt."""
        self.post_message(self.BackRequested())

    def action_edit(self) -> None:
        if self.message.role is Role.USER:
            self.post_message(self.EditRequested(self.message.id, self.message.content))

    def _mark_selected_code(self) -> None:
        fences = self._fences_in_order()
        for index, fence in fences:
            fence.set_class(index == self.selected_code, "-selected")
            if index == self.selected_code:
                fence.scroll_visible()

    def _fences_in_order(self) -> list[tuple[int, MarkdownFence]]:
        """Mounted code block widgets with their index among all code blocks of the answer."""
        result: list[tuple[int, MarkdownFence]] = []
        base = 0
        for segment in self._markdown_segments():
            blocks = segment.code_blocks
            start = 0
            for fence in segment.code_block_widgets():
                for index in range(start, len(blocks)):
                    if blocks[index] == fence.code:
                        result.append((base + index, fence))
                        start = index + 1
                        break
            base += len(blocks)
        return result

    @on(events.Click)
    def _pick_code_block(self, event: events.Click) -> None:
        """A click on a code block selects it, for ``y`` to copy."""
        try:
            widget: Widget | None = self.screen.get_widget_at(event.screen_x, event.screen_y)[0]
        except NoWidget:
            return
        while widget is not None and widget is not self:
            if isinstance(widget, MarkdownFence):
                for index, fence in self._fences_in_order():
                    if fence is widget:
                        self.selected_code = index
                        self._mark_selected_code()
                return
            widget = widget.parent if isinstance(widget.parent, Widget) else None
