"""The conversations screen over a large history: launch, search as you type, paging, opening.

Run from the repository root::

    python bench/app_conversations.py [--dir bench/out] [--runs 5] [--size 120x40]
    python bench/app_conversations.py --conversations 5000 --messages 100000   # a quick run

1. **The stores.** The history of ``bench/store_scale.py`` (100,000 conversations, 2,000,000
   messages by default; ``--dir`` keeps it and later runs reuse it) is copied to a temporary
   folder, so nothing the app writes changes the kept file. Two conversations of 200 Markdown
   messages each (``bench/app_long_thread.py``'s questions and answers) are added to the copy
   through the app's repository, the last one added newest of all: it is the row the list
   highlights. The baseline is a store holding that one conversation alone.
2. **Launch** (``python -m tui`` in a pseudo-terminal, ``bench/startup.py``'s harness): the time
   from launch to the first whole frame showing the newest title, on the big store and on the
   baseline, alternating for ``--runs`` rounds after a warm-up. Target: the ratio of the medians
   at most 1.5. Then ``VmHWM`` (peak resident memory) at that frame and 2 s later, with the list
   open on the big store. Target: under 100 MB.
3. **Headless** (``App.run_test`` on the copy, with the garbage-collection policy ``tui-chat``
   applies). Keys are posted to the app the way its driver posts a terminal's keys, and times
   end at the frame the app hands to the terminal (``bench/frames.py``):

   - *Search as you type*: words are typed one key at a time (a made-up word from the titles,
     the title word every conversation has, a word in 1% of the messages, a common word, two
     words), then erased one key at a time. Each key is timed to the first frame whose list and
     count line show the results for the new text. Target: p95 under 100 ms.
   - *Holding PageDown*: from the top of the list, PageDown is pressed 30 ms after the previous
     press drew its frame (a held key's repeat) for ``--page-seconds`` (0: to the end). Each
     press is timed to the first frame where the highlight has moved (a press the list could
     not follow yet, at the end of what is loaded, counts as a blank row) and the event loop's
     stalls are recorded (a 2 ms ticker). Target: no frame later than 50 ms, no blank row.
   - *Opening a 200-message conversation*: from the list, Enter on one of the two long
     conversations (alternately, so each open loads a conversation the screen is not showing),
     pressed 30 ms after the frame that shows its row highlighted, timed to the first frame
     with its last message drawn and no placeholder in the visible log; Ctrl+O goes back to
     the list between opens. Target: under 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.app_long_thread import Ticker, answer, percentile, question, settled_memory  # noqa: E402
from bench.frames import DrawnFrames, blank_rows  # noqa: E402
from bench.startup import Run, isolated_env, launch, screen_text  # noqa: E402
from bench.store_scale import RARE_WORD, SEED  # noqa: E402

LAUNCH_RATIO = 1.5
SEARCH_P95_MS = 100.0
PAGE_FRAME_MS = 50.0
OPEN_MS = 150.0
MEMORY_MB = 100.0
LONG_MESSAGES = 200
LONG_TITLE = "Two hundred messages about terminal rendering"
OLDER_TITLE = "Two hundred messages about event loops"
KEY_REPEAT = 0.03
OPENS = 6
FRAME_TIMEOUT = 5.0


# ------------------------------------------------------------------------------- the stores


def kept_history(folder: Path, conversations: int, messages: int) -> Path:
    """``bench/store_scale.py``'s history in ``folder``: reused when its sizes match."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "history.sqlite3"
    meta_path = folder / "store_scale.json"
    meta = {"conversations": conversations, "messages": messages, "seed": SEED}
    if path.exists() and meta_path.exists() and json.loads(meta_path.read_text()) == meta:
        print(f"reusing the history in {path}")
        return path
    print(f"generating the history in {path}")
    meta_path.unlink(missing_ok=True)
    sizes = ["--conversations", str(conversations), "--messages", str(messages)]
    script = ROOT / "bench" / "store_scale.py"
    subprocess.run([sys.executable, str(script), "--generate", str(path), *sizes], check=True)
    meta_path.write_text(json.dumps(meta))
    return path


async def add_long_conversation(path: Path, title: str, seed: int) -> tuple[int, int]:
    """A conversation of LONG_MESSAGES messages, written through the repository; its id and
    the id of its last message."""
    from tui.domain import Role
    from tui.store.db import open_store

    rng = random.Random(seed)
    store = await open_store(path=path)
    try:
        repository = store.repository
        conversation = await repository.create_conversation(
            title=title, provider="demo", model="demo"
        )
        parent: int | None = None
        for index in range(LONG_MESSAGES):
            user = index % 2 == 0
            content = question(rng, index // 2 + 1) if user else answer(rng, index)
            message = await repository.add_message(
                conversation.id,
                role=Role.USER if user else Role.ASSISTANT,
                content=content,
                parent_id=parent,
                provider=None if user else "demo",
                model=None if user else "demo",
            )
            parent = message.id
        assert parent is not None
        return conversation.id, parent
    finally:
        await store.close()


async def title_word(path: Path) -> str:
    """A made-up word from the generated titles (not in the common vocabulary)."""
    import sqlite3

    from bench.store_scale import COMMON

    connection = sqlite3.connect(path)
    try:
        titles: list[str] = [row[0] for row in connection.execute(
            "SELECT title FROM conversations ORDER BY id LIMIT 500 OFFSET 1000"
        )]  # fmt: skip
    finally:
        connection.close()
    for title in titles:
        for word in title.split()[3:]:
            if word not in COMMON and len(word) >= 6:
                return word
    return titles[0].split()[-1]


# ------------------------------------------------------------------------------- headless


@dataclass
class Long:
    """One of the 200-message conversations: its id and its last message's id."""

    conversation: int
    last_message: int


def post_key(app: Any, key: str) -> None:
    """A key press, posted to the app as its driver posts a terminal's keys."""
    from textual import events

    character = key if len(key) == 1 else None
    if key == "backspace":
        character = "\x7f"
    elif key == "space":
        character = " "
    app.post_message(events.Key(key, character))


async def until_frame(frames: DrawnFrames, app: Any, timeout: float = FRAME_TIMEOUT) -> float:
    """The time of the first frame, from now on, for which the probe holds."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        drawn = frames.next()
        try:
            moment, ok = await asyncio.wait_for(drawn, deadline - time.perf_counter())
        except TimeoutError:
            break
        if ok:
            return moment
    raise TimeoutError("no frame showed the expected state in time")


async def headless(
    database: Path,
    size: tuple[int, int],
    longs: tuple[Long, Long],
    words: list[str],
    page_seconds: float,
) -> dict[str, Any]:
    from textual.widgets import Input, Static

    from tui.app import TuiApp
    from tui.screens.conversation import ConversationScreen
    from tui.screens.conversations import ConversationsScreen
    from tui.services.container import Services, open_services

    async def factory() -> Services:
        return await open_services(
            config=str(database.parent / "config.toml"), db=str(database), env={}
        )

    app = TuiApp(factory, tune_gc=True, home=True)  # as tui-chat opens a saved history
    results: dict[str, Any] = {}
    async with app.run_test(size=size):
        state: dict[str, Any] = {"probe": lambda: False}
        frames = DrawnFrames(app, probe=lambda: bool(state["probe"]()))

        def list_screen() -> ConversationsScreen:
            screen = app.screen
            assert isinstance(screen, ConversationsScreen), f"on {type(screen).__name__}"
            return screen

        def info_text() -> str:
            return str(app.screen.query_one("#list-info", Static).content)

        # The list, loaded and drawn.
        state["probe"] = lambda: (
            isinstance(app.screen, ConversationsScreen) and bool(app.screen.listing.rows)
        )
        await until_frame(frames, app, timeout=30)
        screen = list_screen()
        listing = screen.listing
        total = int(info_text().rsplit("·", 1)[-1].replace(",", ""))
        results["total"] = total

        # -- search as you type ------------------------------------------------------------
        search = screen.query_one("#search", Input)
        search.focus()
        await app.workers.wait_for_complete()
        keystrokes: list[tuple[str, float]] = []
        for word in words:
            typed = ""
            for key in [*word, *["backspace"] * len(word)]:
                typed = typed[:-1] if key == "backspace" else typed + key
                query = typed.strip()

                def shows(query: str = query) -> bool:
                    info = info_text()
                    if query:
                        return f"for “{query}”" in info
                    return info.startswith("Conversations ·")

                state["probe"] = shows
                pressed = time.perf_counter()
                post_key(app, "space" if key == " " else key)
                try:
                    drawn = await until_frame(frames, app)
                except TimeoutError:
                    raise TimeoutError(
                        f"typed {typed!r}: the field holds {search.value!r}, the count line "
                        f"says {info_text()!r}"
                    ) from None
                keystrokes.append((typed or "(empty)", (drawn - pressed) * 1000))
                await asyncio.sleep(KEY_REPEAT)
        results["keystrokes"] = keystrokes
        await app.workers.wait_for_complete()

        # -- opening a 200-message conversation --------------------------------------------
        opens: list[float] = []
        for number in range(OPENS):
            target = longs[number % 2]
            screen = list_screen()
            screen.listing.focus()
            screen.listing.highlight_conversation(target.conversation)
            await app.workers.wait_for_complete()

            def highlighted(target: Long = target) -> bool:
                current = list_screen().listing.current
                return current is not None and current.id == target.conversation

            state["probe"] = highlighted  # drawn highlighted, as a person sees it before Enter
            await until_frame(frames, app)
            await asyncio.sleep(KEY_REPEAT)

            def opened(target: Long = target) -> bool:
                chat = app.screen
                if not isinstance(chat, ConversationScreen):
                    return False
                if chat.conversation_id != target.conversation:
                    return False
                log = chat.log_widget
                views = log.views
                return (
                    bool(views)
                    and views[-1].message.id == target.last_message
                    and not (blank_rows(log))
                )

            state["probe"] = opened
            pressed = time.perf_counter()
            post_key(app, "enter")
            drawn = await until_frame(frames, app)
            opens.append((drawn - pressed) * 1000)
            await app.workers.wait_for_complete()
            state["probe"] = lambda: (
                isinstance(app.screen, ConversationsScreen)
                and info_text().startswith("Conversations ·")
            )
            post_key(app, "ctrl+o")
            await until_frame(frames, app)
            await app.workers.wait_for_complete()
        results["opens"] = opens

        # -- holding PageDown --------------------------------------------------------------
        screen = list_screen()
        listing = screen.listing
        listing.focus()
        listing.highlighted = 0
        listing.scroll_home(animate=False)
        await app.workers.wait_for_complete()
        ticker = Ticker()
        ticker.start()
        to_frame: list[float] = []
        blank = 0
        started = time.perf_counter()
        while True:
            if page_seconds and time.perf_counter() - started > page_seconds:
                break
            before = listing.highlighted or 0
            if before >= listing.option_count - 1 and len(listing.rows) >= total:
                break
            if app.idle_collector is not None:
                app.idle_collector.note_activity()
            state["probe"] = lambda before=before: (listing.highlighted or 0) > before
            pressed = time.perf_counter()
            post_key(app, "pagedown")
            try:
                drawn = await until_frame(frames, app, timeout=2.0)
            except TimeoutError:
                blank += 1
                continue
            to_frame.append((drawn - pressed) * 1000)
            await asyncio.sleep(KEY_REPEAT)
        ticker.stop()
        results["pages"] = to_frame
        results["page_seconds"] = time.perf_counter() - started
        results["page_blank"] = blank
        results["rows_loaded"] = len(listing.rows)
        results["stalls"] = ticker.lateness
        results["reached_end"] = len(listing.rows) >= total
        results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


# ------------------------------------------------------------------------------- report


def _median(runs: list[Run]) -> float | None:
    times = [run.seconds * 1000 for run in runs if run.seconds is not None]
    return statistics.median(times) if times else None


def _launch_line(label: str, runs: list[Run]) -> float | None:
    times = [run.seconds * 1000 for run in runs if run.seconds is not None]
    failures = [run.failure for run in runs if run.seconds is None]
    if not times:
        tail = " ".join(screen_text(runs[-1].output).split())[-300:] if runs else ""
        print(f"  {label:<40} failed: {failures[0] if failures else 'no runs'}; screen: {tail}")
        return None
    hwm = [run.hwm_mb for run in runs if run.hwm_mb is not None]
    print(
        f"  {label:<40} median {statistics.median(times):6.0f} ms  min {min(times):6.0f}  "
        f"max {max(times):6.0f}   VmHWM {statistics.median(hwm) if hwm else float('nan'):5.1f} MB"
        + (f"  ({len(failures)} failed: {failures[0]})" if failures else "")
    )
    return statistics.median(times)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, help="keep the generated history here and reuse it")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=5, help="timed launches of each (default 5)")
    parser.add_argument("--size", default="120x40", help="terminal COLUMNSxROWS")
    parser.add_argument(
        "--page-seconds",
        type=float,
        default=60.0,
        help="hold PageDown this long (default 60; 0: to the end of the list)",
    )
    parser.add_argument("--no-launch", action="store_true", help="skip the timed launches")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    columns, rows = (int(part) for part in args.size.lower().split("x"))
    size = (columns, rows)
    missed = False

    with tempfile.TemporaryDirectory(prefix="tui-conversations-") as tmp:
        folder = Path(tmp)
        kept = kept_history(args.dir or folder / "kept", args.conversations, args.messages)
        big_dir, one_dir = folder / "big", folder / "one"
        big_dir.mkdir()
        one_dir.mkdir()
        big = big_dir / "history.sqlite3"
        started = time.perf_counter()
        shutil.copyfile(kept, big)
        older = Long(*asyncio.run(add_long_conversation(big, OLDER_TITLE, SEED + 1)))
        newest = Long(*asyncio.run(add_long_conversation(big, LONG_TITLE, SEED)))
        asyncio.run(add_long_conversation(one_dir / "history.sqlite3", LONG_TITLE, SEED))
        word = asyncio.run(title_word(big))
        print(
            f"stores: {args.conversations:,} conversations and {args.messages:,} messages, plus "
            f"two of {LONG_MESSAGES} messages (ready in {time.perf_counter() - started:.0f} s); "
            f"baseline: the newest of those alone. Load average {os.getloadavg()[0]:.2f} on "
            f"{os.cpu_count()} CPUs"
        )

        if not args.no_launch:
            command = [sys.executable, "-m", "tui"]
            big_env, one_env = isolated_env(big_dir), isolated_env(one_dir)
            print(
                f"\nlaunch in a {columns}x{rows} pty (python -m tui) -> first frame showing the "
                f"newest title, {args.runs} alternating runs after a warm-up:"
            )
            one_runs: list[Run] = []
            big_runs: list[Run] = []
            for round_index in range(args.runs + 1):
                one = launch(command, one_env, size, sentinel=LONG_TITLE)
                many = launch(command, big_env, size, sentinel=LONG_TITLE)
                if round_index:
                    one_runs.append(one)
                    big_runs.append(many)
            one_median = _launch_line("baseline: 1 conversation", one_runs)
            big_median = _launch_line(f"{args.conversations:,} conversations", big_runs)
            if one_median and big_median:
                ratio = big_median / one_median
                missed |= ratio > LAUNCH_RATIO
                print(
                    f"  ratio of the medians: {ratio:.2f}x "
                    f"(target <= {LAUNCH_RATIO}x: {verdict(ratio <= LAUNCH_RATIO)})"
                )
            else:
                missed = True
            at_frame, later = settled_memory(big_env, size, LONG_TITLE)
            one_frame, one_later = settled_memory(one_env, size, LONG_TITLE)
            if at_frame is None or later is None:
                print("  memory: could not be read")
                missed = True
            else:
                peak = max(at_frame, later)
                missed |= peak >= MEMORY_MB
                print(
                    f"  memory with the list open (VmHWM at that frame / 2 s later): "
                    f"{at_frame:.1f} / {later:.1f} MB (target < {MEMORY_MB:g} MB: "
                    f"{verdict(peak < MEMORY_MB)}); baseline {one_frame or 0:.1f} / "
                    f"{one_later or 0:.1f} MB"
                )

        words = [word, "conversation", RARE_WORD, "function", "the code"]
        figures = asyncio.run(headless(big, size, (newest, older), words, args.page_seconds))
        times = [ms for _, ms in figures["keystrokes"]]
        p95 = percentile(times, 0.95)
        missed |= p95 >= SEARCH_P95_MS
        slowest = max(figures["keystrokes"], key=lambda item: item[1])
        print(
            f"\nheadless ({columns}x{rows}, run_test) on {figures['total']:,} listed conversations:"
        )
        print(
            f"  search, key -> updated list   {len(times)} keys ({', '.join(words)}; typed and "
            f"erased)\n    median {statistics.median(times):5.1f} ms  p95 {p95:5.1f}  max "
            f"{max(times):5.1f} (“{slowest[0]}”)   target p95 < {SEARCH_P95_MS:g} ms: "
            f"{verdict(p95 < SEARCH_P95_MS)}"
        )
        by_word: dict[str, list[float]] = {}
        for typed, ms in figures["keystrokes"]:
            by_word.setdefault(typed, []).append(ms)
        for word_typed in words:
            own = by_word.get(word_typed, [])
            if own:
                print(f"    “{word_typed}” in full: {statistics.median(own):5.1f} ms")
        opens = figures["opens"]
        worst_open = max(opens)
        missed |= worst_open >= OPEN_MS
        print(
            f"  open a {LONG_MESSAGES}-message conversation, Enter -> its last message drawn, "
            f"{len(opens)} opens\n    first {opens[0]:5.1f} ms  median "
            f"{statistics.median(opens):5.1f}  max {worst_open:5.1f}   target < {OPEN_MS:g} ms: "
            f"{verdict(worst_open < OPEN_MS)}"
        )
        pages = figures["pages"]
        stalls = figures["stalls"]
        worst_page = max(pages, default=0.0)
        ok = worst_page <= PAGE_FRAME_MS and figures["page_blank"] == 0
        missed |= not ok
        where = (
            "to the end of the list"
            if figures["reached_end"]
            else f"stopped after {args.page_seconds:g} s (--page-seconds 0 goes to the end)"
        )
        print(
            f"  holding PageDown: {len(pages)} pages in {figures['page_seconds']:.1f} s, "
            f"{figures['rows_loaded']:,} rows loaded, {where}\n"
            f"    press -> frame  median {statistics.median(pages):5.1f} ms  p99 "
            f"{percentile(pages, 0.99):5.1f}  max {worst_page:5.1f}   presses the list could "
            f"not follow (blank rows): {figures['page_blank']}   target: no frame > "
            f"{PAGE_FRAME_MS:g} ms, no blank row: {verdict(ok)}\n"
            f"    event-loop stalls  p99 {percentile(stalls, 0.99):5.1f} ms  max "
            f"{max(stalls, default=0.0):5.1f} ms"
        )
        print(f"  peak RSS of the headless run after paging: {figures['peak_rss_mb']:.1f} MB")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
