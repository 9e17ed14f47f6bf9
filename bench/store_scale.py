"""History at scale: open + first page, search, a long active path, streaming appends, memory.

Generates a history (default 100,000 conversations, 2,000,000 messages) with the real schema
(the app's migrations) and bulk inserts through ``sqlite3`` with the search triggers in place,
then measures in a fresh process, so generation memory does not count:

- open the store and load the first page of the list (target < 50 ms)
- search a word that appears in 1% of messages (target < 150 ms)
- load a 2,000-message active path (target < 100 ms)
- 1,000 streamed deltas appended the way the engine flushes them (coalesced every ~250 ms)
- peak resident memory of the measuring process (target < 150 MB)

Usage::

    python bench/store_scale.py                       # full size in a temporary folder
    python bench/store_scale.py --dir bench/out       # keep the file; later runs reuse it
    python bench/store_scale.py --dir bench/out --cold  # first runs read from disk
    python bench/store_scale.py --conversations 2000 --messages 40000   # a quick run

Each query is run five times in the measuring process: the median is printed, and the first run
(cold for SQLite's own cache, and for whatever part of the file the OS no longer caches) with it.
``--cold`` evicts the file from the OS page cache before measuring, as after a reboot.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RARE_WORD = "zephyr"  # never produced by the vocabulary below; put in 1% of messages
LONG_PATH = 2_000
TAIL = 50  # what a screen shows first of a long thread
DELTAS = 1_000
FLUSH_SECONDS = 0.25
LONG_REPLY_CHARS = 200_000
DELTAS_PER_SECOND = 50.0  # a brisk model: 50 deltas/s gives ~12 deltas per 250 ms flush
SEARCHES = (
    ("search", RARE_WORD),
    ("search_prefix", RARE_WORD[:4]),
    ("search_prefix3", "fun"),  # a 3-letter prefix of many words
    ("search_common", "the function code"),  # words in most messages and many titles
    ("search_none", "qqqq"),
    ("search_cjk", "日本"),  # substring search: scans titles, the (here empty) CJK index
)
TARGETS_MS = {"first_page": 50.0, "search": 150.0, "active_path": 100.0}
TARGET_RSS_MB = 150.0
SEED = 2024
COMMON = (
    "the to and of a in is that for it you with on this as be are can use or if not but what "
    "your have from by will an at which function code data python value file should return then "
    "there these they them their time example error model first when also more like would query "
    "list string type test class method need make way new one get set run just how each"
).split()


def vocabulary(rng: random.Random, size: int = 30_000) -> list[str]:
    """Common English words first, then made-up words; ranks get Zipf weights."""
    consonants = "b c d f g h j k l m n p r s t v w".split()
    syllables = [c + v for c in consonants for v in "aeiou"]
    syllables += [s + "n" for s in syllables]
    words = list(dict.fromkeys(COMMON))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def stamp(moment: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME text for naive UTC."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


class Generator:
    """Writes conversations and messages in big transactions."""

    def __init__(self, path: Path, conversations: int, messages: int) -> None:
        self.rng = random.Random(SEED)
        self.words = vocabulary(self.rng)
        weights = (1 / (rank + 1) ** 1.07 for rank in range(len(self.words)))
        self.cum_weights = list(itertools.accumulate(weights))
        self.path = path
        self.conversations = conversations
        self.messages = messages
        self.next_id = 1
        self.message_rows: list[tuple[object, ...]] = []
        self.conversation_rows: list[tuple[object, ...]] = []
        self.start = datetime(2024, 1, 1)
        self.span = timedelta(days=700)

    def text(self, low: int, high: int) -> str:
        words = self.rng.choices(
            self.words, cum_weights=self.cum_weights, k=self.rng.randint(low, high)
        )
        if self.next_id % 100 == 0:  # 1% of messages
            words.insert(self.rng.randrange(len(words) + 1), RARE_WORD)
        return " ".join(words)

    def message(
        self, conversation_id: int, parent_id: int | None, role: str, moment: datetime
    ) -> tuple[int, str]:
        ident = self.next_id
        self.next_id += 1
        assistant = role == "assistant"
        content = self.text(30, 130) if assistant else self.text(8, 30)
        when = stamp(moment)
        self.message_rows.append(
            (
                ident, conversation_id, parent_id, role, content, "", "complete", None,
                "demo" if assistant else None, "demo-1" if assistant else None,
                "responses" if assistant else None,
                f"resp_{ident:09d}" if assistant else None, None,
                200 if assistant else None, len(content) // 4 if assistant else None,
                0 if assistant else None, 0 if assistant else None,
                300 if assistant else None, 2000 if assistant else None, None, when, when,
            )
        )  # fmt: skip
        return ident, content

    def run(self) -> None:
        from tui.store.convert import preview_of

        connection = sqlite3.connect(self.path, isolation_level=None)
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA journal_mode = OFF")  # a failed run is simply generated again
        connection.execute("PRAGMA cache_size = -200000")
        long_id = self.conversations // 2  # a long thread in the middle of the id range
        others = self.conversations - 1
        budget = self.messages - LONG_PATH
        base, extra = divmod(budget, others)
        stride = max(1, others // LONG_PATH)
        long_parent: int | None = None
        long_last = ""
        long_done = 0
        counts = [base + (1 if index < extra else 0) for index in range(others)]
        for index in range(0, others - 1, 2):  # vary sizes in pairs so the total stays exact
            swing = self.rng.randint(0, max(0, base - 2))
            counts[index] += swing
            counts[index + 1] -= swing
        ids = [c for c in range(1, self.conversations + 1) if c != long_id]
        for index, conversation_id in enumerate(ids):
            count = counts[index]
            moment = self.start + self.span * (conversation_id / self.conversations)
            parent: int | None = None
            last = ""
            made = 0
            while made < count:
                role = "user" if made % 2 == 0 else "assistant"
                regenerate = role == "assistant" and made + 1 < count and self.rng.random() < 0.05
                if regenerate:  # an older sibling the user regenerated away from
                    self.message(conversation_id, parent, role, moment)
                    made += 1
                parent, last = self.message(conversation_id, parent, role, moment)
                made += 1
                moment += timedelta(minutes=self.rng.randint(1, 30))
            pinned = conversation_id % 5000 == 0
            archived = conversation_id % 20 == 7
            self.conversation_rows.append(
                (conversation_id, f"Conversation {conversation_id} about "
                 + " ".join(self.rng.choices(self.words, cum_weights=self.cum_weights, k=3)),
                 "demo", "demo-1", "auto", None, "{}", parent, pinned, archived,
                 stamp(self.start + self.span * (conversation_id / self.conversations)),
                 stamp(moment), count, preview_of(last))
            )  # fmt: skip
            if index % stride == 0 and long_done < LONG_PATH:
                role = "user" if long_done % 2 == 0 else "assistant"
                now = self.start + self.span * (index / others)
                long_parent, long_last = self.message(long_id, long_parent, role, now)
                long_done += 1
            if len(self.message_rows) >= 20_000:
                self.flush(connection)
        while long_done < LONG_PATH:
            role = "user" if long_done % 2 == 0 else "assistant"
            long_parent, long_last = self.message(
                long_id, long_parent, role, self.start + self.span
            )
            long_done += 1
        last_active = stamp(self.start + self.span + timedelta(days=1))
        self.conversation_rows.append(
            (long_id, "A very long thread", "demo", "demo-1", "auto", None, "{}", long_parent,
             False, False, stamp(self.start), last_active, LONG_PATH, preview_of(long_last))
        )  # fmt: skip
        self.flush(connection)
        connection.execute("PRAGMA optimize")
        connection.execute("PRAGMA journal_mode = WAL")  # as the app keeps it
        connection.close()

    def flush(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO messages (id, conversation_id, parent_id, role, content, reasoning, "
            "status, writer, provider, model, api, response_id, previous_response_id, "
            "input_tokens, output_tokens, reasoning_tokens, cached_tokens, latency_ms, "
            "duration_ms, error, created_at, finished_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.message_rows,
        )
        connection.executemany(
            "INSERT INTO conversations (id, title, provider, model, api_mode, system_prompt, "
            "params, active_leaf_id, pinned, archived, created_at, updated_at, message_count, "
            "preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.conversation_rows,
        )
        connection.execute("COMMIT")
        self.message_rows.clear()
        self.conversation_rows.clear()
        done = self.next_id - 1
        print(f"\r  {done:>9,} / {self.messages:,} messages", end="", flush=True)


def generate(path: Path, conversations: int, messages: int) -> None:
    from tui.store.db import open_store

    async def create_schema() -> None:
        await (await open_store(path=path)).close()

    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    asyncio.run(create_schema())
    started = time.perf_counter()
    Generator(path, conversations, messages).run()
    elapsed = time.perf_counter() - started
    size = path.stat().st_size / 2**20
    print(f"\n  generated in {elapsed:.0f} s; file {size:,.0f} MiB")


# -- measuring (in a fresh process) ------------------------------------------------------------


def timed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


async def measure(path: Path) -> dict[str, object]:
    started = time.perf_counter()
    from tui.domain import MessageStatus, Role
    from tui.store.db import open_store

    results: dict[str, object] = {"import_ms": timed_ms(started)}

    started = time.perf_counter()
    store = await open_store(path=path)
    first_page = await store.repository.list_conversations(limit=50)
    results["first_page_ms"] = timed_ms(started)
    repo = store.repository
    assert len(first_page) == 50, "the list should fill a page"
    later = []
    for _ in range(5):
        started = time.perf_counter()
        await repo.list_conversations(limit=50, offset=500)
        later.append(timed_ms(started))
    results["page_11_ms"] = statistics.median(later)

    for name, query in SEARCHES:
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            hits = await repo.search(query)
            runs.append(timed_ms(started))
        results[f"{name}_first_ms"] = runs[0]
        results[f"{name}_ms"] = statistics.median(runs)
        results[f"{name}_hits"] = len(hits)

    long_thread = next(c for c in first_page if c.message_count == LONG_PATH)
    started = time.perf_counter()
    tail = await repo.active_path(long_thread.id, last=TAIL)
    results["path_tail_first_ms"] = timed_ms(started)
    assert len(tail) == TAIL
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        path_messages = await repo.active_path(long_thread.id)
        runs.append(timed_ms(started))
    assert len(path_messages) == LONG_PATH
    results["active_path_first_ms"] = runs[0]
    results["active_path_ms"] = statistics.median(runs)

    # Streaming: 1,000 deltas at DELTAS_PER_SECOND, coalesced and flushed every FLUSH_SECONDS.
    conversation = await repo.create_conversation(title="bench stream")
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING
    )
    rng = random.Random(SEED)
    deltas = [" " + rng.choice(COMMON) for _ in range(DELTAS)]
    per_flush = max(1, round(DELTAS_PER_SECOND * FLUSH_SECONDS))
    flushes = []
    for first in range(0, DELTAS, per_flush):
        started = time.perf_counter()
        await repo.append_text(reply.id, "".join(deltas[first : first + per_flush]))
        flushes.append(timed_ms(started))
    started = time.perf_counter()
    await repo.finish_message(reply.id, status=MessageStatus.COMPLETE)
    results["finish_ms"] = timed_ms(started)
    results["flushes"] = len(flushes)
    results["flush_median_ms"] = statistics.median(flushes)
    results["flush_max_ms"] = max(flushes)
    results["stream_total_ms"] = sum(flushes)
    # The worst case: a flush for every single delta.
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING
    )
    each = []
    for text in deltas:
        started = time.perf_counter()
        await repo.append_text(reply.id, text)
        each.append(timed_ms(started))
    results["each_total_ms"] = sum(each)
    results["each_median_ms"] = statistics.median(each)
    results["each_last_100_median_ms"] = statistics.median(each[-100:])
    # A very long reply: each append rewrites the row, so the cost grows with its length.
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING
    )
    chunk = "".join(deltas)[:250]
    growing = []
    for _ in range(LONG_REPLY_CHARS // len(chunk)):
        started = time.perf_counter()
        await repo.append_text(reply.id, chunk)
        growing.append(timed_ms(started))
    results["long_reply_first_ms"] = statistics.median(growing[:20])
    results["long_reply_last_ms"] = statistics.median(growing[-20:])
    await repo.delete_conversation(conversation.id)  # leave the file as generated
    await store.close()
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def evict_from_page_cache(path: Path) -> None:
    """Ask the OS to drop the database's cached pages (Linux; a no-op where unsupported)."""
    for file in (path, path.with_name(path.name + "-wal")):
        if not file.exists() or not hasattr(os, "posix_fadvise"):
            continue
        descriptor = os.open(file, os.O_RDONLY)
        try:
            os.fsync(descriptor)
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def report(results: dict[str, object], conversations: int, messages: int) -> None:
    def number(key: str) -> float:
        value = results[key]
        assert isinstance(value, int | float)
        return float(value)

    def line(label: str, value: float, unit: str, target: float | None = None) -> None:
        verdict = ""
        if target is not None:
            verdict = f"  target < {target:g} {unit}  {'ok' if value < target else 'MISSED'}"
        print(f"  {label:<46} {value:9.1f} {unit}{verdict}")

    print(f"\nHistory: {conversations:,} conversations, {messages:,} messages")
    line("import tui.store.db (not in the targets)", number("import_ms"), "ms")
    line("open store + first page of 50", number("first_page_ms"), "ms", TARGETS_MS["first_page"])
    line("  a later page (offset 500), median", number("page_11_ms"), "ms")
    line(f"search '{RARE_WORD}' (1% of messages), median", number("search_ms"), "ms",
         TARGETS_MS["search"])  # fmt: skip
    line("  same, first run", number("search_first_ms"), "ms")
    for name, query in SEARCHES[1:]:
        line(f"  {query!r}, median", number(f"{name}_ms"), "ms")
    line(f"active path of {LONG_PATH:,} messages, median", number("active_path_ms"), "ms",
         TARGETS_MS["active_path"])  # fmt: skip
    line("  same, first run", number("active_path_first_ms"), "ms")
    line(f"  its last {TAIL} messages (last={TAIL}), first run", number("path_tail_first_ms"), "ms")
    flushes = int(number("flushes"))
    print(f"  {DELTAS:,} deltas at {DELTAS_PER_SECOND:g}/s, flushed every {FLUSH_SECONDS * 1000:g} "
          f"ms = {flushes} append_text calls:")  # fmt: skip
    line("  append_text per flush, median", number("flush_median_ms"), "ms")
    line("  append_text per flush, max", number("flush_max_ms"), "ms")
    line("  total database time for the stream", number("stream_total_ms"), "ms")
    line("  finish_message (indexes the reply)", number("finish_ms"), "ms")
    line(f"  worst case, {DELTAS:,} flushes (one per delta)", number("each_total_ms"), "ms")
    line("    per call, median", number("each_median_ms"), "ms")
    line("    per call, median of the last 100", number("each_last_100_median_ms"), "ms")
    line(
        f"  {LONG_REPLY_CHARS // 1000} kB reply, 250-char flushes: first 20",
        number("long_reply_first_ms"),
        "ms",
    )
    line("    last 20 (each append rewrites the row)", number("long_reply_last_ms"), "ms")
    line("peak RSS of the measuring process", number("peak_rss_mb"), "MB", TARGET_RSS_MB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, help="keep the generated file here and reuse it")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument(
        "--cold",
        action="store_true",
        help="evict the file from the OS page cache first, so first runs read from disk",
    )
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        generate(args.generate, args.conversations, args.messages)
        return
    if args.measure is not None:
        print(json.dumps(asyncio.run(measure(args.measure))))
        return
    if args.messages < args.conversations * 2 + LONG_PATH:
        parser.error("need at least 2 messages per conversation plus the long thread")

    folder = args.dir or Path(tempfile.mkdtemp(prefix="store-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "history.sqlite3"
    meta_path = folder / "store_scale.json"
    meta = {"conversations": args.conversations, "messages": args.messages, "seed": SEED}
    try:
        reusable = path.exists() and meta_path.exists()
        if reusable and json.loads(meta_path.read_text()) == meta:
            print(f"Reusing {path}")
        else:
            print(f"Generating {path}")
            meta_path.unlink(missing_ok=True)
            # Each phase runs in its own process. The measuring one must start from a small
            # parent: Linux carries the parent's peak RSS into a child's ru_maxrss through exec.
            sizes = ["--conversations", str(args.conversations), "--messages", str(args.messages)]
            subprocess.run([sys.executable, __file__, "--generate", str(path), *sizes], check=True)
            meta_path.write_text(json.dumps(meta))
        if args.cold:
            evict_from_page_cache(path)
        measured = subprocess.run(
            [sys.executable, __file__, "--measure", str(path)],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        report(json.loads(measured.stdout.splitlines()[-1]), args.conversations, args.messages)
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
