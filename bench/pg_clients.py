"""Several clients streaming into one history at once lose nothing.

Starts N separate processes (default 4), each opening the store on the same database, each
creating a conversation of its own (a user message, then a ``streaming`` assistant reply) and,
all at the same moment, streaming D deltas (default 1,000 at 50/s) into its reply: the deltas are
coalesced and written with ``append_text`` every 250 ms, as the engine flushes them (the same
store API and the same figures as the streamed appends of ``bench/store_scale.py``), then the
reply is finished with ``finish_message``. The parent then opens the store afresh and checks that
every conversation is there with exactly its two messages, and every character of every reply
(exact equality with the text the client streamed, which the parent computes itself: the deltas
are deterministic, and mix ASCII, accents, CJK, emoji, quotes, backslashes and newlines).

It reports each client's ``append_text`` latency (median, p99, max) and the total wall time from
the common start to the last finished reply, and exits 1 if anything was lost or a client failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asyncio.subprocess import Process

    from tui.store.db import Store

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.store_scale import (  # noqa: E402
    COMMON,
    DELTAS,
    DELTAS_PER_SECOND,
    FLUSH_SECONDS,
    SEED,
    is_url,
    shown,
)

USAGE = """\
usage examples:
  python bench/pg_clients.py                        # SQLite: 4 processes on one temporary file
  python bench/pg_clients.py --db /tmp/h.sqlite3    # SQLite: a file of your choice
  python bench/pg_clients.py --database-url postgresql+asyncpg://USER@HOST:5432/DB
  python bench/pg_clients.py --temporary-server     # a throw-away PostgreSQL server here
  python bench/pg_clients.py --temporary-server --compare   # SQLite, then PostgreSQL
  python bench/pg_clients.py --clients 8 --rate 0 --database-url URL  # unpaced: a stress run

The PostgreSQL database may be a new, empty one (the app's migrations build the schema) or a
history: the bench adds its conversations (titled "pg_clients RUN client N") and deletes them
afterwards unless --keep. The password comes from PGPASSWORD or ~/.pgpass.
"""
EXTRAS = ("é", "ñ", "日本語", "中文", "한국어", "🙂", "\n", '"', "'", "\\", "%", "_", "\t", "—")


def deltas_for(client: int, count: int) -> list[str]:
    """The deltas client ``client`` streams: deterministic, so the parent knows the text."""
    rng = random.Random(SEED * 1000 + client)
    out = []
    for _ in range(count):
        word = rng.choice(COMMON)
        if rng.random() < 0.2:
            word += rng.choice(EXTRAS)
        out.append(" " + word)
    return out


def title_for(run: str, client: int) -> str:
    return f"pg_clients {run} client {client}"


# -- a client (its own process) -----------------------------------------------------------------


async def open_target(target: str) -> Store:
    from tui.store.db import open_store

    return await (open_store(target) if is_url(target) else open_store(path=Path(target)))


async def client(args: argparse.Namespace) -> dict[str, object]:
    from tui.domain import MessageStatus, Role

    store = await open_target(args.target)
    try:
        repo = store.repository
        conversation = await repo.create_conversation(title=title_for(args.run, args.client))
        prompt = await repo.add_message(
            conversation.id, role=Role.USER, content=f"prompt of client {args.client}"
        )
        reply = await repo.add_message(
            conversation.id,
            role=Role.ASSISTANT,
            parent_id=prompt.id,
            status=MessageStatus.STREAMING,
        )
        print(json.dumps({"ready": True}), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)  # "go"
        deltas = deltas_for(args.client, args.deltas)
        batch = max(1, round(DELTAS_PER_SECOND * args.flush))
        latencies: list[float] = []
        started = time.monotonic()
        wall_started = time.time()
        sent = 0
        tick = 0
        while sent < len(deltas):
            if args.rate > 0:
                tick += 1
                await asyncio.sleep(max(0.0, started + tick * args.flush - time.monotonic()))
                arrived = min(len(deltas), math.floor((time.monotonic() - started) * args.rate))
            else:
                arrived = min(len(deltas), sent + batch)
            if arrived <= sent:
                continue
            text = "".join(deltas[sent:arrived])
            begun = time.perf_counter()
            await repo.append_text(reply.id, text)
            latencies.append((time.perf_counter() - begun) * 1000)
            sent = arrived
        begun = time.perf_counter()
        await repo.finish_message(reply.id, status=MessageStatus.COMPLETE)
        finish_ms = (time.perf_counter() - begun) * 1000
        return {
            "client": args.client,
            "conversation": conversation.id,
            "prompt": prompt.id,
            "reply": reply.id,
            "latencies_ms": latencies,
            "finish_ms": finish_ms,
            "started": wall_started,
            "ended": time.time(),
        }
    finally:
        await store.close()


# -- the parent ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    engine: str
    location: str
    clients: list[dict[str, object]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def lost(self) -> bool:
        return bool(self.failures)


def floats(value: object) -> list[float]:
    assert isinstance(value, list)
    return [float(item) for item in value]


def p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def prepare(target: str) -> str:
    """Build (or check) the schema once, so the clients measure streaming, not migrating."""
    store = await open_target(target)
    try:
        from bench.store_scale import engine_name

        return engine_name(store.engine)
    finally:
        await store.close()


async def spawn(args: argparse.Namespace, target: str, run: str, index: int) -> Process:
    command = [
        sys.executable,
        __file__,
        "--client",
        str(index),
        "--target",
        target,
        "--run",
        run,
        "--deltas",
        str(args.deltas),
        "--rate",
        str(args.rate),
        "--flush",
        str(args.flush),
    ]
    return await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def run_clients(args: argparse.Namespace, target: str) -> Outcome:
    engine = await prepare(target)
    location = shown(target) if is_url(target) else target
    outcome = Outcome(engine=engine, location=location)
    run = uuid.uuid4().hex[:8]
    processes = [await spawn(args, target, run, index) for index in range(args.clients)]
    ready = []
    for index, process in enumerate(processes):
        assert process.stdout is not None
        line = await process.stdout.readline()
        if not line:
            outcome.failures.append(f"client {index} failed before streaming")
        ready.append(bool(line))
    go = time.time()
    for process in processes:
        if process.stdin is not None and process.returncode is None:
            process.stdin.write(b"go\n")
            await process.stdin.drain()
            process.stdin.close()
    results = await asyncio.gather(*(process.communicate() for process in processes))
    last = go
    for index, (process, (out, _err)) in enumerate(zip(processes, results, strict=True)):
        if process.returncode != 0:
            if ready[index]:
                outcome.failures.append(f"client {index} exited with {process.returncode}")
            continue
        result = json.loads(out.decode().splitlines()[-1])
        assert isinstance(result, dict)
        outcome.clients.append(result)
        last = max(last, float(result["ended"]))
    outcome.wall_s = last - go
    outcome.failures += await verify(target, run, args, outcome.clients)
    if len(outcome.clients) != args.clients and not outcome.failures:
        outcome.failures.append("a client's result is missing")
    return outcome


async def verify(
    target: str, run: str, args: argparse.Namespace, clients: list[dict[str, object]]
) -> list[str]:
    """What is missing or different in a fresh store; deletes the conversations unless --keep."""
    from tui.domain import MessageStatus, Role

    problems: list[str] = []
    store = await open_target(target)
    try:
        repo = store.repository
        seen: set[int] = set()
        for result in clients:
            index = int(str(result["client"]))
            conversation_id = int(str(result["conversation"]))
            if conversation_id in seen:
                problems.append(f"client {index}: conversation {conversation_id} shared")
            seen.add(conversation_id)
            conversation = await repo.get_conversation(conversation_id)
            if conversation is None or conversation.title != title_for(run, index):
                problems.append(f"client {index}: conversation {conversation_id} is missing")
                continue
            path = await repo.active_path(conversation_id)
            expected = "".join(deltas_for(index, args.deltas))
            if [m.role for m in path] != [Role.USER, Role.ASSISTANT]:
                problems.append(f"client {index}: {len(path)} messages on the path, not 2")
            elif path[1].content != expected:
                got = path[1].content
                at = next(
                    (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                    min(len(got), len(expected)),
                )
                problems.append(
                    f"client {index}: reply differs at character {at:,} "
                    f"({len(got):,} stored, {len(expected):,} streamed)"
                )
            elif path[1].status is not MessageStatus.COMPLETE:
                problems.append(f"client {index}: reply is {path[1].status}, not complete")
            if conversation.message_count != 2:
                problems.append(f"client {index}: message_count {conversation.message_count}")
        if not args.keep:
            for conversation_id in seen:
                await repo.delete_conversation(conversation_id)
    finally:
        await store.close()
    return problems


def report(outcome: Outcome, args: argparse.Namespace) -> None:
    pace = f"{args.rate:g}/s" if args.rate > 0 else "unpaced"
    print(
        f"\n{args.clients} clients x {args.deltas:,} deltas ({pace}, flushed every "
        f"{args.flush * 1000:g} ms) on {outcome.engine} ({outcome.location})"
    )
    print(f"  {'client':<8}{'appends':>8}{'median':>10}{'p99':>10}{'max':>10}{'finish':>10}")
    everything: list[float] = []
    for result in sorted(outcome.clients, key=lambda r: int(str(r["client"]))):
        latencies = floats(result["latencies_ms"])
        everything += latencies
        finish = result["finish_ms"]
        assert isinstance(finish, int | float)
        print(
            f"  {str(result['client']):<8}{len(latencies):>8}"
            f"{statistics.median(latencies):>8.1f}ms{p99(latencies):>8.1f}ms"
            f"{max(latencies):>8.1f}ms{finish:>8.1f}ms"
        )
    if everything:
        print(
            f"  {'all':<8}{len(everything):>8}{statistics.median(everything):>8.1f}ms"
            f"{p99(everything):>8.1f}ms{max(everything):>8.1f}ms"
        )
    print(f"  wall time, common start to the last finished reply: {outcome.wall_s:.2f} s")
    if outcome.lost:
        print("  LOST:")
        for problem in outcome.failures:
            print(f"    {problem}")
    else:
        chars = sum(len("".join(deltas_for(i, args.deltas))) for i in range(args.clients))
        print(f"  nothing lost: {args.clients} conversations, {chars:,} characters, all equal")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clients", type=int, default=4, help="processes (default 4)")
    parser.add_argument("--deltas", type=int, default=DELTAS, help=f"per client ({DELTAS:,})")
    parser.add_argument(
        "--rate",
        type=float,
        default=DELTAS_PER_SECOND,
        help=f"deltas per second ({DELTAS_PER_SECOND:g}); 0: unpaced, as fast as the store takes",
    )
    parser.add_argument(
        "--flush", type=float, default=FLUSH_SECONDS, help="seconds between appends (0.25)"
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL: postgresql+asyncpg://USER@HOST:PORT/DB (default: an SQLite file)",
    )
    parser.add_argument(
        "--temporary-server",
        action="store_true",
        help="start a throw-away PostgreSQL server here (see tests/support/postgres.py)",
    )
    parser.add_argument("--db", type=Path, help="the SQLite file (default: a temporary one)")
    parser.add_argument("--compare", action="store_true", help="run on SQLite, then on PostgreSQL")
    parser.add_argument("--keep", action="store_true", help="keep the conversations written")
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client is not None:
        print(json.dumps(asyncio.run(client(args))))
        return
    if args.clients < 1 or args.deltas < 1 or args.flush <= 0 or args.rate < 0:
        parser.error("--clients, --deltas and --flush must be positive, --rate not negative")
    if args.database_url and args.temporary_server:
        parser.error("give --database-url or --temporary-server, not both")
    if args.compare and not (args.database_url or args.temporary_server):
        parser.error("--compare needs a PostgreSQL server: --database-url or --temporary-server")

    outcomes: list[Outcome] = []
    with ExitStack() as stack:
        url = args.database_url
        if args.temporary_server:
            from bench.pg_server import temporary_database

            url = stack.enter_context(temporary_database("pg_clients"))
        if url is None or args.compare:
            path = args.db
            if path is None:
                folder = Path(tempfile.mkdtemp(prefix="pg-clients-"))
                stack.callback(shutil.rmtree, folder, ignore_errors=True)
                path = folder / "history.sqlite3"
            outcomes.append(asyncio.run(run_clients(args, str(path))))
            report(outcomes[-1], args)
        if url is not None:
            outcomes.append(asyncio.run(run_clients(args, url)))
            report(outcomes[-1], args)
    if len(outcomes) == 2:
        print(f"\n  {'engine':<18}{'median':>10}{'p99':>10}{'wall':>9}  lost")
        for outcome in outcomes:
            every = [x for r in outcome.clients for x in floats(r["latencies_ms"])] or [0.0]
            print(
                f"  {outcome.engine:<18}{statistics.median(every):>8.1f}ms{p99(every):>8.1f}ms"
                f"{outcome.wall_s:>8.2f}s  {'YES' if outcome.lost else 'nothing'}"
            )
    if any(outcome.lost for outcome in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
