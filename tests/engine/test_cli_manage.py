"""The management verbs on the command line, through the real CLI and a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.test_cli import db_path, rows, run


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
