"""Hostile text from a provider never reaches the terminal as control sequences: the real app in a
pseudo-terminal, the reply streamed from the loopback server and then reopened from the store,
with the bytes the app wrote checked; and the other ways outside text reaches the screen
(reasoning, a provider's error, notifications), with Pilot."""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.command import CommandPalette

from bench.startup import isolated_env, screen_text, spawn_in_pty
from tests.support.fixtures import TEST_KEY
from tests.support.hostile import END, PIECES, REPLY, SHOWN, leaked
from tests.support.script import http_error, reply
from tests.support.server import LoopbackServer
from tests.ui.conftest import AppFactory, wait_for
from tests.ui.hosts import screen_lines
from tests.ui.test_conversation_screen import idle, send_and_wait, views
from tui.widgets.message_view import MessageView

SIZE = (120, 40)
LIVE_SHOWN = (SHOWN["title"], SHOWN["bidi"], SHOWN["c1-csi"])


def loop_config(server: LoopbackServer) -> str:
    return (
        '[defaults]\nprovider = "loop"\nmodel = "loopback-chat"\napi_mode = "chat"\n'
        f'[providers.loop]\nbase_url = "{server.base_url}"\napi_key_env = "LOOP_KEY"\n'
    )


class Terminal:
    """The app on a pseudo-terminal: what it wrote, and keys typed into it."""

    def __init__(self, folder: Path) -> None:
        env = isolated_env(folder, {"LOOP_KEY": TEST_KEY, "TUI_CHAT_DEMO_SPEED": "0"})
        self.process, self.master = spawn_in_pty([sys.executable, "-m", "tui"], env, SIZE)
        self.output = bytearray()

    def read_until(self, done: Callable[[str], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not done(screen_text(bytes(self.output))):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"the app did not get there; it drew:\n{self.screen()}")
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    break

    def screen(self) -> str:
        return screen_text(bytes(self.output))[-4000:]

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def test_a_hostile_reply_is_drawn_inert_live_and_reopened(
    tmp_path: Path, server: LoopbackServer
) -> None:
    (tmp_path / "config.toml").write_text(loop_config(server))
    server.enqueue(reply(REPLY))
    live = Terminal(tmp_path)
    try:
        live.read_until(lambda text: "Message" in text)  # a new chat: the prompt is up
        live.type("hello\r")
        # Each piece is drawn as text somewhere in what the app wrote (the whole stream, since
        # later frames redraw only what changed), and none of its raw bytes were written.
        live.read_until(lambda text: all(s in text for s in (END, *LIVE_SHOWN)))
        assert leaked(bytes(live.output)) == []
        # The status line shows the reply's figures once the finished turn is stored.
        live.read_until(lambda text: "↑12 ↓34" in text)
    finally:
        live.close()
    with sqlite3.connect(tmp_path / "history.sqlite3") as db:
        (stored,) = db.execute(
            "SELECT content FROM messages WHERE role = 'assistant' AND status = 'complete'"
        ).fetchone()
    assert stored.strip() == REPLY  # kept as received

    reopened = Terminal(tmp_path)  # opens on the list; Enter opens the conversation
    try:
        reopened.read_until(lambda text: "2 messages" in text)  # the row, with its preview
        reopened.type("\r")
        reopened.read_until(lambda text: END in text and SHOWN["clipboard"] in text)
        assert leaked(bytes(reopened.output)) == []
    finally:
        reopened.close()


async def test_reasoning_errors_and_notices_are_shown_inert(
    app_factory: AppFactory, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_factory(config=loop_config(server), env={"LOOP_KEY": TEST_KEY}, new_chat=True)
    server.enqueue(reply("fine", reasoning=PIECES["title"] + " thinking " + PIECES["bidi"]))
    server.enqueue(http_error(400, "Bad request " + PIECES["clear"] + " [@click=app.quit]x[/]"))
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        monkeypatch.setattr(MessageView, "reasoning_shown", True)  # reasoning drawn open
        await send_and_wait(pilot, "first")
        await wait_for(lambda: SHOWN["title"] in "\n".join(screen_lines(app)))
        shown = "\n".join(screen_lines(app))
        assert SHOWN["bidi"] in shown and "\x1b" not in shown and "\u202e" not in shown
        await send_and_wait(pilot, "second", shown=4)
        await wait_for(lambda: SHOWN["clear"] in "\n".join(screen_lines(app)))
        shown = "\n".join(screen_lines(app))
        assert "\x1b" not in shown
        assert "[@click=app.quit]x[/]" in shown  # shown as text, not run
        assert app.is_running
        app.notify("From outside: " + PIECES["report"])
        await wait_for(lambda: any(SHOWN["report"] in n.message for n in app._notifications))
        notices = [n.message for n in app._notifications]
        assert not any("\x1b" in notice for notice in notices)
        assert len(views(app)) == 4


async def test_a_hostile_title_is_inert_in_the_header_palette_rename_and_settings(
    app_factory: AppFactory,
) -> None:
    """A title (imported, or written by the model) with markup and escapes: the palette neither
    fails on it nor obeys it, and the header, the rename field, the edit of the last message
    and the chat settings panel draw it inert."""
    app = app_factory(new_chat=True)
    hostile = "Plan [/b] later " + PIECES["title"] + " [@click=app.quit]x[/]"
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        chat = app.conversation_screen
        chat.prompt.insert("first " + PIECES["clear"])  # as an imported message would hold it
        await pilot.press("enter")
        await wait_for(lambda: len(views(app)) == 2 and not chat.streaming)
        services = app.handle.current
        assert services is not None
        assert chat.conversation_id is not None
        await services.history.rename(chat.conversation_id, hostile)
        await services.history.get(chat.conversation_id)
        chat.sub_title = hostile  # as a title that lands from the model is shown
        await wait_for(lambda: SHOWN["title"] in "\n".join(screen_lines(app)))
        assert "\x1b" not in str(chat.sub_title)

        await pilot.press("ctrl+p")
        await wait_for(lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"plan")
        await wait_for(lambda: "Plan [/b] later" in "\n".join(screen_lines(app)))
        shown = "\n".join(screen_lines(app))
        assert "[@click=app.quit]x[/]" in shown and "\x1b" not in shown
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, CommandPalette))

        await pilot.press("up")  # edit the last message: the text comes back inert
        await wait_for(lambda: chat.prompt.text != "")
        assert SHOWN["clear"] in chat.prompt.text and "\x1b" not in chat.prompt.text
        assert app.is_running
