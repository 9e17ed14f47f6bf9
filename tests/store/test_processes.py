"""Real processes: a writer killed mid-stream, and two copies writing to one file at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from tui.domain import MessageStatus, Role
from tui.store.db import open_store

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("worker.py")


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def delta(number: int) -> str:
    return f"<{number}>"  # as worker.py streams them


def database(database_url: str) -> str:
    """What worker.py is given: the file of an SQLite URL, else the URL."""
    return database_url.removeprefix("sqlite+aiosqlite:///")


async def test_killed_while_streaming_keeps_every_commit(database_url: str) -> None:
    child = spawn("stream", database(database_url), "1000000")
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        assert first.startswith("reply "), first + (child.stderr.read() if child.stderr else "")
        reply_id = int(first.split()[1])
        flushed = 0
        while flushed < 30:
            line = child.stdout.readline()
            assert line.startswith("flushed "), line
            flushed = int(line.split()[1])
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL

    store = await open_store(database_url)
    try:
        repo = store.repository
        messages = await repo.all_messages(1)
        assert [(m.role, m.status) for m in messages] == [
            (Role.USER, MessageStatus.COMPLETE),
            (Role.ASSISTANT, MessageStatus.COMPLETE),
            (Role.ASSISTANT, MessageStatus.INTERRUPTED),
        ]
        assert messages[0].content == "tell me" and messages[1].content == "done before"
        reply = messages[2]
        assert reply.id == reply_id and reply.finished_at is not None
        # Every acknowledged flush is there, in order, and nothing half-written follows.
        committed = len(reply.content.split(">")) - 1
        assert committed >= flushed
        assert reply.content == "".join(delta(number) for number in range(committed))
        conversation = await repo.get_conversation(1)
        assert conversation is not None and conversation.active_leaf_id == reply_id
        # The recovered text is searchable like any finished message ("<29>" holds the word 29).
        assert [hit.message_id for hit in await repo.search("29")] == [reply_id]
    finally:
        await store.close()
    if store.path is not None:
        with sqlite3.connect(store.path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_two_processes_write_one_history_at_once(database_url: str, tmp_path: Path) -> None:
    # A new file or database: both copies also race to create the schema.
    go = tmp_path / "go"
    turns = 40
    db = database(database_url)
    children = [spawn("write", db, str(go), str(turns), f"copy {n}") for n in (1, 2)]
    for child in children:  # both have opened the file, then start writing together
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    go.touch()
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=50)
        outputs.append((child.returncode, out, err))
    for returncode, out, err in outputs:
        assert returncode == 0, err
        assert out.strip() == "ok"
        assert "locked" not in err

    store = await open_store(database_url)
    async with store.engine.connect() as connection:
        owners = list(
            (await connection.execute(text("SELECT conversation_id FROM messages ORDER BY id")))
            .scalars()
            .all()
        )
    switches = sum(1 for a, b in zip(owners, owners[1:], strict=False) if a != b)
    print("interleavings", switches)
    assert switches >= 5, "the two copies did not write at the same time"

    try:
        repo = store.repository
        conversations = await repo.list_conversations()
        assert sorted(c.title for c in conversations) == ["copy 1", "copy 2"]
        for conversation in conversations:
            assert conversation.message_count == turns * 2
            path_messages = await repo.active_path(conversation.id)
            assert len(path_messages) == turns * 2
            assert all(m.status is MessageStatus.COMPLETE for m in path_messages)
            assert path_messages[-1].content == f"a{turns - 1}"
    finally:
        await store.close()
