"""ChatLog: following the bottom, letting go when scrolled up, and opening long threads lazily."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets.markdown import MarkdownBlock

from bench.frames import DrawnFrames
from tests.support.textual_fixes import fixes_set
from tests.ui.conftest import wait_for
from tests.ui.hosts import (
    BareHost,
    drawn_spacers,
    make_message,
    screen_lines,
    settle,
)
from tui.domain import Message, MessageStatus, Role
from tui.widgets import chat_log
from tui.widgets.chat_log import MOUNT_PER_FRAME, ChatLog
from tui.widgets.message_view import MessageView


def thread(count: int) -> list[Message]:
    return [
        make_message(
            index + 1,
            f"Question {index}?" if index % 2 == 0 else f"Answer {index}.\n\n- a\n- b",
            Role.USER if index % 2 == 0 else Role.ASSISTANT,
        )
        for index in range(count)
    ]


async def stream_reply(pilot: Pilot[None], log: ChatLog, lines: int) -> MessageView:
    """Stream a reply of ``lines`` paragraphs into the log and finish it."""
    reply = make_message(1000, "", status=MessageStatus.STREAMING)
    view = await log.add_message(reply, streaming=True)
    for index in range(lines):
        for word in f"Line {index} of the streamed reply.\n\n".split(" "):
            shown = view.append_text(word + " ")
        await shown  # the frame that shows the line
    await log.finish_streaming(make_message(1000, ""))
    await settle(pilot)
    return view


def last_block_visible(app: App[None], view: MessageView) -> bool:
    """True when the last rendered block of the message is inside the log's viewport."""
    log = app.query_one(ChatLog)
    blocks = list(view.body.query(MarkdownBlock))
    return bool(blocks) and log.scrollable_content_region.contains_region(blocks[-1].region)


async def test_follows_the_bottom_while_a_reply_streams() -> None:
    log = ChatLog()
    app = BareHost(log)
    async with app.run_test(size=(70, 20)) as pilot:
        await log.set_messages(thread(6))
        await pilot.pause()
        view = await stream_reply(pilot, log, 40)
        assert log.following
        assert log.scroll_y == log.max_scroll_y > 0
        assert last_block_visible(app, view)
        assert any("Line 39 of the streamed reply." in line for line in screen_lines(app))


async def test_stops_following_when_scrolled_up_and_resumes_at_the_bottom() -> None:
    log = ChatLog()
    app = BareHost(log)
    async with app.run_test(size=(70, 20)) as pilot:
        await log.set_messages(thread(10))
        await pilot.pause()
        log.scroll_to(y=0, animate=False)
        await pilot.pause()
        assert not log.following
        view = await stream_reply(pilot, log, 20)
        assert log.scroll_y == 0
        assert not last_block_visible(app, view)
        log.scroll_end(animate=False)
        await pilot.pause()
        assert log.following
        more = await stream_reply(pilot, log, 10)
        assert log.scroll_y == log.max_scroll_y
        assert last_block_visible(app, more)


async def test_a_long_thread_mounts_only_the_newest_messages() -> None:
    log = ChatLog()
    app = BareHost(log)
    messages = thread(2000)
    async with app.run_test(size=(80, 24)) as pilot:
        await log.set_messages(messages)
        await settle(pilot)
        assert log.message_count == 2000
        assert 1 <= len(log.views) <= 20
        assert log.views[-1].message.id == 2000
        assert any("Answer 1999." in line for line in screen_lines(app))
        # Jumping to the top mounts the first messages and folds the newest away.
        log.scroll_home(animate=False)
        await settle(pilot, rounds=20)
        ids = [view.message.id for view in log.views]
        assert 1 in ids
        assert 2000 not in ids
        assert len(ids) <= 30
        assert any("Question 0?" in line for line in screen_lines(app))


async def test_a_jump_is_drawn_filled_in_its_first_frame() -> None:
    log = ChatLog()
    app = BareHost(log)
    async with app.run_test(size=(80, 40)) as pilot:
        await log.set_messages(thread(400))
        await settle(pilot)
        frames = DrawnFrames(app)
        drawn = frames.next()
        log.scroll_to(y=300, animate=False, immediate=True)
        await drawn  # the first frame that shows the new position
        view_rows = log.scrollable_content_region
        in_view = [view for view in log.views if view.region.overlaps(view_rows)]
        assert log.scroll_y == 300
        assert len(in_view) > MOUNT_PER_FRAME  # more than the margins get per check...
        assert drawn_spacers(app, log) == []  # ...yet all of them were in that first frame
        shown = [line.strip() for line in screen_lines(app)]
        assert sum(line.startswith(("Question", "Answer")) for line in shown) >= 3


async def test_paging_into_a_long_answer_draws_its_blocks_in_the_first_frame() -> None:
    log = ChatLog()
    app = BareHost(log)
    long_answer = "\n\n".join(f"Paragraph {index} of the long answer." for index in range(150))
    messages = [
        make_message(1, "Question?", Role.USER),
        make_message(2, long_answer, Role.ASSISTANT),
        *thread(40)[2:],
    ]
    async with app.run_test(size=(80, 30)) as pilot:
        await log.set_messages(messages)
        await settle(pilot)
        frames = DrawnFrames(app)
        pages = 0
        while log.scroll_y > 0:
            drawn = frames.next()
            log.scroll_page_up(animate=False)
            await drawn
            pages += 1
            # Nothing in view is a placeholder, not even for one frame: neither a message nor
            # a block of the long answer (whose top was folded when it was mounted).
            assert drawn_spacers(app, log) == [], f"blank rows in the frame of page {pages}"
            # Page by page, as a reader does: each page once the last has settled (on a busy
            # machine a page can otherwise arrive while the margins of the last one are filled).
            await wait_for(lambda: log.settled)
        assert pages > 10
        assert any("Paragraph 0 of the long answer." in line for line in screen_lines(app))


@pytest.mark.parametrize("batch_fix", [True, False], ids=["fixed", "textual"])
async def test_show_message_brings_a_folded_message_to_the_top(batch_fix: bool) -> None:
    log = ChatLog()
    app = BareHost(log)
    with fixes_set("update-after-batch", on=batch_fix):
        async with app.run_test(size=(80, 30)) as pilot:
            await log.set_messages(thread(400))  # opens at the bottom, message 31 folded away
            assert log.view_for(31) is None
            view = await log.show_message(31)
            assert view is not None and view.message.id == 31
            await settle(pilot, rounds=10)  # the heights above it are measured meanwhile
            assert not log.following
            top = log.scrollable_content_region.y
            if not batch_fix:
                # On Textual's own code the frames a batch holds back come late, and the
                # heights above are measured from stale ones: it ends a few rows lower, in view.
                assert 0 <= view.region.y - top <= 8
                return
            assert view.region.y == top  # its header is the top row
            lines = screen_lines(app)
            assert lines[0].strip().startswith("You")
            assert any("Question 30?" in line for line in lines[:3])
            assert await log.show_message(9999) is None


async def test_shift_tab_walks_back_through_folded_messages() -> None:
    log = ChatLog()
    app = BareHost(log)
    async with app.run_test(size=(80, 30)) as pilot:
        await log.set_messages(thread(400))
        await settle(pilot)
        mounted_at_first = {view.message.id for view in log.views}
        log.views[-1].focus()
        await pilot.pause()
        reached = []
        for _ in range(60):
            await pilot.press("shift+tab")
            focused = app.focused
            assert isinstance(focused, MessageView)
            reached.append(focused.message.id)
        assert reached == list(range(399, 339, -1))  # one message at a time, none skipped
        assert not mounted_at_first & set(reached[-10:])  # the last ones were folded at first
        for _ in range(5):
            await pilot.press("tab")
        focused = app.focused
        assert isinstance(focused, MessageView) and focused.message.id == 345


async def test_while_scrolling_only_the_scroll_mounts_and_the_margins_fill_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(chat_log, "SCROLLING", 1.0)  # a generous pause, for a loaded machine
    log = ChatLog()
    app = BareHost(log)
    async with app.run_test(size=(80, 30)) as pilot:
        await log.set_messages(thread(400))
        await settle(pilot)
        log.scroll_to(y=300, animate=False, immediate=True)
        await settle(pilot, rounds=10)  # many frames, each followed by a check

        def outside_the_view() -> list[MessageView]:
            rows = log.scrollable_content_region
            return [view for view in log.views if not view.region.overlaps(rows)]

        # The scroll's own check mounted the view and a couple of neighbours; the checks after
        # each frame left the rest for later (the event loop stays free for the next key).
        assert drawn_spacers(app, log) == []
        while_scrolling = len(outside_the_view())

        def margins_filled() -> bool:  # once the scrolling has stopped for SCROLLING seconds
            rows = log.scrollable_content_region
            above = [view for view in outside_the_view() if view.region.bottom <= rows.y]
            below = [view for view in outside_the_view() if view.region.y >= rows.bottom]
            return len(above) > MOUNT_PER_FRAME and len(below) > MOUNT_PER_FRAME

        await wait_for(margins_filled)
        assert while_scrolling < len(outside_the_view())


async def test_updates_reach_mounted_views() -> None:
    log = ChatLog()
    app = BareHost(log)
    async with app.run_test(size=(80, 24)) as pilot:
        await log.set_messages(thread(4))
        await pilot.pause()
        log.update_message(make_message(4, "Answer 3.", status=MessageStatus.CANCELLED), (1, 2))
        await pilot.pause()
        view = log.view_for(4)
        assert view is not None
        assert view.sibling == (1, 2)
        assert any("cancelled" in line and "1/2" in line for line in screen_lines(app))


async def test_a_cancelled_reply_keeps_what_arrived() -> None:
    log = ChatLog()
    app = BareHost(log)
    async with app.run_test(size=(80, 24)) as pilot:
        await log.set_messages(thread(2))
        view = await log.add_message(
            make_message(3, "", status=MessageStatus.STREAMING), streaming=True
        )
        for piece in ["Here is the code:\n\n```py", "thon\nprint('par", "tial')\n"]:
            await view.append_text(piece)  # the frame that shows it
        await log.finish_streaming(make_message(3, "", status=MessageStatus.CANCELLED))
        await pilot.pause()
        assert view.text == "Here is the code:\n\n```python\nprint('partial')\n"
        assert view.code_blocks == ["print('partial')"]
        screen = "\n".join(screen_lines(app))
        assert "print('partial')" in screen
        assert "cancelled" in screen
