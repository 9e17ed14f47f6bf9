"""A separate process for the crash and concurrency tests (run as a script, not imported).

DB is an SQLite file or a database URL (a PostgreSQL server).

worker.py stream DB COUNT     stream COUNT deltas into one reply, committing each,
                              printing "flushed N" after each commit (then wait to be killed)
worker.py write DB GO COUNT NAME   open DB, print "ready", wait for the file GO to exist,
                                   then write COUNT turns into a conversation titled NAME
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from tui.domain import MessageStatus, Role
from tui.store.db import Store, open_store


def delta(number: int) -> str:
    return f"<{number}>"


async def opened(db: str) -> Store:
    return await (open_store(db) if "://" in db else open_store(path=Path(db)))


async def stream(db: str, count: int) -> None:
    store = await opened(db)
    repo = store.repository
    conversation = await repo.create_conversation(title="streamed")
    question = await repo.add_message(conversation.id, role=Role.USER, content="tell me")
    await repo.add_message(
        conversation.id, role=Role.ASSISTANT, content="done before", parent_id=question.id
    )
    reply = await repo.add_message(
        conversation.id,
        role=Role.ASSISTANT,
        parent_id=question.id,
        status=MessageStatus.STREAMING,
    )
    print(f"reply {reply.id}", flush=True)
    for number in range(count):
        await repo.append_text(reply.id, delta(number))
        print(f"flushed {number + 1}", flush=True)
    await asyncio.sleep(60)  # the test kills us before this ends


async def write(db: str, go: Path, count: int, name: str) -> None:
    store = await opened(db)
    print("ready", flush=True)
    deadline = time.monotonic() + 20
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no start signal")
        await asyncio.sleep(0.001)
    repo = store.repository
    conversation = await repo.create_conversation(title=name)
    parent = None
    for number in range(count):
        question = await repo.add_message(
            conversation.id, role=Role.USER, content=f"q{number}", parent_id=parent
        )
        reply = await repo.add_message(
            conversation.id,
            role=Role.ASSISTANT,
            parent_id=question.id,
            status=MessageStatus.STREAMING,
        )
        await repo.append_text(reply.id, "partial ")
        await repo.finish_message(reply.id, status=MessageStatus.COMPLETE, content=f"a{number}")
        await repo.list_conversations()
        parent = reply.id
        await asyncio.sleep(0.002)  # a real turn waits on the network between writes
    await store.close()
    print("ok", flush=True)


def main() -> None:
    mode, db = sys.argv[1], sys.argv[2]
    if mode == "stream":
        asyncio.run(stream(db, int(sys.argv[3])))
    else:
        asyncio.run(write(db, Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))


if __name__ == "__main__":
    main()
