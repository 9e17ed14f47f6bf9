"""The footer on an 80-column terminal and a wide one: the keys that apply, each shown whole."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Footer

from tests.support.fixtures import TEST_KEY
from tests.support.script import fault, reply
from tests.support.server import LoopbackServer
from tests.ui.conftest import AppFactory, loopback_config, wait_for
from tests.ui.hosts import clipped_footer_entries, footer_entries, settle
from tests.ui.test_conversation_screen import idle, screen_of, send_and_wait, type_and_send, views
from tui.app import TuiApp
from tui.widgets.prompt_input import PromptInput

LOOP_ENV = {"LOOP_KEY": TEST_KEY}
CODE_ANSWER = "Use a slice:\n\n```python\nprint([1, 2, 3][::-1])\n```\n"
FOCUSED = ["c Copy", "[ ] y Code", "r Retry", "← → Branch"]
"""A focused answer with a code block and a second branch: its own keys."""


def keys(own: list[str], *, out: int = 0) -> list[str]:
    """What the footer shows: ``own`` keys, then Chat settings and the app's keys; ``out`` of
    the spare ones (Chat settings, New, Model, in that order) are left out for the rest to fit,
    and F1 for the keys panel takes their place."""
    screen = ["f1 Keys"] if out else ["^g Chat settings"]
    app = ["^q Quit", "^o Chats"]
    app += [] if out >= 2 else ["^n New"]
    app += [] if out >= 3 else ["^t Model"]
    return [*own, *screen, *app, "^p palette"]


async def shown(pilot: Pilot[None]) -> list[str]:
    """The footer's entries once it has caught up, after checking that each one shows whole."""
    await settle(pilot)
    assert clipped_footer_entries(pilot.app) == []
    return footer_entries(pilot.app)


async def answer_with_two_branches(pilot: Pilot[None]) -> None:
    """Ask, then Ctrl+R for a second answer: both have a code block."""
    app = pilot.app
    assert isinstance(app, TuiApp)
    await send_and_wait(pilot, "How do I reverse a list?")
    first = views(app)[1].message.id
    await pilot.press("ctrl+r")
    await wait_for(lambda: len(views(app)) == 2 and views(app)[1].message.id != first)
    await idle(app)
    assert views(app)[1].sibling == (2, 2)


@pytest.mark.parametrize("width", [80, 120])
async def test_a_focused_answer_shows_its_keys_and_the_apps_whole(
    app_factory: AppFactory, server: LoopbackServer, width: int
) -> None:
    server.enqueue(reply(CODE_ANSWER), reply(CODE_ANSWER))
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=(width, 24)) as pilot:
        await idle(app)
        await answer_with_two_branches(pilot)
        await pilot.press("ctrl+l")
        assert await shown(pilot) == keys(FOCUSED, out=3 if width == 80 else 0)
        # Packed on a narrow terminal, spaced out on a wide one.
        assert app.screen.query_one(Footer).compact is (width < 100)


@pytest.mark.parametrize("width", [80, 100])
async def test_every_state_fits_packed_at_80_columns_and_spaced_out_at_100(
    app_factory: AppFactory, server: LoopbackServer, width: int
) -> None:
    server.enqueue(
        reply(CODE_ANSWER),
        reply(CODE_ANSWER),
        fault("stall", after=3, text="Call reverse() on it.", stall_seconds=20),  # never ends
    )
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=(width, 24)) as pilot:
        await idle(app)
        screen = screen_of(app)
        assert app.screen.query_one(Footer).compact is (width < 100)
        narrow = width == 80
        focused = keys(FOCUSED, out=3 if narrow else 1)
        assert await shown(pilot) == keys(["⏎ Send", "^f Attach"])
        await answer_with_two_branches(pilot)
        assert await shown(pilot) == keys(["⏎ Send", "^r Retry", "^f Attach"], out=narrow)

        await pilot.press("ctrl+l")
        assert await shown(pilot) == focused
        await pilot.press("shift+tab")  # your question: no code, no other branch
        assert await shown(pilot) == keys(["c Copy", "e Edit", "^r Retry"], out=narrow)

        await pilot.press("e")  # editing it, back in the prompt
        assert isinstance(app.focused, PromptInput)
        assert await shown(pilot) == keys(
            ["⏎ Send", "esc Cancel", "^r Retry", "^f Attach"], out=3 if narrow else 1
        )
        await pilot.press("ctrl+l")  # still editing: Esc cancels from here too, unlisted
        assert await shown(pilot) == focused
        await pilot.press("escape")
        assert screen.editing is None

        await type_and_send(pilot, "And in place?")
        await wait_for(lambda: screen.streaming and len(views(app)) == 4)
        assert await shown(pilot) == keys(["⏎ Send", "esc Stop", "^f Attach"], out=narrow)
        views(app)[1].focus()  # an earlier answer: no Retry or branch switch while streaming
        assert await shown(pilot) == keys(
            ["c Copy", "[ ] y Code", "esc Stop"], out=2 if narrow else 0
        )
        await pilot.press("escape")
        await idle(app)
        assert await shown(pilot) == focused


async def test_the_footer_packs_its_keys_when_the_terminal_narrows(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(reply(CODE_ANSWER), reply(CODE_ANSWER))
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=(120, 24)) as pilot:
        await idle(app)
        await answer_with_two_branches(pilot)
        await pilot.press("ctrl+l")
        assert await shown(pilot) == keys(FOCUSED)
        footer = app.screen.query_one(Footer)
        assert not footer.compact
        await pilot.resize_terminal(80, 24)
        await wait_for(lambda: footer.compact)
        assert await shown(pilot) == keys(FOCUSED, out=3)
        await pilot.resize_terminal(100, 24)
        await wait_for(lambda: not footer.compact)
        assert await shown(pilot) == keys(FOCUSED, out=1)


async def test_keys_left_out_on_a_message_still_work_there(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    from tui.widgets.message_view import MessageView
    from tui.widgets.path_input import PathInput

    server.enqueue(reply(CODE_ANSWER))
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(app)
        await send_and_wait(pilot, "How do I reverse a list?")
        await pilot.press("ctrl+l")
        assert isinstance(app.focused, MessageView)
        assert "^f Attach" not in await shown(pilot)
        await pilot.press("ctrl+f")
        assert isinstance(app.focused, PathInput)
        await pilot.press("escape")
        assert isinstance(app.focused, PromptInput)


async def test_a_focused_reply_offers_the_code_keys_as_its_first_code_block_streams_in(
    app_factory: AppFactory,
) -> None:
    app = app_factory(speed=25)  # tokens a second: the first code block comes after seconds
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(app)
        await type_and_send(pilot, "/bench 3000")
        await wait_for(lambda: len(views(app)) == 2 and len(views(app)[1].text) > 5)
        reply = views(app)[1]
        reply.focus()
        assert "```" not in reply.text  # the demo answer starts with prose
        assert await shown(pilot) == keys(["c Copy", "esc Stop"])
        await wait_for(lambda: bool(reply.code_blocks), timeout=20)
        assert screen_of(app).streaming  # still streaming
        assert await shown(pilot) == keys(["c Copy", "[ ] y Code", "esc Stop"])
        await pilot.press("escape")
        await idle(app)


async def test_keys_that_changed_behind_the_list_show_on_coming_back(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    from tui.screens.conversations import ConversationsScreen

    server.enqueue(reply("One two three four five six seven eight nine ten.", delay=0.05))
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(app)
        screen = screen_of(app)
        await type_and_send(pilot, "Count, slowly")
        await wait_for(lambda: screen.streaming)
        assert "esc Stop" in await shown(pilot)
        await pilot.press("ctrl+o")
        await wait_for(lambda: isinstance(app.screen, ConversationsScreen))
        assert "esc Stop" not in await shown(pilot)
        await wait_for(lambda: not screen.streaming)  # the reply ends behind the list
        await pilot.press("escape")  # (the search is empty: back to the conversation)
        await wait_for(lambda: app.screen is screen)
        shown_keys = await shown(pilot)
        assert "esc Stop" not in shown_keys
        assert shown_keys == keys(["⏎ Send", "^r Retry", "^f Attach"], out=1)


async def test_the_footer_is_not_rebuilt_when_its_keys_stay_the_same(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    from tui.screens.conversations import ConversationsScreen

    server.enqueue(reply("Fine."))
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(app)
        await send_and_wait(pilot, "Hello")
        screen = app.screen
        before = await shown(pilot)
        footer = screen.query_one(Footer)
        drawn = list(footer.children)
        for _ in range(2):  # to the list and back, twice: the same keys, the same widgets
            await pilot.press("ctrl+o")
            await wait_for(lambda: isinstance(app.screen, ConversationsScreen))
            await shown(pilot)
            await pilot.press("escape")
            await wait_for(lambda: app.screen is screen)
        assert await shown(pilot) == before
        assert list(footer.children) == drawn


async def test_escape_on_a_message_goes_back_to_the_prompt(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(reply(CODE_ANSWER), reply(CODE_ANSWER))
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=(120, 24)) as pilot:
        await idle(app)
        await answer_with_two_branches(pilot)
        await pilot.press("ctrl+l")
        assert await shown(pilot) == keys(FOCUSED)  # Esc is not listed: it only goes back
        await pilot.press("escape")
        assert isinstance(app.focused, PromptInput)
        await pilot.press(*"typed")  # letters go to the prompt, not to a message's keys
        assert app.focused.text == "typed"
