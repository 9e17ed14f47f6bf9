"""``tui-chat import conversations.json``: ChatGPT's data export, through the real CLI and store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.engine.test_cli import db_path, rows, run
from tui.domain import Role
from tui.services.export import ImportFormatError
from tui.services.imports import import_file
from tui.store.bulk import BATCH
from tui.store.db import open_store


def node(
    ident: str,
    parent: str | None,
    children: list[str],
    role: str | None = None,
    parts: list[Any] | None = None,
    *,
    when: float | None = None,
    model: str | None = None,
    content_type: str = "text",
) -> dict[str, Any]:
    message: dict[str, Any] | None = None
    if role is not None:
        message = {
            "id": ident,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": when,
            "content": {"content_type": content_type, "parts": parts or []},
            "metadata": {"model_slug": model} if model else {},
        }
    return {"id": ident, "message": message, "parent": parent, "children": children}


def trip_plan() -> dict[str, Any]:
    """A thread with an empty system message, a regenerated answer (a branch) and a tool call."""
    nodes = [
        node("root", None, ["sys"]),
        node("sys", "root", ["u1"], "system", [""]),
        node("u1", "sys", ["a1", "a2"], "user", ["Plan a trip to Lisbon"], when=1700000001.0),
        node("a1", "u1", ["u2"], "assistant", ["Day 1: Alfama"], when=1700000002.0, model="gpt-4o"),
        node("u2", "a1", ["a4"], "user", ["And day 2?"], when=1700000003.0),
        node("a4", "u2", [], "assistant", ["Day 2: Sintra"], when=1700000004.0, model="gpt-4o"),
        node("a2", "u1", ["t1"], "assistant", ["Day 1: Belém"], when=1700000005.0, model="o3"),
        node("t1", "a2", ["a3"], "tool", ["search results"], when=1700000006.0),
        node(
            "a3",
            "t1",
            [],
            "assistant",
            [{"asset_pointer": "file-service://x"}, "See the map"],
            when=1700000007.0,
            model="o3",
            content_type="multimodal_text",
        ),
    ]
    return {
        "title": "Trip plan",
        "create_time": 1700000000.5,
        "update_time": 1700003600.25,
        "mapping": {item["id"]: item for item in nodes},
        "current_node": "a3",
    }


def older_chat() -> dict[str, Any]:
    nodes = [
        node("r", None, ["q"]),
        node("q", "r", ["a"], "user", ["What is 2+2?"], when=1600000001.0),
        node("a", "q", [], "assistant", ["4"], when=1600000002.0, model="gpt-3.5"),
    ]
    return {
        "title": "Older chat",
        "create_time": 1600000000.0,
        "update_time": 1600000002.0,
        "mapping": {item["id"]: item for item in nodes},
        "current_node": "a",
    }


def write(path: Path, conversations: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(conversations), encoding="utf-8")
    return path


def test_a_chatgpt_export_keeps_branches_times_leaf_and_model(tmp_path: Path) -> None:
    file = write(tmp_path / "conversations.json", [trip_plan(), older_chat()])
    result = run("import", str(file))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"Imported 2 conversations (8 messages) from {file}\n"

    listed = json.loads(run("list", "--json").stdout)
    assert [c["title"] for c in listed] == ["Trip plan", "Older chat"]  # as they were ordered
    assert [c["model"] for c in listed] == ["o3", "gpt-3.5"]
    assert [c["messages"] for c in listed] == [6, 2]
    assert listed[0]["updated_at"] == "2023-11-14T23:13:20.250000+00:00"

    db = db_path()
    ((cid, created, updated, leaf, preview),) = rows(
        db,
        "SELECT id, created_at, updated_at, active_leaf_id, preview FROM conversations "
        "WHERE title = 'Trip plan'",
    )
    assert (created, updated) == ("2023-11-14 22:13:20.500000", "2023-11-14 23:13:20.250000")
    stored = rows(
        db,
        f"SELECT id, parent_id, role, content, model, created_at FROM messages "
        f"WHERE conversation_id = {cid} ORDER BY id",
    )
    by_text = {
        content: (ident, parent, role, model, when)
        for ident, parent, role, content, model, when in stored
    }  # noqa: E501
    assert set(by_text) == {
        "Plan a trip to Lisbon",
        "Day 1: Alfama",
        "And day 2?",
        "Day 2: Sintra",
        "Day 1: Belém",
        "See the map",
    }
    question = by_text["Plan a trip to Lisbon"]
    assert question[1] is None and question[2] == "user"  # the empty system message is left out
    assert question[4] == "2023-11-14 22:13:21.000000"
    # The regenerated answer is a sibling of the first one.
    assert by_text["Day 1: Alfama"][1] == by_text["Day 1: Belém"][1] == question[0]
    # The tool node is skipped; its child hangs on the nearest kept ancestor.
    assert by_text["See the map"][1] == by_text["Day 1: Belém"][0]
    assert by_text["See the map"][3] == "o3" and by_text["Day 1: Alfama"][3] == "gpt-4o"
    assert by_text["Day 2: Sintra"][1] == by_text["And day 2?"][0]
    assert leaf == by_text["See the map"][0] and preview == "See the map"

    shown = run("show", str(cid))
    assert shown.returncode == 0
    assert "Plan a trip to Lisbon" in shown.stdout and "See the map" in shown.stdout
    assert "Alfama" not in shown.stdout  # the other branch is not the active one
    tree = run("show", str(cid), "--tree")
    assert "Alfama" in tree.stdout and "Sintra" in tree.stdout

    found = run("search", "Sintra")
    assert found.returncode == 0 and "Trip plan" in found.stdout


def test_a_malformed_entry_imports_nothing_and_is_named(tmp_path: Path) -> None:
    broken = older_chat()
    broken["title"] = "Broken"
    del broken["mapping"]["a"]["message"]["author"]["role"]
    file = write(tmp_path / "conversations.json", [trip_plan(), older_chat(), broken])
    result = run("import", str(file))
    assert result.returncode == 1
    assert result.stderr == (
        f"tui-chat: error: {file}: conversation 3 ('Broken'): node a has no author role\n"
    )
    assert result.stdout == ""
    assert rows(db_path(), "SELECT count(*) FROM conversations") == [(0,)]
    assert rows(db_path(), "SELECT count(*) FROM messages") == [(0,)]

    truncated = tmp_path / "cut.json"
    truncated.write_text(file.read_text()[:-40], encoding="utf-8")
    cut = run("import", str(truncated))
    assert cut.returncode == 1
    assert cut.stderr.startswith(f"tui-chat: error: {truncated}: The file is not JSON")
    assert len(cut.stderr.splitlines()) == 1
    assert rows(db_path(), "SELECT count(*) FROM conversations") == [(0,)]


def test_a_title_with_control_characters_is_printed_harmlessly(tmp_path: Path) -> None:
    sneaky = older_chat()
    sneaky["title"] = "Red \x1b[31malert\x9b2J"
    file = write(tmp_path / "conversations.json", [sneaky])
    assert run("import", str(file)).returncode == 0
    listed = run("list")
    assert listed.returncode == 0
    assert "\x1b" not in listed.stdout and "\x9b" not in listed.stdout
    assert "Red ␛[31malert\\x9b2J" in listed.stdout
    assert rows(db_path(), "SELECT title FROM conversations") == [("Red \x1b[31malert\x9b2J",)]


async def test_progress_is_reported_and_every_conversation_stored(
    tmp_path: Path, database_url: str
) -> None:
    count = 2 * BATCH + 500  # three rounds
    many = []
    for number in range(count):
        chat = older_chat()
        chat["title"] = f"Chat {number}"
        many.append(chat)
    file = write(tmp_path / "conversations.json", many)
    calls: list[tuple[int, float]] = []
    store = await open_store(database_url)
    try:
        result = await import_file(
            store.sessions, file, progress=lambda done, read: calls.append((done, read))
        )
        assert len(result.conversation_ids) == count and result.messages == 2 * count
        assert calls[0] == (0, 0.0) and calls[-1] == (count, 1.0)
        assert calls == sorted(calls), "stored and read only grow"
        assert [done for done, _ in calls[1:4]] == [BATCH, 2 * BATCH, count], "one per round"
        listed = await store.repository.list_conversations(limit=3)
        assert [c.message_count for c in listed] == [2, 2, 2]
        path = await store.repository.active_path(listed[0].id)
        assert [m.content for m in path] == ["What is 2+2?", "4"]
    finally:
        await store.close()

    # A malformed entry in the last round: the rounds already written are rolled back too, and
    # the message says which entry failed.
    broken = 2 * BATCH + 100
    many[broken - 1]["mapping"]["q"]["children"] = ["nowhere"]
    write(file, many)
    store = await open_store(database_url)
    try:
        try:
            await import_file(store.sessions, file)
        except ImportFormatError as exc:
            message = str(exc)
        else:
            raise AssertionError("a broken file was imported")
        assert message == (
            f"conversation {broken} ('Chat {broken - 1}'): node q has a child nowhere that is "
            "not in the mapping"
        )
        assert len(await store.repository.list_conversations(limit=100_000)) == count
    finally:
        await store.close()


async def test_imported_messages_are_searchable_and_the_index_still_follows_new_ones(
    tmp_path: Path, database_url: str
) -> None:
    many = []
    for number in range(1_200):
        chat = older_chat()
        chat["title"] = f"Chat {number}"
        many.append(chat)
    many[1_100]["mapping"]["a"]["message"]["content"]["parts"] = ["Lisbon tram 東京タワー"]
    many[1_100]["title"] = "Trams and towers"
    file = write(tmp_path / "conversations.json", many)
    store = await open_store(database_url)
    try:
        await import_file(store.sessions, file)
        repository = store.repository
        assert [hit.conversation.title for hit in await repository.search("tram")] == [
            "Trams and towers"
        ]
        assert [hit.conversation.title for hit in await repository.search("東京")] == [
            "Trams and towers"
        ]
        assert len(await repository.search("Chat 1199")) == 1  # titles are indexed too
        # The schema's own indexing still works for what is written after an import.
        # (On a server the ids were given by the import: the next ones are still free.)
        later = await repository.create_conversation(title="Written later")
        await repository.add_message(later.id, role=Role.USER, content="a quokka appears")
        assert [hit.conversation.id for hit in await repository.search("quokka")] == [later.id]
    finally:
        await store.close()
