"""SVG snapshots of the conversation screen: the real app on a temporary database.

Everything shown is pinned: the theme, the cursor (no blink), the time the store stamps messages
with, and the clocks behind latency and speed figures (a fixed step per reading). Replies come
from the loopback server's scripts, so each snapshot is the same on every run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.pilot import Pilot

import tui.screens.conversation as conversation_module
import tui.store.messages as store_messages
import tui.store.repository as store_repository
from tests.snapshots.test_snapshots import steady
from tests.support.fixtures import TEST_KEY
from tests.support.script import fault, http_error, reply
from tests.support.server import LoopbackServer
from tests.support.shapes import pieces
from tests.ui.conftest import loopback_config, wait_for
from tui.app import TuiApp
from tui.domain import MessageStatus
from tui.screens.conversation import ConversationScreen
from tui.services.container import Services, open_services
from tui.widgets.chat_log import ChatLog
from tui.widgets.message_view import MessageView
from tui.widgets.prompt_input import PromptInput
from tui.widgets.status_bar import StatusBar
from tui.widgets.streaming_markdown import StreamingMarkdown

SnapCompare = Callable[..., bool]
SIZE = (100, 30)
THEME = "textual-dark"
FROZEN_NOW = datetime(2025, 3, 14, 9, 41, tzinfo=UTC)
LOOP_ENV = {"LOOP_KEY": TEST_KEY}
ANSWER_HEAD = (
    "Reversing a list in Python takes one line, and there are two ways to do it depending on "
    "whether you want a new list or want to change the one you have."
)
CODE_ANSWER = (
    "Use a slice for a reversed **copy**:\n\n"
    "```python\nnumbers = [1, 2, 3]\nprint(numbers[::-1])  # [3, 2, 1]\n```\n\n"
    "Or reverse it *in place*:\n\n"
    "```python\nnumbers.reverse()\n```\n"
)
CODE_REASONING = (
    "The user wants to reverse a list. Slicing gives a new list; `list.reverse()` works in "
    "place. Show both, briefly."
)


class SteppingClock:
    """A monotonic clock that moves on by ``step`` seconds each time it is read."""

    def __init__(self, step: float = 0.05) -> None:
        self.now = 1000.0
        self.step = step

    def monotonic(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture(autouse=True)
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Messages are stamped FROZEN_NOW in a UTC local zone; the screen's speed figures step."""
    for module in (store_messages, store_repository):
        monkeypatch.setattr(module, "now_utc", lambda: FROZEN_NOW)
    monkeypatch.setattr(conversation_module, "time", SteppingClock())
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if zone is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = zone
    time.tzset()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=TEST_KEY) as running:
        yield running


def build_app(tmp_path: Path, config: str = "", env: dict[str, str] | None = None) -> TuiApp:
    """The app as ``tui-chat`` builds it, on a fresh database, with the engine's clock pinned."""
    config_path = tmp_path / "config.toml"
    config_path.write_text(config)

    async def factory() -> Services:
        services = await open_services(
            config=str(config_path),
            db=str(tmp_path / "history.sqlite3"),
            env=env or {},
            demo_tokens_per_second=0,
            improve_titles=False,
        )
        services.chat.clock = SteppingClock().monotonic
        return services

    app = TuiApp(factory, theme=THEME)
    app.animation_level = "none"
    return app


def views(pilot: Pilot[None]) -> list[MessageView]:
    return pilot.app.screen.query_one(ChatLog).views


def screen_of(pilot: Pilot[None]) -> ConversationScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ConversationScreen)
    return screen


def status_text(pilot: Pilot[None]) -> str:
    return str(pilot.app.screen.query_one(StatusBar).render())


async def ready(pilot: Pilot[None]) -> None:
    """The services are open and the screen has loaded (the status line names the route)."""
    app = pilot.app
    assert isinstance(app, TuiApp)
    await wait_for(lambda: app.handle.current is not None)
    await wait_for(lambda: status_text(pilot) != "")
    await app.workers.wait_for_complete()


async def send(pilot: Pilot[None], text: str) -> None:
    """Put ``text`` in the prompt (typing it key by key is slow and tested elsewhere), send it."""
    prompt = pilot.app.screen.query_one(PromptInput)
    prompt.focus()
    prompt.insert(text)
    await pilot.press("enter")


async def finished(pilot: Pilot[None], count: int) -> None:
    """``count`` messages are shown and no reply is streaming any more."""
    await wait_for(lambda: len(views(pilot)) == count)
    await wait_for(lambda: not screen_of(pilot).streaming)
    await pilot.app.workers.wait_for_complete()


def loop_app(tmp_path: Path, server: LoopbackServer) -> TuiApp:
    return build_app(tmp_path, loopback_config(server), LOOP_ENV)


class TestConversationScreen:
    def test_new_chat_on_the_offline_demo(self, snap_compare: SnapCompare, tmp_path: Path) -> None:
        """No key anywhere: an empty chat on the demo model, with the notice that says so."""

        async def run_before(pilot: Pilot[None]) -> None:
            await ready(pilot)
            await wait_for(
                lambda: "offline demo" in str(pilot.app.screen.query_one("#empty-text").render())
            )
            await steady(pilot)

        assert snap_compare(build_app(tmp_path), run_before=run_before, terminal_size=SIZE)

    def test_a_reply_streaming_in(
        self, snap_compare: SnapCompare, tmp_path: Path, server: LoopbackServer
    ) -> None:
        """The reply stalls after its first paragraph and part of a list: shown as it stands."""
        text = (
            ANSWER_HEAD + "\n\n- **Slicing** makes a new list: `items[::-1]`\n"
            "- `reverse()` changes the list in place\n"
        )
        words = len(pieces(ANSWER_HEAD + "\n\n- **Slicing** makes a new"))
        # Event 0 carries the role, then one event per word: stall in the middle of the list.
        server.enqueue(fault("stall", after=1 + words, text=text, stall_seconds=30))

        async def run_before(pilot: Pilot[None]) -> None:
            await ready(pilot)
            await send(pilot, "How do I reverse a list in Python?")
            # Count the chunks through the status line: reading the body's text while it
            # streams would take the deltas before they are drawn.
            await wait_for(lambda: f"· {words} chunks ·" in status_text(pilot))
            body = views(pilot)[1].body
            assert isinstance(body, StreamingMarkdown)
            await body.append("")  # done once every delta received so far is drawn
            await steady(pilot)

        assert snap_compare(loop_app(tmp_path, server), run_before=run_before, terminal_size=SIZE)

    def test_a_finished_reply_with_reasoning_and_code(
        self, snap_compare: SnapCompare, tmp_path: Path, server: LoopbackServer
    ) -> None:
        """Reasoning opened with a click above an answer with two highlighted code blocks."""
        server.enqueue(reply(CODE_ANSWER, reasoning=CODE_REASONING, usage=(41, 58, 23)))

        async def run_before(pilot: Pilot[None]) -> None:
            await ready(pilot)
            await send(pilot, "How do I reverse a list in Python?")
            await finished(pilot, 2)
            answer = views(pilot)[1]
            collapsible = answer.reasoning_collapsible
            assert collapsible is not None and collapsible.collapsed
            await pilot.click(collapsible.query_one("CollapsibleTitle"))
            await wait_for(lambda: not collapsible.collapsed)
            await steady(pilot)

        assert snap_compare(loop_app(tmp_path, server), run_before=run_before, terminal_size=SIZE)

    def test_a_rate_limit_error_says_how_long_to_wait(
        self, snap_compare: SnapCompare, tmp_path: Path, server: LoopbackServer
    ) -> None:
        """A 429 asking for a 300 s wait is not retried: the error and the advice show inline."""
        server.enqueue(
            http_error(
                429,
                "Rate limit reached for requests",
                code="rate_limit_exceeded",
                headers=(("retry-after", "300"),),
            )
        )

        async def run_before(pilot: Pilot[None]) -> None:
            await ready(pilot)
            await send(pilot, "Are you there?")
            await finished(pilot, 2)
            assert views(pilot)[1].message.status is MessageStatus.FAILED
            await steady(pilot)

        assert snap_compare(loop_app(tmp_path, server), run_before=run_before, terminal_size=SIZE)

    def test_the_branch_switcher_after_a_regenerate(
        self, snap_compare: SnapCompare, tmp_path: Path, server: LoopbackServer
    ) -> None:
        """Ctrl+R adds a second answer; Ctrl+L focuses it, showing ◀ 2/2 ▶ and its keys."""
        server.enqueue(
            reply("Bonjour ! Comment puis-je vous aider ?", usage=(9, 11, 0)),
            reply("Salut ! Que puis-je faire pour toi ?", usage=(9, 10, 0)),
        )

        async def run_before(pilot: Pilot[None]) -> None:
            await ready(pilot)
            await send(pilot, "Say hello in French")
            await finished(pilot, 2)
            first = views(pilot)[1].message.id
            await pilot.press("ctrl+r")
            await wait_for(lambda: len(views(pilot)) == 2 and views(pilot)[1].message.id != first)
            await finished(pilot, 2)
            assert views(pilot)[1].sibling == (2, 2)
            await pilot.press("ctrl+l")
            await steady(pilot)

        assert snap_compare(loop_app(tmp_path, server), run_before=run_before, terminal_size=SIZE)
