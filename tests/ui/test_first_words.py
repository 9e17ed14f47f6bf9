"""The first words of a reply are drawn as soon as they are read, and a burst is drawn from its
start with the rest following: the screen never takes in a whole burst before drawing."""

from __future__ import annotations

import pytest

from tests.support import shapes
from tests.support.fixtures import TEST_KEY
from tests.support.script import raw
from tests.support.server import LoopbackServer
from tests.ui.conftest import AppFactory, loopback_config, wait_for
from tests.ui.hosts import screen_lines
from tui.app import TuiApp
from tui.domain import MessageStatus
from tui.providers.demo.text import bench_text
from tui.widgets.chat_log import ChatLog
from tui.widgets.message_view import MessageView
from tui.widgets.prompt_input import PromptInput

SIZE = (100, 36)
SSE = {"content-type": "text/event-stream; charset=utf-8"}


def burst(api: str, text: str) -> bytes:
    """A whole streamed answer, every event of it in one write."""
    plan = raw(200, b"")  # the fields the event builders read: usage, finish reason, ...
    if api == "chat":
        events = shapes.chat_events(
            plan, chat_id="chatcmpl-burst", model="loopback-chat", text=text, include_usage=True
        )
    else:
        events = shapes.responses_events(
            plan,
            response_id="resp_burst",
            model="loopback-chat",
            request={"model": "loopback-chat"},
            text=text,
        )
    return b"".join(events)


def views(app: TuiApp) -> list[MessageView]:
    return app.screen.query_one(ChatLog).views


@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_a_burst_is_drawn_from_its_first_words_before_the_rest_is_taken_in(
    app_factory: AppFactory, server: LoopbackServer, api: str
) -> None:
    answer = "Firstword of the answer.\n\n" + bench_text(2000) + "\nThe very last words."
    server.enqueue(raw(200, burst(api, answer), SSE))
    app = app_factory(config=loopback_config(server, api=api), env={"LOOP_KEY": TEST_KEY})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.handle.current is not None)
        # At each layout the screen makes, from Enter on: are the first words on screen while
        # the view has taken in less than half of the burst?
        early: list[int] = []

        def laid_out(screen: object) -> None:
            replies = views(app)[1:]
            taken = len(replies[0].text) if replies else 0
            if 0 < taken < len(answer) // 2 and not early:
                if any("Firstword" in line for line in screen_lines(app)):
                    early.append(taken)

        app.screen.screen_layout_refresh_signal.subscribe(app.screen, laid_out)
        prompt = app.screen.query_one(PromptInput)
        prompt.focus()
        await pilot.press(*"tell me everything", "enter")
        await wait_for(
            lambda: len(views(app)) == 2 and views(app)[1].message.status is MessageStatus.COMPLETE
        )
        # The first words were on screen while most of the burst was still to be taken in.
        assert early, "the first words were drawn only once the whole burst was taken in"
        # And the whole answer is shown, its end in view (the log follows it).
        assert views(app)[1].text == answer
        await wait_for(lambda: any("The very last words." in line for line in screen_lines(app)))
