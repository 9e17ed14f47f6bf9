"""A 2,000-message conversation in the real app: time to open it, memory, and paging to the top.

Run from the repository root::

    python bench/app_long_thread.py [--messages 2000] [--runs 5] [--size 120x40]

1. **The database.** A conversation of alternating questions and Markdown answers (paragraphs,
   lists, fenced code, tables, quotes, headings; from one line to a few screens each) is written
   through the app's own repository (``ConversationRepository.add_message``) into a fresh
   database. The last answer ends with a sentence that is not anywhere else.
2. **Opening it.** ``python -m tui`` runs in a pseudo-terminal with the harness of
   ``bench/startup.py``. It starts on the conversations list: the time from launch until a
   whole frame shows the thread's title there, then Enter, and the time from Enter until a
   frame shows that last sentence (target < 300 ms), with ``VmHWM`` (peak resident memory) at
   that moment. The same start on an empty database (created beforehand, so no schema is
   built) is timed until its status bar shows the route; after a warm-up the two alternate for
   ``--runs`` rounds. One more launch of each waits 2 s after the last frame and reads
   ``VmHWM`` again: the peak once everything the screen needs is built.
3. **Paging up.** The app runs headless (``App.run_test``, with the garbage-collection policy
   of ``tui.gc_tuning`` as ``tui-chat`` applies it) on a copy of the database; once the
   newest message is shown, the log scrolls up one page at a time from the bottom to the top
   (``ChatLog.scroll_page_up``, what PageUp does, without the animation; the app is told of the
   key press as a key event would tell it), the next page 10 ms
   after the previous one is filled in, as a held PageUp key repeats. For every page: the time
   to the next frame drawn, and the time until a drawn frame shows no placeholder in the
   visible log (a message or block not mounted yet); and the event loop's stalls throughout
   (a 2 ms ticker). Frames are the ones the app hands to the terminal (``bench/frames.py``).
   A visible pause is > 100 ms. Paging stops after ``--max-seconds`` (60 s by default, to keep
   a run near two minutes on a slow machine; 0 pages all the way to the top).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import select
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.frames import DrawnFrames, blank_rows  # noqa: E402
from bench.startup import (  # noqa: E402
    Run,
    _stop,
    drawn_cells,
    isolated_env,
    launch,
    read_memory,
    screen_text,
    spawn_in_pty,
)

TARGET_THREAD_MS = 300.0
PAUSE_MS = 100.0
SENTINEL = "That is all for this long thread, reply 2000."
EMPTY_SENTINEL = "Offline demo · demo"
LIST_SENTINEL = "A very long thread"
"""The thread's title, on the conversations list the app starts on."""
KEY_REPEAT = 0.01
SETTLE_TIMEOUT = 2.0
SEED = 2000

_TOPICS = (
    "event loops",
    "SQLite indexes",
    "terminal rendering",
    "HTTP keep-alive",
    "Markdown parsing",
    "garbage collection",
    "async generators",
    "connection pools",
)
_WORDS = (
    "the renderer keeps finished blocks frozen and only parses the open tail while tokens arrive "
    "so a long answer costs the same per frame at its end as at its start which is what a user "
    "notices when a model writes about caches widgets streams parsers fences lists tables and "
    "the scroll position of a log that holds thousands of messages"
).split()


def _sentence(rng: random.Random, low: int = 8, high: int = 22) -> str:
    words = rng.choices(_WORDS, k=rng.randint(low, high))
    if rng.random() < 0.3:
        index = rng.randrange(len(words))
        words[index] = f"**{words[index]}**"
    if rng.random() < 0.3:
        index = rng.randrange(len(words))
        words[index] = f"`{words[index]}()`"
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def _paragraph(rng: random.Random, sentences: tuple[int, int] = (2, 5)) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(*sentences)))


def _code(rng: random.Random, number: int) -> str:
    lines = [
        f"def step_{number}(values: list[int]) -> int:",
        '    """Sum the squares of the values."""',
        "    total = 0",
        "    for value in values:",
        "        total += value * value",
    ]
    lines += [
        f"    # note {i}: {' '.join(rng.choices(_WORDS, k=6))}" for i in range(rng.randint(0, 6))
    ]
    lines.append("    return total")
    return "```python\n" + "\n".join(lines) + "\n```"


def _table(rng: random.Random) -> str:
    rows = ["| option | default | effect |", "| --- | --- | --- |"]
    for _ in range(rng.randint(3, 6)):
        name, effect = rng.choice(_WORDS), " ".join(rng.choices(_WORDS, k=5))
        rows.append(f"| `{name}` | {rng.randint(1, 500)} | {effect} |")
    return "\n".join(rows)


def question(rng: random.Random, number: int) -> str:
    topic = rng.choice(_TOPICS)
    text = f"Question {number}: how do {topic} behave when {_sentence(rng, 6, 12).lower()}"
    if rng.random() < 0.15:
        text += "\n\n" + _code(rng, number)
    return text


def answer(rng: random.Random, number: int) -> str:
    """A Markdown answer: from one paragraph to a few screens."""
    kind = rng.random()
    topic = rng.choice(_TOPICS)
    if kind < 0.2:
        return _paragraph(rng, (1, 3))
    if kind < 0.5:
        items = "\n".join(f"- {_sentence(rng, 5, 12)}" for _ in range(rng.randint(3, 6)))
        return f"{_paragraph(rng)}\n\n{items}\n\n{_paragraph(rng, (1, 2))}"
    if kind < 0.75:
        return (
            f"### {topic.capitalize()}\n\n{_paragraph(rng)}\n\n{_code(rng, number)}\n\n"
            f"{_paragraph(rng, (1, 3))}"
        )
    if kind < 0.85:
        return f"{_paragraph(rng, (1, 2))}\n\n{_table(rng)}\n\n> {_sentence(rng)}"
    parts = []
    for section in range(rng.randint(2, 4)):
        steps = "\n".join(f"{i}. {_sentence(rng, 5, 10)}" for i in range(1, rng.randint(3, 6)))
        parts.append(
            f"## Part {section + 1}: {topic}\n\n{_paragraph(rng, (3, 6))}\n\n{steps}\n\n"
            f"{_code(rng, number * 10 + section)}"
        )
    return "\n\n".join(parts)


async def build_database(path: Path, messages: int) -> tuple[int, float]:
    """The conversation, written through the repository; returns its size in characters."""
    from tui.domain import Role
    from tui.store.db import open_store

    rng = random.Random(SEED)
    store = await open_store(path=path)
    characters = 0
    started = time.perf_counter()
    try:
        repository = store.repository
        conversation = await repository.create_conversation(
            title="A very long thread", provider="demo", model="demo"
        )
        parent: int | None = None
        for index in range(messages):
            user = index % 2 == 0
            if user:
                content = question(rng, index // 2 + 1)
            else:
                content = answer(rng, index)
            if index == messages - 1:
                content = f"{content}\n\n{SENTINEL}" if not user else SENTINEL
            characters += len(content)
            message = await repository.add_message(
                conversation.id,
                role=Role.USER if user else Role.ASSISTANT,
                content=content,
                parent_id=parent,
                provider=None if user else "demo",
                model=None if user else "demo",
            )
            parent = message.id
    finally:
        await store.close()
    return characters, time.perf_counter() - started


async def create_empty(path: Path) -> None:
    from tui.store.db import open_store

    await (await open_store(path=path)).close()


def settled_memory(
    env: dict[str, str],
    size: tuple[int, int],
    sentinel: str,
    settle: float = 2.0,
    *,
    open_with: bytes = b"",
    first: str = "",
) -> tuple[float | None, float | None]:
    """Launch once; ``VmHWM`` when the sentinel frame is drawn and ``settle`` seconds later.
    With ``open_with``: those keys are pressed once ``first`` is on a full frame."""

    columns, rows = size
    process, master = spawn_in_pty([sys.executable, "-m", "tui"], env, size)
    output = bytearray()
    at_frame: float | None = None
    later: float | None = None
    try:
        deadline = time.perf_counter() + 30
        framed_at: float | None = None
        while time.perf_counter() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    output += os.read(master, 65536)
                except OSError:
                    break
            if framed_at is None:
                text = screen_text(bytes(output))
                if open_with and first in text and drawn_cells(text) >= columns * rows:
                    os.write(master, open_with)
                    open_with = b""
                    continue
                if not open_with and drawn_cells(text) >= columns * rows and sentinel in text:
                    framed_at = time.perf_counter()
                    at_frame = read_memory(process.pid)[1]
            elif time.perf_counter() - framed_at >= settle:
                later = read_memory(process.pid)[1]
                break
    finally:
        _stop(process, master)
        os.close(master)
    return at_frame, later


# ------------------------------------------------------------------------------- paging up


class Ticker:
    """Wakes every ``period`` seconds and records how late it woke."""

    def __init__(self, period: float = 0.002) -> None:
        self.period = period
        self.lateness: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lateness.append((time.perf_counter() - before - self.period) * 1000)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def page_up(
    database: Path, size: tuple[int, int], max_pages: int, max_seconds: float
) -> dict[str, float]:
    """Open the thread headless and page from the bottom to the top; the figures."""

    from tui.app import TuiApp
    from tui.screens.conversation import ConversationScreen
    from tui.services.container import Services, open_services

    async def factory() -> Services:
        return await open_services(
            config=str(database.parent / "config.toml"), db=str(database), env={}
        )

    app = TuiApp(factory, tune_gc=True)  # as tui-chat runs it
    async with app.run_test(size=size) as pilot:
        await app.handle.get()
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, ConversationScreen)
        log = screen.log_widget
        frames = DrawnFrames(app, probe=lambda: blank_rows(log))
        while True:
            drawn = frames.next()
            app.refresh()
            if not (await drawn)[1] and log.views:
                break
        await pilot.pause(0.5)
        messages = log.message_count
        ticker = Ticker()
        ticker.start()
        to_frame: list[float] = []
        to_settled: list[float] = []
        unsettled = 0
        blank_frames = 0
        started = time.perf_counter()
        while len(to_frame) < max_pages:
            if max_seconds and time.perf_counter() - started > max_seconds:
                break
            if log.scroll_y <= 0 and not blank_rows(log):
                break
            pressed = time.perf_counter()
            if app.idle_collector is not None:
                app.idle_collector.note_activity()  # what the PageUp key event does
            drawn = frames.next()
            log.scroll_page_up(animate=False)
            frame, blank = await drawn
            to_frame.append((frame - pressed) * 1000)
            settled: float | None = None if blank else frame
            while settled is None and time.perf_counter() - pressed < SETTLE_TIMEOUT:
                blank_frames += 1
                drawn = frames.next()
                app.refresh()
                frame, blank = await drawn
                if not blank:
                    settled = frame
            if settled is None:
                unsettled += 1
            else:
                to_settled.append((settled - pressed) * 1000)
            await asyncio.sleep(KEY_REPEAT)
        elapsed = time.perf_counter() - started
        ticker.stop()
        first_shown = bool(log.views) and log.views[0].message.parent_id is None
        return {
            "messages": messages,
            "pages_total": log.virtual_size.height / max(log.scrollable_content_region.height, 1),
            "pages": len(to_frame),
            "seconds": elapsed,
            "frame_median": statistics.median(to_frame),
            "frame_p99": percentile(to_frame, 0.99),
            "frame_max": max(to_frame),
            "settled_median": statistics.median(to_settled) if to_settled else 0.0,
            "settled_p99": percentile(to_settled, 0.99),
            "settled_max": max(to_settled, default=0.0),
            "unsettled": unsettled,
            "blank_frames": blank_frames,
            "stall_p99": percentile(ticker.lateness, 0.99),
            "stall_max": max(ticker.lateness, default=0.0),
            "reached_top": float(log.scroll_y <= 0 and first_shown),
            "views_mounted": len(log.views),
        }


# ------------------------------------------------------------------------------- report


def _times(runs: list[Run]) -> list[float]:
    return [run.seconds * 1000 for run in runs if run.seconds is not None]


def _line(label: str, runs: list[Run]) -> float | None:
    times = _times(runs)
    failures = [run.failure for run in runs if run.seconds is None]
    if not times:
        print(f"  {label:<40} failed: {failures[0] if failures else 'no runs'}")
        tail = " ".join(screen_text(runs[-1].output).split())[-300:]
        print(f"  {'':<40} the screen ended: {tail}")
        return None
    hwm = [run.hwm_mb for run in runs if run.hwm_mb is not None]
    print(
        f"  {label:<40} median {statistics.median(times):6.0f} ms  min {min(times):6.0f}  "
        f"max {max(times):6.0f}   VmHWM {statistics.median(hwm) if hwm else float('nan'):5.1f} MB"
        + (f"  ({len(failures)} failed: {failures[0]})" if failures else "")
    )
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5, help="timed launches of each (default 5)")
    parser.add_argument("--size", default="120x40", help="terminal COLUMNSxROWS")
    parser.add_argument("--max-pages", type=int, default=5000, help="stop paging after this")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="stop paging after this long (default 60; 0: go all the way to the top)",
    )
    parser.add_argument("--no-scroll", action="store_true", help="skip paging up")
    parser.add_argument("--no-open", action="store_true", help="skip the timed launches")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    columns, rows = (int(part) for part in args.size.lower().split("x"))
    size = (columns, rows)
    missed = False

    with tempfile.TemporaryDirectory(prefix="tui-long-thread-") as tmp:
        folder = Path(tmp)
        thread_dir, empty_dir = folder / "thread", folder / "empty"
        thread_dir.mkdir()
        empty_dir.mkdir()
        database = thread_dir / "history.sqlite3"
        characters, seconds = asyncio.run(build_database(database, args.messages))
        asyncio.run(create_empty(empty_dir / "history.sqlite3"))
        print(
            f"database: one conversation of {args.messages} messages ({characters:,} characters "
            f"of Markdown), written through the repository in {seconds:.1f} s; "
            f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
        )
        if not args.no_open:
            command = [sys.executable, "-m", "tui"]
            thread_env, empty_env = isolated_env(thread_dir), isolated_env(empty_dir)

            print(
                f"\nopen in a {columns}x{rows} pty (python -m tui): it starts on the conversations "
                f"list; Enter opens the thread. {args.runs} alternating runs after a warm-up:"
            )
            thread_runs: list[Run] = []
            empty_runs: list[Run] = []
            for round_index in range(args.runs + 1):
                empty = launch(command, empty_env, size, sentinel=EMPTY_SENTINEL)
                thread = launch(
                    command, thread_env, size, sentinel=LIST_SENTINEL, press=b"\r", then=SENTINEL
                )
                if round_index:
                    empty_runs.append(empty)
                    thread_runs.append(thread)
            _line("empty database, launch -> route shown", empty_runs)
            listed = [
                Run(run.first_frame, failure=run.failure, output=run.output) for run in thread_runs
            ]
            _line("the thread's list, launch -> drawn", listed)
            thread_median = _line(f"Enter -> message {args.messages} drawn", thread_runs)
            if thread_median is not None:
                ok = thread_median < TARGET_THREAD_MS
                missed |= not ok
                print(
                    f"  opening the thread: {thread_median:.0f} ms "
                    f"(target < {TARGET_THREAD_MS:.0f} ms: {'met' if ok else 'MISSED'})"
                )
            else:
                missed = True
            empty_peak = settled_memory(empty_env, size, EMPTY_SENTINEL)
            thread_peak = settled_memory(
                thread_env, size, SENTINEL, open_with=b"\r", first=LIST_SENTINEL
            )

            def mb(value: float | None) -> str:
                return "n/a" if value is None else f"{value:.1f} MB"

            print(
                f"  peak resident memory (VmHWM) at that frame / 2 s later: empty "
                f"{mb(empty_peak[0])} / {mb(empty_peak[1])}; thread {mb(thread_peak[0])} / "
                f"{mb(thread_peak[1])}"
            )

        if not args.no_scroll:
            copy = folder / "scroll" / "history.sqlite3"
            copy.parent.mkdir()
            shutil.copyfile(database, copy)
            figures = asyncio.run(page_up(copy, size, args.max_pages, args.max_seconds))
            where = (
                "reached the top"
                if figures["reached_top"]
                else f"stopped before the top, of about {figures['pages_total']:.0f} pages "
                "(--max-seconds 0 goes all the way)"
            )
            print(
                f"\npaging up headless ({columns}x{rows}, run_test) from the bottom: "
                f"{figures['pages']:.0f} pages in {figures['seconds']:.1f} s, {where}"
            )
            print(
                f"  step -> next frame          median {figures['frame_median']:5.1f} ms  "
                f"p99 {figures['frame_p99']:5.1f}  max {figures['frame_max']:5.1f}"
            )
            print(
                f"  step -> nothing left blank  median {figures['settled_median']:5.1f} ms  "
                f"p99 {figures['settled_p99']:5.1f}  max {figures['settled_max']:5.1f}   "
                f"(frames with blank rows: {figures['blank_frames']:.0f}; never filled within "
                f"{SETTLE_TIMEOUT:g} s: {figures['unsettled']:.0f})"
            )
            ok = figures["settled_max"] <= PAUSE_MS and figures["stall_max"] <= PAUSE_MS
            missed |= not ok
            print(
                f"  event-loop stalls           p99 {figures['stall_p99']:5.1f} ms  max "
                f"{figures['stall_max']:5.1f} ms   (no visible pause: every step filled and "
                f"every stall <= {PAUSE_MS:.0f} ms: {'met' if ok else 'MISSED'})"
            )
            print(f"  message views mounted at the top: {figures['views_mounted']:.0f}")
        print(
            "\nbaseline: the same app start on an empty database (above); "
            "bench/long_thread.py measures the ChatLog alone"
        )
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
