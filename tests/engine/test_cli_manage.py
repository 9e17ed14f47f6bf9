"""The management verbs on the command line, through the real CLI and a real SQLite file."""

from __future__ import annotations

import json
import os
import pty
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.test_cli import ROOT, db_path, rows, run


def ask(prompt: str) -> None:
    result = run("ask", "-p", "demo", prompt)
    assert result.returncode == 0, result.stderr


def test_rename_pin_archive_restore_and_delete() -> None:
    ask("first question")
    ask("second question")
    assert run("rename", "1", "A", "better", "title").returncode == 0
    assert run("pin", "2").returncode == 0
    assert run("archive", "1").returncode == 0
    assert rows(db_path(), "SELECT id, title, pinned, archived FROM conversations ORDER BY id") == [
        (1, "A better title", 0, 1),
        (2, "second question", 1, 0),
    ]
    archived = run("list", "--archived")
    assert "A better title" in archived.stdout and "second question" not in archived.stdout
    assert run("restore", "1").returncode == 0
    assert run("unpin", "2").returncode == 0
    empty = run("list", "--archived")
    assert empty.returncode == 0 and "No archived conversations." in empty.stderr
    deleted = run("delete", "2")
    assert deleted.returncode == 0, deleted.stderr
    assert rows(db_path(), "SELECT id, pinned, archived FROM conversations") == [(1, 0, 0)]
    assert rows(db_path(), "SELECT count(*) FROM messages WHERE conversation_id = 2") == [(0,)]
    missing = run("pin", "999")
    assert missing.returncode == 1 and "999" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_export_all_then_import_into_a_fresh_history(tmp_path: Path) -> None:
    ask("one")
    ask("two")
    run("pin", "2")
    backup = tmp_path / "all.json"
    exported = run("export", "--all", "--format", "json", "-o", str(backup))
    assert exported.returncode == 0, exported.stderr
    document = json.loads(backup.read_text(encoding="utf-8"))
    assert document["format"] == "tui-chat" and len(document["conversations"]) == 2
    fresh = tmp_path / "fresh.sqlite3"
    imported = run("import", str(backup), TUI_CHAT_DB=str(fresh))
    assert imported.returncode == 0, imported.stderr
    assert "Imported 2 conversations" in imported.stderr
    before = rows(db_path(), "SELECT title, pinned, message_count FROM conversations ORDER BY id")
    after = rows(fresh, "SELECT title, pinned, message_count FROM conversations ORDER BY id")
    assert after == before
    contents = "SELECT role, content FROM messages ORDER BY id"
    assert rows(fresh, contents) == rows(db_path(), contents)


def run_with_short_busy_timeout(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI, waiting 200 ms instead of 10 s for a lock another program holds."""
    code = (
        "import sys, tui.store.db as db; db.BUSY_TIMEOUT_MS = 200; "
        "from tui.cli import main; sys.argv[0] = 'tui-chat'; raise SystemExit(main())"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"TUI_CHAT_DEMO_SPEED": "0", **os.environ},
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tui-chat: error: ")
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_a_database_locked_by_another_program_is_one_line() -> None:
    ask("before the lock")
    holder = sqlite3.connect(db_path(), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another program is writing and does not stop
        for command in (
            ("ask", "-p", "demo", "-c", "while locked"),
            ("ask", "-p", "demo", "a new chat while locked"),
            ("rename", "1", "new", "title"),
            ("delete", "1"),
        ):
            result = run_with_short_busy_timeout(*command)
            line = assert_one_error_line(result, str(db_path()), "locked", "try again")
            assert "DatabaseBusyError" not in line
        listed = run("list")  # reading still works while another program writes
        assert listed.returncode == 0 and "before the lock" in listed.stdout
    finally:
        holder.rollback()
        holder.close()
    assert rows(db_path(), "SELECT title FROM conversations") == [("before the lock",)]


def test_a_store_error_after_start_up_is_one_line() -> None:
    ask("a question")
    with sqlite3.connect(db_path()) as connection:  # e.g. a policy another tool installed
        connection.execute(
            "CREATE TRIGGER frozen BEFORE UPDATE OF title ON conversations "
            "BEGIN SELECT RAISE(ABORT, 'titles are frozen here'); END"
        )
    result = run("rename", "1", "another")
    assert_one_error_line(result, str(db_path()), "titles are frozen here")


def read_only(path: Path) -> Callable[[], None]:
    """Make the database file read-only (``chattr +i`` for root, who ignores modes); the undo."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return lambda: path.chmod(0o644)
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode:
        pytest.skip("root can write to any file the file system lets chattr protect")

    def undo() -> None:
        subprocess.run([str(chattr), "-i", str(path)], check=True)

    return undo


def test_a_read_only_database_is_one_line() -> None:
    ask("a question")
    path = db_path()
    undo = read_only(path)
    try:
        for command in (("ask", "-p", "demo", "-c", "more"), ("rename", "1", "x")):
            result = run(*command)
            assert_one_error_line(result, str(path), "writable")
        listed = run("list")  # reading still works
        assert listed.returncode == 0 and "a question" in listed.stdout
    finally:
        undo()
    assert rows(path, "SELECT title FROM conversations") == [("a question",)]


def test_a_file_that_is_not_a_database_is_one_line() -> None:
    db_path().write_bytes(b"not a database, just text\n" * 200)
    for command in (("list",), ("ask", "-p", "demo", "hi"), ("show", "1"), ("db", "check")):
        result = run(*command)
        assert_one_error_line(result, str(db_path()))


def test_db_check_says_ok_for_a_sound_database(tmp_path: Path) -> None:
    ask("a question")
    result = run("db", "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    other = tmp_path / "other.sqlite3"
    assert run("--db", str(other), "ask", "-p", "demo", "hi").returncode == 0
    for args in (("--db", str(other), "db", "check"), ("db", "check", "--db", str(other))):
        checked = run(*args, TUI_CHAT_DB=str(tmp_path / "missing.sqlite3"))
        assert checked.returncode == 0, checked.stderr
        assert checked.stdout == "ok\n"
    missing = run("db", "check", TUI_CHAT_DB=str(tmp_path / "missing.sqlite3"))
    assert_one_error_line(missing, "missing.sqlite3")


def test_db_check_lists_the_problems_of_a_damaged_database() -> None:
    asked = run("ask", "-p", "demo", stdin="a long question " + "padding " * 20_000)
    assert asked.returncode == 0, asked.stderr
    path = db_path()
    data = bytearray(path.read_bytes())  # a clean close checkpointed the log into the file
    page = 4096
    assert len(data) > 8 * page
    for offset in range(3 * page, len(data) - page, 2 * page):
        data[offset : offset + 300] = b"\xff" * 300  # damage page headers and pointers
    path.write_bytes(bytes(data))
    result = run("db", "check")
    assert result.returncode == 1
    assert result.stdout.strip() and result.stdout != "ok\n"
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("tui-chat: error: ") and "move-aside" in line


def test_db_move_aside_renames_the_file_and_never_deletes_it(tmp_path: Path) -> None:
    ask("keep me")
    path = db_path()
    before = path.read_bytes()
    refused = run("db", "move-aside")  # stdin is not a terminal: it will not ask, nor move
    assert refused.returncode == 2
    assert "--yes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == before

    moved = run("db", "move-aside", "--yes")
    assert moved.returncode == 0, moved.stderr
    target = Path(moved.stdout.strip())
    assert not path.exists() and target.exists() and target.parent == path.parent
    assert target.read_bytes() == before
    assert rows(target, "SELECT title FROM conversations") == [("keep me",)]
    assert "No conversations yet" in run("list").stderr  # a new history starts

    other = tmp_path / "other.sqlite3"
    assert run("--db", str(other), "ask", "-p", "demo", "hi").returncode == 0
    again = run("db", "move-aside", "--yes", "--db", str(other))
    assert again.returncode == 0 and not other.exists()
    assert Path(again.stdout.strip()).name.startswith("other.sqlite3.")
    nothing = run("db", "move-aside", "--yes", "--db", str(other))
    assert_one_error_line(nothing, "other.sqlite3")


def move_aside_on_a_terminal(answer: bytes) -> tuple[int, str]:
    master, slave = pty.openpty()
    try:
        os.write(master, answer)  # typed ahead; the terminal holds it until read
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "db", "move-aside"],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        out, err = process.communicate(timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    return process.returncode, out.decode() + err.decode()


def test_db_move_aside_asks_on_a_terminal() -> None:
    ask("keep me")
    path = db_path()
    code, output = move_aside_on_a_terminal(b"n\n")
    assert code == 1 and "[y/N]" in output and "Nothing was moved" in output
    assert path.exists()
    code, output = move_aside_on_a_terminal(b"y\n")
    assert code == 0, output
    assert not path.exists()
    assert list(path.parent.glob(path.name + ".broken-*"))
