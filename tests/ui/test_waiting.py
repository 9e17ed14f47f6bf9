"""While the model has not started its reply the status line counts the wait; Esc stops it and
the message sent stays; a reply that never starts ends with its own line after the limit."""

from __future__ import annotations

import re

import pytest

from tests.support.fixtures import TEST_KEY
from tests.support.server import LoopbackServer, silent
from tests.ui.conftest import AppFactory, loopback_config, wait_for
from tui.app import TuiApp
from tui.domain import MessageStatus, Role
from tui.screens.conversation import ConversationScreen
from tui.widgets.chat_log import ChatLog
from tui.widgets.message_view import MessageView
from tui.widgets.prompt_input import PromptInput
from tui.widgets.status_bar import StatusBar, format_elapsed

SIZE = (100, 36)
LOOP_ENV = {"LOOP_KEY": TEST_KEY}


def status_line(app: TuiApp) -> str:
    return str(app.screen.query_one(StatusBar).render())


def waited(app: TuiApp) -> int | None:
    """The seconds the status line says the model has kept us waiting (under a minute)."""
    found = re.search(r"waiting for the model… (\d+)s", status_line(app))
    return int(found.group(1)) if found else None


def views(app: TuiApp) -> list[MessageView]:
    return app.screen.query_one(ChatLog).views


def streaming(app: TuiApp) -> bool:
    screen = app.screen
    assert isinstance(screen, ConversationScreen)
    return screen.streaming


async def send(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_for(lambda: app.handle.current is not None)
    prompt = app.screen.query_one(PromptInput)
    prompt.focus()
    await pilot.press(*text)
    await pilot.press("enter")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (5, "5s"), (59.6, "59s"), (65, "1m 05s"), (130, "2m 10s"), (3725, "1h 02m 05s")],
)
def test_the_wait_reads_in_minutes_and_seconds(seconds: float, shown: str) -> None:
    assert format_elapsed(seconds) == shown


async def test_the_wait_for_the_first_token_counts_and_esc_stops_it(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(silent(30))
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "still thinking?")
        await wait_for(lambda: len(server.requests) == 1)
        await wait_for(lambda: waited(app) is not None, timeout=2)
        first = waited(app)
        assert first is not None and first <= 1
        await wait_for(lambda: (waited(app) or 0) >= first + 2, timeout=5)  # it counts
        # The message sent, and under it the reply's view, waiting for its first words.
        assert [view.message.content for view in views(app)] == ["still thinking?", ""]
        await pilot.press("escape")
        await wait_for(lambda: not streaming(app))
        await wait_for(lambda: "waiting" not in status_line(app))
        await wait_for(lambda: server.disconnects == [0])  # the request was dropped
        # The message sent is still on screen and in the store.
        assert [view.message.content for view in views(app)] == ["still thinking?"]
        services = app.handle.current
        assert services is not None
        repository = services.store.repository
        conversation = await repository.latest_conversation()
        assert conversation is not None
        path = await repository.active_path(conversation.id)
        assert (path[0].role, path[0].content) == (Role.USER, "still thinking?")
        assert [m.status for m in path[1:]] in ([], [MessageStatus.CANCELLED])


async def test_a_reply_that_never_starts_fails_with_its_own_line(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(silent(30))
    config = loopback_config(server) + "first_token_timeout = 0.5\n"
    app = app_factory(config=config, env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "anyone?")
        await wait_for(lambda: len(views(app)) == 2, timeout=5)
        await wait_for(lambda: not streaming(app))
        failed = views(app)[1]
        assert failed.message.status is MessageStatus.FAILED
        assert failed.message.error is not None
        assert failed.message.error.startswith("No reply from loop within 0.5 s")
        assert "first_token_timeout" in failed.message.error
        assert "waiting" not in status_line(app)
        assert "failed" in status_line(app)


async def test_the_count_ends_when_the_reply_starts(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    from tests.support.script import reply

    # The role chunk at once, then a word every 1.5 s: a wait, then a reply that streams.
    server.enqueue(reply("here it comes", delay=1.5))
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "go")
        await wait_for(lambda: waited(app) is not None, timeout=2)
        await wait_for(lambda: len(views(app)) == 2 and "here" in views(app)[1].text)
        assert streaming(app)
        await wait_for(lambda: "waiting" not in status_line(app), timeout=1)
        assert streaming(app), "the count ended with the first word, not with the turn"
        await pilot.press("escape")
        await wait_for(lambda: not streaming(app))
