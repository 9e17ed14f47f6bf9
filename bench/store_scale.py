"""History at scale: open + first page, search, a long active path, streaming appends, memory.

Generates a history (default 100,000 conversations, 2,000,000 messages) with the real schema
(the app's migrations) and bulk inserts it, with the search triggers in place, then measures in a
fresh process, through the app's own store API, so generation memory does not count:

- open the store and load the first page of the list (target < 50 ms)
- search a word that appears in 1% of messages (target < 150 ms), and other keystrokes
- load a 2,000-message active path (target < 100 ms)
- 1,000 streamed deltas appended the way the engine flushes them (coalesced every ~250 ms)
- peak resident memory of the measuring process (target < 150 MB)

On SQLite (the default) the rows go in through ``sqlite3``; on PostgreSQL (``--database-url``)
the same rows, from the same generator, go in with COPY (asyncpg), the search triggers filling
the ``tsvector`` columns, then the indexes, foreign keys, sequences and VACUUM ANALYZE.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
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
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg
    from sqlalchemy.ext.asyncio import AsyncEngine

USAGE = """\
usage examples:
  python bench/store_scale.py                       # full size, SQLite, in a temporary folder
  python bench/store_scale.py --dir bench/out       # keep the file; later runs reuse it
  python bench/store_scale.py --dir bench/out --cold  # first runs read from disk
  python bench/store_scale.py --conversations 2000 --messages 40000   # a quick run

  # PostgreSQL: an empty database made for the bench (it is generated once, marked by a
  # COMMENT ON DATABASE, and reused while it holds the same sizes; a database with other
  # tables in it is refused, never dropped). The password comes from PGPASSWORD or ~/.pgpass.
  createdb -h HOST -U USER store_scale
  python bench/store_scale.py --database-url postgresql+asyncpg://USER@HOST:5432/store_scale
  python bench/store_scale.py --temporary-server --conversations 2000 --messages 40000

  # Both engines on the same sizes, side by side with PG/SQLite ratios (exit 1 if a timed
  # figure is more than 2x SQLite's): read PostgreSQL's figures against SQLite on this machine.
  python bench/store_scale.py --dir bench/out --database-url URL --compare

Each query is run five times in the measuring process: the median is printed, and the first run
(cold for the database's own cache, and for whatever part of the file the OS no longer caches)
with it. --cold evicts the SQLite file from the OS page cache before measuring, as after a
reboot; a PostgreSQL server keeps its own cache (shared_buffers), which only a restart empties.
"""

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


Row = tuple[object, ...]
MESSAGE_COLUMNS = (
    "id", "conversation_id", "parent_id", "role", "content", "reasoning", "status", "writer",
    "provider", "model", "api", "response_id", "previous_response_id", "input_tokens",
    "output_tokens", "reasoning_tokens", "cached_tokens", "latency_ms", "duration_ms", "error",
    "created_at", "finished_at",
)  # fmt: skip
CONVERSATION_COLUMNS = (
    "id", "title", "provider", "model", "api_mode", "system_prompt", "params", "active_leaf_id",
    "pinned", "archived", "created_at", "updated_at", "message_count", "preview",
)  # fmt: skip
BATCH_ROWS = 20_000


class Generator:
    """Produces the rows of the history, the same for every engine: ``batches()`` yields lists of
    message and conversation rows (in ``MESSAGE_COLUMNS`` / ``CONVERSATION_COLUMNS`` order, times
    as naive UTC ``datetime``); ``write_sqlite`` and ``write_postgres`` store them.

    Rows go straight into the tables, past the app's repository: the summary columns
    (``message_count``, ``preview``, ``active_leaf_id``) are computed here, and foreign keys are
    not checked while loading (SQLite's ``foreign_keys`` is off on the loading connection;
    PostgreSQL's constraints are added back, and so checked, once the rows are in). The search
    triggers do fire, on both engines.
    """

    def __init__(self, conversations: int, messages: int) -> None:
        self.rng = random.Random(SEED)
        self.words = vocabulary(self.rng)
        weights = (1 / (rank + 1) ** 1.07 for rank in range(len(self.words)))
        self.cum_weights = list(itertools.accumulate(weights))
        self.conversations = conversations
        self.messages = messages
        self.next_id = 1
        self.message_rows: list[Row] = []
        self.conversation_rows: list[Row] = []
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
        self.message_rows.append(
            (
                ident, conversation_id, parent_id, role, content, "", "complete", None,
                "demo" if assistant else None, "demo-1" if assistant else None,
                "responses" if assistant else None,
                f"resp_{ident:09d}" if assistant else None, None,
                200 if assistant else None, len(content) // 4 if assistant else None,
                0 if assistant else None, 0 if assistant else None,
                300 if assistant else None, 2000 if assistant else None, None, moment, moment,
            )
        )  # fmt: skip
        return ident, content

    def take(self) -> tuple[list[Row], list[Row]]:
        batch = (self.message_rows, self.conversation_rows)
        self.message_rows, self.conversation_rows = [], []
        return batch

    def batches(self) -> Iterator[tuple[list[Row], list[Row]]]:
        from tui.store.convert import preview_of

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
                 self.start + self.span * (conversation_id / self.conversations),
                 moment, count, preview_of(last))
            )  # fmt: skip
            if index % stride == 0 and long_done < LONG_PATH:
                role = "user" if long_done % 2 == 0 else "assistant"
                now = self.start + self.span * (index / others)
                long_parent, long_last = self.message(long_id, long_parent, role, now)
                long_done += 1
            if len(self.message_rows) >= BATCH_ROWS:
                yield self.take()
        while long_done < LONG_PATH:
            role = "user" if long_done % 2 == 0 else "assistant"
            long_parent, long_last = self.message(
                long_id, long_parent, role, self.start + self.span
            )
            long_done += 1
        last_active = self.start + self.span + timedelta(days=1)
        self.conversation_rows.append(
            (long_id, "A very long thread", "demo", "demo-1", "auto", None, "{}", long_parent,
             False, False, self.start, last_active, LONG_PATH, preview_of(long_last))
        )  # fmt: skip
        yield self.take()

    def progress(self) -> None:
        done = self.next_id - 1
        print(f"\r  {done:>9,} / {self.messages:,} messages", end="", flush=True)


def _insert(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join("?" * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def _stamped(rows: list[Row], *where: int) -> Iterator[Row]:
    """The rows with their ``datetime`` columns as SQLAlchemy's SQLite text."""
    for row in rows:
        values = list(row)
        for index in where:
            moment = values[index]
            assert isinstance(moment, datetime)
            values[index] = stamp(moment)
        yield tuple(values)


def write_sqlite(path: Path, generator: Generator) -> None:
    """Insert the rows with ``sqlite3`` in big transactions, the FTS5 triggers in place."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA journal_mode = OFF")  # a failed run is simply generated again
    connection.execute("PRAGMA cache_size = -200000")
    message_sql = _insert("messages", MESSAGE_COLUMNS)
    conversation_sql = _insert("conversations", CONVERSATION_COLUMNS)
    message_times = (MESSAGE_COLUMNS.index("created_at"), MESSAGE_COLUMNS.index("finished_at"))
    conversation_times = (
        CONVERSATION_COLUMNS.index("created_at"),
        CONVERSATION_COLUMNS.index("updated_at"),
    )
    for messages, conversations in generator.batches():
        connection.execute("BEGIN")
        connection.executemany(message_sql, _stamped(messages, *message_times))
        connection.executemany(conversation_sql, _stamped(conversations, *conversation_times))
        connection.execute("COMMIT")
        generator.progress()
    connection.execute("PRAGMA optimize")
    connection.execute("PRAGMA journal_mode = WAL")  # as the app keeps it
    connection.close()


def generate(path: Path, conversations: int, messages: int) -> None:
    from tui.store.db import open_store

    async def create_schema() -> None:
        await (await open_store(path=path)).close()

    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    asyncio.run(create_schema())
    started = time.perf_counter()
    write_sqlite(path, Generator(conversations, messages))
    elapsed = time.perf_counter() - started
    size = path.stat().st_size / 2**20
    print(f"\n  generated in {elapsed:.0f} s; file {size:,.0f} MiB")


# -- PostgreSQL --------------------------------------------------------------------------------

MARK = "tui-chat bench/store_scale.py"
"""How a database generated here is marked (its COMMENT), so that it, and only it, is reused or
dropped and generated again."""
LOADED_TABLES = ("conversations", "messages")
SERVER_HINT = (
    "Point it at an empty database made for the bench, e.g. `createdb store_scale` then "
    "--database-url postgresql+asyncpg://USER@HOST:5432/store_scale (password from PGPASSWORD or "
    "~/.pgpass), or pass --temporary-server to start a throw-away server here."
)


def asyncpg_dsn(url: str) -> str:
    """The libpq-style DSN asyncpg takes, from the app's SQLAlchemy URL."""
    from sqlalchemy import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def shown(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


async def _mark(connection: asyncpg.Connection) -> str | None:
    value = await connection.fetchval(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE datname = current_database()"
    )
    return value if isinstance(value, str) else None


async def _set_mark(connection: asyncpg.Connection, text: str) -> None:
    name = await connection.fetchval("SELECT current_database()")
    quoted = '"' + str(name).replace('"', '""') + '"'
    literal = "'" + text.replace("'", "''") + "'"
    await connection.execute(f"COMMENT ON DATABASE {quoted} IS {literal}")


def _done_mark(meta: dict[str, int]) -> str:
    return f"{MARK}: {json.dumps(meta, sort_keys=True)}"


async def pg_reusable(url: str, meta: dict[str, int]) -> bool:
    """The database holds this generator's history at these sizes (counts checked too)."""
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        if await _mark(connection) != _done_mark(meta):
            return False
        counts = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM conversations) AS c, (SELECT count(*) FROM messages) AS m"
        )
        assert counts is not None
        return bool(counts["c"] == meta["conversations"] and counts["m"] == meta["messages"])
    except asyncpg.UndefinedTableError:
        return False
    finally:
        await connection.close()


async def _clear(connection: asyncpg.Connection, location: str) -> None:
    """Empty the database for a new history, refusing one this bench did not make."""
    tables = await connection.fetchval(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')"
    )
    mark = await _mark(connection)
    if tables and not (mark or "").startswith(MARK):
        raise SystemExit(
            f"{location} already holds tables, and not a history this bench generated: it is "
            f"left alone. {SERVER_HINT}"
        )
    await _set_mark(connection, f"{MARK}: generating")
    if tables:
        await connection.execute("DROP SCHEMA public CASCADE")
        await connection.execute("CREATE SCHEMA public")


async def _defer_checks(connection: asyncpg.Connection) -> list[str]:
    """Drop the foreign keys and secondary indexes of the loaded tables; the statements that make
    them again, the same definitions (the way pg_restore loads: rows first, then indexes)."""
    restore: list[str] = []
    indexes = await connection.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def "
        "FROM pg_index i WHERE i.indrelid = ANY($1::regclass[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
        list(LOADED_TABLES),
    )
    keys = await connection.fetch(
        "SELECT conrelid::regclass::text AS tab, conname AS name, pg_get_constraintdef(oid) AS def "
        "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY($1::regclass[])",
        list(LOADED_TABLES),
    )
    for key in keys:
        await connection.execute(f'ALTER TABLE {key["tab"]} DROP CONSTRAINT "{key["name"]}"')
    for index in indexes:
        await connection.execute(f"DROP INDEX {index['name']}")
    restore.extend(str(index["def"]) for index in indexes)
    restore.extend(
        f'ALTER TABLE {key["tab"]} ADD CONSTRAINT "{key["name"]}" {key["def"]}' for key in keys
    )
    return restore


async def write_postgres(url: str, generator: Generator) -> None:
    """COPY the rows in (the BEFORE INSERT triggers fill the search columns), then indexes and
    foreign keys, sequences past the ids used, and VACUUM ANALYZE."""
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("SET maintenance_work_mem = '512MB'")
        await connection.execute("SET synchronous_commit = off")
        restore = await _defer_checks(connection)
        for messages, conversations in generator.batches():
            async with connection.transaction():
                await connection.copy_records_to_table(
                    "messages", records=messages, columns=MESSAGE_COLUMNS
                )
                await connection.copy_records_to_table(
                    "conversations", records=conversations, columns=CONVERSATION_COLUMNS
                )
            generator.progress()
        print("\n  indexes and foreign keys ...", flush=True)
        for statement in restore:
            await connection.execute(statement)
        for table in LOADED_TABLES:
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await connection.execute(f"VACUUM (ANALYZE) {', '.join(LOADED_TABLES)}")
    finally:
        await connection.close()


def generate_postgres(url: str, conversations: int, messages: int) -> None:
    import asyncpg

    from tui.store.db import open_store

    async def run() -> float:
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await _clear(connection, shown(url))
        finally:
            await connection.close()
        await (await open_store(url)).close()  # the schema, by the app's migrations
        started = time.perf_counter()
        await write_postgres(url, Generator(conversations, messages))
        elapsed = time.perf_counter() - started
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            meta = {"conversations": conversations, "messages": messages, "seed": SEED}
            await _set_mark(connection, _done_mark(meta))
            size = await connection.fetchval("SELECT pg_database_size(current_database())")
        finally:
            await connection.close()
        print(f"  generated in {elapsed:.0f} s; database {int(size) / 2**20:,.0f} MiB")
        return elapsed

    asyncio.run(run())


# -- measuring (in a fresh process) ------------------------------------------------------------


def timed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def engine_name(engine: AsyncEngine) -> str:
    if engine.dialect.name == "postgresql":
        version = engine.dialect.server_version_info or ()
        return "PostgreSQL " + ".".join(str(part) for part in version)
    return f"SQLite {sqlite3.sqlite_version}"


def is_url(target: str) -> bool:
    return "://" in target


async def measure(target: str) -> dict[str, object]:
    started = time.perf_counter()
    from tui.domain import MessageStatus, Role
    from tui.store.db import open_store

    results: dict[str, object] = {"import_ms": timed_ms(started)}

    started = time.perf_counter()
    # The driver is imported by the first open in a process: timed apart, and counted in both.
    importlib.import_module("asyncpg" if is_url(target) else "aiosqlite")
    results["driver_ms"] = timed_ms(started)
    store = await (open_store(target) if is_url(target) else open_store(path=Path(target)))
    results["open_ms"] = timed_ms(started)
    page_started = time.perf_counter()
    first_page = await store.repository.list_conversations(limit=50)
    results["page_ms"] = timed_ms(page_started)
    results["first_page_ms"] = timed_ms(started)
    results["engine"] = engine_name(store.engine)
    results["location"] = store.location
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


# -- the report ---------------------------------------------------------------------------------

Line = tuple[str, str | None, str, float | None]
"""A report line: label, result key (None: a heading), unit, target."""


def report_lines() -> list[Line]:
    flushes = DELTAS // max(1, round(DELTAS_PER_SECOND * FLUSH_SECONDS))
    stream = (
        f"  {DELTAS:,} deltas at {DELTAS_PER_SECOND:g}/s, flushed every "
        f"{FLUSH_SECONDS * 1000:g} ms = {flushes} append_text calls:"
    )
    lines: list[Line] = [
        ("import tui.store.db (not in the targets)", "import_ms", "ms", None),
        ("open store + first page of 50", "first_page_ms", "ms", TARGETS_MS["first_page"]),
        ("  of which open_store (connect, schema check)", "open_ms", "ms", None),
        ("    of which importing the driver", "driver_ms", "ms", None),
        ("  of which the first page's query", "page_ms", "ms", None),
        ("  a later page (offset 500), median", "page_11_ms", "ms", None),
        (f"search '{RARE_WORD}' (1% of messages), median", "search_ms", "ms",
         TARGETS_MS["search"]),
        ("  same, first run", "search_first_ms", "ms", None),
    ]  # fmt: skip
    lines += [(f"  {query!r}, median", f"{name}_ms", "ms", None) for name, query in SEARCHES[1:]]
    lines += [
        (f"active path of {LONG_PATH:,} messages, median", "active_path_ms", "ms",
         TARGETS_MS["active_path"]),
        ("  same, first run", "active_path_first_ms", "ms", None),
        (f"  its last {TAIL} messages (last={TAIL}), first run", "path_tail_first_ms", "ms", None),
        (stream, None, "", None),
        ("  append_text per flush, median", "flush_median_ms", "ms", None),
        ("  append_text per flush, max", "flush_max_ms", "ms", None),
        ("  total database time for the stream", "stream_total_ms", "ms", None),
        ("  finish_message (indexes the reply)", "finish_ms", "ms", None),
        (f"  worst case, {DELTAS:,} flushes (one per delta)", "each_total_ms", "ms", None),
        ("    per call, median", "each_median_ms", "ms", None),
        ("    per call, median of the last 100", "each_last_100_median_ms", "ms", None),
        (f"  {LONG_REPLY_CHARS // 1000} kB reply, 250-char flushes: first 20",
         "long_reply_first_ms", "ms", None),
        ("    last 20 (each append rewrites the row)", "long_reply_last_ms", "ms", None),
        ("peak RSS of the measuring process", "peak_rss_mb", "MB", TARGET_RSS_MB),
    ]  # fmt: skip
    return lines


def number(results: dict[str, object], key: str) -> float:
    value = results[key]
    assert isinstance(value, int | float)
    return float(value)


def heading(results: dict[str, object], conversations: int, messages: int) -> str:
    return (
        f"History: {conversations:,} conversations, {messages:,} messages, "
        f"on {results.get('engine', 'SQLite')} ({results.get('location', '?')})"
    )


def report(results: dict[str, object], conversations: int, messages: int) -> None:
    print("\n" + heading(results, conversations, messages))
    for label, key, unit, target in report_lines():
        if key is None:
            print(label)
            continue
        value = number(results, key)
        verdict = ""
        if target is not None:
            verdict = f"  target < {target:g} {unit}  {'ok' if value < target else 'MISSED'}"
        print(f"  {label:<46} {value:9.1f} {unit}{verdict}")
    if str(results.get("engine", "")).startswith("PostgreSQL"):
        print("  (the RSS is the app's process only, not the server's)")
    hits = ", ".join(f"{query!r} {results[f'{name}_hits']}" for name, query in SEARCHES)
    print(f"  search hits (limit 20): {hits}")


COMPARE_FACTOR = 2.0
"""PostgreSQL is expected within this factor of SQLite on the same machine."""


def report_compare(
    sqlite: dict[str, object], postgres: dict[str, object], conversations: int, messages: int
) -> bool:
    """Both runs side by side; whether every timed figure is within ``COMPARE_FACTOR``."""
    print(f"\nHistory: {conversations:,} conversations, {messages:,} messages")
    print(f"  SQLite:     {sqlite.get('engine')} ({sqlite.get('location')})")
    print(f"  PostgreSQL: {postgres.get('engine')} ({postgres.get('location')})")
    print(f"  {'':<46} {'SQLite':>9}    {'PG':>9}    {'PG/SQLite':>9}")
    within = True
    for label, key, unit, target in report_lines():
        if key is None:
            print(label)
            continue
        lite, pg = number(sqlite, key), number(postgres, key)
        ratio = pg / lite if lite > 0 else float("inf")
        notes = []
        timed = unit == "ms" and key != "import_ms"
        if timed and ratio > COMPARE_FACTOR:
            notes.append(f"> {COMPARE_FACTOR:g}x")
            within = False
        if target is not None and pg >= target:
            notes.append(f"PG misses < {target:g} {unit}")
        print(
            f"  {label:<46} {lite:9.1f} {unit:<2} {pg:9.1f} {unit:<2} {ratio:8.2f}x  "
            + "  ".join(notes)
        )
    same_hits = all(sqlite[f"{n}_hits"] == postgres[f"{n}_hits"] for n, _ in SEARCHES)
    hits = ", ".join(
        f"{query!r} {sqlite[f'{name}_hits']}/{postgres[f'{name}_hits']}" for name, query in SEARCHES
    )
    print(f"  search hits SQLite/PG (limit 20): {hits}{'' if same_hits else '  (differ)'}")
    print("  (the PostgreSQL RSS is the app's process only, not the server's)")
    verdict = "every timed figure is" if within else "NOT every timed figure is"
    print(f"  {verdict} within {COMPARE_FACTOR:g}x of SQLite")
    return within


# -- running ------------------------------------------------------------------------------------


def run_measure(target: str) -> dict[str, object]:
    measured = subprocess.run(
        [sys.executable, __file__, "--measure", target],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    results = json.loads(measured.stdout.splitlines()[-1])
    assert isinstance(results, dict)
    return results


def sizes(args: argparse.Namespace) -> list[str]:
    return ["--conversations", str(args.conversations), "--messages", str(args.messages)]


def run_sqlite(args: argparse.Namespace) -> dict[str, object]:
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
            command = [sys.executable, __file__, "--generate", str(path), *sizes(args)]
            subprocess.run(command, check=True)
            meta_path.write_text(json.dumps(meta))
        if args.cold:
            evict_from_page_cache(path)
        return run_measure(str(path))
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


def run_postgres(url: str, args: argparse.Namespace) -> dict[str, object]:
    # The reuse check and the generation import asyncpg and SQLAlchemy: in a child, so that this
    # process stays small for the measuring one (see run_sqlite).
    print(f"PostgreSQL: {shown(url)}")
    command = [sys.executable, __file__, "--generate", url, *sizes(args)]
    if subprocess.run(command, check=False).returncode != 0:
        raise SystemExit(1)  # the child said why
    return run_measure(url)


def generate_or_reuse_postgres(url: str, conversations: int, messages: int) -> None:
    meta = {"conversations": conversations, "messages": messages, "seed": SEED}
    if asyncio.run(pg_reusable(url, meta)):
        print(f"  reusing the history already generated in {shown(url)}")
        return
    print(f"  generating in {shown(url)}")
    generate_postgres(url, conversations, messages)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", type=Path, help="keep the generated SQLite file here and reuse it")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument(
        "--cold",
        action="store_true",
        help="SQLite only: evict the file from the OS page cache first, so first runs read "
        "from disk",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="run on PostgreSQL instead: postgresql+asyncpg://USER@HOST:PORT/DB, an empty "
        "database made for the bench (generated once, reused while it holds the same sizes)",
    )
    parser.add_argument(
        "--temporary-server",
        action="store_true",
        help="start a throw-away PostgreSQL server here (initdb/pg_ctl, see "
        "tests/support/postgres.py) and run on it; deleted afterwards",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="run SQLite and PostgreSQL on the same sizes and print them side by side, "
        f"with PG/SQLite ratios (expected within {COMPARE_FACTOR:g}x); exit 1 if not",
    )
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        if is_url(args.generate):
            generate_or_reuse_postgres(args.generate, args.conversations, args.messages)
        else:
            generate(Path(args.generate), args.conversations, args.messages)
        return
    if args.measure is not None:
        print(json.dumps(asyncio.run(measure(args.measure))))
        return
    if args.messages < args.conversations * 2 + LONG_PATH:
        parser.error("need at least 2 messages per conversation plus the long thread")
    if args.database_url and args.temporary_server:
        parser.error("give --database-url or --temporary-server, not both")
    if args.compare and not (args.database_url or args.temporary_server):
        parser.error("--compare needs a PostgreSQL server: --database-url or --temporary-server")
    if args.cold and (args.database_url or args.temporary_server) and not args.compare:
        parser.error("--cold evicts an SQLite file from the page cache; it has no PG equivalent")

    with ExitStack() as stack:
        url = args.database_url
        if args.temporary_server:
            from bench.pg_server import temporary_database

            url = stack.enter_context(temporary_database("store_scale"))
        if url is None:
            results = run_sqlite(args)
            report(results, args.conversations, args.messages)
            return
        if not args.compare:
            report(run_postgres(url, args), args.conversations, args.messages)
            return
        sqlite = run_sqlite(args)
        postgres = run_postgres(url, args)
    report(sqlite, args.conversations, args.messages)
    report(postgres, args.conversations, args.messages)
    if not report_compare(sqlite, postgres, args.conversations, args.messages):
        sys.exit(1)


if __name__ == "__main__":
    main()
