"""The scrolling log of a conversation's messages.

It follows the bottom while the user is there (Textual's anchor): new text scrolls into view, a
scroll up stops the following and a scroll back to the end resumes it. Only the messages near the
viewport are mounted ``MessageView`` widgets; the others are folded into spacers of their
measured (or, never shown yet, estimated) height, so a 2,000-message thread opens as fast as a
short one and keeps a bounded number of widgets however far it is scrolled. A scroll mounts what
it brings into view before the frame that shows it, so no frame shows a placeholder; the
messages near the view follow a few at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget

from tui.domain import Message
from tui.widgets._virtual import Slot, Spacer, plan, reconcile, run_box, tops

if TYPE_CHECKING:
    from tui.widgets.message_view import MessageView


def _message_view_class() -> type[MessageView]:
    """The view class, imported on first use: the Markdown stack stays off the startup path."""
    from tui.widgets.message_view import MessageView

    return MessageView


LAYOUT_ROUNDS = 5
"""Frames ``show_message`` waits at most for the log's layout to reach the message."""
OPEN_SCREENS = 1.0
"""How many screens of the newest messages a thread opens with mounted (the rest of the margin
above follows in the checks after the first frame)."""
KEEP = 2
"""Mounted messages stay until they are this many margins (screens) away from the view."""
SCROLLING = 0.15
"""Seconds after a scroll during which only the scroll's own checks mount messages near the
view: the checks after each frame leave the event loop free for the next key."""
MOUNT_PER_FRAME = 2
"""Messages mounted per frame while scrolling: the rest follow in the next frames, so scrolling
never waits for a whole screen of Markdown at once."""


class _Entry(Slot):
    """One message of the log and, while it is mounted, its view."""

    __slots__ = ("message", "sibling")

    def __init__(self, message: Message, sibling: tuple[int, int], width: int) -> None:
        super().__init__()
        self.message = message
        self.sibling = sibling
        self.estimate(width)

    def estimate(self, width: int) -> None:
        """Guess the view's height from the text until it has been laid out once."""
        text_width = max(width - 6, 10)
        rows = sum(len(line) // text_width + 1 for line in self.message.content.splitlines())
        self.height = 1 + max(rows, 1) + (1 if self.message.error else 0)
        self.margin_top = 0
        self.margin_bottom = 1


class ChatLog(VerticalScroll, can_focus=False):
    """The messages of the active path, newest at the bottom."""

    DEFAULT_CSS = """
    ChatLog {
        height: 1fr;
        scrollbar-gutter: stable;
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._entries: list[_Entry] = []
        self._check_pending = False
        self._scroll_check_pending = False
        self._last_scroll = 0.0
        self._settle_timer: Timer | None = None
        self._check_lock = asyncio.Lock()
        """One viewport check at a time: two would mount the same message twice."""
        self._keep: tuple[int, int, float] | None = None
        """While not following: the entry at the top of the view, the offset into it, and the
        scroll position then (if the user scrolled since, their position wins)."""
        self._width = 0
        self._marked: int | None = None
        """The message marked as found by a search: marked again whenever it is remounted."""

    # ------------------------------------------------------------------ public API

    @property
    def message_count(self) -> int:
        """How many messages the log holds (mounted or not)."""
        return len(self._entries)

    @property
    def views(self) -> list[MessageView]:
        """The message views mounted right now, top to bottom."""
        return [child for child in self.children if isinstance(child, _message_view_class())]

    @property
    def settled(self) -> bool:
        """No mounting or folding under way or waiting: what scrolling last asked for, the
        margins around the viewport included, is done."""
        return not (
            self._check_pending
            or self._scroll_check_pending
            or self._settle_timer is not None
            or self._check_lock.locked()
        )

    @property
    def following(self) -> bool:
        """True while the log keeps the newest text in view."""
        return self.is_anchored and not self._anchor_released

    def view_for(self, message_id: int) -> MessageView | None:
        """The mounted view of a message, if it is mounted."""
        for entry in self._entries:
            if entry.message.id == message_id and isinstance(entry.widget, _message_view_class()):
                return entry.widget
        return None

    async def set_messages(
        self,
        messages: Sequence[Message],
        siblings: Mapping[int, tuple[int, int]] | None = None,
    ) -> None:
        """Show a whole path, following the bottom; only its newest messages get mounted."""
        siblings = siblings or {}
        width = self.size.width or self.app.size.width
        entries = [_Entry(message, siblings.get(message.id, (1, 1)), width) for message in messages]
        budget = max(self.size.height or self.app.size.height, 10) * OPEN_SCREENS
        first_mounted = len(entries)
        while first_mounted > 0 and budget > 0:
            first_mounted -= 1
            budget -= entries[first_mounted].height + 1
        widgets: list[Widget] = []
        if first_mounted:
            spacer = Spacer(0, first_mounted)
            spacer.set_run(*run_box(entries[:first_mounted]))
            widgets.append(spacer)
        for index in range(first_mounted, len(entries)):
            widgets.append(self._build(entries, index))
        async with self._check_lock:  # a check under way finishes with the old path first
            self._entries = entries
            self._keep = None
            self._marked = None
            with self.app.batch_update():
                await self.remove_children()
                if widgets:
                    await self.mount_all(widgets)
                else:
                    self._forget_removed()
        self.anchor()
        self._request_check()

    async def add_message(
        self, message: Message, sibling: tuple[int, int] = (1, 1), *, streaming: bool = False
    ) -> MessageView:
        """Append a message; a ``streaming`` one stays mounted until ``finish_streaming``."""
        (view,) = await self.add_messages([(message, sibling, streaming)])
        return view

    async def add_messages(
        self, items: Sequence[tuple[Message, tuple[int, int], bool]]
    ) -> list[MessageView]:
        """Append several messages in one mount (one layout, one paint): each item is the
        message, its sibling position and whether it streams (stays mounted until
        ``finish_streaming``)."""
        views: list[MessageView] = []
        for message, sibling, streaming in items:
            entry = _Entry(message, sibling, self.size.width)
            entry.pinned = streaming
            self._entries.append(entry)
            views.append(self._build(self._entries, len(self._entries) - 1))
        await self.mount_all(views)
        self._request_check()
        return views

    def adopt(self, view: MessageView, message: Message, sibling: tuple[int, int]) -> None:
        """Give a view shown before its message was stored (the reply being awaited) the
        stored message."""
        for entry in self._entries:
            if entry.widget is view:
                entry.message = message
                entry.sibling = sibling
        view.sibling = sibling
        view.update_message(message)

    def set_sibling(self, message_id: int, sibling: tuple[int, int]) -> None:
        """Show where a message sits among its siblings (its other fields unchanged)."""
        for entry in self._entries:
            if entry.message.id == message_id:
                entry.sibling = sibling
                if isinstance(entry.widget, _message_view_class()):
                    entry.widget.set_sibling(*sibling)

    async def discard(self, view: MessageView) -> None:
        """Take away a view whose message was never stored (a turn that failed to start)."""
        self._entries = [entry for entry in self._entries if entry.widget is not view]
        if view.is_attached:
            await view.remove()
            self._forget_removed()
        self._request_check()

    def _forget_removed(self) -> None:
        """Textual keeps the list of a container's displayed children until its next layout,
        and an emptied log (a new chat, hidden behind its welcome) is not laid out again: the
        removed messages, with every line they drew, would stay alive. Reading the list now
        rebuilds it without them."""
        self.displayed_children  # noqa: B018 (read for its effect)

    async def finish_streaming(self, message: Message) -> None:
        """End a streamed message with its final state (status, usage, latency, error).

        Its view does one clean final parse; from then on it may be folded like the others.
        """
        for entry in self._entries:
            if entry.message.id == message.id:
                if isinstance(entry.widget, _message_view_class()):
                    await entry.widget.finish(message)
                    message = entry.widget.message
                entry.message = message
                entry.pinned = False
        self._request_check()

    def update_message(self, message: Message, sibling: tuple[int, int] | None = None) -> None:
        """Show new fields (status, usage, siblings) of a message already in the log."""
        for entry in self._entries:
            if entry.message.id == message.id:
                entry.message = message
                if sibling is not None:
                    entry.sibling = sibling
                if isinstance(entry.widget, _message_view_class()):
                    entry.widget.sibling = entry.sibling
                    entry.widget.update_message(message)

    def follow(self) -> None:
        """Jump to the bottom and follow new text again."""
        self.anchor()

    async def show_message(self, message_id: int) -> MessageView | None:
        """Scroll so the message starts at the top of the view (and stop following); its view,
        mounted, or ``None`` if the log does not hold it.

        The message may be anywhere in a long thread, folded: its place comes from the heights
        measured or estimated so far, and it stays at the top while those above it are
        measured."""
        entries = self._entries
        index = next((k for k, entry in enumerate(entries) if entry.message.id == message_id), None)
        if index is None:
            return None
        top = tops(entries)[index]
        # The log's size and scroll range must match its entries: wait until its layout reaches
        # the message (a few frames at most; on Textual's own code, without the work-around for
        # batches, the layout a batch held back waits until something else asks for a frame).
        for _ in range(LAYOUT_ROUNDS):
            await self.wait_for_refresh()
            if self.virtual_size.height > top:
                break
            self.refresh(layout=True)
        self.release_anchor()
        self.scroll_to(y=top, animate=False, immediate=True)
        await self._check_viewport()
        view = entries[index].widget
        return view if isinstance(view, _message_view_class()) else None

    # ------------------------------------------------------------------ folding

    def mark(self, message_id: int | None) -> None:
        """Mark one message as found (``-found``), even once folded and mounted again."""
        self._marked = message_id
        for view in self.views:
            view.set_class(view.message.id == message_id, "-found")

    @property
    def marked(self) -> int | None:
        """The message marked as found, if any."""
        return self._marked

    def _build(self, entries: Sequence[_Entry], index: int) -> MessageView:
        entry = entries[index]
        view = _message_view_class()(entry.message, sibling=entry.sibling)
        if entry.message.id == self._marked:
            view.add_class("-found")
        entry.widget = view
        entry.measured = False
        return view

    def on_mount(self) -> None:
        self.screen.screen_layout_refresh_signal.subscribe(self, self._on_layout_refreshed)
        # Textual builds a scrollbar when it is first needed, and its task keeps the context of
        # that moment for good, the widget being handled then included: a reply that streamed
        # when the log first overflowed would stay alive with all it drew. Built now, in the
        # log's own context, the scrollbar keeps nothing but the log.
        self.vertical_scrollbar  # noqa: B018 (built for its effect)

    def on_resize(self) -> None:
        width = self.size.width
        if width != self._width:
            # Heights measured at another width no longer hold: guess again until remeasured.
            self._width = width
            for entry in self._entries:
                if entry.widget is None:
                    entry.estimate(width)
        self._request_check()

    def _on_layout_refreshed(self, screen: Screen[Any]) -> None:
        self._request_check()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Before the frame that shows the new position: what comes into view is mounted in that
        # same frame (heights known from earlier layouts are enough), never a blank frame first.
        if not self._scroll_check_pending:
            self._scroll_check_pending = True
            self.call_later(self._check_after_scroll)

    async def _check_after_scroll(self) -> None:
        self._scroll_check_pending = False
        self._last_scroll = time.monotonic()
        if self._settle_timer is None:  # (one timer at a time, also while a reply streams)
            self._settle_timer = self.set_timer(SCROLLING, self._after_scrolling)
        await self._check_viewport(margins=True)

    def _after_scrolling(self) -> None:
        """Once the scrolling has stopped for ``SCROLLING`` seconds, fill the margins."""
        self._settle_timer = None
        left = self._last_scroll + SCROLLING - time.monotonic()
        if left > 0.005:
            self._settle_timer = self.set_timer(left, self._after_scrolling)
        else:
            self._request_check()

    def _request_check(self) -> None:
        if not self._check_pending:
            self._check_pending = True
            self.call_after_refresh(self._check_viewport)

    async def _check_viewport(self, margins: bool = False) -> None:
        """Mount the messages near the viewport, fold those far from it."""
        self._check_pending = False
        margins = margins or time.monotonic() - self._last_scroll > SCROLLING
        async with self._check_lock:
            await self._check_viewport_locked(margins)

    async def _check_viewport_locked(self, margins: bool) -> None:
        entries = self._entries
        if not self.is_attached or not entries:
            return
        for entry in entries:
            if entry.widget is not None:
                entry.measure()
        self._restore_position(entries)
        height = self.scrollable_content_region.height
        top = round(self.scroll_y)
        positions = tops(entries)  # one pass over a long thread serves the whole check
        wanted = plan(entries, top, top + height, max(height, 10), keep=KEEP, positions=positions)
        self._limit_mounts(entries, wanted, positions, top, top + height, margins)
        if not self.following:
            first = next(
                (index for index, y in enumerate(positions) if y + entries[index].height > top),
                None,
            )
            self._keep = None if first is None else (first, top - positions[first], self.scroll_y)
        with self.app.batch_update():  # one frame shows the messages and their blocks
            changed = await reconcile(
                self, entries, wanted, lambda index: self._build(entries, index)
            )
            await self._show_long_answers(entries, positions, top, top + height, height)
        if changed:
            self._request_check()

    @staticmethod
    async def _show_long_answers(
        entries: Sequence[_Entry], positions: Sequence[int], top: int, bottom: int, height: int
    ) -> None:
        """Have the long answers near the window mount their blocks for it now, not a frame
        after it is drawn (their own check waits for the layout)."""
        view_class = _message_view_class()
        # (Messages appended while the check awaited its mounts have no position yet: the
        # next check sees them.)
        for entry, y in zip(entries, positions, strict=False):
            view = entry.widget
            if (
                isinstance(view, view_class)
                and entry.measured
                and y + entry.height >= top - height
                and y <= bottom + height
            ):
                await view.show_window(top - y, bottom - y, height)

    @staticmethod
    def _limit_mounts(
        entries: Sequence[_Entry],
        wanted: list[bool],
        positions: Sequence[int],
        top: int,
        bottom: int,
        margins: bool = True,
    ) -> None:
        """Mount every new message in view now, and at most ``MOUNT_PER_FRAME`` of those near
        it (the nearest first): the view fills in one frame, the margins over the next ones."""
        new = [index for index, want in enumerate(wanted) if want and entries[index].widget is None]
        if len(new) <= MOUNT_PER_FRAME and margins:
            return
        middle = (top + bottom) // 2
        near = sorted(
            (
                index
                for index in new
                if positions[index] >= bottom or positions[index] + entries[index].height <= top
            ),
            key=lambda index: abs(positions[index] + entries[index].height // 2 - middle),
        )
        for index in near[MOUNT_PER_FRAME if margins else 0 :]:
            wanted[index] = False

    def _restore_position(self, entries: Sequence[_Entry]) -> None:
        """Scroll so the entry that was at the top stays put after heights above it changed."""
        if self._keep is None or self.following:
            return
        index, offset, scroll_y = self._keep
        if index >= len(entries) or scroll_y != self.scroll_y:
            return
        wanted_y = tops(entries)[index] + offset
        if abs(wanted_y - self.scroll_y) >= 1:
            self.scroll_to(y=wanted_y, animate=False, immediate=True, release_anchor=False)
