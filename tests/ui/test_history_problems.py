"""The history database failing under the app: one line saying what to do, never a trace.

A damaged file is offered to be moved aside (renamed, never deleted); a locked one says so and
keeps the prompt; a file that cannot be opened still lets the settings' problems through.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.store.damage import file_digests, history_with_a_damaged_page
from tests.ui.conftest import shown, wait_for
from tui.app import TuiApp
from tui.screens.conversation import ConversationScreen
from tui.screens.conversations import ConversationsScreen
from tui.screens.move_aside import MoveAsideScreen
from tui.services.container import Services, open_services
from tui.store.db import open_store
from tui.widgets.conversation_list import ConversationList
from tui.widgets.prompt_input import PromptInput

CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback")


def build(
    tmp_path: Path,
    db: Path,
    *,
    config: str = "",
    new_chat: bool = False,
    busy_timeout_ms: int | None = None,
) -> TuiApp:
    config_path = tmp_path / "config.toml"
    config_path.write_text(config)

    async def factory() -> Services:
        return await open_services(
            config=str(config_path),
            db=str(db),
            env={},
            demo_tokens_per_second=0,
            improve_titles=False,
            busy_timeout_ms=busy_timeout_ms,
        )

    return TuiApp(factory, new_chat=new_chat)


def notices(app: TuiApp, title: str | None = None) -> list[str]:
    return [n.message for n in app._notifications if title is None or n.title == title]


def assert_plain_words(app: TuiApp) -> None:
    for message in notices(app):
        assert not CLASS_NAME.search(message), message
        assert "\n" not in message.strip(), message


def prompt_text(app: TuiApp) -> str:
    return app.conversation_screen.query_one(PromptInput).text


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_damage_found_while_reading_then_keep_refuses_writes(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "history.sqlite3"
    await history_with_a_damaged_page(db, leaf=-1, whole=True)  # the newest conversation's message
    app = build(tmp_path, db)
    async with app.run_test(size=(120, 40)) as pilot:
        # The app opens the newest conversation: reading it finds the damage.
        await wait_for(lambda: isinstance(app.screen, MoveAsideScreen))
        await wait_for(lambda: notices(app, "History damaged"))
        damaged = notices(app, "History damaged")
        assert len(damaged) == 1 and str(db) in damaged[0]
        assert "nothing more is written to it" in damaged[0]
        await wait_for(  # the modal composed its question
            lambda: (
                "Move it aside and start a new empty history?"
                in " ".join(str(s.render()) for s in app.screen.query("Static"))
            )
        )
        files = file_digests(folder)

        await wait_for(lambda: shown(app, "#keep"))
        assert await pilot.click("#keep", offset=(8, 1))
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        await wait_for(lambda: notices(app, "History kept"))
        await pilot.press(*"hello there")
        await pilot.press("enter")
        await wait_for(lambda: notices(app, "Not sent"))

        assert notices(app, "Not sent") == damaged  # the same one line
        assert prompt_text(app) == "hello there"
        assert file_digests(folder) == files
        assert_plain_words(app)
    assert file_digests(folder) == files
    assert not [p for p in folder.iterdir() if ".broken-" in p.name]  # Keep moves nothing


async def test_move_aside_starts_a_new_history_and_keeps_the_prompt(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "history.sqlite3"
    await history_with_a_damaged_page(db, leaf=-1, whole=True)
    original = digest(db)
    app = build(tmp_path, db, new_chat=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.handle.current is not None)
        await pilot.press(*"keep me")
        await pilot.press("ctrl+o")  # open the newest conversation from the list
        await wait_for(
            lambda: (
                isinstance(app.screen, ConversationsScreen)
                and app.screen.listing.current is not None
            )
        )
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, MoveAsideScreen))

        await wait_for(lambda: shown(app, "#move"))
        assert await pilot.click("#move", offset=(8, 1))
        await wait_for(lambda: notices(app, "History moved aside"))
        moved = [p for p in folder.iterdir() if p.name.startswith("history.sqlite3.broken-")]
        main = [p for p in moved if not p.name.endswith(("-wal", "-shm", "-journal"))]
        assert len(main) == 1
        assert digest(main[0]) == original  # renamed, not rewritten
        told = notices(app, "History moved aside")[0]
        assert str(main[0]) in told and str(db) in told
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        assert prompt_text(app) == "keep me"

        await pilot.press("enter")  # sent into the new, empty history
        await wait_for(
            lambda: (
                prompt_text(app) == ""
                and app.conversation_screen.log_widget.message_count >= 2
                and not app.conversation_screen.streaming
            )
        )
        assert_plain_words(app)
    store = await open_store(path=db)
    try:
        conversations = await store.repository.list_conversations()
        assert [c.title for c in conversations] == ["keep me"]
    finally:
        await store.close()
    assert digest(main[0]) == original


@contextmanager
def write_lock_held(db: Path) -> Iterator[None]:
    """Another program holding the database's write lock, for the ``with`` block."""
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
    finally:
        holder.rollback()
        holder.close()


async def first_turn(pilot, app: TuiApp) -> ConversationScreen:  # type: ignore[no-untyped-def]
    """Send "first" on a new chat and wait until the reply is in."""
    await wait_for(lambda: app.handle.current is not None)
    await pilot.press(*"first")
    await pilot.press("enter")
    chat = app.conversation_screen
    await wait_for(lambda: chat.log_widget.message_count >= 2 and not chat.streaming)
    return chat


async def said_locked(app: TuiApp, db: Path, title: str) -> None:
    """One notice under ``title``: the file is locked by another program, in plain words."""
    await wait_for(lambda: notices(app, title))
    (message,) = notices(app, title)
    assert str(db) in message and "locked by another program" in message
    assert_plain_words(app)


async def test_a_locked_database_says_so_and_keeps_the_prompt(tmp_path: Path) -> None:
    db = tmp_path / "data" / "history.sqlite3"
    app = build(tmp_path, db, new_chat=True, busy_timeout_ms=100)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.handle.current is not None)
        with write_lock_held(db):
            await pilot.press(*"hello")
            await pilot.press("enter")
            await said_locked(app, db, "Not sent")
            assert prompt_text(app) == "hello"
        await pilot.press("enter")  # the lock is gone: now it is saved and sent
        await wait_for(lambda: prompt_text(app) == "")


async def test_settings_problems_show_when_the_database_cannot_open(tmp_path: Path) -> None:
    db = tmp_path / "data" / "history.sqlite3"
    db.parent.mkdir()
    db.write_text("These are my notes, not a database.\n" * 100, encoding="utf-8")
    app = build(tmp_path, db, config="[defaults]\ntemperature = 9\n")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.handle.failure is not None)
        await wait_for(lambda: isinstance(app.screen, MoveAsideScreen))
        await wait_for(lambda: notices(app, "Cannot open the history"))
        settings = notices(app, "Settings")
        assert any("temperature" in m for m in settings), notices(app)
        (cannot,) = notices(app, "Cannot open the history")
        assert str(db) in cannot
        assert_plain_words(app)

        await pilot.press("escape")  # Keep: the file stays as it was
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        await pilot.press(*"hi")
        await pilot.press("enter")
        await wait_for(lambda: notices(app, "Not sent"))
        assert notices(app, "Not sent") == [cannot]
        assert prompt_text(app) == "hi"
        assert_plain_words(app)


async def test_a_locked_database_under_any_action_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "data" / "history.sqlite3"
    app = build(tmp_path, db, new_chat=True, busy_timeout_ms=100)
    async with app.run_test(size=(120, 40)) as pilot:
        chat = await first_turn(pilot, app)
        with write_lock_held(db):
            chat.action_archive()  # the palette's "Archive or restore conversation"
            await said_locked(app, db, "History")
        assert app.is_running


async def test_a_locked_database_on_the_list_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "data" / "history.sqlite3"
    app = build(tmp_path, db, new_chat=True, busy_timeout_ms=100)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_turn(pilot, app)
        await pilot.press("ctrl+o")
        await wait_for(lambda: isinstance(app.screen, ConversationsScreen))
        listing = app.screen.query_one(ConversationList)
        await wait_for(lambda: len(listing.rows) == 1)
        listing.focus()
        with write_lock_held(db):
            await pilot.press("p")  # pin: a write the lock refuses
            await said_locked(app, db, "History")
        assert app.is_running


async def test_a_file_refused_at_start_can_be_moved_aside(tmp_path: Path) -> None:
    db = tmp_path / "data" / "history.sqlite3"
    db.parent.mkdir()
    db.write_text("These are my notes, not a database.\n" * 100, encoding="utf-8")
    notes = digest(db)
    app = build(tmp_path, db)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: isinstance(app.screen, MoveAsideScreen))
        await wait_for(lambda: shown(app, "#move"))
        assert await pilot.click("#move", offset=(8, 1))
        await wait_for(lambda: notices(app, "History moved aside"))
        (moved,) = [p for p in db.parent.iterdir() if ".broken-" in p.name]
        assert digest(moved) == notes and str(moved) in notices(app, "History moved aside")[0]
        await pilot.press(*"hello")
        await pilot.press("enter")
        chat = app.conversation_screen
        await wait_for(lambda: chat.log_widget.message_count >= 2 and not chat.streaming)
        assert prompt_text(app) == ""
        assert_plain_words(app)


async def test_the_move_aside_question_answers_from_the_keyboard(tmp_path: Path) -> None:
    db = tmp_path / "data" / "history.sqlite3"
    db.parent.mkdir()
    db.write_text("These are my notes, not a database.\n" * 100, encoding="utf-8")
    notes = digest(db)
    app = build(tmp_path, db)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: isinstance(app.screen, MoveAsideScreen))
        await wait_for(lambda: app.focused is not None and app.focused.id == "keep")
        await pilot.press("left")  # ← reaches Move
        assert app.focused is not None and app.focused.id == "move"
        await pilot.press("m")
        await wait_for(lambda: notices(app, "History moved aside"))
        (moved,) = [p for p in db.parent.iterdir() if ".broken-" in p.name]
        assert digest(moved) == notes
