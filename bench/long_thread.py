"""Open a 2,000-message conversation in a ChatLog: time to the first frame, memory, scrolling.

Run from the repository root:

    python bench/long_thread.py [--messages 2000] [--size 120x40]

Headless (``App.run_test``): Textual still lays out and renders every frame (only the final
write to a terminal is skipped), which is where the time goes. Prints the time from
``ChatLog.set_messages`` to the first frame showing the newest messages (target < 300 ms), how
many message views that frame needed, the peak of Python allocations while opening
(tracemalloc), the process's peak RSS, and the per-step time of paging from the bottom to the
top (a visible pause is > 100 ms). The baseline is mounting every message as a MessageView, the
straightforward log, timed on the first 200 messages and scaled (all 2,000 would take minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult  # noqa: E402

from bench.frames import DrawnFrames, blank_rows  # noqa: E402
from bench.gc_policy import apply_gc_policy  # noqa: E402
from bench.stall import StallMeter  # noqa: E402
from tui.domain import Message, MessageStatus, Role  # noqa: E402
from tui.widgets.chat_log import ChatLog  # noqa: E402
from tui.widgets.message_view import MessageView  # noqa: E402
from tui.widgets.streaming_markdown import StreamingMarkdown  # noqa: E402

TARGET_OPEN_MS = 300.0


def make_thread(count: int) -> list[Message]:
    """A conversation of alternating questions and Markdown answers of varied length."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    messages: list[Message] = []
    for index in range(count):
        user = index % 2 == 0
        if user:
            content = f"Question {index // 2}: how would you stream {index} tokens to a terminal?"
        else:
            paragraphs = 1 + index % 4
            body = "\n\n".join(
                f"Answer {index} part {part}: keep finished blocks frozen, coalesce deltas per "
                f"frame and only re-render the **open** block, which costs `O(1)` per frame."
                for part in range(paragraphs)
            )
            extra = ""
            if index % 3 == 0:
                extra = "\n\n- one\n- two\n- three"
            if index % 5 == 0:
                extra += "\n\n```python\nfor token in stream:\n    view.append(token)\n```"
            content = body + extra
        messages.append(
            Message(
                id=index + 1,
                conversation_id=1,
                parent_id=index or None,
                role=Role.USER if user else Role.ASSISTANT,
                content=content,
                status=MessageStatus.COMPLETE,
                created_at=start + timedelta(seconds=index * 30),
                model=None if user else "demo-model",
                input_tokens=None if user else 100 + index,
                output_tokens=None if user else 50 + index,
            )
        )
    return messages


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ChatLog()


async def painted(app: App[None]) -> None:
    """Wait until every mounted answer shows its blocks and the screen has been refreshed."""
    log = app.query_one(ChatLog)
    while True:
        bodies = [view.body for view in log.views]
        if all(
            not isinstance(body, StreamingMarkdown) or not body.text or body.block_count
            for body in bodies
        ):
            break
        await asyncio.sleep(0.001)
    drawn = DrawnFrames(app).next()
    app.refresh()
    await drawn


async def open_thread(messages: list[Message], size: tuple[int, int], pages: int) -> None:
    app = Host()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        log = app.query_one(ChatLog)
        started = time.perf_counter()
        await log.set_messages(messages)
        await painted(app)
        opened = (time.perf_counter() - started) * 1000
        mounted = len(log.views)
        last_visible = log.views[-1].message.id == messages[-1].id if log.views else False
        verdict = "met" if opened < TARGET_OPEN_MS else "MISSED"
        print(
            f"open {len(messages)} messages to first frame: {opened:.0f} ms "
            f"(target < {TARGET_OPEN_MS:.0f} ms: {verdict})"
        )
        print(
            f"  message views mounted: {mounted} of {len(messages)}; newest shown: {last_visible}"
        )

        # Page from the bottom to the top like a reader would (a step every 100 ms), timing
        # each step to its frame, counting the frames that showed rows not mounted yet (blank),
        # and measuring the event loop's stalls throughout.
        meter = StallMeter()
        meter.start()
        steps: list[float] = []
        blank_steps = 0
        frames = DrawnFrames(app, probe=lambda: blank_rows(log))
        while log.scroll_y > 0 and len(steps) < pages:
            step_started = time.perf_counter()
            drawn = frames.next()
            log.scroll_page_up(animate=False)
            frame, blank = await drawn
            steps.append((frame - step_started) * 1000)
            if blank:
                blank_steps += 1
            await asyncio.sleep(0.1)
        meter.stop()
        steps.sort()
        print(
            f"  paging up, a page every 100 ms: {len(steps)} pages, step to frame "
            f"median {statistics.median(steps):.0f} ms, max {steps[-1]:.0f} ms; "
            f"frames with blank rows: {blank_steps}; loop stalls p99 "
            f"{meter.percentile_ms(0.99):.0f} ms, max {meter.max_ms():.0f} ms; "
            f"views mounted after: {len(log.views)}"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of the process: {rss:.0f} MB")


async def measure_memory(messages: list[Message], size: tuple[int, int]) -> None:
    """Peak Python allocations while opening (a separate run: tracemalloc slows everything)."""
    app = Host()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        tracemalloc.start()
        await app.query_one(ChatLog).set_messages(messages)
        await painted(app)
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(
        f"  Python allocations while opening: peak {peak / 1e6:.1f} MB, "
        f"still held {current / 1e6:.1f} MB"
    )


async def baseline(messages: list[Message], size: tuple[int, int]) -> None:
    """Mount every message view up front (no folding), on a sample, scaled up."""
    sample = messages[-200:]
    app = Host()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        log = app.query_one(ChatLog)
        started = time.perf_counter()
        await log.mount_all([MessageView(message) for message in sample])
        await painted(app)
        elapsed = (time.perf_counter() - started) * 1000
    scaled = elapsed * len(messages) / len(sample)
    print(
        f"baseline (every message mounted): {elapsed:.0f} ms for {len(sample)} messages, "
        f"about {scaled / 1000:.1f} s for {len(messages)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", default="120x40", help="terminal size, COLUMNSxROWS")
    parser.add_argument("--pages", type=int, default=150, help="pages to scroll up")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--gc-policy", action="store_true", help="apply the recommended GC settings first"
    )
    args = parser.parse_args()
    columns, rows = (int(part) for part in args.size.split("x"))
    messages = make_thread(args.messages)
    if args.gc_policy:
        apply_gc_policy()
        print("with the recommended GC settings (bench/gc_policy.py)")
    asyncio.run(open_thread(messages, (columns, rows), args.pages))
    asyncio.run(measure_memory(messages, (columns, rows)))
    if not args.no_baseline:
        asyncio.run(baseline(messages, (columns, rows)))


if __name__ == "__main__":
    main()
