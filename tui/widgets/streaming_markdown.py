"""Markdown that streams in: finished blocks are rendered once, only the open tail is re-rendered.

``append`` only buffers a delta. At most once a frame the buffered text is parsed *from the start
of the open tail*; the top-level blocks that can no longer change are mounted once and frozen,
and only the open block is rebuilt. ``finish`` shows the rest at once (the open tail parsed and
built afresh, as cheap as any frame), and once that frame is on screen one clean parse of the
whole text checks every block and rebuilds whatever differs from it, so the result is what a
one-shot ``Markdown`` render shows. ``confirmed`` waits for that check.

Blocks are Textual's own Markdown block widgets, so lists, tables and highlighted code look the
same as everywhere else in Textual. Blocks far above or below the viewport are folded into spacers
of the same height (see ``_virtual``): a long answer keeps a bounded number of mounted widgets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from textual import on
from textual.await_complete import AwaitComplete
from textual.events import Mount
from textual.message import Message as TextualMessage
from textual.widgets import Markdown
from textual.widgets._markdown import MarkdownBlock, MarkdownFence

from tui.safe_text import inert
from tui.widgets._blocks import (
    Block,
    count_last_rows,
    first_open,
    line_offset,
    line_starts,
    split_blocks,
)
from tui.widgets._lists import CompactBulletList, CompactOrderedList
from tui.widgets._open_block import update_in_place
from tui.widgets._virtual import (
    FOLD_MIN_RUN,
    Spacer,
    plan,
    reconcile,
    run_box,
    visible_window,
)

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token
    from textual.screen import Screen

BIG_TEXT = 16_000
"""Texts longer than this are parsed in a thread, so the event loop keeps ticking."""
MOUNT_SCREENS = 2
"""Much text given at once mounts its last blocks, about this many screens of them, first; the
rest follow as they come near the view."""


class StreamingMarkdown(Markdown):
    """A ``Markdown`` widget fed by ``append`` many times a frame and closed with ``finish``."""

    DEFAULT_CSS = """
    StreamingMarkdown {
        padding: 0 1;
    }
    """

    BLOCKS: dict[str, type[MarkdownBlock]] = {
        **Markdown.BLOCKS,
        "bullet_list_open": CompactBulletList,
        "ordered_list_open": CompactOrderedList,
    }

    class CodeAppeared(TextualMessage):
        """A streamed text showed its first code block (keys for code blocks now apply)."""

        def __init__(self, markdown: StreamingMarkdown) -> None:
            super().__init__()
            self.markdown = markdown

        @property
        def control(self) -> StreamingMarkdown:
            return self.markdown

    def __init__(
        self,
        markdown: str = "",
        *,
        frame_rate: float = 30.0,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
    ) -> None:
        super().__init__(None, name=name, id=id, classes=classes, open_links=False)
        self._text = inert(markdown)
        """Everything received so far, except what is still in ``_pending``."""
        self._pending: list[str] = []
        self._frame_interval = 1.0 / frame_rate
        self._last_frame = 0.0
        self._frame_cost = 0.0
        self._frame_scheduled = False
        self._frame_done: asyncio.Future[None] | None = None
        self._frame_waiter: AwaitComplete | None = None
        self._all: list[Block] = []
        """Every top-level block of the text in order, also those Textual draws nothing for."""
        self._slots: list[Block] = []
        """The blocks that have a widget (mounted or folded), in order."""
        self._open_from = 0
        """Index in ``_all`` of the first block that may still change."""
        self._tail_offset = 0
        """Offset in the text where the open blocks start."""
        self._tail_line = 0
        self._streaming = False
        self._render_lock = asyncio.Lock()
        self._parser: MarkdownIt | None = None
        self._viewport_check_pending = False
        self._width = 0
        self._confirmed = asyncio.Event()
        """Clear from the first ``append`` until the clean parse after ``finish`` is applied."""
        self._confirmed.set()
        self.confirm_rebuilds = 0
        """How many blocks the clean parse after ``finish`` found different and rebuilt."""
        self._code_seen = False
        """Whether a frame has shown a code block yet (``CodeAppeared`` is posted once)."""
        self.block_renders = 0
        """How many block widgets were built; a frozen block that stays mounted counts once."""

    # ------------------------------------------------------------------ public API

    @property
    def text(self) -> str:
        """All the Markdown received so far (reading it never holds back the next frame)."""
        if self._pending:
            return self._text + "".join(self._pending)
        return self._text

    @property
    def is_streaming(self) -> bool:
        """True between the first ``append`` and ``finish``."""
        return self._streaming

    @property
    def frozen_count(self) -> int:
        """How many top-level blocks are final and will not be rebuilt while streaming."""
        return self._open_from

    @property
    def block_count(self) -> int:
        """How many top-level blocks the text has so far."""
        return len(self._all)

    @property
    def mounted_block_count(self) -> int:
        """How many blocks are mounted widgets right now (the rest are folded into spacers)."""
        return sum(1 for slot in self._slots if slot.widget is not None)

    @property
    def code_blocks(self) -> list[str]:
        """The code of every fenced or indented code block, in document order."""
        return [code for block in self._all for code in block.code]

    def code_block_widgets(self) -> list[MarkdownFence]:
        """The code block widgets currently mounted."""
        return list(self.query(MarkdownFence))

    def append(self, markdown: str) -> AwaitComplete:
        """Add a delta: buffered, and shown with the next frame (at most one frame per interval).

        Awaiting the result is optional; it completes once that frame has been rendered.
        """
        self._streaming = True
        self._confirmed.clear()
        if markdown:
            self._pending.append(inert(markdown))
        if self._frame_waiter is None:
            self._frame_done = asyncio.get_running_loop().create_future()
            self._frame_waiter = AwaitComplete(self._frame_done)
        if not self._frame_scheduled and self.is_mounted:
            self._schedule_frame(self._next_frame_delay())
        return self._frame_waiter

    async def finish(self) -> None:
        """End the stream (finished or cancelled): show all that arrived, at once.

        The open tail is parsed and built afresh; after that frame is drawn, one clean parse
        of the whole text confirms the frozen blocks (``confirmed`` waits for it). Finishing a
        text that is not streaming does nothing.
        """
        if not self._streaming and not self._pending:
            return
        self._streaming = False
        self._confirmed.clear()
        if self.is_mounted:
            await self._render_rest()
            self.call_after_refresh(self._confirm)
        else:
            self._confirmed.set()  # mounting renders the whole text with one clean parse
        self._release_waiters()

    async def confirmed(self) -> None:
        """Wait until a finished stream has been checked against a clean parse of its text."""
        await self._confirmed.wait()

    @property
    def is_confirmed(self) -> bool:
        """True once the clean parse after ``finish`` (or a whole render) has been applied."""
        return self._confirmed.is_set()

    def set_text(self, markdown: str) -> AwaitComplete:
        """Replace the whole text of a message that is not streaming."""
        self._pending.clear()
        self._text = inert(markdown)
        self._streaming = False
        if not self.is_mounted:
            return AwaitComplete()
        return AwaitComplete(self._render_full(replace=True))

    def update(self, markdown: str) -> AwaitComplete:
        """Replace the whole text; the same as ``set_text``."""
        return self.set_text(markdown)

    # ------------------------------------------------------------------ Textual hooks

    @on(Mount)
    async def _start(self, event: Mount) -> None:
        # Markdown's own handler would render the text a second time and post a table of contents.
        event.prevent_default()
        self.screen.screen_layout_refresh_signal.subscribe(self, self._on_layout_refreshed)
        if self._text or self._pending:
            await self._render_full()
            if self._streaming and not self._frame_scheduled:
                self._schedule_frame(0)

    def on_resize(self) -> None:
        width = self.size.width
        if width != self._width:
            # Heights measured at another width no longer hold: guess again until remeasured.
            self._width = width
            for block in self._slots:
                if block.widget is None:
                    block.estimate(width)
        self._request_viewport_check()

    def _on_layout_refreshed(self, screen: Screen[Any]) -> None:
        if not self._viewport_check_pending:
            self._viewport_check_pending = True
            self.call_later(self._check_viewport)

    # ------------------------------------------------------------------ streaming frames

    def _schedule_frame(self, delay: float) -> None:
        self._frame_scheduled = True
        if delay > 0.001:
            self.set_timer(delay, self._render_frame, name="markdown-frame")
        else:
            self.call_later(self._render_frame)

    def _release_waiters(self) -> None:
        if self._frame_done is not None and not self._frame_done.done():
            self._frame_done.set_result(None)
        self._frame_done = None
        self._frame_waiter = None

    def _get_parser(self) -> MarkdownIt:
        if self._parser is None:
            from markdown_it import MarkdownIt

            self._parser = MarkdownIt("gfm-like")
        return self._parser

    async def _render_frame(self) -> None:
        """Apply the deltas buffered since the last frame."""
        self._frame_scheduled = False
        if not self._pending or not self._streaming:
            self._release_waiters()
            return
        waiters = self._frame_done
        self._frame_done = None
        self._frame_waiter = None
        async with self._render_lock:
            started = time.monotonic()
            self._text += "".join(self._pending)
            self._pending.clear()
            text = self._text
            self._markdown = text
            tail = text[self._tail_offset :]
            parsed = list(split_blocks(self._get_parser().parse(tail), tail, self._tail_line))
            keep_open_from = first_open(parsed, self._tail_line + tail.count("\n"))
            old_count = len(self._all) - self._open_from
            reused = await self._update_open(parsed, keep_open_from)
            if reused < len(parsed) or reused < old_count:
                await self._replace_from(
                    self._open_from + reused, parsed[reused:], pinned_from=keep_open_from - reused
                )
            if keep_open_from < len(parsed):
                opening = parsed[keep_open_from]
                self._tail_offset = self._offset_of_line(text, opening.start_line)
                self._tail_line = opening.start_line
            self._drop_tokens(self._open_from, self._open_from + keep_open_from)
            self._open_from += keep_open_from
            if not self._code_seen and any(block.code for block in parsed):
                self._code_seen = True
                self.post_message(self.CodeAppeared(self))
            self._last_frame = started
            self.call_after_refresh(self._frame_painted, started)
        if waiters is not None and not waiters.done():
            waiters.set_result(None)
        if self._pending and not self._frame_scheduled:
            self._schedule_frame(self._next_frame_delay())

    def _frame_painted(self, started: float) -> None:
        self._frame_cost = time.monotonic() - started

    def _next_frame_delay(self) -> float:
        """Wait a frame interval, or twice what the last frame cost (parse, layout and paint)
        if that is longer: a slow terminal gets fewer, larger updates and the event loop keeps
        half its time for keys and the network."""
        interval = max(self._frame_interval, 2 * self._frame_cost)
        return self._last_frame + interval - time.monotonic()

    def _offset_of_line(self, text: str, line: int) -> int:
        """Offset of ``line`` in ``text``, counting on from the current tail."""
        offset, current = self._tail_offset, self._tail_line
        find = text.find
        while current < line:
            offset = find("\n", offset) + 1
            current += 1
        return offset

    async def _parse(self, text: str, env: dict[str, Any] | None = None) -> list[Token]:
        """Parse ``text``; a long one in a thread, so the event loop keeps ticking."""
        parser = self._get_parser()
        if len(text) > BIG_TEXT:
            return await asyncio.to_thread(parser.parse, text, env)
        return parser.parse(text, env)

    async def _render_full(self, replace: bool = False) -> int:
        """Parse the whole text once and rebuild every block that differs from that parse;
        how many blocks were rebuilt."""
        async with self._render_lock:
            text = self.text
            self._markdown = text
            self._table_of_contents = None
            env: dict[str, Any] = {}
            parsed = list(split_blocks(await self._parse(text, env), text, 0))
            same = 0
            # Frozen blocks that the clean parse confirms are kept; the open ones were updated in
            # place while streaming, so they are built afresh exactly as a one-shot render does.
            # Link reference definitions can change blocks anywhere: then nothing is kept.
            if not replace and not env.get("references"):
                for new, old in zip(parsed, self._all[: self._open_from], strict=False):
                    if not new.same_as(old):
                        break
                    same += 1
            open_index = len(parsed) - 1 if self._streaming and parsed else len(parsed)
            if replace:
                for block in parsed:
                    block.pinned = False
                await self._rebuild(parsed)
            else:
                await self._replace_from(same, parsed[same:], pinned_from=open_index - same)
            for block in self._all:
                block.pinned = block.pinned and self._streaming
            self._open_from = open_index
            self._drop_tokens(0, open_index)
            if open_index < len(parsed):
                self._tail_line = parsed[open_index].start_line
                self._tail_offset = line_offset(line_starts(text), self._tail_line, text)
            else:
                self._tail_line, self._tail_offset = len(line_starts(text)) - 1, len(text)
            if not self._streaming and not self._pending:
                self._confirmed.set()
            return len(parsed) - same

    async def _render_rest(self) -> None:
        """Show all the text as final: the open tail parsed on its own and built afresh."""
        async with self._render_lock:
            if self._pending:
                self._text += "".join(self._pending)
                self._pending.clear()
            text = self._text
            self._markdown = text
            self._table_of_contents = None
            tail = text[self._tail_offset :]
            parsed = list(split_blocks(await self._parse(tail), tail, self._tail_line))
            await self._replace_from(self._open_from, parsed, pinned_from=len(parsed))
            for block in self._all:
                block.pinned = False
            self._open_from = len(self._all)
            self._tail_line += tail.count("\n")
            self._tail_offset = len(text)

    async def _confirm(self) -> None:
        """Check the finished text against one clean parse of all of it (``_render_full``).

        Frozen blocks were parsed from where the tail started, which gives the same blocks
        except in rare cases (a link reference definition further down, say): only those are
        rebuilt.
        """
        if self._streaming or self._pending or self._confirmed.is_set():
            return  # more text came meanwhile (its own finish confirms it), or a render did
        if not self.is_mounted:
            self._confirmed.set()
            return
        self.confirm_rebuilds += await self._render_full()

    async def _update_open(self, parsed: list[Block], keep_open_from: int) -> int:
        """Update open blocks' widgets in place (see ``_open_block``); how many were updated.

        The widget of a block that becomes final this frame is kept too: it already shows
        exactly what a fresh build would, so every block is built once.
        """
        old = self._all[self._open_from :]
        reused = 0
        with self.app.batch_update():
            for old_block, new_block in zip(old, parsed, strict=False):
                if old_block.kind != new_block.kind or old_block.drawn != new_block.drawn:
                    break
                current = old_block.widget
                if new_block.drawn:
                    if not isinstance(current, MarkdownBlock) or not await update_in_place(
                        current,
                        self._tokens_of(old_block),
                        self._tokens_of(new_block),
                        self._widget_for,
                    ):
                        break
                    current.source_range = (new_block.start_line, new_block.end_line)
                    new_block.widget = current
                    new_block.settle = 1
                    old_block.widget = None
                new_block.pinned = reused >= keep_open_from
                reused += 1
        if reused:
            slot_index = {id(block): index for index, block in enumerate(self._slots)}
            for old_block, new_block in zip(old[:reused], parsed[:reused], strict=True):
                index = slot_index.get(id(old_block))
                if index is not None:
                    self._slots[index] = new_block
            self._all[self._open_from : self._open_from + reused] = parsed[:reused]
        return reused

    def _widget_for(self, tokens: Sequence[Token]) -> MarkdownBlock:
        return next(iter(self._parse_markdown(tokens)))

    def _drop_tokens(self, start: int, end: int) -> None:
        for block in self._all[start:end]:
            block.tokens = None

    def _tokens_of(self, block: Block) -> list[Token]:
        """The block's tokens, parsing its source again if they were dropped."""
        if block.tokens is not None:
            return block.tokens
        parsed = next(split_blocks(self._get_parser().parse(block.source), block.source, 0), None)
        return parsed.tokens if parsed is not None and parsed.tokens is not None else []

    async def _replace_from(self, index: int, blocks: list[Block], pinned_from: int) -> None:
        """Replace the blocks from ``index`` on; ``blocks[pinned_from:]`` stay open."""
        if not blocks and index >= len(self._all):
            return  # nothing to replace: leave the widgets and the view alone
        for position, block in enumerate(blocks):
            block.pinned = position >= pinned_from
        old = [block for block in self._all[index:] if block.drawn]
        if any(block.widget is None for block in old):
            # A folded block changed (the clean parse disagreed with the stream): rebuild all
            # rather than splice into a spacer.
            await self._rebuild(self._all[:index] + blocks)
            return
        self._all = self._all[:index] + blocks
        del self._slots[len(self._slots) - len(old) :]
        new_slots = [block for block in blocks if block.drawn]
        first_slot = len(self._slots)
        self._slots.extend(new_slots)
        # Much may arrive at once (a fast stream, a late mount): mount what is most likely on
        # screen now; the viewport check unfolds the rest when it comes near.
        mounted = self._last_screens(new_slots)
        widgets: list[Any] = [self._build(block) for block in new_slots[-mounted:]]
        folded = new_slots[: len(new_slots) - mounted]
        if folded:
            spacer = Spacer(first_slot, first_slot + len(folded))
            spacer.set_run(*run_box(folded))
            widgets.insert(0, spacer)
        removed = [block.widget for block in old if block.widget is not None]
        for block in old:
            block.widget = None
        if removed or widgets:
            with self.app.batch_update():
                if removed:
                    await self.remove_children(removed)
                if widgets:
                    await self.mount_all(widgets)
        self._request_viewport_check()

    async def _rebuild(self, blocks: list[Block]) -> None:
        """Show ``blocks`` from scratch: the last ones mounted, the rest folded until needed."""
        await self.remove_children()
        self._all = blocks
        self._slots = [block for block in blocks if block.drawn]
        for block in self._slots:
            block.widget = None
            block.measured = False
        count = self._last_screens(self._slots)
        widgets: list[Any] = [self._build(block) for block in self._slots[-count:]]
        folded = self._slots[: len(self._slots) - count]
        if folded:
            spacer = Spacer(0, len(folded))
            spacer.set_run(*run_box(folded))
            widgets.insert(0, spacer)
        if widgets:
            await self.mount_all(widgets)
        self._request_viewport_check()

    def _last_screens(self, blocks: list[Block]) -> int:
        """How many of the last ``blocks`` fill about ``MOUNT_SCREENS`` screens (estimated)."""
        width = max(self.size.width or self.app.size.width, 20)
        return count_last_rows(blocks, width, max(self.app.size.height, 10) * MOUNT_SCREENS)

    def _build(self, block: Block) -> MarkdownBlock:
        """Build the widget of a drawn block."""
        widget = next(iter(self._parse_markdown(self._tokens_of(block))))
        widget.source_range = (block.start_line, block.end_line)
        block.widget = widget
        block.measured = False
        block.settle = 1
        self.block_renders += 1
        return widget

    def _build_slot(self, index: int) -> MarkdownBlock:
        return self._build(self._slots[index])

    # ------------------------------------------------------------------ folding

    def _request_viewport_check(self) -> None:
        if not self._viewport_check_pending:
            self._viewport_check_pending = True
            self.call_after_refresh(self._check_viewport)

    async def _check_viewport(self) -> None:
        """Mount the blocks near the viewport and fold those far from it."""
        self._viewport_check_pending = False
        if not self.is_mounted or not self.foldable:
            return  # too few blocks to fold any: nothing to do wherever the view is
        window = visible_window(self)
        if window is None:
            return
        await self.show_window(*window)

    @property
    def foldable(self) -> bool:
        """True when it has enough blocks that some may be folded out of view."""
        slots = self._slots
        return len(slots) >= FOLD_MIN_RUN or any(slot.widget is None for slot in slots)

    async def show_window(self, top: int, bottom: int, height: int) -> None:
        """Mount the blocks near rows ``top..bottom`` of its content and fold the far ones.

        The scrolling container calls this with the window it is about to show, so a page
        scrolled to is filled in the frame that shows it; the check after each layout calls it
        with the window drawn.
        """
        if not self.is_mounted or not self.foldable:
            return
        async with self._render_lock:
            for slot in self._slots:
                if slot.widget is not None:
                    slot.measure()
            wanted = plan(self._slots, top, bottom, max(height // 2, 5))
            changed = await reconcile(self, self._slots, wanted, self._build_slot)
        if changed:
            self._request_viewport_check()
